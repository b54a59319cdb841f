"""Which profile an invoice belongs to when an accountant said so (Fishpond Invoice Attribution).

An invoice booked on a walk-in customer, or on a duplicate Customer, keeps its customer in ERPNext (a
submitted invoice's customer cannot change), but its row in the pond's history belongs to the profile
an accountant attributed it to. Every writer of transaction rows (the document events, the backfill,
the reconciliation's repair) asks here first, so a resync never undoes an attribution. A credit note
follows the invoice it returns, a POS return the POS Invoice it returns. A POS Invoice is attributed
as one share of the Sales Invoice that POS closing consolidated it into (crm_fishpond.sync.pos).

Reading only: the actions live in crm_fishpond.accounting, which imports this module, never the other
way round.
"""

from __future__ import annotations

import frappe

ATTRIBUTION = "Fishpond Invoice Attribution"
ATTRIBUTED_DOCTYPES = ("Sales Invoice", "POS Invoice")


def attributed_profiles(voucher_type: str, voucher_nos: list[str]) -> dict[str, str]:
	"""voucher_no -> profile for the submitted (active) attributions among ``voucher_nos``."""
	if voucher_type not in ATTRIBUTED_DOCTYPES or not voucher_nos:
		return {}
	att = frappe.qb.DocType(ATTRIBUTION)
	found: dict[str, str] = {}
	names = sorted(set(voucher_nos))
	for start in range(0, len(names), 1000):
		rows = (
			frappe.qb.from_(att)
			.select(att.voucher_no, att.to_profile)
			.where(att.voucher_type == voucher_type)
			.where(att.voucher_no.isin(names[start : start + 1000]))
			.where(att.docstatus == 1)
		).run()
		found.update(dict(rows))
	return found


def profile_overrides(headers: list[dict]) -> dict[str, str]:
	"""voucher_no -> attributed profile for voucher headers (``voucher_type``, ``voucher_no`` and, for
	credit notes, ``return_against``): the voucher's own attribution, else its original invoice's."""
	if not headers:
		return {}
	voucher_type = headers[0]["voucher_type"]
	if voucher_type not in ATTRIBUTED_DOCTYPES:
		return {}
	asked = {h["voucher_no"] for h in headers} | {
		h["return_against"] for h in headers if h.get("return_against")
	}
	found = attributed_profiles(voucher_type, sorted(asked))
	out = {}
	for h in headers:
		profile = found.get(h["voucher_no"]) or found.get(h.get("return_against") or "")
		if profile:
			out[h["voucher_no"]] = profile
	return out


def attributed_by_customer() -> dict[str, dict]:
	"""Per booked customer: how many of its submitted invoices (and POS Invoices in its submitted
	consolidated invoices) are attributed to other profiles, their company-currency total and those
	profiles (the reconciliation explains a customer's history)."""
	att = frappe.qb.DocType(ATTRIBUTION)
	si = frappe.qb.DocType("Sales Invoice")
	pos = frappe.qb.DocType("POS Invoice")
	invoices = (
		frappe.qb.from_(att)
		.join(si)
		.on(si.name == att.voucher_no)
		.select(si.customer, att.to_profile, si.base_grand_total)
		.where(att.docstatus == 1)
		.where(att.voucher_type == "Sales Invoice")
		.where(si.docstatus == 1)
	).run()
	# a POS Invoice is booked on the customer of the invoice that consolidated it
	pos_invoices = (
		frappe.qb.from_(att)
		.join(pos)
		.on(pos.name == att.voucher_no)
		.join(si)
		.on(si.name == pos.consolidated_invoice)
		.select(si.customer, att.to_profile, pos.base_grand_total)
		.where(att.docstatus == 1)
		.where(att.voucher_type == "POS Invoice")
		.where(si.docstatus == 1)
	).run()
	out: dict[str, dict] = {}
	for customer, profile, total in [*invoices, *pos_invoices]:
		row = out.setdefault(customer, {"count": 0, "total": 0.0, "profiles": []})
		row["count"] += 1
		row["total"] += float(total or 0)
		if profile not in row["profiles"]:
			row["profiles"].append(profile)
	return out

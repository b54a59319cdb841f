"""An attributed POS Invoice's share of its consolidated Sales Invoice (docs/accountants.md).

ERPNext books a POS Invoice only when POS closing merges it (*POS Invoice Merge Log*) into a
consolidated Sales Invoice: one per customer and closing, usually on the walk-in customer, each item
row naming the POS Invoice it came from (``Sales Invoice Item.pos_invoice``). The pond's history
holds that Sales Invoice's row. When an accountant attributes one of its POS Invoices to a profile,
the row is split:

* the POS Invoice gets a row of its own (``POS-<invoice>``, voucher type *POS Invoice*) on the
  attributed profile, booked on the consolidated invoice's customer, with the POS Invoice's date and
  amounts and its item rows of the consolidated invoice (``consolidated_invoice`` names that invoice);
* the consolidated invoice's row keeps the rest: its amounts less the attributed POS Invoices', its
  items less theirs.

A POS return follows the POS Invoice it returns (it is split out of the consolidated credit note), as
a credit note follows its invoice. The row of a POS Invoice belongs to its *home*: the submitted Sales
Invoice that holds it, else the last cancelled one (a cancelled POS closing leaves the row Cancelled,
as a cancelled invoice's row is). A POS Invoice not consolidated yet has no row: its attribution takes
effect when POS closing consolidates it.

:func:`expected_rows` serves the document events, the backfill and the reconciliation alike, so they
always agree. Nothing here applies to a Sales Invoice that is not consolidated.
"""

from __future__ import annotations

import frappe
from frappe.utils import flt

from crm_fishpond.sync.attributions import profile_overrides

POS = "POS Invoice"
AMOUNTS = ("grand_total", "net_total", "base_grand_total", "base_net_total")
HEADER_FIELDS = (
	"name",
	"customer",
	"posting_date",
	"docstatus",
	"company",
	"currency",
	"conversion_rate",
	"is_return",
	"return_against",
	"amended_from",
	"outstanding_amount",
	*AMOUNTS,
)


def pos_headers(names: list[str]) -> dict[str, dict]:
	"""POS Invoice name -> its header fields."""
	out: dict[str, dict] = {}
	names = sorted(set(names))
	if not names:
		return out
	pos = frappe.qb.DocType(POS)
	for start in range(0, len(names), 1000):
		rows = (
			frappe.qb.from_(pos)
			.select(*[pos[f] for f in HEADER_FIELDS])
			.where(pos.name.isin(names[start : start + 1000]))
		).run(as_dict=True)
		out.update({r.name: r for r in rows})
	return out


def owners(heads: dict[str, dict]) -> dict[str, str]:
	"""POS Invoice -> the profile it is attributed to: its own attribution in force, or (a return) the
	one of the POS Invoice it returns."""
	return profile_overrides(
		[
			{"voucher_type": POS, "voucher_no": name, "return_against": h.get("return_against")}
			for name, h in heads.items()
		]
	)


def homes(names: list[str]) -> dict[str, tuple[str, int]]:
	"""POS Invoice -> (its home Sales Invoice, that invoice's docstatus): the submitted Sales Invoice
	whose items name it, else the latest cancelled one."""
	names = sorted(set(names))
	best: dict[str, tuple] = {}
	if not names:
		return {}
	item = frappe.qb.DocType("Sales Invoice Item")
	si = frappe.qb.DocType("Sales Invoice")
	for start in range(0, len(names), 1000):
		rows = (
			frappe.qb.from_(item)
			.join(si)
			.on(si.name == item.parent)
			.select(item.pos_invoice, si.name, si.docstatus, si.creation)
			.distinct()
			.where(item.parenttype == "Sales Invoice")
			.where(item.pos_invoice.isin(names[start : start + 1000]))
			.where(si.docstatus.isin([1, 2]))
		).run()
		for pos_invoice, invoice, docstatus, created in rows:
			key = (docstatus == 1, created, invoice)
			if pos_invoice not in best or key > best[pos_invoice][0]:
				best[pos_invoice] = (key, invoice, int(docstatus))
	return {p: (invoice, docstatus) for p, (_key, invoice, docstatus) in best.items()}


def stored_pos_rows(invoices: list[str]) -> dict[str, tuple[str, str, str | None]]:
	"""The pond's POS rows whose consolidated invoice is one of ``invoices``: row name -> (POS
	Invoice, consolidated invoice, profile)."""
	out = {}
	if not invoices:
		return out
	tx = frappe.qb.DocType("Fishpond Transaction")
	for start in range(0, len(invoices), 1000):
		for name, voucher_no, invoice, profile in (
			frappe.qb.from_(tx)
			.select(tx.name, tx.voucher_no, tx.consolidated_invoice, tx.fishpond_lead)
			.where(tx.voucher_type == POS)
			.where(tx.consolidated_invoice.isin(invoices[start : start + 1000]))
		).run():
			out[name] = (voucher_no, invoice, profile)
	return out


def _pos_header(pos: dict, invoice: dict, outstanding: float) -> dict:
	"""The header of a POS Invoice's own row: the POS Invoice's date and amounts, booked as its
	consolidated invoice is (customer, company, state)."""
	return {
		"voucher_type": POS,
		"voucher_no": pos["name"],
		"customer": invoice.get("customer"),
		"posting_date": pos.get("posting_date"),
		"docstatus": invoice.get("docstatus"),
		"company": invoice.get("company"),
		"currency": pos.get("currency"),
		"conversion_rate": pos.get("conversion_rate"),
		"is_return": pos.get("is_return") or 0,
		"return_against": pos.get("return_against"),
		"amended_from": pos.get("amended_from"),
		"outstanding_amount": outstanding,
		"consolidated_invoice": invoice["voucher_no"],
		**{f: flt(pos.get(f)) for f in AMOUNTS},
	}


def expected_rows(
	headers: list[dict], items: dict[str, list[dict]], profiles: dict[str, str | None], build_row
) -> tuple[list[tuple[dict, list[dict]]], list[str]]:
	"""The pond rows of these vouchers (one per voucher, plus one per attributed POS Invoice whose
	home is among them) and the names of stored POS rows of these vouchers that no voucher expects
	any more (an attribution undone, a POS Invoice gone from its invoice).

	``items``: voucher -> its item rows (``pos_invoice`` on a consolidated invoice's); ``profiles``:
	voucher -> the profile of its row; ``build_row``: crm_fishpond.sync.transactions.build_row."""
	consolidated = [
		h["voucher_no"] for h in headers if h["voucher_type"] == "Sales Invoice" and h.get("is_consolidated")
	]
	# no POS Invoice was ever attributed (in force or undone): no POS row can exist, nothing to split
	if not consolidated or not frappe.db.exists("Fishpond Invoice Attribution", {"voucher_type": POS}):
		return [
			build_row(h, items.get(h["voucher_no"], []), profiles.get(h["voucher_no"])) for h in headers
		], []
	in_invoice: dict[str, list[str]] = {}
	for name in consolidated:
		seen = []
		for row in items.get(name, []):
			if row.get("pos_invoice") and row["pos_invoice"] not in seen:
				seen.append(row["pos_invoice"])
		in_invoice[name] = seen
	stored = stored_pos_rows(consolidated)
	heads = pos_headers([p for ps in in_invoice.values() for p in ps] + [v[0] for v in stored.values()])
	owner = owners(heads)
	home = homes(sorted(owner))
	rows = []
	for h in headers:
		name = h["voucher_no"]
		its = items.get(name, [])
		mine = [p for p in in_invoice.get(name, []) if p in owner and p in heads]
		if not mine:
			rows.append(build_row(h, its, profiles.get(name)))
			continue
		rest = dict(h)
		for p in mine:
			for f in AMOUNTS:
				rest[f] = flt(rest.get(f)) - flt(heads[p].get(f))
		# a POS Invoice is paid at the till: what the consolidated invoice still owes is the
		# attributed POS Invoices' only as far as they owe it themselves
		left = flt(h.get("outstanding_amount"))
		shares = {}
		for p in mine:
			owed = 0.0 if heads[p].get("is_return") else max(flt(heads[p].get("outstanding_amount")), 0.0)
			shares[p] = min(owed, max(left, 0.0))
			left -= shares[p]
		rest["outstanding_amount"] = left
		rows.append(build_row(rest, [i for i in its if i.get("pos_invoice") not in mine], profiles.get(name)))
		for p in mine:
			if home.get(p, (None, 0))[0] != name:
				continue  # its row belongs to the invoice that holds it now
			rows.append(
				build_row(
					_pos_header(heads[p], h, shares[p]),
					[i for i in its if i.get("pos_invoice") == p],
					owner[p],
				)
			)
	expected = {parent["name"] for parent, _child in rows}
	stale = [
		row
		for row, (pos_invoice, invoice, _profile) in stored.items()
		if row not in expected and home.get(pos_invoice, (invoice, 0))[0] == invoice
	]
	return rows, stale


def delete_rows(names: list[str]) -> list[str]:
	"""Remove POS rows no voucher expects; returns the profiles they were on."""
	if not names:
		return []
	profiles = frappe.get_all(
		"Fishpond Transaction", filters={"name": ("in", names)}, pluck="fishpond_lead", distinct=True
	)
	frappe.db.delete(
		"Fishpond Transaction Item", {"parenttype": "Fishpond Transaction", "parent": ("in", names)}
	)
	frappe.db.delete("Fishpond Transaction", {"name": ("in", names)})
	return profiles


def invoices_holding(pos_invoice: str) -> list[str]:
	"""The Sales Invoices (submitted or cancelled) that hold ``pos_invoice`` or one of its returns: the
	vouchers whose rows change when its attribution does."""
	pos = frappe.qb.DocType(POS)
	returns = (
		frappe.qb.from_(pos)
		.select(pos.name)
		.where(pos.return_against == pos_invoice)
		.where(pos.docstatus == 1)
	).run(pluck=True)
	names = [pos_invoice, *returns]
	item = frappe.qb.DocType("Sales Invoice Item")
	si = frappe.qb.DocType("Sales Invoice")
	return (
		frappe.qb.from_(item)
		.join(si)
		.on(si.name == item.parent)
		.select(si.name)
		.distinct()
		.where(item.parenttype == "Sales Invoice")
		.where(item.pos_invoice.isin(names))
		.where(si.docstatus.isin([1, 2]))
		.orderby(si.name)
	).run(pluck=True)


def attributed_in(pos_invoices: list[str]) -> bool:
	"""Whether any of ``pos_invoices`` (or the POS Invoice one of them returns) is attributed."""
	return bool(owners(pos_headers(pos_invoices)))


def extra_rows() -> list[dict]:
	"""POS rows whose consolidated invoice is gone or a draft (never expected)."""
	tx = frappe.qb.DocType("Fishpond Transaction")
	si = frappe.qb.DocType("Sales Invoice")
	rows = (
		frappe.qb.from_(tx)
		.left_join(si)
		.on(si.name == tx.consolidated_invoice)
		.select(tx.name, tx.voucher_no, tx.customer, tx.base_grand_total, tx.consolidated_invoice)
		.where(tx.voucher_type == POS)
		.where(si.name.isnull() | (si.docstatus == 0))
	).run(as_dict=True)
	return [
		{
			"kind": "extra",
			"voucher_type": POS,
			"voucher_no": r.voucher_no,
			"customer": r.customer,
			"base_grand_total": r.base_grand_total,
			"consolidated_invoice": r.consolidated_invoice,
			"fields": None,
			"items": [],
			"row": r.name,
		}
		for r in rows
	]

"""Reconciliation: the pond's transaction history against ERPNext's own tables.

`reconcile()` lists every difference voucher by voucher (missing, different, extra) and, per
customer, the submitted totals on both sides. It reuses the backfill's reader and diff, so zero
differences here means a backfill would write nothing. `describe()` turns one difference into lines a
person can act on (which header field, which item row, pond value against ERPNext value).

Reconciling only reports. `repair()` re-syncs the differing vouchers through the same upsert the
document events use (and drops pond rows whose voucher is gone); a Fishpond Manager runs it from the
report or with `bench --site S fishpond-reconcile --repair`. Nothing repairs on a schedule: a voucher
changed behind the hooks' back (a direct database write) stays reported until someone repairs it.
"""

from __future__ import annotations

from collections import defaultdict

import frappe
from frappe import _
from frappe.query_builder import functions as fn

from crm_fishpond import jobs
from crm_fishpond.sync import pos
from crm_fishpond.sync.history import diff_chunk, extra_rows, iter_chunks, profiles_by_customer
from crm_fishpond.sync.transactions import SYNCED_DOCTYPES, sync_voucher


def voucher_differences(chunk_size: int = 5000) -> list[dict]:
	details: list[dict] = []
	for doctype in SYNCED_DOCTYPES:
		for headers in iter_chunks(doctype, chunk_size=chunk_size):
			profiles = profiles_by_customer(sorted({h["customer"] for h in headers if h["customer"]}))
			details += diff_chunk(headers, profiles).details
		details += extra_rows(doctype)
	return details + pos.extra_rows()


def customer_totals() -> list[dict]:
	"""Per customer and voucher type: count and company-currency total, ERPNext vs pond (submitted only).
	An attributed POS Invoice's row is a share of its consolidated Sales Invoice: its amount counts
	with that customer's Sales Invoices, and it is no invoice of its own in the count."""
	totals: dict[tuple, dict] = defaultdict(
		lambda: {"erp_count": 0, "erp_total": 0.0, "pond_count": 0, "pond_total": 0.0}
	)
	for doctype in SYNCED_DOCTYPES:
		dt = frappe.qb.DocType(doctype)
		for customer, count, total in (
			frappe.qb.from_(dt)
			.select(dt.customer, fn.Count(dt.name), fn.Sum(dt.base_grand_total))
			.where(dt.docstatus == 1)
			.groupby(dt.customer)
		).run():
			row = totals[(customer, doctype)]
			row["erp_count"], row["erp_total"] = count, float(total or 0)
	tx = frappe.qb.DocType("Fishpond Transaction")
	for customer, doctype, count, total in (
		frappe.qb.from_(tx)
		.select(tx.customer, tx.voucher_type, fn.Count(tx.name), fn.Sum(tx.base_grand_total))
		.where(tx.docstatus_state == "Submitted")
		.groupby(tx.customer, tx.voucher_type)
	).run():
		if doctype == pos.POS:
			totals[(customer, "Sales Invoice")]["pond_total"] += float(total or 0)
			continue
		row = totals[(customer, doctype)]
		row["pond_count"] += count
		row["pond_total"] += float(total or 0)
	out = []
	for (customer, doctype), row in sorted(totals.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
		row.update(
			customer=customer,
			voucher_type=doctype,
			difference=round(row["erp_total"] - row["pond_total"], 6),
			matches=row["erp_count"] == row["pond_count"]
			and abs(row["erp_total"] - row["pond_total"]) < 0.005,
		)
		out.append(row)
	return out


def reconcile() -> dict:
	vouchers = voucher_differences()
	customers = customer_totals()
	mismatched = [c for c in customers if not c["matches"]]
	return {
		"differences": len(vouchers) + len(mismatched),
		"vouchers": vouchers,
		"customers": mismatched,
		"customers_checked": len(customers),
	}


def _label(doctype: str, fieldname: str) -> str:
	return _(frappe.get_meta(doctype).get_label(fieldname))


def _value(value) -> str:
	if value is None or value == "":
		return _("(empty)")
	if isinstance(value, float):
		return f"{value:g}"
	return str(value)


def _item_name(diff: dict) -> str:
	code = diff["item_code"] or _("(no item code)")
	return f"{code} ({diff['item_group']})" if diff.get("item_group") else code


def describe(detail: dict) -> list[str]:
	"""One difference as translated lines, e.g. "Item A (Products): Quantity 10 in the pond, 20 in
	ERPNext"."""
	if detail["kind"] == "missing":
		return [_("not in the pond: repair or run a backfill to add it")]
	if detail["kind"] == "extra":
		return [_("in the pond only: the voucher was deleted or is a draft in ERPNext")]
	lines = [
		_("{0}: {1} in the pond, {2} in ERPNext").format(
			_label("Fishpond Transaction", field), _value(pond), _value(erpnext)
		)
		for field, (pond, erpnext) in (detail.get("fields") or {}).items()
	]
	item_doctype = "Fishpond Transaction Item"
	for diff in detail.get("items") or []:
		if diff["change"] == "changed":
			lines.append(
				_("Item {0}: {1} {2} in the pond, {3} in ERPNext").format(
					_item_name(diff),
					_label(item_doctype, diff["field"]),
					_value(diff["pond"]),
					_value(diff["erpnext"]),
				)
			)
		else:
			values = diff["erpnext"] if diff["change"] == "missing" else diff["pond"]
			message = (
				_("Item {0}: in ERPNext (quantity {1}, amount {2}), not in the pond")
				if diff["change"] == "missing"
				else _("Item {0}: in the pond (quantity {1}, amount {2}), not in ERPNext")
			)
			lines.append(
				message.format(_item_name(diff), _value(values["qty"]), _value(values["base_net_amount"]))
			)
	return lines


def repair(details: list[dict] | None = None) -> dict:
	"""Re-sync every differing voucher through the document events' upsert; returns counts.

	Missing and different vouchers are read from ERPNext and upserted; pond rows whose voucher was
	deleted or is a draft again are removed (as deleting a voucher does). The touched profiles are
	marked for an incremental rescore. For a large drift a backfill is faster (it works in chunks).
	"""
	details = voucher_differences() if details is None else details
	counts = {"synced": 0, "removed": 0}
	profiles: list[str | None] = []
	for detail in details:
		if detail["kind"] == "extra":
			profiles.append(frappe.db.get_value("Fishpond Transaction", detail["row"], "fishpond_lead"))
			frappe.db.delete(
				"Fishpond Transaction Item", {"parent": detail["row"], "parenttype": "Fishpond Transaction"}
			)
			frappe.db.delete("Fishpond Transaction", detail["row"])
			counts["removed"] += 1
			continue
		if detail["voucher_type"] == pos.POS:
			# a POS Invoice's row is written with the rows of the invoice that consolidated it
			doc = frappe.get_doc("Sales Invoice", detail["consolidated_invoice"])
		else:
			doc = frappe.get_doc(detail["voucher_type"], detail["voucher_no"])
		profile, outcome = sync_voucher(doc)
		profiles.append(profile)
		counts["synced"] += outcome in ("inserted", "updated")
	jobs.mark_dirty(profiles)
	return counts

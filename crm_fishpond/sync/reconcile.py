"""Reconciliation: the pond's transaction history against ERPNext's own tables.

`reconcile()` lists every difference voucher by voucher (missing, different, extra) and, per
customer, the submitted totals on both sides. It reuses the backfill's reader and diff, so zero
differences here means a backfill would write nothing.
"""

from __future__ import annotations

from collections import defaultdict

import frappe
from frappe.query_builder import functions as fn

from crm_fishpond.sync.history import diff_chunk, extra_rows, iter_chunks, profiles_by_customer
from crm_fishpond.sync.transactions import SYNCED_DOCTYPES


def voucher_differences(chunk_size: int = 5000) -> list[dict]:
	details: list[dict] = []
	for doctype in SYNCED_DOCTYPES:
		for headers in iter_chunks(doctype, chunk_size=chunk_size):
			profiles = profiles_by_customer(sorted({h["customer"] for h in headers if h["customer"]}))
			details += diff_chunk(headers, profiles).details
		details += extra_rows(doctype)
	return details


def customer_totals() -> list[dict]:
	"""Per customer and voucher type: count and company-currency total, ERPNext vs pond (submitted only)."""
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
		row = totals[(customer, doctype)]
		row["pond_count"], row["pond_total"] = count, float(total or 0)
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

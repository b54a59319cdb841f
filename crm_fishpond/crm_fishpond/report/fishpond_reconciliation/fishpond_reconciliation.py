"""Script Report: every difference between the pond's transaction history and ERPNext's tables."""

import frappe
from frappe import _

from crm_fishpond.sync.attributions import attributed_by_customer
from crm_fishpond.sync.reconcile import customer_totals, describe, voucher_differences


def kind_label(kind: str) -> str:
	return {"missing": _("Missing in pond"), "different": _("Different"), "extra": _("Extra in pond")}[kind]


def execute(filters=None):
	filters = frappe._dict(filters or {})
	if filters.view == "Per Customer":
		return customer_columns(), customer_rows(filters)
	return voucher_columns(), voucher_rows(filters)


def voucher_columns():
	return [
		{"fieldname": "kind", "label": _("Difference"), "fieldtype": "Data", "width": 140},
		{
			"fieldname": "voucher_type",
			"label": _("Voucher Type"),
			"fieldtype": "Link",
			"options": "DocType",
			"width": 130,
		},
		{
			"fieldname": "voucher_no",
			"label": _("Voucher"),
			"fieldtype": "Dynamic Link",
			"options": "voucher_type",
			"width": 180,
		},
		{
			"fieldname": "customer",
			"label": _("Customer"),
			"fieldtype": "Link",
			"options": "Customer",
			"width": 180,
		},
		{
			"fieldname": "base_grand_total",
			"label": _("Grand Total (Company Currency)"),
			"fieldtype": "Float",
			"width": 160,
		},
		{"fieldname": "fields", "label": _("What Differs"), "fieldtype": "Small Text", "width": 480},
	]


def voucher_rows(filters):
	rows = []
	for row in voucher_differences():
		if filters.customer and row["customer"] != filters.customer:
			continue
		rows.append({**row, "kind": kind_label(row["kind"]), "fields": "; ".join(describe(row))})
	return rows


def customer_columns():
	return [
		{
			"fieldname": "customer",
			"label": _("Customer"),
			"fieldtype": "Link",
			"options": "Customer",
			"width": 200,
		},
		{"fieldname": "voucher_type", "label": _("Voucher Type"), "fieldtype": "Data", "width": 130},
		{"fieldname": "erp_count", "label": _("ERPNext Count"), "fieldtype": "Int", "width": 120},
		{"fieldname": "pond_count", "label": _("Pond Count"), "fieldtype": "Int", "width": 110},
		{"fieldname": "erp_total", "label": _("ERPNext Total"), "fieldtype": "Float", "width": 140},
		{"fieldname": "pond_total", "label": _("Pond Total"), "fieldtype": "Float", "width": 140},
		{"fieldname": "difference", "label": _("Difference"), "fieldtype": "Float", "width": 120},
		{
			"fieldname": "attributed_count",
			"label": _("Invoices Attributed to Other Profiles"),
			"fieldtype": "Int",
			"width": 150,
		},
		{
			"fieldname": "attributed_total",
			"label": _("Their Total"),
			"fieldtype": "Float",
			"width": 120,
		},
		{"fieldname": "attributed_to", "label": _("Attributed To"), "fieldtype": "Small Text", "width": 220},
	]


def customer_rows(filters):
	rows = customer_totals()
	if not filters.show_matching:
		rows = [r for r in rows if not r["matches"]]
	if filters.customer:
		rows = [r for r in rows if r["customer"] == filters.customer]
	# a customer's invoices an accountant attributed to other profiles stay in its totals (the pond's
	# rows keep the booked customer); the columns say where they went
	attributed = attributed_by_customer()
	for r in rows:
		found = attributed.get(r["customer"]) if r["voucher_type"] == "Sales Invoice" else None
		if found:
			r.update(
				attributed_count=found["count"],
				attributed_total=found["total"],
				attributed_to=", ".join(found["profiles"]),
			)
	return rows

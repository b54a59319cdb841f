"""Script Report: revenue from leads that were recycled and then claimed again.

Revenue is the company-currency net total of the customer's submitted Sales Invoices (credit notes
included) dated from the reclaim until the lead is recycled again.
"""

import frappe
from frappe import _

from crm_fishpond.pools.analytics import recaptured


def execute(filters=None):
	filters = frappe._dict(filters or {})
	rows = recaptured(filters)
	if filters.get("detail"):
		return detail_columns(), rows
	return summary_columns(), summarise(rows)


def summarise(rows):
	groups = {}
	for row in rows:
		group = groups.setdefault(
			(row.pool, row.rep), {"pool": row.pool, "rep": row.rep, "leads": 0, "invoices": 0, "revenue": 0.0}
		)
		group["leads"] += 1
		group["invoices"] += row.invoices or 0
		group["revenue"] += row.revenue or 0
	return sorted(groups.values(), key=lambda g: -g["revenue"])


def summary_columns():
	return [
		{"fieldname": "pool", "label": _("Pool"), "fieldtype": "Link", "options": "Fishpond", "width": 160},
		{
			"fieldname": "rep",
			"label": _("Reclaimed By"),
			"fieldtype": "Link",
			"options": "User",
			"width": 200,
		},
		{"fieldname": "leads", "label": _("Leads Recaptured"), "fieldtype": "Int", "width": 130},
		{"fieldname": "invoices", "label": _("Invoices"), "fieldtype": "Int", "width": 100},
		{
			"fieldname": "revenue",
			"label": _("Revenue (Company Currency)"),
			"fieldtype": "Currency",
			"width": 180,
		},
	]


def detail_columns():
	return [
		{
			"fieldname": "profile",
			"label": _("Fishpond Lead"),
			"fieldtype": "Link",
			"options": "Fishpond Lead",
			"width": 150,
		},
		{"fieldname": "lead_name", "label": _("Name"), "fieldtype": "Data", "width": 160},
		{
			"fieldname": "customer",
			"label": _("Customer"),
			"fieldtype": "Link",
			"options": "Customer",
			"width": 160,
		},
		{
			"fieldname": "recycled_from",
			"label": _("Recycled From"),
			"fieldtype": "Link",
			"options": "User",
			"width": 170,
		},
		{"fieldname": "recycled_on", "label": _("Recycled On"), "fieldtype": "Datetime", "width": 150},
		{
			"fieldname": "rep",
			"label": _("Reclaimed By"),
			"fieldtype": "Link",
			"options": "User",
			"width": 170,
		},
		{"fieldname": "reclaimed_on", "label": _("Reclaimed On"), "fieldtype": "Datetime", "width": 150},
		{"fieldname": "invoices", "label": _("Invoices"), "fieldtype": "Int", "width": 90},
		{
			"fieldname": "revenue",
			"label": _("Revenue (Company Currency)"),
			"fieldtype": "Currency",
			"width": 170,
		},
	]

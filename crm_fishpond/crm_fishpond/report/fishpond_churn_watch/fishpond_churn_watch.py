"""Script Report: customers by churn risk with the CLV at risk (CLV x churn risk) and their owner,
most value at risk first; the summary totals every matching customer (docs/analytics.md)."""

import frappe
from frappe import _

from crm_fishpond.customer_analytics.churn import churn_watch

CHART_ROWS = 20


def execute(filters=None):
	rows, totals = churn_watch(frappe._dict(filters or {}))
	return columns(), rows, None, chart(rows), summary(totals)


def columns():
	return [
		{
			"fieldname": "profile",
			"label": _("Fishpond Lead"),
			"fieldtype": "Link",
			"options": "Fishpond Lead",
			"width": 150,
		},
		{"fieldname": "lead_name", "label": _("Name"), "fieldtype": "Data", "width": 170},
		# Data, not Link: reps may not read Customer or Territory, and Frappe checks a Link column's
		# doctype permission for every row (the profile they can read shows both anyway)
		{"fieldname": "customer", "label": _("Customer"), "fieldtype": "Data", "width": 150},
		{
			"fieldname": "lead_owner",
			"label": _("Owner (Rep)"),
			"fieldtype": "Link",
			"options": "User",
			"width": 170,
		},
		{
			"fieldname": "fishpond",
			"label": _("Pool"),
			"fieldtype": "Link",
			"options": "Fishpond",
			"width": 130,
		},
		{"fieldname": "territory", "label": _("Territory"), "fieldtype": "Data", "width": 120},
		{
			"fieldname": "churn_risk",
			"precision": 1,
			"label": _("Churn Risk"),
			"fieldtype": "Percent",
			"width": 110,
		},
		{"fieldname": "churn_band", "label": _("Churn Band"), "fieldtype": "Data", "width": 100},
		{"fieldname": "clv", "label": _("Customer Lifetime Value"), "fieldtype": "Currency", "width": 150},
		{"fieldname": "value_at_risk", "label": _("CLV at Risk"), "fieldtype": "Currency", "width": 140},
		{"fieldname": "last_purchase", "label": _("Last Purchase"), "fieldtype": "Date", "width": 110},
		{
			"fieldname": "total_purchase",
			"label": _("Net Purchases (company currency)"),
			"fieldtype": "Currency",
			"width": 160,
		},
		{"fieldname": "churn_method", "label": _("Churn Method"), "fieldtype": "Data", "width": 120},
	]


def chart(rows):
	top = [r for r in rows if r.value_at_risk > 0][:CHART_ROWS]
	if not top:
		return None
	return {
		"data": {
			"labels": [r.lead_name or r.profile for r in top],
			"datasets": [{"name": _("CLV at Risk"), "values": [round(r.value_at_risk, 2) for r in top]}],
		},
		"type": "bar",
	}


def summary(totals):
	return [
		{"value": totals["customers"], "label": _("Customers"), "datatype": "Int"},
		{"value": totals["clv"], "label": _("Customer Lifetime Value"), "datatype": "Currency"},
		{
			"value": totals["value_at_risk"],
			"label": _("CLV at Risk"),
			"datatype": "Currency",
			"indicator": "Red" if totals["value_at_risk"] else "Green",
		},
	]

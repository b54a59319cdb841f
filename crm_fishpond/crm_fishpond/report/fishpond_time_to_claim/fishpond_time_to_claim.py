"""Script Report: how long leads wait in a pool before they are claimed, per pool and rep (or per claim)."""

import frappe
from frappe import _

from crm_fishpond.pools.analytics import claims_with_wait, time_to_claim


def execute(filters=None):
	filters = frappe._dict(filters or {})
	if filters.get("detail"):
		return detail_columns(), claims_with_wait(filters)
	rows = time_to_claim(filters)
	return summary_columns(), rows, None, chart(rows)


def summary_columns():
	return [
		{"fieldname": "pool", "label": _("Pool"), "fieldtype": "Link", "options": "Fishpond", "width": 160},
		{"fieldname": "rep", "label": _("Rep"), "fieldtype": "Link", "options": "User", "width": 200},
		{"fieldname": "claims", "label": _("Claims"), "fieldtype": "Int", "width": 90},
		{
			"fieldname": "avg_hours",
			"label": _("Average Hours"),
			"fieldtype": "Float",
			"precision": 1,
			"width": 120,
		},
		{
			"fieldname": "median_hours",
			"label": _("Median Hours"),
			"fieldtype": "Float",
			"precision": 1,
			"width": 120,
		},
		{
			"fieldname": "max_hours",
			"label": _("Longest Wait (Hours)"),
			"fieldtype": "Float",
			"precision": 1,
			"width": 150,
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
		{"fieldname": "lead_name", "label": _("Name"), "fieldtype": "Data", "width": 180},
		{"fieldname": "action", "label": _("Action"), "fieldtype": "Data", "width": 80},
		{"fieldname": "pool", "label": _("Pool"), "fieldtype": "Link", "options": "Fishpond", "width": 140},
		{"fieldname": "rep", "label": _("Rep"), "fieldtype": "Link", "options": "User", "width": 180},
		{"fieldname": "entered_pool", "label": _("In Pool Since"), "fieldtype": "Datetime", "width": 160},
		{"fieldname": "claimed_on", "label": _("Claimed On"), "fieldtype": "Datetime", "width": 160},
		{
			"fieldname": "hours_to_claim",
			"label": _("Hours to Claim"),
			"fieldtype": "Float",
			"precision": 1,
			"width": 120,
		},
	]


def chart(rows):
	if not rows:
		return None
	return {
		"data": {
			"labels": [f"{r['rep']} ({r['pool']})" for r in rows[:20]],
			"datasets": [
				{"name": _("Median Hours"), "values": [round(r["median_hours"], 1) for r in rows[:20]]}
			],
		},
		"type": "bar",
	}

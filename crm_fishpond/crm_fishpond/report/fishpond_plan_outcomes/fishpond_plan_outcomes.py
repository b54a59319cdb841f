"""Script Report: per follow-up plan, enrolments by status and the win-back rate (bought again within
the plan's window, docs/nurture.md). Counted over the enrolments the user may see (a rep: their
profiles'), enrolled between the dates."""

import frappe
import pandas as pd
from frappe import _

from crm_fishpond.engine.nurture import outcome_summary

ENROLMENT = "Fishpond Plan Enrolment"


def execute(filters=None):
	filters = frappe._dict(filters or {})
	rows = summary(filters)
	return columns(), rows, None, chart(rows)


def summary(filters) -> list[dict]:
	conditions = []
	if filters.get("from_date"):
		conditions.append([ENROLMENT, "enrolled_on", ">=", filters.from_date])
	if filters.get("to_date"):
		conditions.append([ENROLMENT, "enrolled_on", "<", frappe.utils.add_days(filters.to_date, 1)])
	if filters.get("plan"):
		conditions.append([ENROLMENT, "plan", "=", filters.plan])
	# permission-checked and grouped in SQL: one row per plan, status and outcome
	counts = frappe.get_list(
		ENROLMENT,
		filters=conditions,
		fields=["plan", "status", "outcome", "count(name) as n"],
		group_by="plan, status, outcome",
		order_by="plan asc",
	)
	frame = pd.DataFrame.from_records(counts, columns=["plan", "status", "outcome", "n"])
	out = outcome_summary(frame)
	return [
		{k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in row.items()}
		for row in out.to_dict("records")
	]


def columns():
	return [
		{
			"fieldname": "plan",
			"label": _("Plan"),
			"fieldtype": "Link",
			"options": "Fishpond Follow-up Plan",
			"width": 200,
		},
		{"fieldname": "enrolled", "label": _("Enrolled"), "fieldtype": "Int", "width": 100},
		{"fieldname": "active", "label": _("Active"), "fieldtype": "Int", "width": 90},
		{"fieldname": "completed", "label": _("Completed"), "fieldtype": "Int", "width": 100},
		{"fieldname": "stopped", "label": _("Stopped"), "fieldtype": "Int", "width": 90},
		{"fieldname": "won_back", "label": _("Won Back"), "fieldtype": "Int", "width": 100},
		{"fieldname": "not_won_back", "label": _("Not Won Back"), "fieldtype": "Int", "width": 120},
		{"fieldname": "win_back_rate", "label": _("Win-back Rate %"), "fieldtype": "Percent", "width": 130},
	]


def chart(rows):
	rated = [r for r in rows if r.get("win_back_rate") is not None][:20]
	if not rated:
		return None
	return {
		"data": {
			"labels": [r["plan"] for r in rated],
			"datasets": [{"name": _("Win-back Rate %"), "values": [r["win_back_rate"] for r in rated]}],
		},
		"type": "bar",
	}

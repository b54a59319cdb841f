"""Script Report: per lifecycle stage, the stays that started in the period, how they ended (moved
forward, churned, moved back, still there), the conversion to a later stage and the median and mean
days in the stage (docs/analytics.md)."""

import frappe
from frappe import _

from crm_fishpond.customer_analytics.funnel import lifecycle_funnel


def execute(filters=None):
	rows = lifecycle_funnel(frappe._dict(filters or {}))
	return columns(), rows, None, chart(rows)


def columns():
	def count(fieldname, label, width=120):
		return {"fieldname": fieldname, "label": label, "fieldtype": "Int", "width": width}

	def days(fieldname, label):
		return {"fieldname": fieldname, "label": label, "fieldtype": "Float", "precision": 1, "width": 150}

	return [
		{
			"fieldname": "stage",
			"label": _("Lifecycle Stage"),
			"fieldtype": "Link",
			"options": "Lifecycle Stage",
			"width": 150,
		},
		count("entered", _("Entered")),
		count("profiles", _("Profiles"), 100),
		count("moved_forward", _("Moved Forward"), 130),
		count("churned", _("Churned"), 100),
		count("moved_back", _("Moved Back"), 110),
		count("still_in_stage", _("Still in Stage"), 120),
		{
			"fieldname": "conversion",
			"precision": 1,
			"label": _("Conversion %"),
			"fieldtype": "Percent",
			"width": 120,
		},
		days("median_days", _("Median Days in Stage")),
		days("mean_days", _("Mean Days in Stage")),
	]


def chart(rows):
	if not any(r["entered"] for r in rows):
		return None
	return {
		"data": {
			"labels": [r["stage"] for r in rows],
			"datasets": [
				{"name": _("Entered"), "values": [r["entered"] for r in rows]},
				{"name": _("Moved Forward"), "values": [r["moved_forward"] for r in rows]},
			],
		},
		"type": "bar",
	}

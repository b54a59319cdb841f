"""Script Report: customers by first-purchase month (cohort) x months since, the share of each cohort
with positive net purchases in that month (or their number), net of returns; the chart is the
cohort-size weighted average (docs/analytics.md). A prepared report: it reads every invoice of the
readable profiles."""

import frappe
from frappe import _

from crm_fishpond.customer_analytics.cohorts import cohort_table


def execute(filters=None):
	filters = frappe._dict(filters or {})
	offsets, rows, average = cohort_table(filters)
	return columns(offsets, filters.get("show") == "Buyers"), rows, None, chart(offsets, average)


def columns(offsets, buyers: bool):
	out = [
		{"fieldname": "cohort", "label": _("First Purchase Month"), "fieldtype": "Data", "width": 150},
		{"fieldname": "size", "label": _("Customers"), "fieldtype": "Int", "width": 100},
	]
	for k in offsets:
		out.append(
			{
				"fieldname": f"m{k}",
				"label": _("Month {0}").format(k),
				"fieldtype": "Int" if buyers else "Percent",
				"precision": 1,
				"width": 90,
			}
		)
	return out


def chart(offsets, average):
	# months no cohort has reached yet are left off, not drawn as zero
	seen = [(k, v) for k, v in zip(offsets, average, strict=True) if v is not None]
	if not seen:
		return None
	return {
		"data": {
			"labels": [_("Month {0}").format(k) for k, _v in seen],
			"datasets": [{"name": _("Average Retention %"), "values": [round(v, 1) for _k, v in seen]}],
		},
		"type": "line",
	}

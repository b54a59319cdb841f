"""Pond metrics over time: customer growth (new, active, lost per month), retention and churn rates,
average value per customer and its uplift on the same month last year, NPS and CSAT once feedback
exists. Read from the monthly Fishpond Metrics Snapshot rows (crm_fishpond.analytics.snapshots), so a
month's figures stay as they were when it closed; definitions in docs/analytics.md."""

import frappe
from frappe import _

SNAPSHOT = "Fishpond Metrics Snapshot"
FIELDS = [
	("period", "Date", "Month", 100),
	("pond_size", "Int", "Pond Size", 90),
	("new_customers", "Int", "New Customers", 110),
	("active_customers", "Int", "Active Customers", 110),
	("lost_customers", "Int", "Lost Customers", 110),
	("customer_base", "Int", "Customer Base", 110),
	("retention_rate", "Percent", "Retention Rate", 110),
	("churn_rate", "Percent", "Churn Rate", 100),
	("net_purchases", "Currency", "Net Purchases", 130),
	("avg_value_per_customer", "Currency", "Average Value per Customer", 150),
	("avg_value_last_year", "Currency", "Same Month Last Year", 150),
	("avg_value_uplift", "Percent", "Uplift vs Last Year", 120),
	("nps", "Float", "NPS", 70),
	("nps_responses", "Int", "NPS Answers", 100),
	("csat", "Percent", "CSAT", 70),
	("csat_responses", "Int", "CSAT Answers", 100),
]


def execute(filters=None):
	filters = frappe._dict(filters or {})
	columns = [
		{
			"fieldname": name,
			"fieldtype": fieldtype,
			"label": _(label),
			"width": width,
			**({"options": "currency"} if fieldtype == "Currency" else {}),
		}
		for name, fieldtype, label, width in FIELDS
	]
	where = {"company": filters.company or ("is", "not set")}
	if filters.from_date and filters.to_date:
		where["period"] = ("between", [filters.from_date, filters.to_date])
	rows = frappe.get_list(
		SNAPSHOT,
		filters=where,
		fields=[f[0] for f in FIELDS] + ["currency"],
		order_by="period asc",
		limit_page_length=0,
	)
	for row in rows:
		# a month without answers has no NPS or CSAT (stored as 0: Frappe keeps numbers NOT NULL)
		if not row.nps_responses:
			row.nps = None
		if not row.csat_responses:
			row.csat = None
	return columns, rows, None, chart(rows)


def chart(rows):
	if not rows:
		return None
	return {
		"data": {
			"labels": [frappe.utils.formatdate(r.period, "MMM yyyy") for r in rows],
			"datasets": [
				{"name": _("New Customers"), "values": [r.new_customers or 0 for r in rows]},
				{"name": _("Active Customers"), "values": [r.active_customers or 0 for r in rows]},
				{"name": _("Lost Customers"), "values": [r.lost_customers or 0 for r in rows]},
			],
		},
		"type": "line",
	}

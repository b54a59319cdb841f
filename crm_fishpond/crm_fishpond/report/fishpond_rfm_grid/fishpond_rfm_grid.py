"""Script Report: scored customers by recency score (rows) x frequency score (columns), the count and
the mean net purchases per cell; each count opens the Fishpond Lead list filtered to its cell
(docs/analytics.md)."""

import frappe
from frappe import _

from crm_fishpond.customer_analytics.rfm_grid import rfm_grid


def execute(filters=None):
	bins, rows = rfm_grid(frappe._dict(filters or {}))
	for row in rows:
		row["r_score"] = str(row["r_score"]) if row["r_score"] else _("All")
	return columns(bins), rows, None, chart(bins, rows[:-1])


def columns(bins: int):
	out = [{"fieldname": "r_score", "label": _("R Score"), "fieldtype": "Data", "width": 80}]
	for f in range(1, bins + 1):
		out += [
			{
				"fieldname": f"f{f}_count",
				"label": _("F{0} Customers").format(f),
				"fieldtype": "Int",
				"width": 110,
			},
			{
				"fieldname": f"f{f}_mean",
				"label": _("F{0} Mean Net Purchases").format(f),
				"fieldtype": "Currency",
				"width": 150,
			},
		]
	out += [
		{"fieldname": "count", "label": _("Customers"), "fieldtype": "Int", "width": 110},
		{"fieldname": "mean", "label": _("Mean Net Purchases"), "fieldtype": "Currency", "width": 150},
	]
	return out


def chart(bins: int, rows):
	if not any(r["count"] for r in rows):
		return None
	return {
		"data": {
			"labels": [f"R{r['r_score']}" for r in rows],
			"datasets": [
				{"name": f"F{f}", "values": [r[f"f{f}_count"] for r in rows]} for f in range(1, bins + 1)
			],
		},
		"type": "bar",
		"barOptions": {"stacked": 1},
	}

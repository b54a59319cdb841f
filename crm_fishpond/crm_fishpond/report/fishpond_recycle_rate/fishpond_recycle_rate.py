"""Script Report: per rep and pool, leads taken, recycled away and released, and the recycle rate."""

import frappe
from frappe import _

from crm_fishpond.pools.analytics import recycle_rate


def execute(filters=None):
	rows = recycle_rate(frappe._dict(filters or {}))
	return columns(), rows, None, chart(rows)


def columns():
	return [
		{"fieldname": "pool", "label": _("Pool"), "fieldtype": "Link", "options": "Fishpond", "width": 160},
		{"fieldname": "rep", "label": _("Rep"), "fieldtype": "Link", "options": "User", "width": 200},
		{"fieldname": "taken", "label": _("Claimed or Assigned"), "fieldtype": "Int", "width": 150},
		{"fieldname": "recycled", "label": _("Recycled"), "fieldtype": "Int", "width": 100},
		{"fieldname": "released", "label": _("Released"), "fieldtype": "Int", "width": 100},
		{"fieldname": "recycle_rate", "label": _("Recycle Rate %"), "fieldtype": "Percent", "width": 130},
	]


def chart(rows):
	rated = [r for r in rows if r.recycle_rate is not None][:20]
	if not rated:
		return None
	return {
		"data": {
			"labels": [f"{r.rep} ({r.pool})" for r in rated],
			"datasets": [{"name": _("Recycle Rate %"), "values": [round(r.recycle_rate, 1) for r in rated]}],
		},
		"type": "bar",
	}

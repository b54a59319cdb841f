"""Integration: the Pond Metrics report reads the monthly snapshots (whole pond or one company) in
order, with a growth chart; only managers may run it."""

from __future__ import annotations

import frappe
from frappe.desk.query_report import run

from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.utils import FishpondTestCase

REPORT = "Fishpond Pond Metrics"


def snapshot(period: str, **values) -> None:
	name = period[:7]
	frappe.db.delete("Fishpond Metrics Snapshot", {"name": name})
	frappe.get_doc(
		{"doctype": "Fishpond Metrics Snapshot", "name": name, "period": period, "is_complete": 1, **values}
	).db_insert()


class TestPondMetricsReport(FishpondTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		snapshot(
			"2001-01-01",
			pond_size=10,
			new_customers=4,
			active_customers=5,
			lost_customers=0,
			retention_rate=0,
		)
		snapshot(
			"2001-02-01",
			pond_size=12,
			new_customers=2,
			active_customers=6,
			lost_customers=1,
			retention_rate=80,
		)

	def test_months_in_order_with_the_growth_chart(self):
		result = run(REPORT, filters={"from_date": "2001-01-01", "to_date": "2001-12-01"})
		rows = result["result"]
		self.assertEqual(
			[(str(r["period"]), r["new_customers"]) for r in rows], [("2001-01-01", 4), ("2001-02-01", 2)]
		)
		self.assertEqual(rows[1]["retention_rate"], 80)
		datasets = result["chart"]["data"]["datasets"]
		self.assertEqual(datasets[0]["values"], [4, 2])

	def test_only_managers_run_it(self):
		rep = pf.rep("fp-metrics-report-rep@example.com", pools=[pf.pool("_FP Metrics Report Pool")])
		frappe.set_user(rep)
		try:
			with self.assertRaises(frappe.PermissionError):
				run(REPORT, filters={})
		finally:
			frappe.set_user("Administrator")

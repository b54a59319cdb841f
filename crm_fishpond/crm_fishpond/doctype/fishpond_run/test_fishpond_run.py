import frappe
from frappe.utils import add_to_date, now_datetime

from crm_fishpond.sync import runs
from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondRun(FishpondTestCase):
	def test_stale_runs_are_found_by_heartbeat(self):
		fresh = runs.create_run("Reconcile")
		stale = runs.create_run("Reconcile")
		frappe.db.set_value("Fishpond Run", fresh, {"status": "Running", "heartbeat": now_datetime()})
		frappe.db.set_value(
			"Fishpond Run", stale, {"status": "Running", "heartbeat": add_to_date(now_datetime(), hours=-1)}
		)
		found = runs.stale_runs("Reconcile")
		self.assertIn(stale, found)
		self.assertNotIn(fresh, found)

	def test_cursor_round_trips(self):
		run = runs.create_run("Reconcile", cursor={"doctype": "Sales Invoice", "after": "X"})
		runs.save_progress(run, {"doctype": "Sales Order", "after": "Y"}, processed=3)
		self.assertEqual(runs.get_cursor(run), {"doctype": "Sales Order", "after": "Y"})

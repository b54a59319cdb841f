"""Integration: sync APIs (permission checks) and the reconciliation report."""

from unittest.mock import patch

import frappe

from crm_fishpond.api import sync as api
from crm_fishpond.crm_fishpond.report.fishpond_reconciliation import fishpond_reconciliation as report
from crm_fishpond.sync import backfill
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase


def user_with_roles(email: str, *roles: str) -> str:
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": email.split("@")[0], "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	user.add_roles(*roles)
	return email


class TestSyncApi(FishpondTestCase):
	def tearDown(self):
		frappe.set_user("Administrator")

	def test_only_managers_start_a_backfill(self):
		rep = user_with_roles("fp.rep.api@example.com", "Fishpond User")
		frappe.set_user(rep)
		with self.assertRaises(frappe.PermissionError):
			api.start_backfill()
		frappe.set_user("Administrator")
		manager = user_with_roles("fp.manager.api@example.com", "Fishpond Manager")
		frappe.set_user(manager)
		with patch.object(backfill, "enqueue_run") as enqueue:
			run = api.start_backfill()
		enqueue.assert_called_once_with(run)
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "run_type"), "Backfill")

	def test_reconciliation_summary_needs_read_permission(self):
		nobody = user_with_roles("fp.nobody.api@example.com")
		frappe.set_user(nobody)
		with self.assertRaises(frappe.PermissionError):
			api.reconciliation_summary()

	def test_report_lists_a_missing_voucher(self):
		cust = f.customer("_FP Report Customer")
		settings = frappe.get_single("Fishpond Settings")
		settings.sync_sales_invoices = 0
		settings.save()
		try:
			si = f.sales_invoice(cust, rate=77)
		finally:
			settings.reload()
			settings.sync_sales_invoices = 1
			settings.save()
		columns, rows = report.execute({"customer": cust})
		self.assertTrue(columns)
		self.assertEqual([(r["voucher_no"], r["kind"]) for r in rows], [(si.name, "Missing in pond")])
		columns, rows = report.execute({"view": "Per Customer", "customer": cust})
		self.assertEqual(rows[0]["erp_count"], 1)
		self.assertEqual(rows[0]["pond_count"], 0)

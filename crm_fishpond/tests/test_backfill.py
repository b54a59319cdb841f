"""Integration: backfill of history made while sync was off, resume after a crash, idempotent re-run."""

from unittest.mock import patch

import frappe

from crm_fishpond.sync import backfill, runs
from crm_fishpond.sync.reconcile import reconcile
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase


class TestBackfill(FishpondTestCase):
	def setUp(self):
		frappe.db.delete("Fishpond Run", {"run_type": "Backfill"})

	def make_history_while_sync_is_off(self, customers=3, invoices_each=2):
		settings = frappe.get_single("Fishpond Settings")
		settings.sync_sales_invoices = 0
		settings.sync_sales_orders = 0
		settings.create_profile_for_customers = 0
		settings.save()
		names = []
		try:
			for c in range(customers):
				cust = f.customer(f"_FP Backfill Customer {c}")
				for i in range(invoices_each):
					names.append(f.sales_invoice(cust, rate=10 * (i + 1)).name)
				f.sales_order(cust, rate=33)
		finally:
			settings.reload()
			settings.sync_sales_invoices = 1
			settings.sync_sales_orders = 1
			settings.create_profile_for_customers = 1
			settings.save()
		return names

	def test_backfill_reconciles_and_second_run_changes_nothing(self):
		invoices = self.make_history_while_sync_is_off()
		self.assertGreater(reconcile()["differences"], 0)
		run = runs.create_run("Backfill")
		result = backfill.run_backfill(run, chunk_size=2)
		self.assertEqual(result["status"], "Completed")
		self.assertGreaterEqual(result["inserted"], len(invoices))
		self.assertEqual(reconcile()["differences"], 0)
		for name in invoices:
			self.assertTrue(frappe.db.exists("Fishpond Transaction", f"SI-{name}"))
		cust = frappe.db.get_value("Sales Invoice", invoices[0], "customer")
		self.assertEqual(frappe.db.count("Fishpond Lead", {"customer": cust}), 1)
		run_doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual(run_doc.status, "Completed")
		self.assertEqual(run_doc.progress, 100)
		# planned in chunks of two vouchers of one doctype, every chunk done, counted on the run
		self.assertEqual({c.reference_doctype for c in run_doc.chunks}, {"Sales Invoice", "Sales Order"})
		self.assertTrue(all(c.status == "Done" and c.records <= 2 for c in run_doc.chunks))
		self.assertEqual(sum(c.records for c in run_doc.chunks), run_doc.processed)
		self.assertEqual(run_doc.processed, run_doc.total)

		second = backfill.run_backfill(runs.create_run("Backfill"), chunk_size=2)
		self.assertEqual((second["inserted"], second["updated"]), (0, 0))

	def test_resume_after_crash_mid_run(self):
		self.make_history_while_sync_is_off(customers=4, invoices_each=2)
		run = runs.create_run("Backfill")
		real_apply = backfill.apply_chunk
		calls = {"n": 0}

		def third_chunk_keeps_failing(headers):
			calls["n"] += 1
			if calls["n"] in (3, 4, 5):  # every attempt at the third chunk
				raise RuntimeError("lock wait timeout")
			return real_apply(headers)

		with patch.object(backfill, "apply_chunk", side_effect=third_chunk_keeps_failing):
			with self.assertRaises(RuntimeError):
				backfill.run_backfill(run, chunk_size=2)
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual(doc.status, "Failed")
		self.assertEqual([c.status for c in doc.chunks[:3]], ["Done", "Done", "Failed"])
		self.assertEqual(doc.errors, backfill.RETRIES + 1)  # each attempt, then the run's failure
		processed_before = doc.processed
		done_before = {c.name for c in doc.chunks if c.status == "Done"}

		# Run Backfill resumes the failed run: it keeps the chunks done and runs the others
		with patch.object(backfill, "apply_chunk", side_effect=real_apply) as resumed:
			self.assertEqual(backfill.start_backfill(reason="resume"), run)
		result = backfill.result(run)
		self.assertEqual(result["status"], "Completed")
		self.assertGreater(result["processed"], processed_before)
		doc.reload()
		self.assertEqual(resumed.call_count, len(doc.chunks) - len(done_before))
		self.assertTrue(all(c.status == "Done" for c in doc.chunks))
		self.assertEqual(doc.chunks[2].attempts, 2)
		self.assertEqual(reconcile()["differences"], 0)

	def test_a_failing_chunk_is_retried(self):
		self.make_history_while_sync_is_off(customers=2, invoices_each=2)
		real_apply = backfill.apply_chunk
		calls = {"n": 0}

		def deadlock_once(headers):
			calls["n"] += 1
			if calls["n"] == 2:
				raise RuntimeError("deadlock found when trying to get lock")
			return real_apply(headers)

		run = runs.create_run("Backfill")
		with patch.object(backfill, "apply_chunk", side_effect=deadlock_once):
			result = backfill.run_backfill(run, chunk_size=2)
		self.assertEqual(result["status"], "Completed")
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "errors"), 1)
		self.assertTrue(
			frappe.db.exists("Error Log", {"reference_doctype": "Fishpond Run", "reference_name": run})
		)
		self.assertEqual(reconcile()["differences"], 0)

	def test_stale_run_is_resumed_by_the_scheduler(self):
		run = runs.create_run("Backfill")
		frappe.db.set_value(
			"Fishpond Run",
			run,
			{
				"status": "Running",
				"heartbeat": frappe.utils.add_to_date(frappe.utils.now_datetime(), hours=-2),
			},
		)
		with patch.object(backfill, "enqueue_run") as enqueue:
			resumed = backfill.resume_stuck_runs()
		self.assertIn(run, resumed)
		enqueue.assert_called_with(run)

	def test_only_one_active_backfill(self):
		with patch.object(backfill, "enqueue_run"):
			first = backfill.start_backfill()
			second = backfill.start_backfill()
		self.assertEqual(first, second)

"""The metrics history on the site: the snapshots of a small hand-made history (two companies in two
currencies, a full return, a cancelled invoice) hold the figures docs/analytics.md defines, a second
run writes nothing, a running month is updated and a final one kept, and only managers take them.

Each test empties the pond inside a savepoint and rolls it back: the history below is the whole pond.
Rows go in with db_insert, so no document event marks profiles dirty (the drain job commits)."""

from __future__ import annotations

from unittest.mock import patch

import frappe
from frappe.utils import get_datetime, getdate

from crm_fishpond.analytics import snapshots
from crm_fishpond.engine.metrics import churn_window_months
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.utils import FishpondTestCase

SNAPSHOT = "Fishpond Metrics Snapshot"
US, EU = "_FP Metrics US", "_FP Metrics EU"
AS_OF = "2026-04-15"
MONTHS = ("2026-01", "2026-02", "2026-03", "2026-04")


class MetricsHistoryCase(FishpondTestCase):
	SAVEPOINT = "fp_metrics_history"

	def setUp(self):
		frappe.set_user("Administrator")
		frappe.db.savepoint(self.SAVEPOINT)
		for doctype in (SNAPSHOT, "Fishpond Transaction", "Fishpond Lead"):
			frappe.db.delete(doctype)
		# a two-month churn window (Fishpond Settings' 61 days) without touching the cached settings
		self.window = patch.object(snapshots, "churn_months", return_value=2)
		self.window.start()
		for name, currency in ((US, "USD"), (EU, "EUR")):
			if not frappe.db.exists("Company", name):
				company = frappe.new_doc("Company")
				company.update(
					{"name": name, "company_name": name, "abbr": name[-2:], "default_currency": currency}
				)
				company.db_insert()
		self.leads = {
			"L1": self.lead("2025-12-20"),
			"L2": self.lead("2026-01-05"),
			"L3": self.lead("2026-02-10"),
			"L4": self.lead("2026-03-01"),  # a prospect: never buys
		}
		self.invoice("L1", "2026-01-10", 100, US)
		self.invoice("L1", "2026-02-03", 60, US)
		# a full return in February of a January invoice: L2 bought nothing in January
		jan = self.invoice("L2", "2026-01-15", 300, US)
		self.invoice("L2", "2026-02-02", -300, US, returns=jan)
		self.invoice("L2", "2026-03-05", 50, EU)
		self.invoice("L3", "2026-02-20", 200, US, state="Cancelled")
		self.invoice("L3", "2026-03-01", 80, US)
		self.invoice("L3", "2026-03-02", 999, US, voucher_type="Sales Order")

	def tearDown(self):
		self.window.stop()
		frappe.set_user("Administrator")
		frappe.db.rollback(save_point=self.SAVEPOINT)

	def lead(self, created: str) -> str:
		doc = frappe.new_doc("Fishpond Lead")
		doc.update({"lead_name": f"_FP Metrics {created}", "status": "In Pool"})
		doc.name = frappe.generate_hash(length=12)
		doc.db_insert()
		frappe.db.set_value(
			"Fishpond Lead", doc.name, "creation", get_datetime(created), update_modified=False
		)
		return doc.name

	def invoice(
		self,
		lead,
		posting_date,
		amount,
		company,
		*,
		returns=None,
		state="Submitted",
		voucher_type="Sales Invoice",
	) -> str:
		number = f"_FP-MH-{frappe.generate_hash(length=8)}"
		doc = frappe.new_doc("Fishpond Transaction")
		doc.update(
			{
				"fishpond_lead": self.leads[lead],
				"voucher_type": voucher_type,
				"voucher_no": number,
				"posting_date": getdate(posting_date),
				"docstatus_state": state,
				"company": company,
				"currency": "GBP",  # the invoice's own currency: only company-currency totals count
				"grand_total": amount * 7,
				"base_grand_total": amount,
				"is_return": int(amount < 0),
				"return_against": returns,
			}
		)
		doc.name = number
		doc.db_insert()
		return number

	def snapshots(self, company=None) -> dict[str, frappe._dict]:
		rows = frappe.get_all(
			SNAPSHOT, filters={"company": company or ("is", "not set")}, fields=["*"], order_by="period"
		)
		return {getdate(r.period).strftime("%Y-%m"): r for r in rows}


def column(rows, field):
	return [rows[m][field] for m in MONTHS]


class TestBackfill(MetricsHistoryCase):
	def test_backfill_gives_the_figures_of_the_definitions(self):
		counts = snapshots.take_snapshots(as_of=AS_OF)
		self.assertEqual(counts["inserted"], 12)  # four months: the pond and each company
		pond, us, eu = self.snapshots(), self.snapshots(US), self.snapshots(EU)
		self.assertEqual(list(pond), list(MONTHS))
		self.assertEqual(column(pond, "is_complete"), [1, 1, 1, 0])
		self.assertEqual(column(pond, "churn_window_months"), [2, 2, 2, 2])
		self.assertEqual(column(pond, "pond_size"), [2, 3, 4, 4])
		self.assertEqual(column(pond, "new_customers"), [1, 0, 2, 0])
		self.assertEqual(column(pond, "active_customers"), [1, 1, 2, 0])
		self.assertEqual(column(pond, "customer_base"), [1, 1, 3, 2])
		self.assertEqual(column(pond, "lost_customers"), [0, 0, 0, 1])
		self.assertEqual(column(pond, "retention_rate"), [0, 100, 0, 0])
		self.assertEqual([round(v, 3) for v in column(pond, "churn_rate")], [0, 0, 0, 33.333])
		# two currencies: the whole pond adds up no money
		self.assertEqual(column(pond, "net_purchases"), [0, 0, 0, 0])
		self.assertIsNone(pond["2026-01"].currency)
		self.assertEqual(column(us, "active_customers"), [1, 1, 1, 0])
		self.assertEqual(column(us, "net_purchases"), [100, 60, 80, 0])
		self.assertEqual(column(us, "avg_value_per_customer"), [100, 60, 80, 0])
		self.assertEqual(column(us, "retention_rate"), [0, 100, 0, 0])
		self.assertEqual(us["2026-01"].currency, "USD")
		self.assertEqual(column(eu, "active_customers"), [0, 0, 1, 0])
		self.assertEqual(column(eu, "net_purchases"), [0, 0, 50, 0])
		self.assertEqual(eu["2026-03"].currency, "EUR")
		self.assertEqual(us["2026-03"].pond_size, 0)  # a profile belongs to no company
		self.assertEqual((pond["2026-03"].nps, pond["2026-03"].feedback_responses), (0, 0))
		self.assertEqual(pond["2026-03"].name, "2026-03")
		self.assertEqual(us["2026-03"].name, f"2026-03 {US}")

	def test_survey_answers_give_each_months_nps_and_csat(self):
		frappe.db.delete("Fishpond Feedback")
		for lead, when, kind, score in (
			("L1", "2026-02-03 10:00", "NPS", 10),
			("L2", "2026-02-20 10:00", "NPS", 9),
			("L3", "2026-02-21 10:00", "NPS", 2),
			("L3", "2026-02-21 11:00", "CSAT", 4),
			("L1", "2026-03-10 10:00", "CSAT", 1),
			("L1", "2026-05-01 10:00", "NPS", 0),  # after as_of: not yet
		):
			doc = frappe.new_doc("Fishpond Feedback")
			doc.update(
				{"fishpond_lead": self.leads[lead], "answered_on": when, "survey_type": kind, "score": score}
			)
			doc.name = frappe.generate_hash(length=10)
			doc.db_insert()
		snapshots.take_snapshots(as_of=AS_OF)
		pond, us = self.snapshots(), self.snapshots(US)
		self.assertEqual([round(v, 3) for v in column(pond, "nps")], [0, 33.333, 0, 0])
		self.assertEqual(column(pond, "nps_responses"), [0, 3, 0, 0])
		self.assertEqual(column(pond, "csat"), [0, 100, 0, 0])
		self.assertEqual(column(pond, "csat_responses"), [0, 1, 1, 0])
		self.assertEqual(column(pond, "feedback_responses"), [0, 4, 1, 0])
		self.assertEqual(column(us, "feedback_responses"), [0, 0, 0, 0])
		# the report shows no NPS for a month without NPS answers (not a 0)
		from crm_fishpond.crm_fishpond.report.fishpond_pond_metrics import fishpond_pond_metrics as report

		rows = {getdate(r.period).strftime("%Y-%m"): r for r in report.execute({})[1]}
		self.assertEqual((round(rows["2026-02"].nps, 3), rows["2026-03"].nps), (33.333, None))
		self.assertEqual((rows["2026-03"].csat, rows["2026-01"].csat), (0, None))

	def test_a_second_run_writes_nothing(self):
		snapshots.take_snapshots(as_of=AS_OF)
		before = {r.name: r.modified for r in frappe.get_all(SNAPSHOT, fields=["name", "modified"])}
		counts = snapshots.take_snapshots(as_of=AS_OF)
		self.assertEqual(counts, {"inserted": 0, "updated": 0, "unchanged": 3, "final": 9})
		after = {r.name: r.modified for r in frappe.get_all(SNAPSHOT, fields=["name", "modified"])}
		self.assertEqual(after, before)

	def test_the_running_month_follows_the_history_and_final_months_stay(self):
		snapshots.take_snapshots(as_of=AS_OF)
		self.invoice("L1", "2026-04-02", 40, US)  # April is still running
		self.invoice("L4", "2026-03-25", 500, US)  # March was final when it was snapshotted
		counts = snapshots.take_snapshots(as_of=AS_OF)
		self.assertEqual(counts, {"inserted": 0, "updated": 2, "unchanged": 1, "final": 9})
		pond, us = self.snapshots(), self.snapshots(US)
		self.assertEqual((pond["2026-04"].active_customers, us["2026-04"].net_purchases), (1, 40))
		self.assertEqual(pond["2026-03"].active_customers, 2, "a final month changed")
		# a manager's rebuild takes today's history for every month
		counts = snapshots.take_snapshots(as_of=AS_OF, rebuild=1)
		self.assertEqual(counts["updated"], 2)  # March: the pond and US (April already had it)
		self.assertEqual(self.snapshots()["2026-03"].active_customers, 3)

	def test_a_new_month_finalises_the_last_one(self):
		snapshots.take_snapshots(as_of=AS_OF)
		counts = snapshots.take_snapshots(as_of="2026-05-01")
		self.assertEqual(counts["inserted"], 3)  # May
		self.assertEqual(counts["updated"], 3)  # April is complete now
		self.assertEqual(self.snapshots()["2026-04"].is_complete, 1)


class TestSettings(FishpondTestCase):
	def test_the_window_is_the_churn_inactivity_of_the_settings(self):
		days = frappe.get_cached_doc("Fishpond Settings").churn_inactive_days
		self.assertEqual(snapshots.churn_months(), churn_window_months(days))


class TestWhoTakesSnapshots(MetricsHistoryCase):
	def test_a_rep_cannot_trigger_a_manager_can(self):
		from crm_fishpond.api import analytics

		rep = pf.rep("fp-metrics-rep@example.com")
		manager = pf.manager("fp-metrics-manager@example.com")
		for user in (rep, pf.user("fp-metrics-nobody@example.com", ["Sales User"])):
			frappe.set_user(user)
			with self.assertRaises(frappe.PermissionError, msg=user):
				analytics.take_snapshot_now()
			frappe.set_user("Administrator")
		self.assertEqual(frappe.db.count(SNAPSHOT), 0)
		frappe.set_user(manager)
		self.assertEqual(analytics.take_snapshot_now(), {"queued": True})  # runs inline in tests
		frappe.set_user("Administrator")
		self.assertTrue(frappe.db.exists(SNAPSHOT, getdate().strftime("%Y-%m")))

	def test_reps_do_not_read_snapshots(self):
		snapshots.take_snapshots(as_of=AS_OF)
		rep = pf.rep("fp-metrics-rep@example.com")
		self.assertFalse(frappe.has_permission(SNAPSHOT, "read", user=rep))
		self.assertTrue(
			frappe.has_permission(SNAPSHOT, "read", user=pf.manager("fp-metrics-manager@example.com"))
		)

"""Integration: a pond too small for BG/NBD and Gamma-Gamma writes no churn risk or CLV from a fit;
churn risk comes from the recency rule, the model fit and the profile say so."""

from __future__ import annotations

import json
from unittest.mock import patch

import frappe

from crm_fishpond.engine import btyd
from crm_fishpond.scoring import runner
from crm_fishpond.sync import runs
from crm_fishpond.tests.test_scoring import make_profile
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only


class TestSmallPonds(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		cls.recent = make_profile("Small recent", [(3, 500), (30, 700), (60, 650)])
		cls.silent = make_profile("Small silent", [(700, 400), (600, 500), (500, 450)])
		cls.lead = make_profile("Small lead")

	def setUp(self):
		frappe.set_user("Administrator")
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})

	def test_a_pond_below_the_minimum_uses_the_recency_rule_and_writes_no_clv(self):
		buyers = frappe.db.count("Fishpond Lead", {"purchase_days": (">", 0)})
		# other test modules share this site: whatever they left, the pond is below the minimum here
		minimum = max(btyd.MIN_CUSTOMERS, buyers + 1)
		frappe.db.set_value(
			"Fishpond Lead", self.recent, {"clv": 1234, "p_alive": 0.9}, update_modified=False
		)
		with patch.object(btyd, "MIN_CUSTOMERS", minimum):
			result = runner.run_rescore(runs.create_run("Rescore"))
		self.assertEqual(result["status"], "Completed")

		fit = frappe.get_doc("Fishpond Model Fit", result["model_fit"])
		self.assertEqual((fit.churn_method, fit.clv_method), ("Recency rule", "Not computed"))
		self.assertIn("BG/NBD", fit.method_reason)
		stored = json.loads(fit.bgnbd)
		self.assertFalse(stored["usable"])
		self.assertEqual(stored["problem"], "too_few_customers")

		recent = frappe.db.get_value(
			"Fishpond Lead", self.recent, ["churn_method", "churn_risk", "clv", "p_alive"], as_dict=True
		)
		silent = frappe.db.get_value(
			"Fishpond Lead", self.silent, ["churn_method", "churn_risk", "churn_band", "clv"], as_dict=True
		)
		self.assertEqual(recent.churn_method, "Recency rule")
		self.assertEqual((recent.clv, recent.p_alive), (0, 0), "nothing from the unusable fit")
		self.assertEqual(recent.churn_risk, 0, "bought 3 days ago: within a typical gap")
		self.assertEqual((silent.churn_risk, silent.churn_band, silent.clv), (100, "High", 0))
		self.assertFalse(frappe.db.get_value("Fishpond Lead", self.lead, "churn_method"))

		# an incremental rescore with the stored fit keeps to the recency rule
		frappe.db.set_value("Fishpond Lead", self.silent, "churn_risk", 0, update_modified=False)
		runner.rescore_profiles([self.silent])
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.silent, "churn_risk"), 100)

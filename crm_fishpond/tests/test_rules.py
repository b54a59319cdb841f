"""Integration: rules are checked on save in the profile form's vocabulary, a stored rule that fails is
marked and skipped while the run completes, and no dirty profile is dropped."""

from __future__ import annotations

import json
from unittest.mock import patch

import frappe

from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.scoring import runner
from crm_fishpond.sync import runs
from crm_fishpond.tests.test_scoring import make_profile
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only

TYPO = "_FP Rule Typo"
GOOD = "_FP Rule Good"
HIGH = "_FP Rule High Grade"
RISKY = "_FP Rule Risky"


def stored_rule(name: str, condition) -> str:
	"""A rule tag stored without validation, as a rule saved before rules were checked would be."""
	if frappe.db.exists("Fishpond Tag", name):
		frappe.delete_doc("Fishpond Tag", name, force=True)
	doc = frappe.get_doc(
		{
			"doctype": "Fishpond Tag",
			"tag_name": name,
			"tag_type": "Rule",
			"enabled": 1,
			"condition": json.dumps(condition),
		}
	)
	doc.db_insert()
	return name


def rule_tags(profile: str) -> set[str]:
	return set(
		frappe.get_all(
			"Fishpond Lead Tag",
			filters={"parent": profile, "parenttype": "Fishpond Lead", "tag_source": "Rule"},
			pluck="tag",
		)
	)


def full_run() -> dict:
	return runner.run_rescore(runs.create_run("Rescore"))


class TestRules(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		cls.buyer = make_profile("Rules buyer", [(5, 900), (40, 1200), (90, 2500)])
		cls.lapsed = make_profile("Rules lapsed", [(900, 400), (800, 500), (700, 450)])

	def setUp(self):
		frappe.set_user("Administrator")
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})

	# ---------------------------------------------------------------------------------------------
	# on save

	def test_a_misspelt_field_is_refused_naming_it(self):
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": "_FP Rule Refused",
				"tag_type": "Rule",
				"condition": json.dumps({"field": "days_since_lst", "op": ">", "value": 90}),
			}
		)
		with self.assertRaises(frappe.ValidationError) as ctx:
			doc.insert()
		self.assertIn("days_since_lst", str(ctx.exception))
		self.assertIn("days_since_last", str(ctx.exception))

	def test_values_are_checked_against_what_the_form_shows(self):
		def attempt(condition):
			return frappe.get_doc(
				{
					"doctype": "Fishpond Tag",
					"tag_name": "_FP Rule Values",
					"tag_type": "Rule",
					"condition": json.dumps(condition),
				}
			).insert()

		with self.assertRaises(frappe.ValidationError) as ctx:
			attempt({"field": "value_grade", "op": "=", "value": "Top"})
		self.assertIn("High", str(ctx.exception))
		with self.assertRaises(frappe.ValidationError) as ctx:
			attempt({"field": "Churn Risk", "op": ">=", "value": 170})
		self.assertIn("170", str(ctx.exception))
		with self.assertRaises(frappe.ValidationError) as ctx:
			attempt({"field": "claimed_on", "op": "is_set"})
		self.assertIn("claimed_on", str(ctx.exception))
		doc = attempt(
			{
				"all": [
					{"field": "Value Grade", "op": "=", "value": "high"},
					{"field": "churn_risk", "op": ">=", "value": 70},
				]
			}
		)
		self.assertIn("Value Grade", doc.condition, "kept as written")
		frappe.delete_doc("Fishpond Tag", doc.name, force=True)

	def test_a_stage_rule_that_is_not_a_condition_is_refused(self):
		doc = frappe.get_doc("Lifecycle Stage", "Churn")
		doc.entry_condition = json.dumps({"foo": 1})
		with self.assertRaises(frappe.ValidationError) as ctx:
			doc.save()
		self.assertIn("foo", str(ctx.exception))
		doc.reload()
		doc.entry_condition = json.dumps({"field": "orders", "op": ">=", "value": 1})
		doc.entry_reason = "gone {dayz}"
		with self.assertRaises(frappe.ValidationError) as ctx:
			doc.save()
		self.assertIn("dayz", str(ctx.exception))

	# ---------------------------------------------------------------------------------------------
	# at run time

	def test_a_bad_stored_rule_is_marked_failed_and_the_run_completes(self):
		stored_rule(TYPO, {"field": "days_since_lst", "op": ">", "value": 90})
		stored_rule(GOOD, {"field": "orders", "op": ">=", "value": 3})
		frappe.db.set_value("Lifecycle Stage", "Churn", {"entry_condition": json.dumps({"foo": 1})})
		try:
			result = full_run()
			self.assertEqual(result["status"], "Completed")
			typo = frappe.db.get_value("Fishpond Tag", TYPO, ["rule_status", "rule_error"], as_dict=True)
			self.assertEqual(typo.rule_status, "Failed")
			self.assertIn("days_since_lst", typo.rule_error)
			self.assertEqual(frappe.db.get_value("Fishpond Tag", GOOD, "rule_status"), "OK")
			stage = frappe.db.get_value(
				"Lifecycle Stage", "Churn", ["rule_status", "rule_error"], as_dict=True
			)
			self.assertEqual(stage.rule_status, "Failed")
			self.assertIn("foo", stage.rule_error)
			self.assertIn(GOOD, rule_tags(self.buyer))
			self.assertNotIn(TYPO, rule_tags(self.buyer))
			self.assertEqual(frappe.db.get_value("Fishpond Lead", self.buyer, "lifecycle_stage"), "Retention")

			# the incremental path scores the profile too, with the same rule skipped
			frappe.db.set_value("Fishpond Lead", self.buyer, "lead_score", 0, update_modified=False)
			self.assertEqual(runner.rescore_profiles([self.buyer]), 1)
			self.assertGreater(frappe.db.get_value("Fishpond Lead", self.buyer, "lead_score"), 0)
		finally:
			frappe.db.set_value("Lifecycle Stage", "Churn", {"entry_condition": None, "rule_status": None})
			for name in (TYPO, GOOD):
				frappe.delete_doc("Fishpond Tag", name, force=True)

	def test_rules_match_the_values_the_form_shows(self):
		full_run()
		grade = frappe.db.get_value("Fishpond Lead", self.buyer, "value_grade")
		self.assertIn(grade, ("High", "Mid", "Low"), "the form shows the grade capitalised")
		frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": HIGH,
				"tag_type": "Rule",
				"condition": json.dumps({"field": "Value Grade", "op": "=", "value": grade}),
			}
		).insert()
		try:
			full_run()
			high = frappe.get_all("Fishpond Lead", filters={"value_grade": grade}, pluck="name")
			self.assertIn(self.buyer, high)
			tagged = frappe.get_all(
				"Fishpond Lead Tag", filters={"tag": HIGH, "parenttype": "Fishpond Lead"}, pluck="parent"
			)
			self.assertEqual(sorted(tagged), sorted(high))
		finally:
			frappe.delete_doc("Fishpond Tag", HIGH, force=True)

	def test_percent_rules_use_the_percent_the_form_shows(self):
		full_run()
		risk = frappe.db.get_value("Fishpond Lead", self.lapsed, "churn_risk")
		self.assertGreater(risk, 1, "stored as a percent")
		frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": RISKY,
				"tag_type": "Rule",
				"condition": json.dumps({"field": "churn_risk", "op": ">=", "value": int(risk) - 1}),
			}
		).insert()
		try:
			full_run()
			self.assertIn(RISKY, rule_tags(self.lapsed))
		finally:
			frappe.delete_doc("Fishpond Tag", RISKY, force=True)

	def test_a_batch_that_cannot_be_scored_is_kept_dirty(self):
		full_run()
		profile = make_profile("Rules kept")
		frappe.db.set_value("Fishpond Lead", profile, "scored_on", None, update_modified=False)
		with patch.object(runner, "run_pond", side_effect=EngineConfigError("other RFM bins")):
			self.assertEqual(runner.rescore_profiles([profile]), 0)
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", profile, "scored_on"))
		# parked, not dropped; the 10-minute cron does not retry it into the same error...
		self.assertEqual(runner.release_deferred(postponed=False), 0)
		# ...the next full run releases it: marked dirty again (and drained inline in tests)
		self.assertEqual(runner.release_deferred(), 1)

"""Integration: rules built by clicking (Frappe's filter rows over Fishpond Profile Facts) become the
JSON condition the engine runs, JSON shows in the builder when it can, and a preview of an unsaved
rule counts exactly what the next rescore does."""

from __future__ import annotations

import json

import frappe

from crm_fishpond.api import rules as rules_api
from crm_fishpond.scoring.config import rule_vocabulary
from crm_fishpond.scoring.rules import FACTS
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.test_rules import full_run, rule_tags
from crm_fishpond.tests.test_scoring import make_profile
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only

PREFIX = "_FP Builder"


def row(field, op, value=None):
	return [FACTS, field, op, value]


def built_tag(name: str, rows: list, match: str = "All", **values):
	if frappe.db.exists("Fishpond Tag", name):
		frappe.delete_doc("Fishpond Tag", name, force=True)
	return frappe.get_doc(
		{
			"doctype": "Fishpond Tag",
			"tag_name": name,
			"tag_type": "Rule",
			"rule_match": match,
			"rule_filters": json.dumps(rows),
			**values,
		}
	)


class TestRuleBuilder(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		cls.buyer = make_profile("Builder buyer", [(5, 900), (40, 1200), (90, 2500)])
		cls.lapsed = make_profile("Builder lapsed", [(900, 400), (800, 500), (700, 450)])

	def setUp(self):
		frappe.set_user("Administrator")

	def tearDown(self):
		# the next test class starts as Administrator whatever user a test switched to
		frappe.set_user("Administrator")
		frappe.cache.delete_keys("fishpond:rule_preview:")

	# ---------------------------------------------------------------------------------------------
	# the builder's fields

	def test_every_builder_field_is_one_rules_read_as_the_form_shows_it(self):
		vocab = rule_vocabulary()
		lead = frappe.get_meta("Fishpond Lead")
		problems = []
		for df in frappe.get_meta(FACTS).fields:
			if df.fieldtype == "Section Break":
				continue
			try:
				vocab.resolve(df.fieldname)
			except Exception as e:
				problems.append(f"{df.fieldname}: {e}")
				continue
			on_form = lead.get_field(df.fieldname)
			if on_form and (on_form.fieldtype, on_form.options or "", on_form.label) != (
				df.fieldtype,
				df.options or "",
				df.label,
			):
				problems.append(f"{df.fieldname} differs from the profile form")
		self.assertEqual(problems, [])

	# ---------------------------------------------------------------------------------------------
	# rows -> JSON -> the engine

	def test_rows_become_the_condition_the_rescore_runs(self):
		tag = built_tag(
			f"{PREFIX} Lapsed", [row("days_since_last", ">", "365"), row("orders", ">=", "1")]
		).insert()
		self.assertEqual(
			json.loads(tag.condition),
			{
				"all": [
					{"field": "days_since_last", "op": ">", "value": 365},
					{"field": "orders", "op": ">=", "value": 1},
				]
			},
		)
		full_run()
		self.assertIn(tag.name, rule_tags(self.lapsed))
		self.assertNotIn(tag.name, rule_tags(self.buyer))

	def test_any_match_and_select_options_as_shown(self):
		tag = built_tag(
			f"{PREFIX} Any", [row("value_grade", "=", "High"), row("territory", "like", "%asia%")], "Any"
		).insert()
		self.assertEqual(list(json.loads(tag.condition)), ["any"])

	def test_json_written_by_an_api_client_shows_in_the_builder(self):
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": f"{PREFIX} From JSON",
				"tag_type": "Rule",
				"condition": json.dumps(
					{
						"any": [
							{"field": "Churn Risk", "op": ">=", "value": 70},
							{"field": "stage", "op": "=", "value": "Churn"},
						]
					}
				),
			}
		).insert()
		self.assertEqual(doc.rule_match, "Any")
		self.assertEqual(
			json.loads(doc.rule_filters),
			[row("churn_risk", ">=", 70), row("lifecycle_stage", "=", "Churn")],
		)
		self.assertFalse(doc.advanced_rule)

	def test_json_the_builder_cannot_show_stays_json(self):
		nested = {
			"all": [
				{"field": "orders", "op": ">=", "value": 1},
				{
					"any": [
						{"field": "days_since_last", "op": ">", "value": 90},
						{"field": "churn_risk", "op": ">", "value": 50},
					]
				},
			]
		}
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": f"{PREFIX} Nested",
				"tag_type": "Rule",
				"condition": json.dumps(nested),
			}
		).insert()
		self.assertTrue(doc.advanced_rule)
		self.assertFalse(doc.rule_filters)
		self.assertEqual(json.loads(doc.condition), nested)

	def test_editing_the_json_updates_the_rows_and_rows_update_the_json(self):
		doc = built_tag(f"{PREFIX} Round Trip", [row("orders", ">=", 2)]).insert()
		doc.reload()
		doc.condition = json.dumps({"field": "orders", "op": ">=", "value": 5})
		doc.save()
		self.assertEqual(json.loads(doc.rule_filters), [row("orders", ">=", 5)])
		doc.reload()
		doc.rule_filters = json.dumps([row("orders", "<", 3)])
		doc.save()
		self.assertEqual(json.loads(doc.condition), {"all": [{"field": "orders", "op": "<", "value": 3}]})

	def test_a_row_the_engine_cannot_evaluate_is_refused_and_nothing_saved(self):
		doc = built_tag(f"{PREFIX} Timespan", [row("last_purchase", "Timespan", "last week")])
		with self.assertRaises(frappe.ValidationError) as info:
			doc.insert()
		self.assertIn("Timespan", str(info.exception))
		self.assertFalse(frappe.db.exists("Fishpond Tag", f"{PREFIX} Timespan"))

	def test_an_emptied_builder_empties_the_rule(self):
		doc = built_tag(f"{PREFIX} Emptied", [row("orders", ">=", 2)]).insert()
		doc.reload()
		doc.rule_filters = ""
		doc.condition = ""
		with self.assertRaises(frappe.ValidationError):
			doc.save()

	def test_stage_entry_rules_are_built_the_same_way(self):
		stage = frappe.get_doc(
			{
				"doctype": "Lifecycle Stage",
				"stage_name": f"{PREFIX} Big Spenders",
				"sequence": 99,
				"rule_filters": json.dumps([row("monetary_value", ">", 1000)]),
			}
		).insert()
		self.addCleanup(frappe.delete_doc, "Lifecycle Stage", stage.name, force=True)
		self.assertEqual(
			json.loads(stage.entry_condition),
			{"all": [{"field": "monetary_value", "op": ">", "value": 1000}]},
		)

	def test_the_patch_shows_stored_rules_in_the_builder(self):
		from crm_fishpond.patches.v0_1 import rule_builder_filters
		from crm_fishpond.tests.test_rules import stored_rule

		flat = stored_rule(f"{PREFIX} Legacy", {"field": "orders", "op": ">", "value": 1})
		nested = stored_rule(
			f"{PREFIX} Legacy Nested", {"not": {"any": [{"field": "orders", "op": ">", "value": 1}]}}
		)
		rule_builder_filters.execute()
		self.assertEqual(
			json.loads(frappe.db.get_value("Fishpond Tag", flat, "rule_filters")), [row("orders", ">", 1)]
		)
		self.assertEqual(
			frappe.db.get_value("Fishpond Tag", nested, ["rule_filters", "advanced_rule"]), (None, 1)
		)

	# ---------------------------------------------------------------------------------------------
	# preview

	def test_the_preview_counts_what_the_rescore_tags(self):
		rows = [row("orders", ">=", 3)]
		unsaved = built_tag(f"{PREFIX} Preview", rows)
		preview = rules_api.preview("Fishpond Tag", unsaved.as_dict())
		self.assertEqual(preview["status"], "done")
		self.assertGreaterEqual(preview["count"], 2)
		self.assertIn(
			self.buyer,
			[r["name"] for r in preview["sample"]] + ([self.buyer] if preview["count"] > 10 else []),
		)
		unsaved.insert()
		full_run()
		tagged = frappe.db.count("Fishpond Lead Tag", {"tag": unsaved.name, "parenttype": "Fishpond Lead"})
		self.assertEqual(preview["count"], tagged)
		self.assertEqual(preview["total"], frappe.db.count("Fishpond Lead"))
		# asked again, the cached result answers at once
		self.assertEqual(rules_api.preview("Fishpond Tag", unsaved.as_dict())["count"], tagged)

	def test_a_stage_preview_shows_the_moves(self):
		values = {
			"stage_name": f"{PREFIX} Preview Stage",
			"sequence": 0,
			"rule_filters": json.dumps([row("orders", ">=", 3)]),
		}
		preview = rules_api.preview("Lifecycle Stage", values)
		self.assertEqual(preview["status"], "done")
		self.assertGreaterEqual(preview["count"], 2)
		into = sum(m["count"] for m in preview["moves"] if m["to"] == values["stage_name"])
		self.assertEqual(into, preview["count"])

	def test_an_unfinished_rule_is_answered_not_thrown_and_starts_no_job(self):
		out = rules_api.preview(
			"Fishpond Tag", {"tag_name": "x", "tag_type": "Rule", "condition": '{"field": "nope"}'}
		)
		self.assertEqual(out["status"], "invalid")
		self.assertIn("nope", out["error"])
		self.assertEqual(
			rules_api.preview("Fishpond Tag", {"tag_name": "x", "tag_type": "Rule"})["status"], "empty"
		)

	def test_only_rule_editors_preview(self):
		rep = pf.rep("fp-builder-rep@example.com", pools=[pf.pool(f"{PREFIX} Pool")])
		frappe.set_user(rep)
		with self.assertRaises(frappe.PermissionError):
			rules_api.preview("Fishpond Tag", {"tag_name": "x", "tag_type": "Rule", "condition": "{}"})
		with self.assertRaises(frappe.PermissionError):
			rules_api.preview_result("Lifecycle Stage", "anything")

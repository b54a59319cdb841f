import json

import frappe

from crm_fishpond.tests.utils import FishpondTestCase


def tag(name, condition, tag_type="Rule"):
	return frappe.get_doc(
		{
			"doctype": "Fishpond Tag",
			"tag_name": name,
			"tag_type": tag_type,
			"condition": condition if isinstance(condition, str) else json.dumps(condition),
		}
	)


class TestFishpondTag(FishpondTestCase):
	def test_valid_rule_is_saved(self):
		doc = tag("_FP Dormant", {"all": [{"field": "days_since_last", "op": ">", "value": 90}]}).insert()
		self.assertIn("days_since_last", doc.condition)

	def test_bad_json_and_bad_rules_are_refused_with_a_clear_message(self):
		with self.assertRaises(frappe.ValidationError):
			tag("_FP Broken", "{not json").insert()
		with self.assertRaises(frappe.ValidationError) as ctx:
			tag("_FP Bad Op", {"field": "days_since_last", "op": "~~", "value": 1}).insert()
		self.assertIn("~~", str(ctx.exception))

	def test_manual_tag_needs_no_condition(self):
		doc = frappe.get_doc(
			{"doctype": "Fishpond Tag", "tag_name": "_FP VIP", "tag_type": "Manual"}
		).insert()
		self.assertEqual(doc.tag_type, "Manual")

import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestLifecycleStage(FishpondTestCase):
	def test_the_five_default_stages_are_installed_in_order(self):
		stages = frappe.get_all(
			"Lifecycle Stage", fields=["stage_key"], order_by="sequence asc", pluck="stage_key"
		)
		for key in ("acquisition", "conversion", "growth", "retention", "churn"):
			self.assertIn(key, stages)
		self.assertEqual([s for s in stages if s in ("acquisition", "churn")], ["acquisition", "churn"])

	def test_entry_rule_must_be_json(self):
		doc = frappe.get_doc("Lifecycle Stage", "Churn")
		doc.entry_condition = "{oops"
		with self.assertRaises(frappe.ValidationError):
			doc.save()

	def test_a_kind_belongs_to_one_stage_and_a_stage_of_your_own_has_none(self):
		taken = frappe.get_doc(
			{
				"doctype": "Lifecycle Stage",
				"stage_name": "_FP Second Acquisition",
				"stage_key": "acquisition",
				"sequence": 50,
			}
		)
		with self.assertRaises(frappe.ValidationError) as info:
			taken.insert()
		self.assertIn("Acquisition", str(info.exception))
		own = frappe.get_doc(
			{"doctype": "Lifecycle Stage", "stage_name": "_FP Own Stage", "sequence": 50}
		).insert()
		self.assertFalse(own.stage_key)
		# the shipped stages keep their kinds and can be saved again
		frappe.get_doc("Lifecycle Stage", "Acquisition").save()

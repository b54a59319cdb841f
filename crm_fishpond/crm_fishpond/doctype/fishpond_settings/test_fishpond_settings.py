import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondSettings(FishpondTestCase):
	def test_weights_must_add_up_to_100(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.weight_fit, settings.weight_engagement, settings.weight_value = 50, 50, 50
		with self.assertRaises(frappe.ValidationError):
			settings.save()

	def test_engine_overrides_must_be_json(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.engine_config = "{nope"
		with self.assertRaises(frappe.ValidationError):
			settings.save()

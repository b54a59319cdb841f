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

	def test_rescore_time_is_kept_to_the_minute(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.rescore_time = "03:15:27.512345"
		settings.save()
		self.assertEqual(_stored_rescore_time(), "03:15:00")

	def test_the_current_time_frappe_gives_an_unsaved_time_field_becomes_the_default(self):
		"""Frappe fills a never-saved Time field with the current time, microseconds included, instead
		of its default: the rescore then ran at install time and the form turned dirty on open."""
		from crm_fishpond.install import ensure_settings

		frappe.db.set_single_value("Fishpond Settings", "rescore_time", "02:43:42.693408")
		ensure_settings()
		self.assertEqual(_stored_rescore_time(), "02:00:00")
		frappe.db.set_single_value("Fishpond Settings", "rescore_time", "04:30:00")
		ensure_settings()
		self.assertEqual(_stored_rescore_time(), "04:30:00", "a time an admin set is kept")

	def test_defaults_that_were_never_stored_are_stored(self):
		from crm_fishpond.install import ensure_settings

		frappe.db.delete("Singles", {"doctype": "Fishpond Settings", "field": "weight_fit"})
		ensure_settings()
		frappe.clear_document_cache("Fishpond Settings", "Fishpond Settings")
		self.assertEqual(frappe.get_single("Fishpond Settings").weight_fit, 30)


def _stored_rescore_time() -> str:
	return frappe.db.get_value(
		"Singles", {"doctype": "Fishpond Settings", "field": "rescore_time"}, "value", order_by=None
	)

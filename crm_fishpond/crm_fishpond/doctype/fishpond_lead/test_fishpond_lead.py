import frappe

from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase


def new_profile(**values):
	return frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": "_FP Profile", **values}).insert(
		ignore_permissions=True
	)


class TestFishpondLead(FishpondTestCase):
	def test_email_is_normalised_and_validated(self):
		profile = new_profile(email_id="  Someone@Example.COM ")
		self.assertEqual(profile.email_id, "someone@example.com")
		with self.assertRaises(frappe.InvalidEmailAddressError):
			new_profile(email_id="not-an-email")

	def test_one_customer_one_profile(self):
		cust = f.customer("_FP Lead Unique Customer")
		existing = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		self.assertTrue(existing)
		with self.assertRaises(frappe.DuplicateEntryError):
			new_profile(customer=cust)

	def test_stage_change_is_recorded_with_reason(self):
		profile = new_profile()
		profile.lifecycle_stage = "Conversion"
		profile.flags.stage_reason = "Asked for a quote"
		profile.save(ignore_permissions=True)
		self.assertEqual(len(profile.stage_history), 1)
		entry = profile.stage_history[0]
		self.assertEqual(
			(entry.from_stage, entry.to_stage, entry.reason), (None, "Conversion", "Asked for a quote")
		)
		self.assertTrue(profile.stage_since)
		profile.lifecycle_stage = "Growth"
		profile.save(ignore_permissions=True)
		self.assertEqual(profile.stage_history[-1].from_stage, "Conversion")
		self.assertTrue(profile.stage_history[-1].reason)

	def test_claimed_needs_an_owner(self):
		with self.assertRaises(frappe.ValidationError):
			new_profile(status="Claimed")

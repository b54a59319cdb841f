import frappe
from frappe.utils import add_days, get_datetime, now_datetime

from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondInteraction(FishpondTestCase):
	def test_manual_interaction_updates_profile_dates(self):
		profile = frappe.get_doc(
			{"doctype": "Fishpond Lead", "lead_name": "_FP Interaction Profile"}
		).insert()
		when = add_days(now_datetime(), -2)
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": profile.name,
				"interaction_type": "Call",
				"interaction_time": when,
				"subject": "Discovery call",
			}
		).insert()
		later = add_days(now_datetime(), -1)
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": profile.name,
				"interaction_type": "Visit",
				"interaction_time": later,
				"subject": "Site visit",
			}
		).insert()
		first, last = frappe.db.get_value(
			"Fishpond Lead", profile.name, ["first_interaction", "last_interaction"]
		)
		self.assertEqual(
			get_datetime(first), get_datetime(when).replace(microsecond=get_datetime(first).microsecond)
		)
		self.assertGreater(get_datetime(last), get_datetime(first))

import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondBehaviourEvent(FishpondTestCase):
	def test_negative_weight_is_refused(self):
		profile = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": "_FP Event Profile"}).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{
					"doctype": "Fishpond Behaviour Event",
					"fishpond_lead": profile.name,
					"event_type": "page_view",
					"weight": -1,
				}
			).insert()
		doc = frappe.get_doc(
			{"doctype": "Fishpond Behaviour Event", "fishpond_lead": profile.name, "event_type": "page_view"}
		).insert()
		self.assertEqual(doc.weight, 1)

import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestReferralReward(FishpondTestCase):
	def test_self_referral_is_refused(self):
		profile = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": "_FP Referrer"}).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{
					"doctype": "Referral Reward",
					"referrer": profile.name,
					"referee": profile.name,
					"reward_type": "Coupon Code",
				}
			).insert()

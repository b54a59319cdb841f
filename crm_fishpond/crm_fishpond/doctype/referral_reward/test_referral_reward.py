import frappe

from crm_fishpond.tests.utils import FishpondTestCase

# The pond's tests make their own records (crm_fishpond.tests.factories); Frappe's runner would
# otherwise walk Sales Invoice's links into ERPNext's test records and, on a site without the
# payments app, stop at Payment Gateway.
test_ignore = ["Sales Invoice", "Coupon Code", "Loyalty Point Entry", "Loyalty Program"]


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

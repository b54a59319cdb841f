import frappe

from crm_fishpond.tests.factories import reward_row
from crm_fishpond.tests.utils import FishpondTestCase

# The pond's tests make their own records (crm_fishpond.tests.factories); Frappe's runner would
# otherwise walk Sales Invoice's links into ERPNext's test records and, on a site without the
# payments app, stop at Payment Gateway.
test_ignore = ["Sales Invoice", "Coupon Code", "Loyalty Point Entry", "Loyalty Program"]


class TestReferralReward(FishpondTestCase):
	def test_a_reward_is_named_by_its_key_and_written_only_by_the_run(self):
		referrer = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": "_FP Referrer"}).insert()
		referee = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": "_FP Referee"}).insert()
		name = reward_row(referrer.name, referee.name)
		referral = frappe.db.get_value("Referral Reward", name, "referral")
		self.assertEqual(name, f"{referral}-R1")
		# nobody creates or edits a reward by hand: the doctype grants no write, not even to managers
		meta = frappe.get_meta("Referral Reward")
		self.assertTrue(meta.in_create)
		self.assertFalse(any(p.write or p.create for p in meta.permissions))

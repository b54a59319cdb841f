import frappe
from frappe import _
from frappe.model.document import Document


class ReferralReward(Document):
	def validate(self):
		if self.referrer == self.referee:
			frappe.throw(_("A profile cannot refer itself."))
		if (self.reward_value or 0) < 0:
			frappe.throw(_("Reward value cannot be negative."))
		if self.reward_type == "Loyalty Points" and not self.loyalty_program:
			frappe.throw(_("Choose the Loyalty Program the points are posted to."))

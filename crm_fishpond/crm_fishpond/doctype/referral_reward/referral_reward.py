import frappe
from frappe import _
from frappe.model.document import Document


class ReferralReward(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		company: DF.Link | None
		credit_note: DF.Link | None
		loyalty_point_entry: DF.Link | None
		loyalty_program: DF.Link | None
		posted_on: DF.Datetime | None
		qualifying_invoice: DF.Link | None
		referee: DF.Link
		referral_code: DF.Link | None
		referrer: DF.Link
		reversal_entry: DF.Link | None
		reward_coupon: DF.Link | None
		reward_type: DF.Literal["Loyalty Points", "Coupon Code"]
		reward_value: DF.Float
		status: DF.Literal["Pending", "Qualified", "Posted", "Reversed", "Cancelled"]

	# end: auto-generated types
	def validate(self):
		if self.referrer == self.referee:
			frappe.throw(_("A profile cannot refer itself."))
		if (self.reward_value or 0) < 0:
			frappe.throw(_("Reward value cannot be negative."))
		if self.reward_type == "Loyalty Points" and not self.loyalty_program:
			frappe.throw(_("Choose the Loyalty Program the points are posted to."))

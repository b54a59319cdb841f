from frappe.model.document import Document


class ReferralReward(Document):
	"""One reward of one referral, written only by crm_fishpond.referrals.sync from ERPNext's facts.

	The name is the reward's key (referral, beneficiary, slot), so every write is an idempotent upsert."""

	def autoname(self):
		from crm_fishpond.referrals.store import reward_name

		self.name = reward_name(self.referral, self.beneficiary, self.slot or 1)

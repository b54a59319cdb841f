from frappe.model.document import Document


class ReferralRewardLog(Document):
	pass

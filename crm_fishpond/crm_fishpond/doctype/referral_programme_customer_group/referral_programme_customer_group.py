from frappe.model.document import Document


class ReferralProgrammeCustomerGroup(Document):
	pass

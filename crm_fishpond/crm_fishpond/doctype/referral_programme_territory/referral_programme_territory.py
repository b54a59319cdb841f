from frappe.model.document import Document


class ReferralProgrammeTerritory(Document):
	pass

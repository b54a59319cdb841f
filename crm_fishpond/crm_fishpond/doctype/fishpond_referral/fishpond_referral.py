from frappe.model.document import Document


class FishpondReferral(Document):
	pass

from frappe.model.document import Document


class FishpondLeadTag(Document):
	pass

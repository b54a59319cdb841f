from frappe.model.document import Document


class FishpondMember(Document):
	pass

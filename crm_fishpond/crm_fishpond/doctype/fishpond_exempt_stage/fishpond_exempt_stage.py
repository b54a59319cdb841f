from frappe.model.document import Document


class FishpondExemptStage(Document):
	pass

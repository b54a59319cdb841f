from frappe.model.document import Document


class FishpondStageHistory(Document):
	pass

from frappe.model.document import Document


class FishpondTransactionItem(Document):
	pass

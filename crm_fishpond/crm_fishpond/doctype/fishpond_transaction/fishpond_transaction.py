from frappe.model.document import Document


class FishpondTransaction(Document):
	"""Derived from a submitted Sales Order / Sales Invoice by crm_fishpond.sync; read-only for users."""

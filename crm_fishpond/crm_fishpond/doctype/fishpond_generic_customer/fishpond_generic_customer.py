"""A walk-in or cash customer whose invoices belong to someone else (Fishpond Settings)."""

from frappe.model.document import Document


class FishpondGenericCustomer(Document):
	pass

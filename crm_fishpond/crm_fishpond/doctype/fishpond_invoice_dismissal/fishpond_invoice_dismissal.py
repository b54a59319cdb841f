"""A suggestion a person dismissed: the pair (invoice, profile) is never suggested again."""

from frappe.model.document import Document


class FishpondInvoiceDismissal(Document):
	pass

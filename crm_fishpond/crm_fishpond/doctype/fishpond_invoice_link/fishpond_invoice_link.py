"""An invoice whose customer is not the real one: the accountant's link queue."""

from frappe.model.document import Document


class FishpondInvoiceLink(Document):
	pass

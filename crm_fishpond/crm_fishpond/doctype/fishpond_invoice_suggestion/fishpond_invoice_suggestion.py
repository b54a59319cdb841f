"""One ranked candidate profile of a queued invoice, with the matcher's evidence."""

from frappe.model.document import Document


class FishpondInvoiceSuggestion(Document):
	pass

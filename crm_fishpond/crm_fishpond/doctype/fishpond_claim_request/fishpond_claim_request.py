"""A rep asks for a lead a colleague already holds; its owner or a pool manager decides."""

from frappe.model.document import Document


class FishpondClaimRequest(Document):
	pass

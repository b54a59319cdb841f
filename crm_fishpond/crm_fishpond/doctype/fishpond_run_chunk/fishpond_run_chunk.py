"""One part of a fanned-out rescore (crm_fishpond.scoring.runner): a range of profiles, by name."""

from frappe.model.document import Document


class FishpondRunChunk(Document):
	pass

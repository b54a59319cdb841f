from frappe.model.document import Document


class FishpondModelFit(Document):
	"""Population models one full rescore fitted (read-only; written by crm_fishpond.scoring.models)."""

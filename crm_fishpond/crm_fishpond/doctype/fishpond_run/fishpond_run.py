from frappe.model.document import Document


class FishpondRun(Document):
	"""A durable record of one background run (backfill, rescore, recycle, reconcile)."""

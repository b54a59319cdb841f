from frappe.model.document import Document


class FishpondPurchaseSummary(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		buyers: DF.Int
		chunk: DF.Data | None
		data: DF.LongText | None
		profiles: DF.Int
		run: DF.Link | None
	# end: auto-generated types
	"""One chunk's purchase summary, between a full rescore's first stage and its fit (written and
	deleted by crm_fishpond.scoring.runner; read-only in Desk)."""

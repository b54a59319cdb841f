from frappe.model.document import Document


class FishpondChunkOutput(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		chunk: DF.Data | None
		data: DF.LongText | None
		records: DF.Int
		run: DF.Link | None
	# end: auto-generated types
	"""What a chunk computed for its run's next step (written and deleted by the runs that fan out:
	crm_fishpond.scoring.runner, crm_fishpond.duplicates; read-only in Desk)."""

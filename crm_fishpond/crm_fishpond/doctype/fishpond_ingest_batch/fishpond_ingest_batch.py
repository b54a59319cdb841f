from frappe.model.document import Document


class FishpondIngestBatch(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		accepted: DF.Int
		idempotency_key: DF.Data
		parked: DF.Int
		parked_rows: DF.JSON | None
		received: DF.Int
		rejected: DF.Int
		result: DF.JSON | None
		submitted_by: DF.Link | None

	# end: auto-generated types
	pass

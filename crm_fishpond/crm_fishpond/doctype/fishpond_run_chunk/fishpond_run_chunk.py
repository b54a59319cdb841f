"""One part of a run that fans out over the workers (crm_fishpond.sync.fanout): a range of names of
one doctype, profiles for a rescore, vouchers for a backfill."""

from frappe.model.document import Document


class FishpondRunChunk(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		attempts: DF.Int
		finished_at: DF.Datetime | None
		from_name: DF.Data | None
		inserted: DF.Int
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		records: DF.Int
		reference_doctype: DF.Link | None
		rule_errors: DF.JSON | None
		seconds: DF.Float
		stage: DF.Literal["", "Summarise", "Score", "E-mail", "Phone", "Company"]
		started_at: DF.Datetime | None
		stats: DF.JSON | None
		status: DF.Literal["Queued", "Running", "Done", "Failed"]
		to_name: DF.Data | None
		unchanged: DF.Int
		updated: DF.Int
		worker: DF.Data | None
	# end: auto-generated types

	pass

from frappe.model.document import Document


class FishpondRun(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_run_chunk.fishpond_run_chunk import FishpondRunChunk

		chunks: DF.Table[FishpondRunChunk]
		cursor: DF.JSON | None
		errors: DF.Int
		finished_at: DF.Datetime | None
		heartbeat: DF.Datetime | None
		inserted: DF.Int
		log: DF.LongText | None
		processed: DF.Int
		progress: DF.Percent
		run_type: DF.Literal["Backfill", "Rescore", "Recycle", "Reconcile", "Duplicates"]
		started_at: DF.Datetime | None
		status: DF.Literal["Queued", "Running", "Completed", "Failed", "Cancelled"]
		timings: DF.JSON | None
		total: DF.Int
		triggered_by: DF.Link | None
		unchanged: DF.Int
		updated: DF.Int
	# end: auto-generated types
	"""A durable record of one background run (backfill, rescore, recycle, reconcile)."""

from frappe.model.document import Document


class FishpondEnrolmentStep(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		action: DF.Literal["Call", "Email", "Visit", "Task"]
		assigned_to: DF.Link | None
		completed_on: DF.Datetime | None
		due_on: DF.Datetime | None
		email_queue: DF.Link | None
		event: DF.Link | None
		interaction: DF.Link | None
		issued_on: DF.Datetime | None
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		status: DF.Literal["Open", "Done", "Sent", "Closed"]
		step_key: DF.Data | None
		step_no: DF.Int
		todo: DF.Link | None
	# end: auto-generated types
	pass

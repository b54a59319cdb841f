from frappe.model.document import Document


class FishpondFollowupStep(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		action: DF.Literal["Call", "Email", "Visit", "Task"]
		after_days: DF.Int
		assign_role: DF.Link | None
		assign_to: DF.Literal["Owner Rep", "Role", "User"]
		assign_user: DF.Link | None
		days_before: DF.Int
		email_template: DF.Link | None
		occasion: DF.Literal["", "Birthday", "First Purchase Anniversary"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		subject: DF.Data | None
	# end: auto-generated types
	pass

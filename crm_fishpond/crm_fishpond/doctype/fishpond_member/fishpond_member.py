from frappe.model.document import Document


class FishpondMember(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		is_pool_manager: DF.Check
		member_type: DF.Literal["User", "Role"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		role: DF.Link | None
		user: DF.Link | None
	# end: auto-generated types
	pass

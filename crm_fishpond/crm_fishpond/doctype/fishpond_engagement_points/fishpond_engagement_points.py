from frappe.model.document import Document


class FishpondEngagementPoints(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		activity: DF.Literal["Interaction", "Behaviour Event"]
		activity_type: DF.Data
		cap: DF.Float
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		points: DF.Float
	# end: auto-generated types
	pass

from frappe.model.document import Document


class FishpondQualificationAnswer(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		answer: DF.Data
		framework: DF.Literal["BANT", "CHAMP"]
		parent: DF.Data
		parentfield: DF.Data
		parenttype: DF.Data
		points: DF.Float
		question: DF.Literal["Budget", "Authority", "Need", "Timeline", "Challenges", "Money", "Priority"]
	# end: auto-generated types
	pass

import json

import frappe
from frappe import _
from frappe.model.document import Document


class LifecycleStage(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		color: DF.Color | None
		description: DF.SmallText | None
		entry_condition: DF.Code | None
		entry_reason: DF.Data | None
		sequence: DF.Int
		stage_key: DF.Literal["acquisition", "conversion", "growth", "retention", "churn"]
		stage_name: DF.Data

	# end: auto-generated types
	def validate(self):
		if self.sequence is not None and self.sequence < 0:
			frappe.throw(_("Order cannot be negative."))
		if self.entry_condition:
			try:
				self.entry_condition = json.dumps(json.loads(self.entry_condition), indent=1)
			except ValueError as e:
				frappe.throw(
					_("The entry rule of stage {0} is not valid JSON: {1}").format(
						frappe.bold(self.stage_name), str(e)
					)
				)

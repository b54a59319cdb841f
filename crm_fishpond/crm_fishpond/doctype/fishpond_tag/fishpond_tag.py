import json

import frappe
from frappe import _
from frappe.model.document import Document


class FishpondTag(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		color: DF.Color | None
		condition: DF.Code | None
		description: DF.SmallText | None
		enabled: DF.Check
		tag_category: DF.Data | None
		tag_name: DF.Data
		tag_type: DF.Literal["Manual", "Rule"]

	# end: auto-generated types
	def validate(self):
		if self.tag_type == "Rule":
			self.validate_condition()

	def parsed_condition(self) -> dict:
		if not self.condition:
			frappe.throw(_("A rule-driven tag needs a condition."))
		try:
			condition = json.loads(self.condition)
		except ValueError as e:
			frappe.throw(
				_("The condition of tag {0} is not valid JSON: {1}").format(frappe.bold(self.name), str(e))
			)
		return condition

	def validate_condition(self):
		from crm_fishpond.engine.errors import EngineConfigError
		from crm_fishpond.engine.tags import TagRule

		condition = self.parsed_condition()
		try:
			TagRule.from_dict({"tag": self.tag_name, "condition": condition})
		except EngineConfigError as e:
			frappe.throw(
				_("The condition of tag {0} is invalid: {1}").format(frappe.bold(self.tag_name), str(e))
			)
		self.condition = json.dumps(condition, indent=1)

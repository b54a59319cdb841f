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

		advanced_rule: DF.Check
		color: DF.Color | None
		condition: DF.Code | None
		description: DF.SmallText | None
		enabled: DF.Check
		rule_error: DF.SmallText | None
		rule_filters: DF.Code | None
		rule_match: DF.Literal["All", "Any"]
		rule_status: DF.Literal["", "OK", "Failed"]
		tag_category: DF.Data | None
		tag_name: DF.Data
		tag_type: DF.Literal["Manual", "Rule"]

	# end: auto-generated types
	def validate(self):
		if self.tag_type == "Rule":
			self.sync_builder()
			self.validate_condition()

	def sync_builder(self):
		"""A rule built by clicking becomes the JSON condition; JSON the builder can show, filter rows."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import sync_builder

		what = _("The condition of tag {0}").format(frappe.bold(self.tag_name))
		sync_builder(self, "condition", what, rule_vocabulary())

	def validate_condition(self):
		"""The condition must name fields and values the profile form shows; it is kept as written
		and translated to the engine's terms for each run (crm_fishpond.scoring.rules)."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import check_condition

		if not self.condition:
			frappe.throw(_("A rule-driven tag needs a condition."))
		if self.is_new() or self.has_value_changed("condition") or self.has_value_changed("tag_type"):
			check_condition(
				rule_vocabulary(),
				self.condition,
				_("The condition of tag {0}").format(frappe.bold(self.tag_name)),
			)
			self.condition = json.dumps(json.loads(self.condition), indent=1, ensure_ascii=False)
			# checked, not run yet: the next rescore sets the status
			self.rule_status = None
			self.rule_error = None

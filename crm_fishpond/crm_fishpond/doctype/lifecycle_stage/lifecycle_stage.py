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

		advanced_rule: DF.Check
		color: DF.Color | None
		description: DF.SmallText | None
		entry_condition: DF.Code | None
		entry_reason: DF.Data | None
		rule_error: DF.SmallText | None
		rule_filters: DF.Code | None
		rule_match: DF.Literal["All", "Any"]
		rule_status: DF.Literal["", "OK", "Failed"]
		sequence: DF.Int
		stage_key: DF.Literal["", "acquisition", "conversion", "growth", "retention", "churn"]
		stage_name: DF.Data

	# end: auto-generated types
	def validate(self):
		if self.sequence is not None and self.sequence < 0:
			frappe.throw(_("Order cannot be negative."))
		self.validate_unique_kind()
		self.sync_builder()
		if self.entry_condition and (
			self.is_new()
			or self.has_value_changed("entry_condition")
			or self.has_value_changed("entry_reason")
		):
			self.validate_entry_rule()
		if not self.entry_condition:
			self.rule_status = None
			self.rule_error = None

	def validate_unique_kind(self):
		"""A kind names the one stage the engine's default rules move profiles into; a second stage of
		that kind would silently take its place."""
		if not self.stage_key:
			return
		other = frappe.db.get_value(
			"Lifecycle Stage", {"stage_key": self.stage_key, "name": ("!=", self.name or "")}, "name"
		)
		if other:
			frappe.throw(
				_(
					"Stage {0} is already the {1} stage. Choose another kind, or leave Stage Kind empty for a stage of your own."
				).format(frappe.bold(other), frappe.bold(_(self.stage_key))),
				title=_("Stage kind taken"),
			)

	def sync_builder(self):
		"""An entry rule built by clicking becomes the JSON condition; JSON the builder can show,
		filter rows."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import sync_builder

		if not (self.rule_filters or self.entry_condition):
			return
		what = _("The entry rule of stage {0}").format(frappe.bold(self.stage_name))
		sync_builder(self, "entry_condition", what, rule_vocabulary())

	def validate_entry_rule(self):
		"""The entry rule must name fields and values the profile form shows, and its reason
		template fields rules can read; both are kept as written and translated for each run."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import check_condition, check_template

		vocab = rule_vocabulary()
		what = _("The entry rule of stage {0}").format(frappe.bold(self.stage_name))
		check_condition(vocab, self.entry_condition, what)
		if self.entry_reason:
			check_template(
				vocab,
				self.entry_reason,
				_("The reason template of stage {0}").format(frappe.bold(self.stage_name)),
			)
		self.entry_condition = json.dumps(json.loads(self.entry_condition), indent=1, ensure_ascii=False)
		# checked, not run yet: the next rescore sets the status
		self.rule_status = None
		self.rule_error = None

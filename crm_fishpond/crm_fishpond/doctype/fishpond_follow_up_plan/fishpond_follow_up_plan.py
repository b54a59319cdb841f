import json

import frappe
from frappe import _
from frappe.model.document import Document


class FishpondFollowupPlan(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_follow_up_step.fishpond_follow_up_step import (
			FishpondFollowupStep,
		)

		advanced_rule: DF.Check
		condition: DF.Code | None
		coupon_pricing_rule: DF.Link | None
		coupon_valid_days: DF.Int
		crowd_checked_on: DF.Datetime | None
		crowd_enrolled: DF.Int
		description: DF.SmallText | None
		enabled: DF.Check
		enrol_automatically: DF.Check
		fallback_user: DF.Link | None
		outcome_window_days: DF.Int
		plan_name: DF.Data
		reenrol_after_days: DF.Int
		rule_filters: DF.Code | None
		rule_match: DF.Literal["All", "Any"]
		steps: DF.Table[FishpondFollowupStep]
		stop_on_purchase: DF.Check
		stop_on_release: DF.Check
		stop_on_reply: DF.Check
		stop_on_stage_change: DF.Check
		stop_on_unsubscribe: DF.Check

	# end: auto-generated types
	def validate(self):
		self.check_steps()
		if self.enrol_automatically:
			self.sync_builder()
			self.check_crowd()
		if (self.reenrol_after_days or 0) < 0:
			frappe.throw(_("Enrol Again After Days cannot be negative."))
		if (self.outcome_window_days or 0) < 0 or (self.coupon_valid_days or 0) < 0:
			frappe.throw(_("Days cannot be negative."))
		self.check_coupon_rule()

	def check_coupon_rule(self):
		if self.coupon_pricing_rule and not frappe.db.get_value(
			"Pricing Rule", self.coupon_pricing_rule, "coupon_code_based"
		):
			frappe.throw(
				_("Pricing Rule {0} is not coupon based: tick Coupon Code Based on it first.").format(
					frappe.bold(self.coupon_pricing_rule)
				)
			)

	def check_steps(self):
		from crm_fishpond.nurture.plans import check_steps

		check_steps(self)

	def sync_builder(self):
		"""The crowd built by clicking becomes the JSON condition, as for tag rules."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import sync_builder

		sync_builder(self, "condition", self.what(), rule_vocabulary())

	def check_crowd(self):
		"""A plan that enrols its crowd needs a rule the engine can run, checked like a tag's."""
		from crm_fishpond.scoring.config import rule_vocabulary
		from crm_fishpond.scoring.rules import check_condition

		if not self.condition:
			frappe.throw(_("A plan that enrols its crowd automatically needs conditions."))
		if (
			self.is_new()
			or self.has_value_changed("condition")
			or self.has_value_changed("enrol_automatically")
		):
			check_condition(rule_vocabulary(), self.condition, self.what())
			self.condition = json.dumps(json.loads(self.condition), indent=1, ensure_ascii=False)

	def what(self) -> str:
		return _("The crowd of follow-up plan {0}").format(frappe.bold(self.plan_name))

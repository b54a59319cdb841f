import frappe
from frappe import _
from frappe.model.document import Document


class Fishpond(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_exempt_stage.fishpond_exempt_stage import (
			FishpondExemptStage,
		)
		from crm_fishpond.crm_fishpond.doctype.fishpond_member.fishpond_member import FishpondMember

		claim_cooldown_days: DF.Int
		company: DF.Link | None
		count_converted: DF.Check
		description: DF.SmallText | None
		enabled: DF.Check
		exempt_locked: DF.Check
		exempt_open_sales_order: DF.Check
		exempt_stages: DF.TableMultiSelect[FishpondExemptStage]
		exempt_unpaid_invoice: DF.Check
		exempt_value_grades: DF.SmallText | None
		is_default: DF.Check
		lost_handling: DF.Literal["Release to Pool", "Keep with Owner"]
		max_claimed_per_user: DF.Int
		max_claims_per_day: DF.Int
		members: DF.Table[FishpondMember]
		pool_name: DF.Data
		recycle_enabled: DF.Check
		recycle_no_followup_days: DF.Int
		recycle_no_order_days: DF.Int
		recycle_to: DF.Link | None
		recycle_warn_days: DF.Int
		visibility: DF.Literal["Members See and Claim", "Managers Assign"]

	# end: auto-generated types
	def validate(self):
		self.validate_caps()
		self.validate_members()
		self.validate_recycle_target()
		self.validate_recycle_rules()

	def on_update(self):
		if self.is_default:
			frappe.db.set_value("Fishpond", {"is_default": 1, "name": ("!=", self.name)}, "is_default", 0)
			frappe.db.set_single_value("Fishpond Settings", "default_pool", self.name)

	def on_trash(self):
		if frappe.db.exists("Fishpond Lead", {"fishpond": self.name}):
			frappe.throw(
				_("Pool {0} still holds leads: move them to another pool first.").format(
					frappe.bold(self.name)
				)
			)

	def validate_caps(self):
		for field in (
			"max_claimed_per_user",
			"max_claims_per_day",
			"claim_cooldown_days",
			"recycle_no_followup_days",
			"recycle_no_order_days",
			"recycle_warn_days",
		):
			if (self.get(field) or 0) < 0:
				frappe.throw(_("{0} cannot be negative.").format(_(self.meta.get_label(field))))

	def validate_members(self):
		seen = set()
		for row in self.members:
			key = (row.member_type, row.user if row.member_type == "User" else row.role)
			if not key[1]:
				frappe.throw(_("Row {0}: choose a {1}.").format(row.idx, _(row.member_type)))
			if key in seen:
				frappe.throw(_("Row {0}: {1} is listed twice.").format(row.idx, frappe.bold(key[1])))
			seen.add(key)

	def validate_recycle_target(self):
		if self.recycle_to == self.name:
			self.recycle_to = None
		if self.recycle_to and not frappe.db.get_value("Fishpond", self.recycle_to, "enabled"):
			frappe.throw(_("Recycle Into Pool {0} is disabled.").format(frappe.bold(self.recycle_to)))

	def validate_recycle_rules(self):
		if self.recycle_enabled and not (self.recycle_no_followup_days or self.recycle_no_order_days):
			frappe.throw(
				_("Set at least one recycle rule: days without a follow-up, or days without a Sales Order.")
			)

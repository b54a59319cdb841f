import frappe
from frappe import _
from frappe.model.document import Document


class Fishpond(Document):
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

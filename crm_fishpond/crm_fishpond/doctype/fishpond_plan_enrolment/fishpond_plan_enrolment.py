import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime


class FishpondPlanEnrolment(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_enrolment_step.fishpond_enrolment_step import (
			FishpondEnrolmentStep,
		)

		active_key: DF.Data | None
		assigned_to: DF.Link | None
		coupon_code: DF.Link | None
		current_step: DF.Int
		ended_on: DF.Datetime | None
		enrolled_on: DF.Datetime | None
		fishpond_lead: DF.Link
		lead_name: DF.Data | None
		next_due: DF.Datetime | None
		outcome: DF.Literal["", "Won Back", "Not Won Back"]
		outcome_on: DF.Datetime | None
		plan: DF.Link
		source: DF.Literal["By Hand", "Crowd"]
		stage_at_enrolment: DF.Link | None
		status: DF.Literal["Active", "Completed", "Stopped"]
		step_state: DF.Literal["", "Waiting", "Open"]
		steps: DF.Table[FishpondEnrolmentStep]
		stop_note: DF.SmallText | None
		stop_reason: DF.Literal[
			"", "Unsubscribed", "Bought", "Replied", "Released", "Stage Changed", "By Hand"
		]

	# end: auto-generated types
	def before_insert(self):
		"""Enrolled by hand from the form: the same start as a bulk enrolment."""
		from crm_fishpond.nurture.enrol import BY_HAND, start_values

		plan = frappe.db.get_value("Fishpond Follow-up Plan", self.plan, ["enabled"], as_dict=True)
		if not plan or not plan.enabled:
			frappe.throw(_("Follow-up plan {0} is disabled.").format(frappe.bold(self.plan)))
		lead = frappe.db.get_value(
			"Fishpond Lead", self.fishpond_lead, ["lead_name", "lifecycle_stage"], as_dict=True
		)
		if not lead:
			frappe.throw(_("Profile {0} does not exist.").format(self.fishpond_lead))
		if frappe.db.exists(
			self.doctype, {"plan": self.plan, "fishpond_lead": self.fishpond_lead, "status": "Active"}
		):
			frappe.throw(
				_("{0} is already in follow-up plan {1}.").format(
					frappe.bold(lead.lead_name or self.fishpond_lead), frappe.bold(self.plan)
				),
				frappe.DuplicateEntryError,
			)
		self.lead_name = lead.lead_name
		self.source = self.source or BY_HAND
		self.steps = []
		self.update(start_values(self.plan, self.fishpond_lead, lead.lifecycle_stage, now_datetime()))

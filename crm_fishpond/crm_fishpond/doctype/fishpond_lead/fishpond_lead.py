import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime, validate_email_address

from crm_fishpond.pools.masking import ContactMaskMixin

# Computed by the sync and the scorer, read-only on the form. A user's save keeps the stored values, so a
# form opened before a rescore never writes stale scores back (see keep_derived_values).
DERIVED_FIELDS = (
	"lifecycle_stage",
	"stage_since",
	"category",
	"value_grade",
	"rfm_segment",
	"lead_score",
	"score_fit",
	"score_engagement",
	"score_value",
	"scored_on",
	"score_breakdown",
	"churn_risk",
	"churn_band",
	"churn_method",
	"p_alive",
	"expected_purchases",
	"clv",
	"r_score",
	"f_score",
	"m_score",
	"purchase_days",
	"total_purchase",
	"monetary_value",
	"first_interaction",
	"last_interaction",
	"first_purchase",
	"last_purchase",
)
OWNED_STATUSES = ("Claimed",)
UNOWNED_STATUSES = ("In Pool",)


class FishpondLead(ContactMaskMixin, Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_lead_tag.fishpond_lead_tag import FishpondLeadTag
		from crm_fishpond.crm_fishpond.doctype.fishpond_stage_history.fishpond_stage_history import (
			FishpondStageHistory,
		)

		authority: DF.Literal["", "Decision Maker", "Economic Buyer", "Champion", "Influencer", "User"]
		birthday: DF.Date | None
		budget: DF.Literal["", "Approved", "Allocated", "Planned", "Exploring", "None"]
		category: DF.Literal["", "Potential", "Intention", "Deal", "Loyal"]
		challenges: DF.Literal["", "Critical", "Significant", "Moderate", "Minor", "None"]
		churn_band: DF.Literal["", "Low", "Medium", "High"]
		churn_method: DF.Literal["", "BG/NBD", "Recency rule"]
		churn_risk: DF.Percent
		claimed_on: DF.Datetime | None
		clv: DF.Currency
		company: DF.Link | None
		company_name: DF.Data | None
		contact: DF.Link | None
		country: DF.Link | None
		customer: DF.Link | None
		email_id: DF.Data | None
		expected_purchases: DF.Float
		f_score: DF.Int
		first_interaction: DF.Datetime | None
		first_purchase: DF.Date | None
		fishpond: DF.Link | None
		industry: DF.Link | None
		job_title: DF.Data | None
		last_interaction: DF.Datetime | None
		last_purchase: DF.Date | None
		lead: DF.Link | None
		lead_name: DF.Data
		lead_owner: DF.Link | None
		lead_score: DF.Float
		lifecycle_stage: DF.Link | None
		locked: DF.Check
		lost_reason: DF.SmallText | None
		m_score: DF.Int
		mobile_no: DF.Data | None
		monetary_value: DF.Currency
		naming_series: DF.Literal["FPL-.YYYY.-"]
		need: DF.Literal["", "Critical", "High", "Medium", "Low", "None"]
		p_alive: DF.Float
		phone: DF.Data | None
		previous_owner: DF.Link | None
		priority: DF.Literal["", "Top Priority", "High", "Medium", "Low", "Not a Priority"]
		purchase_days: DF.Int
		r_score: DF.Int
		referred_by: DF.Link | None
		released_on: DF.Datetime | None
		rfm_segment: DF.Data | None
		score_breakdown: DF.JSON | None
		score_engagement: DF.Float
		score_fit: DF.Float
		score_value: DF.Float
		scored_on: DF.Datetime | None
		source: DF.Link | None
		stage_history: DF.Table[FishpondStageHistory]
		stage_since: DF.Datetime | None
		status: DF.Literal["In Pool", "Claimed", "Converted", "Lost", "Churned"]
		tags: DF.TableMultiSelect[FishpondLeadTag]
		territory: DF.Link | None
		timeline: DF.Literal[
			"", "Immediate", "1-3 Months", "3-6 Months", "6-12 Months", "Over 12 Months", "Unknown"
		]
		total_purchase: DF.Currency
		value_grade: DF.Literal["", "High", "Mid", "Low"]

	# end: auto-generated types
	# ContactMaskMixin: masked email/phones for non-owners (crm_fishpond/pools/masking.py)
	def validate(self):
		self.keep_derived_values()
		self.normalise_contact_details()
		self.validate_unique_links()
		self.validate_owner_and_status()
		if self.has_value_changed("lifecycle_stage"):
			self.record_stage_change()

	def onload(self):
		# the form shows the questions of the framework that scores (Fishpond Settings, Qualification)
		framework = frappe.db.get_single_value("Fishpond Settings", "qualification_framework")
		self.set_onload("qualification_framework", framework or "BANT")
		# the header, the score in words and the Customer's ERPNext figures (crm_fishpond.profile)
		from crm_fishpond.profile.summary import profile_summary

		self.set_onload("fishpond_summary", profile_summary(self))

	def after_insert(self):
		self.link_back()

	def on_update(self):
		if self.has_value_changed("lead") or self.has_value_changed("customer"):
			self.link_back()

	def on_trash(self):
		for doctype, field in (("Customer", self.customer), ("Lead", self.lead)):
			if field and frappe.db.has_column(doctype, "fishpond_lead"):
				frappe.db.set_value(doctype, field, "fishpond_lead", None, update_modified=False)

	# -- steps ---------------------------------------------------------------
	def keep_derived_values(self):
		"""Scores, grades, stage and activity dates come from the pond's jobs, not from the form.

		A deliberate stage change (``flags.stage_reason`` set, e.g. by an API) is the one exception."""
		previous = self.get_doc_before_save()
		if not previous or self.flags.keep_derived_from_form:
			return
		for field in DERIVED_FIELDS:
			if field == "lifecycle_stage" and self.flags.stage_reason:
				continue
			self.set(field, previous.get(field))
		# child rows the jobs wrote since the form was loaded must survive the save: the history is
		# append-only, rule tags belong to the scorer, manual tags to the user
		self.set("stage_history", [row.as_dict() for row in previous.get("stage_history")])
		manual = [row.as_dict() for row in self.get("tags") if row.tag_source != "Rule"]
		rule = [row.as_dict() for row in previous.get("tags") if row.tag_source == "Rule"]
		self.set("tags", rule + [row for row in manual if row.tag not in {r.tag for r in rule}])

	def normalise_contact_details(self):
		if self.email_id:
			self.email_id = self.email_id.strip().lower()
			validate_email_address(self.email_id, throw=True)
		for field in ("phone", "mobile_no"):
			if self.get(field):
				self.set(field, self.get(field).strip())

	def validate_unique_links(self):
		for field, label in (("customer", _("Customer")), ("lead", _("Lead"))):
			value = self.get(field)
			if not value:
				self.set(field, None)
				continue
			other = frappe.db.get_value("Fishpond Lead", {field: value, "name": ("!=", self.name)})
			if other:
				frappe.throw(
					_("{0} {1} already belongs to the profile {2}: one prospect keeps one profile.").format(
						label, frappe.bold(value), frappe.get_desk_link("Fishpond Lead", other)
					),
					frappe.DuplicateEntryError,
				)

	def validate_owner_and_status(self):
		if self.status in OWNED_STATUSES and not self.lead_owner:
			frappe.throw(_("A claimed profile needs an owner (rep)."))
		if self.status in UNOWNED_STATUSES and self.lead_owner:
			self.status = "Claimed"
		if (
			self.lead_owner
			and not self.claimed_on
			and (self.is_new() or self.has_value_changed("lead_owner"))
		):
			self.claimed_on = now_datetime()

	def record_stage_change(self):
		previous = self.get_doc_before_save()
		from_stage = previous.lifecycle_stage if previous else None
		if not self.lifecycle_stage or from_stage == self.lifecycle_stage:
			return
		reason = self.flags.stage_reason or _("Set by {0}").format(frappe.session.user)
		self.stage_since = now_datetime()
		self.append(
			"stage_history",
			{
				"from_stage": from_stage,
				"to_stage": self.lifecycle_stage,
				"changed_on": self.stage_since,
				"reason": reason,
				"changed_by": frappe.session.user,
			},
		)

	def link_back(self):
		for doctype, value in (("Customer", self.customer), ("Lead", self.lead)):
			if value and frappe.db.has_column(doctype, "fishpond_lead"):
				frappe.db.set_value(doctype, value, "fishpond_lead", self.name, update_modified=False)

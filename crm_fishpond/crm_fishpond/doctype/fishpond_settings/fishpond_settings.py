import json

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import get_time


class FishpondSettings(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_engagement_points.fishpond_engagement_points import (
			FishpondEngagementPoints,
		)
		from crm_fishpond.crm_fishpond.doctype.fishpond_qualification_answer.fishpond_qualification_answer import (
			FishpondQualificationAnswer,
		)

		backfill_batch_size: DF.Int
		bant_weight_authority: DF.Float
		bant_weight_budget: DF.Float
		bant_weight_need: DF.Float
		bant_weight_timeline: DF.Float
		champ_weight_authority: DF.Float
		champ_weight_challenges: DF.Float
		champ_weight_money: DF.Float
		champ_weight_priority: DF.Float
		churn_high_threshold: DF.Percent
		churn_horizon_days: DF.Int
		churn_inactive_days: DF.Int
		churn_medium_threshold: DF.Percent
		churn_p_alive_below: DF.Percent
		create_profile_for_customers: DF.Check
		create_profile_for_leads: DF.Check
		deal_min_orders: DF.Int
		default_pool: DF.Link | None
		engagement_default_cap: DF.Float
		engagement_default_points: DF.Float
		engagement_full_points: DF.Float
		engagement_half_life_days: DF.Float
		engagement_points: DF.Table[FishpondEngagementPoints]
		engine_config: DF.Code | None
		intention_min_engagement_points: DF.Float
		intention_min_events_30d: DF.Int
		intention_min_interactions: DF.Int
		loyal_max_days_since_last: DF.Int
		loyal_min_orders: DF.Int
		loyal_value_grade: DF.Literal["", "High", "High or Mid"]
		loyal_value_min_orders: DF.Int
		qualification_answers: DF.Table[FishpondQualificationAnswer]
		qualification_framework: DF.Literal["BANT", "CHAMP"]
		rescore_frequency: DF.Literal["Daily", "Weekly", "Manual Only"]
		rescore_time: DF.Time | None
		rescore_weekday: DF.Literal[
			"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
		]
		rfm_bins: DF.Int
		rfm_frequency_cuts: DF.Data | None
		rfm_grade_basis: DF.Literal["R + F + M", "M Score", "FM Score"]
		rfm_grade_high_min: DF.Float
		rfm_grade_mid_min: DF.Float
		rfm_method: DF.Literal["Quantile", "Threshold"]
		rfm_monetary_cuts: DF.Data | None
		rfm_recency_cuts: DF.Data | None
		rfm_zero_amount_purchases: DF.Check
		shipped_defaults: DF.LongText | None
		sync_communications: DF.Check
		sync_sales_invoices: DF.Check
		sync_sales_orders: DF.Check
		weight_engagement: DF.Int
		weight_fit: DF.Int
		weight_value: DF.Int

	# end: auto-generated types
	def validate(self):
		self.round_rescore_time()
		self.validate_weights()
		self.validate_thresholds()
		self.validate_engine_config()

	def on_update(self):
		frappe.clear_document_cache("Fishpond Settings", "Fishpond Settings")

	def round_rescore_time(self):
		"""A schedule needs no seconds; a whole minute also reads back unchanged in the form."""
		if self.rescore_time:
			self.rescore_time = get_time(self.rescore_time).strftime("%H:%M:00")

	def validate_weights(self):
		total = (self.weight_fit or 0) + (self.weight_engagement or 0) + (self.weight_value or 0)
		if total != 100:
			frappe.throw(
				_("Fit, engagement and value weights must add up to 100 (they add up to {0}).").format(total)
			)
		if (self.engagement_half_life_days or 0) <= 0:
			frappe.throw(_("Engagement half-life must be more than 0 days."))

	def validate_thresholds(self):
		if (self.churn_medium_threshold or 0) > (self.churn_high_threshold or 0):
			frappe.throw(_("Medium churn risk must start below high churn risk."))
		if (self.backfill_batch_size or 0) < 0:
			frappe.throw(_("Backfill batch size cannot be negative."))

	def validate_engine_config(self):
		"""The scoring fields and tables, the JSON overrides and the site's stages and tags must make an
		engine config the next rescore can run: each refusal names its field, row or override key."""
		if self.engine_config:
			try:
				json.loads(self.engine_config)
			except ValueError as e:
				frappe.throw(_("Engine config overrides are not valid JSON: {0}").format(str(e)))
		# imported here: the engine (pandas) loads on save, not wherever the settings are read
		from crm_fishpond.scoring.config import check_settings

		check_settings(self)
		from crm_fishpond.accounting.config import check as check_match_settings

		check_match_settings(self)

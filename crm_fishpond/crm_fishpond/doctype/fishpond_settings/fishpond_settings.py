import json

import frappe
from frappe import _
from frappe.model.document import Document


class FishpondSettings(Document):
	def validate(self):
		self.validate_weights()
		self.validate_thresholds()
		self.validate_engine_config()

	def on_update(self):
		frappe.clear_document_cache("Fishpond Settings", "Fishpond Settings")

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
		if not self.engine_config:
			return
		try:
			json.loads(self.engine_config)
		except ValueError as e:
			frappe.throw(_("Engine config overrides are not valid JSON: {0}").format(str(e)))

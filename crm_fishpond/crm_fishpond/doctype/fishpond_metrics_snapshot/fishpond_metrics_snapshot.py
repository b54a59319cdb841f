from frappe.model.document import Document
from frappe.utils import getdate


def snapshot_name(period, company: str | None = None) -> str:
	"""One snapshot per month and company: ``2026-03`` (the whole pond) or ``2026-03 <company>``."""
	month = getdate(period).strftime("%Y-%m")
	return f"{month} {company}" if company else month


class FishpondMetricsSnapshot(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		active_customers: DF.Int
		avg_value_last_year: DF.Currency
		avg_value_per_customer: DF.Currency
		avg_value_uplift: DF.Percent
		churn_rate: DF.Percent
		churn_window_months: DF.Int
		company: DF.Link | None
		csat: DF.Percent
		currency: DF.Link | None
		customer_base: DF.Int
		feedback_responses: DF.Int
		is_complete: DF.Check
		lost_customers: DF.Int
		net_purchases: DF.Currency
		new_customers: DF.Int
		nps: DF.Float
		period: DF.Date
		pond_size: DF.Int
		retention_rate: DF.Percent
		taken_on: DF.Datetime | None
	# end: auto-generated types
	"""The pond's metrics for one month (read-only; written by crm_fishpond.analytics.snapshots)."""

	def autoname(self):
		self.name = snapshot_name(self.period, self.company)

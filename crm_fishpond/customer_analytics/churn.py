"""Fishpond Churn Watch: customers by churn risk, with the CLV at risk (clv x churn risk), highest
first."""

from __future__ import annotations

import frappe
from frappe.query_builder.functions import Count, Sum
from frappe.utils import cint, flt

from .scope import LEAD, first_purchase_period, scoped

DEFAULT_LIMIT = 500
MAX_LIMIT = 5000


def _base(filters, lead, *columns):
	query = frappe.qb.from_(lead).select(*columns).where(lead.first_purchase.isnotnull())
	if filters.get("churn_band"):
		query = query.where(lead.churn_band == filters.churn_band)
	query = first_purchase_period(query, lead, filters)
	return scoped(query, filters)


def churn_watch(filters) -> tuple[list[dict], dict]:
	"""(rows, totals): the customers with the most value at risk (at most ``limit`` rows) and the
	totals over every matching customer."""
	lead = frappe.qb.DocType(LEAD)
	at_risk = lead.clv * lead.churn_risk / 100
	limit = min(cint(filters.get("limit")) or DEFAULT_LIMIT, MAX_LIMIT)
	rows = (
		_base(
			filters,
			lead,
			lead.name.as_("profile"),
			lead.lead_name,
			lead.customer,
			lead.lead_owner,
			lead.fishpond,
			lead.territory,
			lead.churn_risk,
			lead.churn_band,
			lead.churn_method,
			lead.clv,
			at_risk.as_("value_at_risk"),
			lead.last_purchase,
			lead.total_purchase,
		)
		.orderby(at_risk, order=frappe.qb.desc)
		.orderby(lead.churn_risk, order=frappe.qb.desc)
		.orderby(lead.name)
		.limit(limit)
	).run(as_dict=True)
	totals = _base(
		filters,
		lead,
		Count(lead.name).as_("customers"),
		Sum(lead.clv).as_("clv"),
		Sum(at_risk).as_("value_at_risk"),
	).run(as_dict=True)[0]
	for row in rows:
		row.value_at_risk = flt(row.value_at_risk)
	return rows, {
		"customers": cint(totals.customers),
		"clv": flt(totals.clv),
		"value_at_risk": flt(totals.value_at_risk),
	}

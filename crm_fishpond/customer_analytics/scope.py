"""Which profiles an analytics report reads, and the filters every such report shares.

The row criterion is the one ``frappe.get_list("Fishpond Lead")`` applies for the session user —
role permission, User Permissions, documents shared with them and the pond's own
``permission_query_conditions`` (crm_fishpond.permissions: a rep sees their own leads and the
unclaimed leads of their pools, a pool manager every lead of the pools they manage, a Fishpond Manager
everything) — taken from Frappe's ``DatabaseQuery`` itself, so a report can never show a profile the
list view hides. A user who may read no profile gets ``frappe.PermissionError``.
"""

from __future__ import annotations

import frappe
from frappe.model.db_query import DatabaseQuery
from frappe.utils import add_days, add_months, get_datetime, getdate, nowdate
from pypika.terms import Criterion

LEAD = "Fishpond Lead"


class RawCondition(Criterion):
	"""A ready-made SQL condition (Frappe's permission condition, already escaped) as a qb criterion."""

	def __init__(self, sql: str):
		super().__init__()
		self.sql = sql

	def get_sql(self, **kwargs) -> str:
		return f"({self.sql})"


def readable_leads() -> Criterion | None:
	"""The get_list criterion on `tabFishpond Lead` for the session user; None when they read every
	profile. Queries using it must name the table `tabFishpond Lead` (no alias)."""
	condition = DatabaseQuery(LEAD).build_match_conditions()
	return RawCondition(condition) if condition else None


def territory_criterion(field, territory: str) -> Criterion:
	"""The territory and every territory under it."""
	bounds = frappe.db.get_value("Territory", territory, ["lft", "rgt"])
	if not bounds or bounds[0] is None:
		return field == territory
	t = frappe.qb.DocType("Territory")
	return field.isin(frappe.qb.from_(t).select(t.name).where(t.lft >= bounds[0]).where(t.rgt <= bounds[1]))


def scoped(query, filters, company: bool = True):
	"""`query` (which reads `tabFishpond Lead`) limited to the readable profiles and to the report's
	profile filters: company (unless the caller filters another table's company), territory with its
	sub-territories, pool and owner."""
	lead = frappe.qb.DocType(LEAD)
	if company and filters.get("company"):
		query = query.where(lead.company == filters.company)
	if filters.get("territory"):
		query = query.where(territory_criterion(lead.territory, filters.territory))
	if filters.get("fishpond"):
		query = query.where(lead.fishpond == filters.fishpond)
	if filters.get("lead_owner"):
		query = query.where(lead.lead_owner == filters.lead_owner)
	permitted = readable_leads()
	if permitted is not None:
		query = query.where(permitted)
	return query


def date_range(filters, default_months: int | None = None) -> tuple:
	"""(from date, to date) of the period filter, either may be None; with `default_months`, a
	missing period is the last `default_months` months to today."""
	from_date = getdate(filters.get("from_date")) if filters.get("from_date") else None
	to_date = getdate(filters.get("to_date")) if filters.get("to_date") else None
	if default_months is not None:
		to_date = to_date or getdate(nowdate())
		from_date = from_date or getdate(add_months(to_date, -default_months))
	return from_date, to_date


def first_purchase_period(query, lead, filters):
	"""Profiles whose first purchase falls in the period (when one is given)."""
	from_date, to_date = date_range(filters)
	if from_date:
		query = query.where(lead.first_purchase >= from_date)
	if to_date:
		query = query.where(lead.first_purchase <= to_date)
	return query


def datetime_range(filters, default_months: int | None = None) -> tuple:
	"""The period as [start, end) datetimes: the whole last day is in."""
	from_date, to_date = date_range(filters, default_months)
	return (
		get_datetime(from_date) if from_date else None,
		get_datetime(add_days(to_date, 1)) if to_date else None,
	)

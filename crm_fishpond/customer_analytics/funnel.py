"""Fishpond Lifecycle Funnel: stays in each lifecycle stage started in the period, how they ended and
how long they lasted (definitions in crm_fishpond.engine.funnel)."""

from __future__ import annotations

import frappe
import pandas as pd
from frappe.query_builder.functions import Coalesce

from crm_fishpond.engine.funnel import FUNNEL_COLUMNS, stage_funnel

from .scope import LEAD, datetime_range, scoped

CHURN_KEY = "churn"
DEFAULT_MONTHS = 12


def stages() -> pd.DataFrame:
	rows = frappe.get_all("Lifecycle Stage", fields=["name", "sequence", "stage_key"], order_by="sequence")
	return pd.DataFrame(
		{
			"stage": [r.name for r in rows],
			"sequence": [r.sequence for r in rows],
			"is_churn": [r.stage_key == CHURN_KEY for r in rows],
		}
	)


def history(filters, start, end) -> pd.DataFrame:
	"""Every stage change of the readable profiles (within the filters) that changed stage in the
	period: their later rows are needed to see how the period's stays ended."""
	lead = frappe.qb.DocType(LEAD)
	h = frappe.qb.DocType("Fishpond Stage History")
	changed_on = Coalesce(h.changed_on, h.creation)
	moved = (
		frappe.qb.from_(h)
		.select(h.parent)
		.distinct()
		.where(h.parenttype == LEAD)
		.where(h.parentfield == "stage_history")
		.where(changed_on >= start)
		.where(changed_on < end)
	)
	query = (
		frappe.qb.from_(h)
		.join(lead)
		.on(lead.name == h.parent)
		.select(h.parent.as_("profile"), h.to_stage, changed_on.as_("changed_on"), h.idx.as_("seq"))
		.where(h.parenttype == LEAD)
		.where(h.parentfield == "stage_history")
		.where(h.parent.isin(moved))
	)
	rows = scoped(query, filters).run()
	return pd.DataFrame(list(rows), columns=["profile", "to_stage", "changed_on", "seq"])


def lifecycle_funnel(filters) -> list[dict]:
	start, end = datetime_range(filters, DEFAULT_MONTHS)
	# the engine's bounds are inclusive: the period ends just before the day after `to_date`
	last = pd.Timestamp(end) - pd.Timedelta(microseconds=1)
	frame = stage_funnel(history(filters, start, end), stages(), start=start, end=last)
	return [
		{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
		for row in frame[list(FUNNEL_COLUMNS)].to_dict("records")
	]

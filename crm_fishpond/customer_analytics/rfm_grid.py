"""Fishpond RFM Grid: scored customers by recency score x frequency score, with the count and the mean
net purchases (the M of RFM) per cell, from the scores the last rescore stored on each profile."""

from __future__ import annotations

import frappe
from frappe.query_builder.functions import Count, Sum
from frappe.utils import cint, flt

from .scope import LEAD, first_purchase_period, scoped

DEFAULT_BINS = 5


def cells(filters) -> list[dict]:
	"""(r_score, f_score, profiles, net purchases summed) for every non-empty cell."""
	lead = frappe.qb.DocType(LEAD)
	query = (
		frappe.qb.from_(lead)
		.select(
			lead.r_score,
			lead.f_score,
			Count(lead.name).as_("profiles"),
			Sum(lead.total_purchase).as_("net_purchases"),
		)
		.where(lead.r_score > 0)
		.where(lead.f_score > 0)
		.groupby(lead.r_score, lead.f_score)
	)
	query = first_purchase_period(query, lead, filters)
	return scoped(query, filters).run(as_dict=True)


def bins(found: list[dict]) -> int:
	configured = cint(frappe.db.get_single_value("Fishpond Settings", "rfm_bins")) or DEFAULT_BINS
	seen = max([max(cint(c.r_score), cint(c.f_score)) for c in found] or [0])
	return max(configured, seen)


def rfm_grid(filters) -> tuple[int, list[dict]]:
	"""(bins, rows): one row per R score, highest first, then a total row (``r_score`` None). A row
	holds ``f{n}_count`` and ``f{n}_mean`` per F score n, and ``count`` / ``mean`` over the row."""
	found = cells(filters)
	n = bins(found)
	by_cell = {(cint(c.r_score), cint(c.f_score)): c for c in found}

	def row(r: int | None) -> dict:
		out = {"r_score": r}
		total_count, total_sum = 0, 0.0
		for f in range(1, n + 1):
			hits = [c for (cr, cf), c in by_cell.items() if cf == f and (r is None or cr == r)]
			count = sum(cint(c.profiles) for c in hits)
			amount = sum(flt(c.net_purchases) for c in hits)
			out[f"f{f}_count"] = count
			out[f"f{f}_mean"] = amount / count if count else None
			total_count += count
			total_sum += amount
		out["count"] = total_count
		out["mean"] = total_sum / total_count if total_count else None
		return out

	return n, [*(row(r) for r in range(n, 0, -1)), row(None)]

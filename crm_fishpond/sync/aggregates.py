"""Per-profile activity aggregates, computed in SQL and written back only where they changed.

Purchases are submitted Sales Invoices net of credit notes (company currency): the invoice is where
revenue is recognised. An attributed POS Invoice's row is a purchase too (its share of the
consolidated invoice, crm_fishpond.sync.pos). Sales Orders stay in the history as signals (open
orders protect a lead).
"""

from __future__ import annotations

from decimal import Decimal

import frappe
from frappe.query_builder import functions as fn
from frappe.utils import flt, getdate

from crm_fishpond.sync.transactions import PURCHASE_VOUCHERS

AGGREGATE_FIELDS = (
	"first_purchase",
	"last_purchase",
	"purchase_days",
	"total_purchase",
	"first_interaction",
	"last_interaction",
)


def purchase_aggregates(profiles: list[str]) -> dict[str, dict]:
	tx = frappe.qb.DocType("Fishpond Transaction")
	rows = (
		frappe.qb.from_(tx)
		.select(
			tx.fishpond_lead,
			fn.Min(tx.posting_date).as_("first_purchase"),
			fn.Max(tx.posting_date).as_("last_purchase"),
			fn.Count(tx.posting_date).distinct().as_("purchase_days"),
			fn.Sum(tx.base_grand_total).as_("total_purchase"),
		)
		.where(tx.fishpond_lead.isin(profiles))
		.where(tx.voucher_type.isin(PURCHASE_VOUCHERS))
		.where(tx.docstatus_state == "Submitted")
		.groupby(tx.fishpond_lead)
	).run(as_dict=True)
	return {r.fishpond_lead: r for r in rows}


def interaction_aggregates(profiles: list[str]) -> dict[str, dict]:
	it = frappe.qb.DocType("Fishpond Interaction")
	rows = (
		frappe.qb.from_(it)
		.select(
			it.fishpond_lead,
			fn.Min(it.interaction_time).as_("first_interaction"),
			fn.Max(it.interaction_time).as_("last_interaction"),
		)
		.where(it.fishpond_lead.isin(profiles))
		.groupby(it.fishpond_lead)
	).run(as_dict=True)
	return {r.fishpond_lead: r for r in rows}


def _same(a, b) -> bool:
	if isinstance(a, int | float | Decimal) or isinstance(b, int | float | Decimal):
		return abs(flt(a) - flt(b)) < 1e-6
	return (a or None) == (b or None)


def refresh_profiles(profiles: list[str]) -> int:
	"""Recompute the aggregates of the given profiles; write only rows whose values changed."""
	if not profiles:
		return 0
	lead = frappe.qb.DocType("Fishpond Lead")
	stored = (
		frappe.qb.from_(lead)
		.select(lead.name, *[lead[f] for f in AGGREGATE_FIELDS])
		.where(lead.name.isin(profiles))
	).run(as_dict=True)
	purchases = purchase_aggregates(profiles)
	interactions = interaction_aggregates(profiles)
	updates: dict[str, dict] = {}
	for row in stored:
		p = purchases.get(row.name, {})
		i = interactions.get(row.name, {})
		expected = {
			"first_purchase": getdate(p["first_purchase"]) if p.get("first_purchase") else None,
			"last_purchase": getdate(p["last_purchase"]) if p.get("last_purchase") else None,
			"purchase_days": int(p.get("purchase_days") or 0),
			"total_purchase": flt(p.get("total_purchase"), 6),
			"first_interaction": i.get("first_interaction"),
			"last_interaction": i.get("last_interaction"),
		}
		diff = {k: v for k, v in expected.items() if not _same(row.get(k), v)}
		if diff:
			updates[row.name] = diff
	frappe.db.bulk_update("Fishpond Lead", updates, chunk_size=200, update_modified=False)
	return len(updates)

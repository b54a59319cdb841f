"""What a sales manager reads at a glance on a profile, and why it scored what it did.

``profile_summary(doc)`` feeds the Fishpond Lead form (through ``onload``) and the Customer and Lead
forms (through crm_fishpond.api.profile). The score is explained factor by factor with the engine's
:func:`crm_fishpond.engine.scoring.explain`, worded here in the user's language from its structured
output (the engine's own reasons are English)."""

from __future__ import annotations

import json
from typing import Any

import frappe
from frappe import _
from frappe.query_builder import functions as fn
from frappe.utils import flt

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.scoring import explain

LEAD = "Fishpond Lead"
FACTS = "Fishpond Profile Facts"
HEADER_FIELDS = (
	"lifecycle_stage",
	"category",
	"value_grade",
	"lead_score",
	"churn_band",
	"churn_risk",
	"lead_owner",
	"fishpond",
	"status",
)
PART_LABELS = {"fit": "Fit", "engagement": "Engagement", "value": "Value"}
VALUE_LABELS = {"rfm": "RFM Scores", "grade": "Value Grade", "clv": "Customer Lifetime Value"}


def profile_summary(doc) -> dict[str, Any]:
	"""Header facts, the score explained and the Customer's ERPNext figures of a Fishpond Lead."""
	meta = frappe.get_meta(LEAD)
	header = [
		{"fieldname": f, "label": _(meta.get_label(f)), "value": doc.get(f)}
		for f in HEADER_FIELDS
		if doc.get(f) not in (None, "")
	]
	return {
		"name": doc.name,
		"title": doc.lead_name or doc.company_name or doc.name,
		"header": header,
		"score": score_lines(doc),
		"erp": erp_figures(doc.customer),
		"referrals": referral_figures(doc.name),
	}


def score_lines(doc) -> list[dict[str, Any]]:
	"""The stored score's factors as lines: part, label, value shown, points of the maximum."""
	try:
		breakdown = json.loads(doc.score_breakdown or "{}")
	except ValueError:
		return []
	factors = breakdown.get("factors") or {}
	if not factors and not doc.lead_score:
		return []
	config = _score_config()
	row: dict[str, Any] = dict(factors)
	for f in config.fit_factors:
		row[f.field] = doc.get(f.field)
	for column in ("r_score", "f_score", "m_score", "value_grade", "clv"):
		row[column] = doc.get(column)
	lines = []
	for item in explain(row, config):
		if not item["points"] and item["part"] != "fit":
			continue
		lines.append(
			{
				"part": _(PART_LABELS.get(item["part"], item["part"])),
				"label": _factor_label(item),
				"value": _shown(item.get("value")),
				"points": item["points"],
				"max_points": item["max_points"],
			}
		)
	return lines


def _score_config():
	from crm_fishpond.scoring.config import settings_dict

	try:
		return EngineConfig.from_dict(settings_dict()).score
	except (EngineConfigError, frappe.ValidationError):
		frappe.clear_messages()
		return EngineConfig().score


def _factor_label(item: dict) -> str:
	factor = str(item["factor"])
	if item["part"] == "value":
		return _(VALUE_LABELS.get(factor, factor))
	for doctype in (LEAD, FACTS):
		field = frappe.get_meta(doctype).get_field(factor)
		if field and field.label:
			return _(field.label)
	return _(factor.replace("_", " ").capitalize())


def _shown(value: Any) -> str:
	if value is None:
		return ""
	if isinstance(value, float):
		return f"{value:g}"
	return _(str(value))


def erp_figures(customer: str | None) -> dict[str, Any] | None:
	"""The Customer's outstanding receivable and last invoice, as ERPNext's submitted invoices say."""
	if not customer:
		return None
	si = frappe.qb.DocType("Sales Invoice")
	# outstanding amounts are in the receivable account's currency: one figure per currency
	owed = (
		frappe.qb.from_(si)
		.select(si.party_account_currency, fn.Sum(si.outstanding_amount), fn.Count(si.name))
		.where((si.customer == customer) & (si.docstatus == 1))
		.groupby(si.party_account_currency)
		.run()
	)
	outstanding = [{"currency": c, "amount": flt(a)} for c, a, _n in owed if flt(a)]
	invoices = sum(n for _c, _a, n in owed)
	last = (
		frappe.qb.from_(si)
		.select(si.name, si.posting_date, si.grand_total, si.currency, si.status)
		.where((si.customer == customer) & (si.docstatus == 1) & (si.is_return == 0))
		.orderby(si.posting_date, order=frappe.qb.desc)
		.orderby(si.name, order=frappe.qb.desc)
		.limit(1)
		.run(as_dict=True)
	)
	return {
		"customer": customer,
		"customer_name": frappe.get_cached_value("Customer", customer, "customer_name"),
		"outstanding": outstanding,
		"invoices": invoices,
		"last_invoice": last[0] if last else None,
	}


def referral_figures(profile: str) -> dict[str, Any] | None:
	"""Who referred this profile, whom it referred, and its rewards kept, pending and owed back."""
	referral = frappe.qb.DocType("Fishpond Referral")
	lead = frappe.qb.DocType(LEAD)
	rows = (
		frappe.qb.from_(referral)
		.join(lead)
		.on(lead.name == referral.referee)
		.select(
			referral.name,
			referral.referrer,
			referral.referee,
			referral.status,
			referral.reason,
			lead.lead_name.as_("referee_name"),
		)
		.where((referral.referrer == profile) | (referral.referee == profile))
		.orderby(referral.referred_on)
		.run(as_dict=True)
	)
	reward = frappe.qb.DocType("Referral Reward")
	rewards = (
		frappe.qb.from_(reward)
		.select(
			reward.status,
			reward.reward_type,
			fn.Sum(reward.kept),
			fn.Sum(reward.debt_amount),
			fn.Count(reward.name),
		)
		.where(
			((reward.referrer == profile) & (reward.beneficiary == "Referrer"))
			| ((reward.referee == profile) & (reward.beneficiary == "Referee"))
		)
		.groupby(reward.status, reward.reward_type)
		.run()
	)
	if not rows and not rewards:
		return None
	by = next((r for r in rows if r.referee == profile and r.status == "Accepted"), None)
	return {
		"referred_by": by
		and {
			"referral": by.name,
			"profile": by.referrer,
			"name": frappe.db.get_value(LEAD, by.referrer, "lead_name"),
		},
		"referred": [
			{
				"referral": r.name,
				"profile": r.referee,
				"name": r.referee_name,
				"status": _(r.status),
				"reason": r.reason,
			}
			for r in rows
			if r.referrer == profile
		],
		"rewards": [
			{"status": _(st), "type": _(t) if t else "", "kept": flt(k), "debt": flt(d), "count": n}
			for st, t, k, d, n in rewards
		],
		"debt": sum(flt(d) for _s, _t, _k, d, _n in rewards),
	}

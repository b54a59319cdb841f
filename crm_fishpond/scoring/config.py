"""EngineConfig from Desk: Fishpond Settings, Lifecycle Stage rules and Fishpond Tag rules.

Precedence, lowest first: the engine defaults (its BANT fit factors use the answers of the Fishpond
Lead form), the site default below (Sales Orders as an engagement signal), the typed Settings fields
(weights, half-life, churn thresholds), the stages and tags defined in Desk, and last the JSON in
*Fishpond Settings → Engine config overrides* (deep-merged, so an admin can change one key).
"""

from __future__ import annotations

import json
from typing import Any

import frappe
from frappe import _
from frappe.utils import flt

from crm_fishpond.engine.activity import DEFAULT_EVENT_CAPS, DEFAULT_EVENT_POINTS
from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.lifecycle import DEFAULT_STAGES

SALES_ORDER_EVENT = "sales_order"
"""Submitted Sales Orders enter the engine as behaviour events of this type: an order placed is the
strongest intent signal a profile gives before its invoice (purchases are invoices)."""


def engine_config() -> EngineConfig:
	"""The validated EngineConfig of this site; a bad setting throws naming the offending field."""
	data = config_dict()
	try:
		return EngineConfig.from_dict(data)
	except EngineConfigError as e:
		frappe.throw(
			_("The scoring settings are invalid at {0}: {1}").format(frappe.bold(e.field or "-"), str(e)),
			title=_("Invalid scoring settings"),
		)


def config_dict() -> dict[str, Any]:
	settings = frappe.get_cached_doc("Fishpond Settings")
	data: dict[str, Any] = {
		"score": {
			"weights": {
				"fit": flt(settings.weight_fit),
				"engagement": flt(settings.weight_engagement),
				"value": flt(settings.weight_value),
			},
		},
		"engagement": {
			"half_life_days": flt(settings.engagement_half_life_days) or 30.0,
			"event_points": {**DEFAULT_EVENT_POINTS, SALES_ORDER_EVENT: 10.0},
			"event_caps": {**DEFAULT_EVENT_CAPS, SALES_ORDER_EVENT: 20.0},
		},
		"churn": {
			"horizon_days": flt(settings.churn_horizon_days) or 90.0,
			"medium_risk": flt(settings.churn_medium_threshold) / 100.0,
			"high_risk": flt(settings.churn_high_threshold) / 100.0,
		},
		"stages": stage_settings(settings),
		"tags": tag_rules(),
	}
	overrides = _overrides(settings.engine_config)
	stage_override = overrides.get("stages")
	if isinstance(stage_override, dict) and {"rules", "thresholds"} & set(stage_override):
		# the admin's own rules (or thresholds) replace the generated ones instead of mixing with them
		data["stages"] = {k: v for k, v in data["stages"].items() if k not in ("rules", "thresholds")}
	return deep_merge(data, overrides)


def stage_settings(settings=None) -> dict[str, Any]:
	"""Stages in Desk order; the default transitions over the five keyed stages, with the churn
	thresholds of Settings; every stage's own entry rule (if any) tried before them."""
	settings = settings or frappe.get_cached_doc("Fishpond Settings")
	stages = frappe.get_all(
		"Lifecycle Stage",
		fields=["name", "stage_key", "sequence", "entry_condition", "entry_reason"],
		order_by="sequence asc, name asc",
	)
	if not stages:
		return {}
	names = [s.name for s in stages]
	by_key = {s.stage_key: s.name for s in stages if s.stage_key}
	custom = []
	for s in stages:
		if not s.entry_condition:
			continue
		try:
			condition = json.loads(s.entry_condition)
		except ValueError:
			frappe.throw(_("The entry rule of stage {0} is not valid JSON.").format(frappe.bold(s.name)))
		custom.append(
			{
				"name": f"entry: {s.name}",
				"to_stage": s.name,
				"condition": condition,
				"reason": s.entry_reason or _("entered {0}").format(s.name),
			}
		)
	thresholds = {
		"churn_days": flt(settings.churn_inactive_days) or 180.0,
		"churn_p_alive": min(1.0, flt(settings.churn_p_alive_below) / 100.0),
	}
	if all(key in by_key for key in DEFAULT_STAGES):
		keyed = [by_key[k] for k in DEFAULT_STAGES]
		ordered = keyed + [n for n in names if n not in keyed]
		if not custom:
			return {"stages": ordered, "thresholds": thresholds}
		from crm_fishpond.engine.lifecycle import default_rules

		defaults = [r.to_dict() for r in default_rules(stages=keyed, **thresholds)]
		return {"stages": ordered, "rules": custom + defaults}
	# renamed keys or fewer than five stages: only the admin's entry rules move profiles
	return {"stages": names, "rules": custom}


def tag_rules() -> list[dict[str, Any]]:
	rows = frappe.get_all(
		"Fishpond Tag",
		filters={"tag_type": "Rule", "enabled": 1},
		fields=["name", "condition"],
		order_by="name asc",
	)
	rules = []
	for row in rows:
		if not row.condition:
			continue
		try:
			condition = json.loads(row.condition)
		except ValueError:
			frappe.throw(_("The condition of tag {0} is not valid JSON.").format(frappe.bold(row.name)))
		rules.append({"tag": row.name, "condition": condition})
	return rules


def _overrides(raw: str | None) -> dict[str, Any]:
	if not raw:
		return {}
	try:
		value = json.loads(raw)
	except ValueError as e:
		frappe.throw(_("Engine config overrides are not valid JSON: {0}").format(str(e)))
	if not isinstance(value, dict):
		frappe.throw(_("Engine config overrides must be a JSON object."))
	return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
	"""``base`` with ``override`` merged in: dicts recursively, every other value replaced."""
	out = dict(base)
	for key, value in override.items():
		if isinstance(value, dict) and isinstance(out.get(key), dict):
			out[key] = deep_merge(out[key], value)
		else:
			out[key] = value
	return out

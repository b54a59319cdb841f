"""Lifecycle stages: acquisition -> conversion -> growth -> retention -> churn (and win-back).

Stages are an ordered list an admin may rename or extend; transitions are data: each
:class:`TransitionRule` says "from these stages (or any), when this condition holds over the metrics,
move to that stage, and say why with this template". Conditions use the language of
:mod:`crm_fishpond.engine.tags`.

Every run starts from each profile's current ``stage`` (missing or empty: ``initial_stage``). Rules are
tried in order and the first one that applies to the profile's current stage and whose condition holds
decides: if it names another stage the profile moves there with the rule's reason; if it names the
current stage the profile stays. A profile no rule matches stays where it is. A stage never changes
without a non-empty reason.

Default rules, in order (thresholds from :func:`default_rules`)::

	churn           any stage   orders >= 1, days_since_last >= 180, p_alive < 0.3
	churn_no_model  any stage   orders >= 1, days_since_last >= 365, p_alive not set (no churn model)
	win_back        churn       orders >= 1, days_since_last < 180 (bought again)          -> growth
	retention       acquisition, conversion, growth
	                            orders >= 3, or orders >= 2 and days_since_last <= 90
	growth          acquisition, conversion   orders >= 1 (first paid order)
	conversion      acquisition orders not >= 1 and (interactions >= 1 or engagement_points >= 10)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .tags import (
	Condition,
	condition_reason,
	evaluate_condition,
	parse_condition,
	render_template,
	rule_error,
	template_fields,
	validate_condition,
)

DEFAULT_STAGES = ("acquisition", "conversion", "growth", "retention", "churn")
# placeholders every reason template may use besides metric columns
TEMPLATE_EXTRAS = ("from_stage", "to_stage")


@dataclass(frozen=True)
class TransitionRule:
	"""Move profiles in ``from_stages`` (None = any stage) matching ``condition`` to ``to_stage``.

	``reason`` is a template over metric columns plus ``{from_stage}`` and ``{to_stage}``, e.g.
	``"no purchase for {days_since_last} days, p_alive {p_alive:.0%}"``.
	"""

	to_stage: str
	condition: Condition
	reason: str
	from_stages: tuple[str, ...] | None = None
	name: str = ""

	def __post_init__(self):
		object.__setattr__(self, "condition", parse_condition(self.condition))
		if self.from_stages is not None:
			object.__setattr__(self, "from_stages", tuple(self.from_stages))
		if not isinstance(self.reason, str) or not self.reason.strip():
			raise EngineConfigError(
				f"transition rule {self.name or self.to_stage!r} needs a reason", field="reason"
			)
		template_fields(self.reason)
		if not self.name:
			object.__setattr__(self, "name", self.to_stage)

	@classmethod
	def from_dict(cls, d: Mapping, path: str = "rule") -> TransitionRule:
		cu.require_mapping(d, path, "transition rule settings")
		cu.check_keys(d, ("name", "from_stages", "to_stage", "condition", "reason"), path)
		for k in ("to_stage", "condition", "reason"):
			if k not in d:
				raise EngineConfigError(f"{path} needs {k!r}", field=cu.join(path, k))
		to_stage = cu.text(d["to_stage"], cu.join(path, "to_stage"))
		reason = cu.text(d["reason"], cu.join(path, "reason"))
		template_fields(reason, cu.join(path, "reason"))
		from_stages = d.get("from_stages")
		if from_stages is not None:
			from_stages = tuple(cu.text_list(from_stages, cu.join(path, "from_stages"), allow_empty=False))
		name = cu.text(d.get("name") or to_stage, cu.join(path, "name"))
		cond = parse_condition(d["condition"], cu.join(path, "condition"))
		return cls(to_stage=to_stage, condition=cond, reason=reason, from_stages=from_stages, name=name)

	def to_dict(self) -> dict:
		return {
			"name": self.name,
			"from_stages": None if self.from_stages is None else list(self.from_stages),
			"to_stage": self.to_stage,
			"condition": self.condition.to_dict(),
			"reason": self.reason,
		}


def default_rules(
	*,
	stages: Sequence[str] = DEFAULT_STAGES,
	churn_days: float = 180,
	churn_p_alive: float = 0.3,
	churn_days_without_model: float = 365,
	repeat_orders: int = 3,
	recent_orders: int = 2,
	recent_days: float = 90,
	engaged_interactions: int = 1,
	engaged_points: float = 10,
) -> list[TransitionRule]:
	"""The default transitions over the five stages named in ``stages`` (in the order acquisition,
	conversion, growth, retention, churn, so renamed stages keep the default logic)."""
	if len(stages) < 5:
		raise EngineConfigError("default rules need five stages (acquisition .. churn)", field="stages")
	acq, conv, growth, ret, churn = stages[:5]
	bought = {"field": "orders", "op": ">=", "value": 1}
	return [
		TransitionRule(
			churn,
			{
				"all": [
					bought,
					{"field": "days_since_last", "op": ">=", "value": churn_days},
					{"field": "p_alive", "op": "<", "value": churn_p_alive},
				]
			},
			f"no purchase for {{days_since_last}} days (>= {churn_days:g}) and chance still active "
			f"{{p_alive:.0%}} (< {churn_p_alive:.0%})",
			None,
			"churn",
		),
		TransitionRule(
			churn,
			{
				"all": [
					bought,
					{"field": "days_since_last", "op": ">=", "value": churn_days_without_model},
					{"field": "p_alive", "op": "is_not_set"},
				]
			},
			f"no purchase for {{days_since_last}} days (>= {churn_days_without_model:g}; no churn model score)",
			None,
			"churn_no_model",
		),
		TransitionRule(
			growth,
			{"all": [bought, {"field": "days_since_last", "op": "<", "value": churn_days}]},
			"win-back: bought again on {last_purchase} after churning",
			(churn,),
			"win_back",
		),
		TransitionRule(
			ret,
			{
				"any": [
					{"field": "orders", "op": ">=", "value": repeat_orders},
					{
						"all": [
							{"field": "orders", "op": ">=", "value": recent_orders},
							{"field": "days_since_last", "op": "<=", "value": recent_days},
						]
					},
				]
			},
			"repeat customer: {orders} orders, the last {days_since_last} days ago",
			(acq, conv, growth),
			"retention",
		),
		TransitionRule(growth, bought, "first paid order on {first_purchase}", (acq, conv), "growth"),
		TransitionRule(
			conv,
			{
				"all": [
					{"not": bought},
					{
						"any": [
							{"field": "interactions", "op": ">=", "value": engaged_interactions},
							{"field": "engagement_points", "op": ">=", "value": engaged_points},
						]
					},
				]
			},
			"engaged without a purchase yet: {interactions} interactions, {engagement_points} engagement points",
			(acq,),
			"conversion",
		),
	]


_THRESHOLDS = (
	"churn_days",
	"churn_p_alive",
	"churn_days_without_model",
	"repeat_orders",
	"recent_orders",
	"recent_days",
	"engaged_interactions",
	"engaged_points",
)


@dataclass(frozen=True)
class StageConfig:
	"""Ordered stages and the transition rules between them."""

	stages: tuple[str, ...] = DEFAULT_STAGES
	rules: tuple[TransitionRule, ...] = field(default_factory=lambda: tuple(default_rules()))
	initial_stage: str = ""

	def __post_init__(self):
		stages = tuple(cu.text_list(list(self.stages), "stages", allow_empty=False))
		object.__setattr__(self, "stages", stages)
		object.__setattr__(self, "rules", tuple(self.rules))
		initial = self.initial_stage or stages[0]
		if initial not in stages:
			raise EngineConfigError(
				f"initial_stage {initial!r} is not one of the stages", field="initial_stage"
			)
		object.__setattr__(self, "initial_stage", initial)
		names: list[str] = []
		for i, r in enumerate(self.rules):
			if r.to_stage not in stages:
				raise EngineConfigError(
					f"rules[{i}] ({r.name}) moves to {r.to_stage!r}, which is not one of the stages: "
					f"{', '.join(stages)}",
					field=f"rules[{i}].to_stage",
				)
			for s in r.from_stages or ():
				if s not in stages:
					raise EngineConfigError(
						f"rules[{i}] ({r.name}) starts from {s!r}, which is not one of the stages",
						field=f"rules[{i}].from_stages",
					)
			if r.name in names:
				raise EngineConfigError(
					f"rules[{i}]: two rules are named {r.name!r}", field=f"rules[{i}].name"
				)
			names.append(r.name)

	@classmethod
	def from_dict(cls, d: Mapping | None) -> StageConfig:
		"""Keys: ``stages`` (list), ``initial_stage``, and either ``rules`` (list of rule dicts) or
		``thresholds`` (keyword arguments of :func:`default_rules`)."""
		d = d or {}
		cu.require_mapping(d, "", "stage settings")
		cu.check_keys(d, ("stages", "initial_stage", "rules", "thresholds"))
		stages = tuple(cu.text_list(d.get("stages", list(DEFAULT_STAGES)), "stages", allow_empty=False))
		if "rules" in d and "thresholds" in d:
			raise EngineConfigError(
				"give either rules or thresholds (for the default rules), not both", field="thresholds"
			)
		if "rules" in d:
			rules = tuple(
				TransitionRule.from_dict(r, f"rules[{i}]")
				for i, r in enumerate(cu.list_of(d["rules"], "rules"))
			)
		else:
			th = d.get("thresholds") or {}
			cu.require_mapping(th, "thresholds", "thresholds")
			cu.check_keys(th, _THRESHOLDS, "thresholds")
			kw: dict[str, Any] = {}
			for k, v in th.items():
				integer = k in ("repeat_orders", "recent_orders", "engaged_interactions")
				maximum = 1.0 if k == "churn_p_alive" else None
				kw[k] = cu.number(v, f"thresholds.{k}", minimum=0, maximum=maximum, integer=integer)
			if len(stages) < 5:
				raise EngineConfigError(
					"with fewer than five stages give your own rules (the default rules need five)",
					field="rules",
				)
			rules = tuple(default_rules(stages=stages, **kw))
		return cls(
			stages=stages,
			rules=rules,
			initial_stage=cu.text(d.get("initial_stage") or stages[0], "initial_stage"),
		)

	def to_dict(self) -> dict:
		return {
			"stages": list(self.stages),
			"initial_stage": self.initial_stage,
			"rules": [r.to_dict() for r in self.rules],
		}

	def validate(self, columns: Any) -> None:
		"""Check every rule's condition and reason placeholders against ``columns`` (a DataFrame, a
		mapping column -> dtype, or names)."""
		for i, r in enumerate(self.rules):
			_validate_rule(r, i, columns)


def _validate_rule(r: TransitionRule, i: int, columns: Any) -> None:
	names = set(columns.columns if isinstance(columns, pd.DataFrame) else columns) | set(TEMPLATE_EXTRAS)
	validate_condition(r.condition, columns, label=f"stage rule {r.name!r} (rules[{i}])")
	for p in template_fields(r.reason, f"rules[{i}].reason"):
		if p not in names:
			raise EngineConfigError(
				f"stage rule {r.name!r}: unknown placeholder {{{p}}} in its reason",
				field=f"rules[{i}].reason",
			)


def assign_stages(
	metrics: pd.DataFrame, config: StageConfig | None = None, *, errors: list[dict] | None = None
) -> pd.DataFrame:
	"""``stage``, ``previous_stage``, ``stage_changed`` and ``stage_reason`` for every row of
	``metrics`` (same index).

	Reads the current ``stage`` column (absent, missing or empty: ``initial_stage``; the profile is
	then reported as changed from ``""`` with a reason) and the fields of the rules (defaults:
	``orders``, ``days_since_last``, ``p_alive``, ``last_purchase``, ``first_purchase``,
	``interactions``, ``engagement_points``). ``stage_reason`` is empty when the stage stays.
	A current stage that is not in the config is kept unless a rule for any stage moves it.

	Without ``errors`` an invalid rule raises EngineConfigError before anything is assigned. With a
	list, a rule that fails (unknown field, wrong type, unknown placeholder) is skipped, as if it
	never matched, and reported as ``{"kind": "stage", "rule": <name>, "error": <message>}``.
	"""
	if not isinstance(metrics, pd.DataFrame):
		raise EngineInputError(f"metrics must be a pandas DataFrame, got {type(metrics).__name__}")
	config = config or StageConfig()
	if errors is None:
		config.validate(metrics)
	n = len(metrics)
	if "stage" in metrics.columns:
		# a few distinct stage names: clean each once
		codes, uniques = pd.factorize(metrics["stage"], use_na_sentinel=True)
		clean = np.array([*(str(u).strip() for u in uniques), ""], dtype=object)
		cur = clean[np.where(codes < 0, len(uniques), codes)]
	else:
		cur = np.full(n, "", dtype=object)
	previous = cur.copy()
	is_new = previous == ""
	current = previous.copy()
	current[is_new] = config.initial_stage  # one shared str, not a new one per row
	stage = current.copy()
	reason = np.full(n, "", dtype=object)
	decided = np.zeros(n, dtype=bool)
	for i, r in enumerate(config.rules):
		applies = ~decided
		if r.from_stages is not None:
			applies &= np.isin(current, np.array(r.from_stages, dtype=object))
		if not applies.any():
			continue
		try:
			if errors is not None:
				_validate_rule(r, i, metrics)
			hit = applies & evaluate_condition(metrics, r.condition).to_numpy(dtype=bool)
			move = hit & (current != r.to_stage)
			text = (
				render_template(
					metrics,
					r.reason,
					move,
					extra={"from_stage": current, "to_stage": np.where(move, r.to_stage, stage)},
					path=f"rule {r.name!r} reason",
				)
				if move.any()
				else None
			)
		except (EngineConfigError, EngineInputError) as e:
			if errors is None:
				raise
			errors.append(rule_error("stage", r.name, e))
			continue
		if not hit.any():
			continue
		decided |= hit
		if not move.any():
			continue
		stage[move] = r.to_stage
		blank = pd.Series(text, dtype=object).str.strip().eq("").to_numpy(dtype=bool)
		if blank.any():
			text[blank] = condition_reason(metrics.loc[move], r.condition, blank, prefix=f"{r.name}: ")
		reason[move] = text
	# new profiles no rule moved still enter the initial stage, and say so
	entered = is_new & (reason == "")
	reason[entered] = f"new in the pond: starts in {config.initial_stage}"
	changed = stage != previous
	if (changed & (reason == "")).any():  # pragma: no cover - every branch above sets a reason
		raise AssertionError("a stage changed without a reason")
	return pd.DataFrame(
		{
			"stage": stage,
			"previous_stage": previous,
			"stage_changed": changed.astype(bool),
			"stage_reason": reason,
		},
		index=metrics.index,
	)

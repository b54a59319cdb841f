"""Fish-pond categories: potential -> intention -> deal -> loyal.

* **loyal**: repeat buyer, recently (``orders >= loyal_min_orders`` and ``days_since_last <=
  loyal_max_days_since_last``), or a high-value repeat buyer (``value_grade`` in
  ``loyal_value_grades`` and ``orders >= loyal_value_min_orders``).
* **deal**: has bought (``orders >= deal_min_orders``).
* **intention**: engaged but has not bought: enough interactions, recent events or engagement points,
  or an open quotation/order/opportunity signal (``intention_signal_fields`` that the metrics carry).
* **potential**: everyone else (in the pond, no meaningful engagement, no purchase).

The thresholds become rules of the shared condition language (:mod:`crm_fishpond.engine.tags`);
admins may add ``extra_rules`` per category. Rules are tried loyal > deal > intention > potential,
each category's extra rules before its built-in ones, and the first match wins; ``category_reason``
names the rule and shows the values it read (``loyal (repeat): orders >= 3 and days_since_last <=
180 (orders=5, days_since_last=12)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .tags import (
	Condition,
	condition_fields,
	condition_reason,
	evaluate_condition,
	format_values,
	parse_condition,
	validate_condition,
)

CATEGORIES = ("loyal", "deal", "intention", "potential")
ENGAGEMENT_FIELDS = ("interactions", "events_30d", "engagement_points")


@dataclass(frozen=True)
class CategoryRule:
	"""An admin rule: profiles matching ``condition`` (and no earlier rule) get ``category``."""

	category: str
	name: str
	condition: Condition

	def __post_init__(self):
		if self.category not in CATEGORIES[:-1]:
			raise EngineConfigError(
				f"category rule {self.name!r}: category must be one of {', '.join(CATEGORIES[:-1])} "
				f"(potential is what is left), got {self.category!r}",
				field="category",
			)
		object.__setattr__(self, "condition", parse_condition(self.condition))

	@classmethod
	def from_dict(cls, d: Mapping, path: str = "rule") -> CategoryRule:
		cu.require_mapping(d, path, "category rule settings")
		cu.check_keys(d, ("category", "name", "condition"), path)
		for k in ("category", "name", "condition"):
			if k not in d:
				raise EngineConfigError(f"{path} needs {k!r}", field=cu.join(path, k))
		category = cu.text(d["category"], cu.join(path, "category")).lower()
		if category not in CATEGORIES[:-1]:
			raise EngineConfigError(
				f"{cu.join(path, 'category')}: must be one of {', '.join(CATEGORIES[:-1])}, got {d['category']!r}",
				field=cu.join(path, "category"),
			)
		name = cu.text(d["name"], cu.join(path, "name"))
		return cls(category, name, parse_condition(d["condition"], cu.join(path, "condition")))

	def to_dict(self) -> dict:
		return {"category": self.category, "name": self.name, "condition": self.condition.to_dict()}


@dataclass(frozen=True)
class CategoryConfig:
	"""Thresholds of the built-in category rules. A threshold of None (or 0 for the intention ones)
	switches that rule off."""

	loyal_min_orders: int | None = 3
	loyal_max_days_since_last: float | None = 180.0
	loyal_value_grades: tuple[str, ...] = ("high",)
	loyal_value_min_orders: int = 2
	deal_min_orders: int = 1
	intention_min_interactions: int = 2
	intention_min_events_30d: int = 3
	intention_min_engagement_points: float = 10.0
	intention_signal_fields: tuple[str, ...] = ("open_quotations", "open_orders", "open_opportunities")
	extra_rules: tuple[CategoryRule, ...] = ()

	KEYS = (
		"loyal_min_orders",
		"loyal_max_days_since_last",
		"loyal_value_grades",
		"loyal_value_min_orders",
		"deal_min_orders",
		"intention_min_interactions",
		"intention_min_events_30d",
		"intention_min_engagement_points",
		"intention_signal_fields",
		"extra_rules",
	)

	def __post_init__(self):
		object.__setattr__(self, "loyal_value_grades", tuple(self.loyal_value_grades))
		object.__setattr__(self, "intention_signal_fields", tuple(self.intention_signal_fields))
		object.__setattr__(self, "extra_rules", tuple(self.extra_rules))
		self._validate()

	def _validate(self) -> None:
		cu.number(self.loyal_min_orders, "loyal_min_orders", minimum=1, integer=True, allow_none=True)
		cu.number(self.loyal_max_days_since_last, "loyal_max_days_since_last", minimum=0, allow_none=True)
		cu.number(self.loyal_value_min_orders, "loyal_value_min_orders", minimum=1, integer=True)
		cu.number(self.deal_min_orders, "deal_min_orders", minimum=1, integer=True)
		for k in ("intention_min_interactions", "intention_min_events_30d"):
			cu.number(getattr(self, k), k, minimum=0, integer=True)
		cu.number(self.intention_min_engagement_points, "intention_min_engagement_points", minimum=0)
		if self.loyal_min_orders is not None and self.loyal_min_orders < self.deal_min_orders:
			raise EngineConfigError(
				f"loyal_min_orders ({self.loyal_min_orders}) must not be below deal_min_orders "
				f"({self.deal_min_orders})",
				field="loyal_min_orders",
			)
		cu.text_list(list(self.loyal_value_grades), "loyal_value_grades")
		cu.text_list(list(self.intention_signal_fields), "intention_signal_fields")
		names = [(r.category, r.name) for r in self.extra_rules]
		for i, key in enumerate(names):
			if key in names[:i]:
				raise EngineConfigError(
					f"extra_rules[{i}]: {key[0]} already has a rule named {key[1]!r}",
					field=f"extra_rules[{i}].name",
				)

	@classmethod
	def from_dict(cls, d: Mapping | None) -> CategoryConfig:
		d = d or {}
		cu.require_mapping(d, "", "category settings")
		cu.check_keys(d, cls.KEYS)
		kw: dict[str, Any] = {k: d[k] for k in cls.KEYS if k in d and k != "extra_rules"}
		for k in ("loyal_value_grades", "intention_signal_fields"):
			if k in kw:
				kw[k] = tuple(cu.text_list(kw[k], k))
		if "extra_rules" in d:
			kw["extra_rules"] = tuple(
				CategoryRule.from_dict(r, f"extra_rules[{i}]")
				for i, r in enumerate(cu.list_of(d["extra_rules"], "extra_rules"))
			)
		for k, v in kw.items():
			if k not in ("loyal_value_grades", "intention_signal_fields", "extra_rules") and not (
				v is None or cu.is_number(v)
			):
				raise EngineConfigError(f"{k} must be a number, got {v!r}", field=k)
		return cls(**kw)

	def to_dict(self) -> dict:
		d = {k: getattr(self, k) for k in self.KEYS}
		d["loyal_value_grades"] = list(self.loyal_value_grades)
		d["intention_signal_fields"] = list(self.intention_signal_fields)
		d["extra_rules"] = [r.to_dict() for r in self.extra_rules]
		return d

	def rules(self, columns: Any = None) -> list[CategoryRule]:
		"""Every rule in evaluation order. Signal rules are kept only for fields in ``columns``
		(all of them when ``columns`` is None)."""
		built: dict[str, list[CategoryRule]] = {c: [] for c in CATEGORIES[:-1]}
		if self.loyal_min_orders is not None:
			leaves: list[dict] = [{"field": "orders", "op": ">=", "value": self.loyal_min_orders}]
			if self.loyal_max_days_since_last is not None:
				leaves.append(
					{"field": "days_since_last", "op": "<=", "value": self.loyal_max_days_since_last}
				)
			built["loyal"].append(CategoryRule("loyal", "repeat", {"all": leaves}))
		if self.loyal_value_grades:
			built["loyal"].append(
				CategoryRule(
					"loyal",
					"high value",
					{
						"all": [
							{"field": "orders", "op": ">=", "value": self.loyal_value_min_orders},
							{"field": "value_grade", "op": "in", "value": list(self.loyal_value_grades)},
						]
					},
				)
			)
		built["deal"].append(
			CategoryRule("deal", "purchase", {"field": "orders", "op": ">=", "value": self.deal_min_orders})
		)
		for name, fld, threshold in (
			("interactions", "interactions", self.intention_min_interactions),
			("recent events", "events_30d", self.intention_min_events_30d),
			("engagement", "engagement_points", self.intention_min_engagement_points),
		):
			if threshold and threshold > 0:
				built["intention"].append(
					CategoryRule("intention", name, {"field": fld, "op": ">=", "value": threshold})
				)
		for fld in self.intention_signal_fields:
			if columns is None or fld in columns:
				built["intention"].append(
					CategoryRule("intention", fld.replace("_", " "), {"field": fld, "op": ">", "value": 0})
				)
		out: list[CategoryRule] = []
		for c in CATEGORIES[:-1]:
			out += [r for r in self.extra_rules if r.category == c] + built[c]
		return out


def categorise(metrics: pd.DataFrame, config: CategoryConfig | None = None) -> pd.DataFrame:
	"""``category`` and ``category_reason`` for every row of ``metrics`` (same index).

	Reads ``orders``, ``days_since_last`` and ``value_grade`` (rfm), ``interactions``,
	``events_30d`` and ``engagement_points`` (activity), the signal fields present, and the fields of
	any extra rules. Missing values never satisfy a threshold (a profile without purchases has
	``orders`` 0 or NaN and ``days_since_last`` NaN: it is never deal or loyal).
	"""
	if not isinstance(metrics, pd.DataFrame):
		raise EngineInputError(f"metrics must be a pandas DataFrame, got {type(metrics).__name__}")
	config = config or CategoryConfig()
	rules = config.rules(set(metrics.columns))
	extra = {id(r) for r in config.extra_rules}
	needed = {f for r in rules if id(r) not in extra for f in condition_fields(r.condition)}
	missing = sorted(f for f in needed if f not in metrics.columns and f != metrics.index.name)
	if missing:
		raise EngineInputError(f"metrics is missing column(s) the category rules read: {', '.join(missing)}")
	n = len(metrics)
	category = np.empty(n, dtype=object)
	category.fill(CATEGORIES[-1])  # one shared str (np.full would convert it into a new str per row)
	reason = np.full(n, "", dtype=object)
	decided = np.zeros(n, dtype=bool)
	for rule in rules:
		cond = validate_condition(rule.condition, metrics, label=f"category rule {rule.category}/{rule.name}")
		hit = evaluate_condition(metrics, cond).to_numpy(dtype=bool) & ~decided
		if hit.any():
			category[hit] = rule.category
			reason[hit] = condition_reason(metrics, cond, hit, prefix=f"{rule.category} ({rule.name}): ")
			decided |= hit
	rest = ~decided
	if rest.any():
		shown = [f for f in ("orders", *ENGAGEMENT_FIELDS) if f in metrics.columns]
		values = (" (" + format_values(metrics, shown, rest) + ")") if shown else ""
		reason[rest] = "potential: no purchase and no engagement above the intention thresholds" + values
	return pd.DataFrame({"category": category, "category_reason": reason}, index=metrics.index)

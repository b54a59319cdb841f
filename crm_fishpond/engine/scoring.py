"""Lead score 0-100 = fit + engagement + value, with a per-factor breakdown a rep can read.

* **fit** (default 30 points): BANT/CHAMP answers and profile attributes. Each :class:`FitFactor`
  maps a field's value to points (text answers through ``points``, numbers through ``ranges``); a
  factor's share of the fit part is its ``weight`` over the sum of weights, scaled by
  ``points / best possible points`` of that factor.
* **engagement** (default 40): the decayed, per-type capped activity points of
  :mod:`crm_fishpond.engine.activity`; ``engagement_full_points`` of them give the whole part.
* **value** (default 30): what the profile is already worth: its RFM scores (``r_score``,
  ``f_score``, ``m_score`` on a 1..``rfm_max_score`` scale), its ``value_grade`` and the percentile of
  its ``clv`` among profiles with a positive CLV, mixed by ``rfm_weight`` / ``grade_weight`` /
  ``clv_weight``. A value signal whose column the metrics frame lacks (e.g. no churn model yet) is
  left out and the remaining weights share the part.

All parts are monotonic: more or more recent activity never lowers the engagement part, better RFM
scores, grade or CLV never lower the value part, and each fit factor only depends on its own field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _configutil as cu
from .activity import OTHER, EngagementConfig, engagement_by_type, points_column
from .errors import EngineConfigError, EngineInputError
from .schema import require_columns

PARTS = ("fit", "engagement", "value")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ANSWER_SEP = re.compile(r"[\s\-_/]+")


def normalise_answer(value: Any) -> str:
	"""How text answers are matched: case-folded, runs of spaces/dashes/underscores/slashes as ``_``
	(``"Decision Maker"`` and ``decision_maker`` match; ``"1-3 Months"`` is ``1_3_months``)."""
	return _ANSWER_SEP.sub("_", str(value).strip().casefold()).strip("_")


# --------------------------------------------------------------------------------------------------
# fit factors


@dataclass(frozen=True)
class FitRange:
	"""Numeric range ``min <= value < max`` (either bound may be None = open) worth ``points``."""

	min: float | None
	max: float | None
	points: float

	def to_dict(self) -> dict:
		return {"min": self.min, "max": self.max, "points": self.points}

	def describe(self) -> str:
		if self.min is not None and self.max is not None:
			return f"{self.min:g} to under {self.max:g}"
		if self.min is not None:
			return f"{self.min:g} or more"
		return f"under {self.max:g}"


@dataclass(frozen=True)
class FitFactor:
	"""One fit question or attribute.

	``points`` maps text answers to points (matched by :func:`normalise_answer`); ``ranges`` maps
	numeric values (first matching range wins). Missing or unmatched values get ``default``.
	``weight`` is the factor's relative weight inside the fit part.
	"""

	field: str
	points: Mapping[str, float] = field(default_factory=dict)
	ranges: tuple[FitRange, ...] = ()
	weight: float = 1.0
	default: float = 0.0
	name: str = ""

	def __post_init__(self):
		if not self.name:
			object.__setattr__(self, "name", normalise_answer(self.field))
		object.__setattr__(
			self, "points", {normalise_answer(k): float(v) for k, v in dict(self.points).items()}
		)
		object.__setattr__(self, "ranges", tuple(self.ranges))
		if not _NAME.match(self.name):
			raise EngineConfigError(f"fit factor name {self.name!r} must match [a-z][a-z0-9_]*", field="name")
		cu.number(self.weight, f"fit factor {self.name!r} weight", minimum=0.0, exclusive_minimum=True)
		if self.best_points <= 0:
			raise EngineConfigError(f"fit factor {self.name!r} gives no points to any answer", field="points")

	@property
	def column(self) -> str:
		return f"f_{self.name}"

	@property
	def best_points(self) -> float:
		return max([self.default, *self.points.values(), *(r.points for r in self.ranges)])

	@classmethod
	def from_dict(cls, d: Mapping, path: str = "fit_factor") -> FitFactor:
		cu.require_mapping(d, path, "fit factor settings")
		cu.check_keys(d, ("field", "name", "weight", "points", "ranges", "default"), path)
		if "field" not in d:
			raise EngineConfigError(f"{path} needs a 'field'", field=cu.join(path, "field"))
		fld = cu.text(d["field"], cu.join(path, "field"))
		name = d.get("name") or normalise_answer(fld)
		name = cu.text(name, cu.join(path, "name"))
		if not _NAME.match(name):
			raise EngineConfigError(
				f"{cu.join(path, 'name')}: {name!r} must start with a letter and hold only a-z, 0-9 and _ "
				f"(it becomes the column f_{name})",
				field=cu.join(path, "name"),
			)
		weight = cu.number(d.get("weight", 1.0), cu.join(path, "weight"), minimum=0.0, exclusive_minimum=True)
		default = cu.number(d.get("default", 0.0), cu.join(path, "default"), minimum=0.0)
		raw_points = cu.points_map(d.get("points") or {}, cu.join(path, "points"), minimum=0.0)
		points: dict[str, float] = {}
		for k, v in raw_points.items():
			key = normalise_answer(k)
			if key in points:
				raise EngineConfigError(
					f"{cu.join(path, 'points')}: answers {k!r} and another one are the same after normalising "
					f"({key!r})",
					field=cu.join(cu.join(path, "points"), k),
				)
			points[key] = v
		ranges = []
		for i, r in enumerate(cu.list_of(d.get("ranges") or [], cu.join(path, "ranges"))):
			rp = cu.join(cu.join(path, "ranges"), i)
			cu.require_mapping(r, rp, "range settings")
			cu.check_keys(r, ("min", "max", "points"), rp)
			lo = cu.number(r.get("min"), cu.join(rp, "min"), allow_none=True)
			hi = cu.number(r.get("max"), cu.join(rp, "max"), allow_none=True)
			if lo is None and hi is None:
				raise EngineConfigError(f"{rp} needs a 'min', a 'max' or both", field=rp)
			if lo is not None and hi is not None and lo >= hi:
				raise EngineConfigError(
					f"{rp}: min {lo:g} must be below max {hi:g}", field=cu.join(rp, "min")
				)
			if "points" not in r:
				raise EngineConfigError(f"{rp} needs 'points'", field=cu.join(rp, "points"))
			ranges.append(FitRange(lo, hi, cu.number(r["points"], cu.join(rp, "points"), minimum=0.0)))
		if not points and not ranges:
			raise EngineConfigError(
				f"{path} ({fld!r}) needs 'points' (answer -> points) or 'ranges' (numeric ranges)",
				field=cu.join(path, "points"),
			)
		if max([default, *points.values(), *(r.points for r in ranges)]) <= 0:
			raise EngineConfigError(
				f"{path} ({fld!r}) gives no points to any answer; give at least one a positive value",
				field=cu.join(path, "points"),
			)
		return cls(field=fld, points=points, ranges=tuple(ranges), weight=weight, default=default, name=name)

	def to_dict(self) -> dict:
		d: dict[str, Any] = {
			"field": self.field,
			"name": self.name,
			"weight": self.weight,
			"default": self.default,
		}
		if self.points:
			d["points"] = dict(self.points)
		if self.ranges:
			d["ranges"] = [r.to_dict() for r in self.ranges]
		return d

	def raw_points(self, values: pd.Series) -> np.ndarray:
		"""Points of every value. A numeric column goes through the ranges as an array; any other
		column is scored once per distinct value (answers, or numbers typed as text)."""
		n = len(values)
		if n == 0:
			return np.zeros(0, dtype=float)
		if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
			num = values.to_numpy(dtype=float, na_value=np.nan)
			if self.points:  # numeric answers may still be listed ("1", "2"...): score distinct values
				codes, uniques = pd.factorize(num, use_na_sentinel=True)
				table = np.array([*(self.explain_value(u)[0] for u in uniques.tolist()), self.default])
				return table[np.where(codes >= 0, codes, len(uniques))]
			return self._ranges(num)
		codes, uniques = pd.factorize(values, use_na_sentinel=True)
		table = np.array(
			[*(self.explain_value(u)[0] for u in np.asarray(uniques, dtype=object).tolist()), self.default]
		)
		return table[np.where(codes >= 0, codes, len(uniques))]

	def _ranges(self, num: np.ndarray) -> np.ndarray:
		out = np.full(len(num), self.default, dtype=float)
		todo = np.isfinite(num)
		for r in self.ranges:
			hit = todo.copy()
			if r.min is not None:
				hit &= num >= r.min
			if r.max is not None:
				hit &= num < r.max
			out[hit] = r.points
			todo &= ~hit
		return out

	def explain_value(self, value: Any) -> tuple[float, str]:
		"""Points of one value and the rule that gave them (for :func:`explain`)."""
		if _missing(value):
			return self.default, "not answered"
		key = normalise_answer(int(value) if isinstance(value, float) and value.is_integer() else value)
		if key in self.points:
			return self.points[key], f"answer {value!s}"
		try:
			num = float(value)
		except (TypeError, ValueError):
			num = math.nan
		if math.isfinite(num):
			for r in self.ranges:
				if (r.min is None or num >= r.min) and (r.max is None or num < r.max):
					return r.points, f"{num:g} is {r.describe()}"
		return self.default, f"{value!s} is not a scored answer"


def _missing(value: Any) -> bool:
	if value is None:
		return True
	if isinstance(value, str):
		return not value.strip()
	try:
		return bool(pd.isna(value))
	except (TypeError, ValueError):
		return False


def default_fit_factors() -> list[FitFactor]:
	"""BANT defaults matching the Fishpond Lead fit fields. Budget ranges are in company currency."""
	return [
		FitFactor(
			"budget",
			points={"approved": 10, "allocated": 10, "planned": 6, "exploring": 3, "none": 0},
			ranges=(
				FitRange(50_000, None, 10),
				FitRange(10_000, 50_000, 7),
				FitRange(1_000, 10_000, 4),
				FitRange(0, 1_000, 1),
			),
			weight=3,
		),
		FitFactor(
			"authority",
			points={"decision_maker": 10, "economic_buyer": 10, "champion": 7, "influencer": 6, "user": 3},
			weight=2.5,
		),
		FitFactor("need", points={"critical": 10, "high": 8, "medium": 5, "low": 2, "none": 0}, weight=2.5),
		FitFactor(
			"timeline",
			points={
				"immediate": 10,
				"1_3_months": 8,
				"3_6_months": 6,
				"6_12_months": 3,
				"over_12_months": 1,
				"unknown": 0,
			},
			# or days until the expected purchase
			ranges=(
				FitRange(None, 30, 10),
				FitRange(30, 90, 8),
				FitRange(90, 180, 6),
				FitRange(180, 365, 3),
				FitRange(365, None, 1),
			),
			weight=2,
		),
	]


# --------------------------------------------------------------------------------------------------
# value


VALUE_COMPONENTS = ("rfm", "grade", "clv")
_VALUE_COLUMNS = {"rfm": ("r_score", "f_score", "m_score"), "grade": ("value_grade",), "clv": ("clv",)}


@dataclass(frozen=True)
class ValueConfig:
	"""How the value part mixes RFM scores, value grade and CLV percentile (weights are relative)."""

	rfm_weight: float = 0.5
	grade_weight: float = 0.2
	clv_weight: float = 0.3
	rfm_max_score: int = 5
	grade_points: Mapping[str, float] = field(default_factory=lambda: {"high": 1.0, "mid": 0.5, "low": 0.2})

	KEYS = ("rfm_weight", "grade_weight", "clv_weight", "rfm_max_score", "grade_points")

	@classmethod
	def from_dict(cls, d: Mapping | None, path: str = "value") -> ValueConfig:
		d = d or {}
		cu.require_mapping(d, path, "value settings")
		cu.check_keys(d, cls.KEYS, path)
		base = cls()
		kw: dict[str, Any] = {}
		for k in ("rfm_weight", "grade_weight", "clv_weight"):
			kw[k] = cu.number(d.get(k, getattr(base, k)), cu.join(path, k), minimum=0.0)
		if sum(kw.values()) <= 0:
			raise EngineConfigError(
				f"{path}: at least one of rfm_weight, grade_weight, clv_weight must be above 0",
				field=cu.join(path, "rfm_weight"),
			)
		kw["rfm_max_score"] = cu.number(
			d.get("rfm_max_score", base.rfm_max_score),
			cu.join(path, "rfm_max_score"),
			minimum=2,
			integer=True,
		)
		grade = cu.points_map(
			d.get("grade_points", base.grade_points), cu.join(path, "grade_points"), minimum=0.0
		)
		for g, v in grade.items():
			if v > 1:
				raise EngineConfigError(
					f"{path}.grade_points.{g} is a share of the value part, 0 to 1; got {v:g}",
					field=cu.join(cu.join(path, "grade_points"), g),
				)
		kw["grade_points"] = {normalise_answer(k): v for k, v in grade.items()}
		return cls(**kw)

	def to_dict(self) -> dict:
		return {
			"rfm_weight": self.rfm_weight,
			"grade_weight": self.grade_weight,
			"clv_weight": self.clv_weight,
			"rfm_max_score": self.rfm_max_score,
			"grade_points": dict(self.grade_points),
		}

	def weight(self, component: str) -> float:
		return float(getattr(self, f"{component}_weight"))


# --------------------------------------------------------------------------------------------------
# the score config


@dataclass(frozen=True)
class ScoreConfig:
	"""Weights of the three parts (sum 100), fit factors, engagement and value settings."""

	weights: Mapping[str, float] = field(
		default_factory=lambda: {"fit": 30.0, "engagement": 40.0, "value": 30.0}
	)
	fit_factors: tuple[FitFactor, ...] = field(default_factory=lambda: tuple(default_fit_factors()))
	engagement: EngagementConfig = field(default_factory=EngagementConfig)
	engagement_full_points: float = 60.0
	value: ValueConfig = field(default_factory=ValueConfig)

	KEYS = ("weights", "fit_factors", "engagement", "engagement_full_points", "value")

	def __post_init__(self):
		object.__setattr__(self, "fit_factors", tuple(self.fit_factors))
		_check_weights(self.weights, "weights")
		object.__setattr__(self, "weights", {p: float(self.weights[p]) for p in PARTS})
		names = [f.name for f in self.fit_factors]
		for i, n in enumerate(names):
			if n in names[:i]:
				raise EngineConfigError(
					f"fit_factors[{i}]: two factors are named {n!r}", field=f"fit_factors[{i}].name"
				)
		if self.weights["fit"] > 0 and not self.fit_factors:
			raise EngineConfigError(
				"weights.fit is above 0 but there are no fit_factors", field="fit_factors"
			)
		cu.number(self.engagement_full_points, "engagement_full_points", minimum=0.0, exclusive_minimum=True)

	@classmethod
	def from_dict(cls, d: Mapping | None) -> ScoreConfig:
		d = d or {}
		cu.require_mapping(d, "", "score settings")
		cu.check_keys(d, cls.KEYS)
		base = cls()
		weights = d.get("weights", base.weights)
		_check_weights(weights, "weights")
		if "fit_factors" in d:
			factors = tuple(
				FitFactor.from_dict(f, f"fit_factors[{i}]")
				for i, f in enumerate(cu.list_of(d["fit_factors"], "fit_factors"))
			)
		else:
			factors = base.fit_factors
		return cls(
			weights={p: float(weights[p]) for p in PARTS},
			fit_factors=factors,
			engagement=EngagementConfig.from_dict(d.get("engagement"), "engagement"),
			engagement_full_points=cu.number(
				d.get("engagement_full_points", base.engagement_full_points),
				"engagement_full_points",
				minimum=0.0,
				exclusive_minimum=True,
			),
			value=ValueConfig.from_dict(d.get("value"), "value"),
		)

	def to_dict(self) -> dict:
		return {
			"weights": dict(self.weights),
			"fit_factors": [f.to_dict() for f in self.fit_factors],
			"engagement": self.engagement.to_dict(),
			"engagement_full_points": self.engagement_full_points,
			"value": self.value.to_dict(),
		}

	def factor_max(self, factor: FitFactor) -> float:
		"""Score points a fit factor gives at its best answer."""
		total = sum(f.weight for f in self.fit_factors)
		return self.weights["fit"] * factor.weight / total if total else 0.0

	def validate_fields(self, columns: Sequence[str]) -> None:
		"""Raise EngineConfigError for a fit factor whose field is not among ``columns`` (for the
		settings form: at scoring time a missing column just scores ``default``)."""
		known = set(columns)
		for i, f in enumerate(self.fit_factors):
			if f.field not in known:
				raise EngineConfigError(
					f"fit factor {f.name!r}: unknown field {f.field!r}", field=f"fit_factors[{i}].field"
				)


def _check_weights(weights: Any, path: str) -> None:
	cu.require_mapping(weights, path, "part weights")
	cu.check_keys(weights, PARTS, path)
	for p in PARTS:
		if p not in weights:
			raise EngineConfigError(
				f"{path}.{p} is required (fit, engagement and value sum to 100)", field=f"{path}.{p}"
			)
		cu.number(weights[p], f"{path}.{p}", minimum=0.0, maximum=100.0)
	total = sum(float(weights[p]) for p in PARTS)
	if abs(total - 100.0) > 1e-6:
		raise EngineConfigError(
			f"{path}: fit + engagement + value must sum to 100, got {total:g} "
			f"({' + '.join(f'{float(weights[p]):g}' for p in PARTS)})",
			field=path,
		)


# --------------------------------------------------------------------------------------------------
# computing


def _engagement_columns(config: ScoreConfig) -> list[str]:
	return [points_column(k, t) for k, t in config.engagement.activity_types()]


def _value_parts(
	metrics: pd.DataFrame, config: ValueConfig, clv_reference: np.ndarray | None = None
) -> dict[str, np.ndarray]:
	"""Each available value component as a 0..1 share, aligned with ``metrics``.

	The CLV share is the share of positive CLVs at or below the profile's: among the frame's own, or,
	given ``clv_reference`` (the sorted positive CLVs of the population the models were fitted on),
	among those. Both count the same way (``rank(method="max", pct=True)`` is that count divided by
	the total), so a profile whose CLV is in the reference gets the same share either way."""
	n = len(metrics)
	out: dict[str, np.ndarray] = {}
	cols = set(metrics.columns)
	if config.rfm_weight > 0 and set(_VALUE_COLUMNS["rfm"]) <= cols:
		span = config.rfm_max_score - 1
		shares = [
			np.clip(
				(pd.to_numeric(metrics[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) - 1)
				/ span,
				0,
				1,
			)
			for c in _VALUE_COLUMNS["rfm"]
		]
		out["rfm"] = np.nan_to_num(np.mean(shares, axis=0), nan=0.0) if n else np.zeros(0)
	if config.grade_weight > 0 and "value_grade" in cols:
		codes, uniques = pd.factorize(metrics["value_grade"], use_na_sentinel=True)
		table = np.array(
			[config.grade_points.get(normalise_answer(u), 0.0) for u in uniques] + [0.0], dtype=float
		)
		grade = table[np.where(codes >= 0, codes, len(uniques))]
		if "orders" in cols:  # rfm grades non-buyers "low": a grade is only worth something after a purchase
			orders = pd.to_numeric(metrics["orders"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
			grade = np.where(orders > 0, grade, 0.0)
		out["grade"] = grade
	if config.clv_weight > 0 and "clv" in cols:
		clv = pd.to_numeric(metrics["clv"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
		positive = np.isfinite(clv) & (clv > 0)
		pct = np.zeros(n, dtype=float)
		if positive.any() and clv_reference is not None and len(clv_reference):
			at_or_below = np.searchsorted(clv_reference, clv[positive], side="right")
			pct[positive] = at_or_below / len(clv_reference)
		elif positive.any():
			# share of positive-CLV profiles at or below this one: monotonic in clv, top = 1
			pct[positive] = pd.Series(clv[positive]).rank(method="max", pct=True).to_numpy()
		out["clv"] = pct
	return out


def _given_engagement(engagement: pd.DataFrame, index: pd.Index, config: ScoreConfig) -> pd.DataFrame:
	"""A precomputed per-type points frame, checked and aligned with the profiles (absent = 0)."""
	if not isinstance(engagement, pd.DataFrame):
		raise EngineInputError(f"engagement must be a DataFrame, got {type(engagement).__name__}")
	expected = _engagement_columns(config)
	missing = [c for c in expected if c not in engagement.columns]
	if missing:
		raise EngineInputError(
			f"engagement lacks {', '.join(missing)}: compute it with the same engagement settings as the score"
		)
	if engagement.index.equals(index):  # the pipeline's case: reindexing would copy it once more
		return engagement[expected]
	return engagement[expected].reindex(index, fill_value=0.0)


def lead_score(
	profiles: pd.DataFrame,
	interactions: pd.DataFrame | None,
	events: pd.DataFrame | None,
	metrics: pd.DataFrame | None,
	config: ScoreConfig | None,
	as_of: Any,
	*,
	engagement: pd.DataFrame | None = None,
	clv_reference: np.ndarray | None = None,
) -> pd.DataFrame:
	"""Score every profile; a frame indexed by profile with ``lead_score`` (0-100, 1 dp),
	``score_fit``, ``score_engagement``, ``score_value`` and the breakdown columns
	``f_<factor>``, ``e_<interactions|events>_<type>`` and ``v_<rfm|grade|clv>`` (score points, 2 dp).

	Fit fields are read from ``profiles`` (or ``metrics`` when not in profiles); a missing field
	scores its factor's ``default``. Value reads ``r_score``, ``f_score``, ``m_score``,
	``value_grade`` (counted only when ``orders > 0``) and ``clv`` from ``metrics`` (indexed by
	profile).

	``engagement`` is the per-type points frame of :func:`~.activity.engagement_by_type` (or the second
	frame of :func:`~.activity.activity_and_engagement`), computed with ``config.engagement``; when
	given, ``interactions`` and ``events`` are not read again.

	``clv_reference``: sorted positive CLVs to rank ``clv`` against instead of the frame's own (the
	population of the fitted models, when scoring a part of the pond with them).
	"""
	config = config or ScoreConfig()
	require_columns(profiles, ("profile",), "profiles")
	ids = profiles["profile"]
	if ids.isna().any():
		raise EngineInputError("profiles has rows without a profile id")
	index = pd.Index(ids.to_numpy(dtype=object), dtype=object, name="profile")
	if index.has_duplicates:
		dup = index[index.duplicated()][0]
		raise EngineInputError(f"profiles lists profile {dup!r} more than once")
	if metrics is not None:
		if not isinstance(metrics, pd.DataFrame):
			raise EngineInputError(f"metrics must be a pandas DataFrame, got {type(metrics).__name__}")
		if "profile" in metrics.columns and metrics.index.name != "profile":
			metrics = metrics.set_index("profile")
		# only the columns the score reads: reindexing a wide metrics frame would copy all of it
		wanted = {c for cols in _VALUE_COLUMNS.values() for c in cols} | {"orders"}
		wanted |= {f.field for f in config.fit_factors if f.field not in profiles.columns}
		metrics = metrics[[c for c in metrics.columns if c in wanted]]
		if not metrics.index.equals(index):
			metrics = metrics.reindex(index)
	n = len(index)
	w = config.weights
	out: dict[str, np.ndarray] = {}

	# fit
	total_weight = sum(f.weight for f in config.fit_factors)
	fit = np.zeros(n)
	for f in config.fit_factors:
		if f.field in profiles.columns:
			values = profiles[f.field].reset_index(drop=True)
		elif metrics is not None and f.field in metrics.columns:
			values = metrics[f.field].reset_index(drop=True)
		else:
			values = pd.Series([None] * n, dtype=object)
		share = f.raw_points(values) / f.best_points
		pts = w["fit"] * f.weight / total_weight * share if total_weight else np.zeros(n)
		out[f.column] = pts
		fit += pts

	# engagement
	if engagement is None:
		by_type = engagement_by_type(interactions, events, as_of, config.engagement, index)
	else:
		by_type = _given_engagement(engagement, index, config)
	total = by_type.to_numpy(dtype=float).sum(axis=1) if n else np.zeros(0)
	scale = w["engagement"] / np.maximum(total, config.engagement_full_points)
	for col in by_type.columns:
		out["e_" + col] = by_type[col].to_numpy(dtype=float) * scale
	engagement = total * scale

	# value
	parts = _value_parts(metrics, config.value, clv_reference) if metrics is not None else {}
	weight_sum = sum(config.value.weight(c) for c in parts)
	value = np.zeros(n)
	for c in VALUE_COMPONENTS:
		pts = (
			w["value"] * config.value.weight(c) / weight_sum * parts[c]
			if c in parts and weight_sum
			else np.zeros(n)
		)
		out["v_" + c] = pts
		value += pts

	score = np.clip(fit + engagement + value, 0.0, 100.0)
	frame = pd.DataFrame(
		{
			"lead_score": np.round(score, 1),
			"score_fit": np.round(fit, 2),
			"score_engagement": np.round(engagement, 2),
			"score_value": np.round(value, 2),
			**{k: np.round(v, 2, out=v) for k, v in out.items()},  # each array is this call's own
		},
		index=index,
		copy=False,  # the frame stacks the columns into blocks anyway
	)
	return frame


# --------------------------------------------------------------------------------------------------
# explaining


def _num(row: Mapping, key: str) -> float:
	v = row.get(key) if hasattr(row, "get") else None
	try:
		v = float(v)
	except (TypeError, ValueError):
		return 0.0
	return v if math.isfinite(v) else 0.0


def explain(row: Mapping | pd.Series, config: ScoreConfig | None = None) -> list[dict[str, Any]]:
	"""Why a profile scored what it did: one dict per factor, largest contribution first.

	``row`` is one row of :func:`lead_score` (a Series or dict), ideally joined with the profile's
	fields and activity counts so values can be shown. Each dict has ``factor``, ``part``
	(fit/engagement/value), ``value`` (the answer, count or metric; None if not in the row),
	``points`` (score points), ``max_points`` and ``reason``. Engagement types that gave no points
	are left out.
	"""
	config = config or ScoreConfig()
	row = row.to_dict() if isinstance(row, pd.Series) else dict(row)
	items: list[dict[str, Any]] = []
	for f in config.fit_factors:
		value = row.get(f.field)
		raw, why = f.explain_value(value)
		max_pts = config.factor_max(f)
		pts = _num(row, f.column) if f.column in row else max_pts * raw / f.best_points
		if f.field not in row:
			raw, why = pts / max_pts * f.best_points if max_pts else 0.0, "answer not shown in this row"
		items.append(
			{
				"factor": f.name,
				"part": "fit",
				"value": None if _missing(value) else value,
				"points": round(pts, 2),
				"max_points": round(max_pts, 2),
				"reason": f"{f.field}: {why} -> {raw:g} of {f.best_points:g} points (weight {f.weight:g})",
			}
		)
	w_eng = config.weights["engagement"]
	for kind, t in config.engagement.activity_types():
		col = points_column(kind, t)
		pts = _num(row, "e_" + col)
		if pts <= 0:
			continue
		cap = config.engagement.cap(kind, t)
		count = row.get(col)
		label = f"{kind}s of other types" if t == OTHER else f"{t.replace('_', ' ')} {kind}s"
		counted = f" ({int(count)})" if count is not None and not _missing(count) else ""
		items.append(
			{
				"factor": col,
				"part": "engagement",
				"value": None if _missing(count) else count,
				"points": round(pts, 2),
				"max_points": round(
					w_eng * min(cap, config.engagement_full_points) / config.engagement_full_points, 2
				),
				"reason": (
					f"{label}{counted}: {config.engagement.base_points(kind, t):g} points each, halving every "
					f"{config.engagement.half_life_days:g} days, at most {cap:g} in all"
				),
			}
		)
	v = config.value
	weighted = [c for c in VALUE_COMPONENTS if v.weight(c) > 0]
	in_row = [c for c in weighted if any(k in row for k in _VALUE_COLUMNS[c])]
	# a bare lead_score row carries no metrics: then assume every weighted signal was available
	available = in_row or weighted
	weight_sum = sum(v.weight(c) for c in available)
	for c in VALUE_COMPONENTS:
		if v.weight(c) <= 0:
			continue
		max_pts = config.weights["value"] * v.weight(c) / weight_sum if c in available and weight_sum else 0.0
		pts = _num(row, "v_" + c)
		if c == "rfm":
			scores = [row.get(k) for k in _VALUE_COLUMNS["rfm"]]
			value = (
				None
				if all(_missing(s) for s in scores)
				else "/".join("-" if _missing(s) else f"{float(s):g}" for s in scores)
			)
			reason = (
				f"R/F/M scores {value} of {v.rfm_max_score}"
				if value
				else "no purchases scored yet (no RFM scores)"
			)
		elif c == "grade":
			value = None if _missing(row.get("value_grade")) else row.get("value_grade")
			reason = f"value grade {value}" if value else "no value grade yet"
		else:
			value = None if _missing(row.get("clv")) else row.get("clv")
			reason = (
				f"customer lifetime value {float(value):,.2f}, ranked against all profiles with a positive CLV"
				if value is not None
				else "no customer lifetime value yet"
			)
		if c not in available:
			reason = f"not scored: the metrics have no {', '.join(_VALUE_COLUMNS[c])}"
		elif c not in in_row:
			reason = f"from {', '.join(_VALUE_COLUMNS[c])} (not shown in this row)"
		items.append(
			{
				"factor": c,
				"part": "value",
				"value": value,
				"points": round(pts, 2),
				"max_points": round(max_pts, 2),
				"reason": reason,
			}
		)
	items.sort(key=lambda it: (-it["points"], -it["max_points"], it["factor"]))
	return items

"""Per-profile activity summary: counts, recency and decayed engagement points.

Interactions (emails, calls, meetings, visits, chats, notes) and behaviour events (page views,
downloads, form submits...) are turned into one row per profile. ``engagement_points`` is the sum over
activity types of ``min(cap[type], sum(base[type] * weight * 0.5 ** (age_days / half_life_days)))``:
every activity is worth its type's base points, halves every ``half_life_days``, and each type can
contribute at most its cap, so a thousand page views cannot outweigh a meeting. The lead score's
engagement part (:mod:`crm_fishpond.engine.scoring`) is built from the same per-type points.

Activity types not listed in the config are grouped as ``other`` (``default_points``, one shared
``default_cap``). Activity dated after ``as_of`` is ignored (a future meeting is not engagement yet).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .schema import EVENT_COLUMNS, INTERACTION_COLUMNS, require_columns

RECENT_DAYS = 30  # the window of interactions_30d / events_30d
OTHER = "other"

DEFAULT_INTERACTION_POINTS = {
	"email": 2.0,
	"call": 5.0,
	"meeting": 10.0,
	"visit": 12.0,
	"chat": 3.0,
	"note": 1.0,
}
DEFAULT_INTERACTION_CAPS = {
	"email": 12.0,
	"call": 20.0,
	"meeting": 30.0,
	"visit": 30.0,
	"chat": 12.0,
	"note": 3.0,
}
DEFAULT_EVENT_POINTS = {
	"page_view": 0.5,
	"email_open": 0.5,
	"email_click": 1.5,
	"pricing_view": 3.0,
	"download": 4.0,
	"webinar": 6.0,
	"form_submit": 8.0,
	"demo_request": 15.0,
	"trial_signup": 15.0,
}
DEFAULT_EVENT_CAPS = {
	"page_view": 5.0,
	"email_open": 3.0,
	"email_click": 6.0,
	"pricing_view": 12.0,
	"download": 12.0,
	"webinar": 12.0,
	"form_submit": 16.0,
	"demo_request": 30.0,
	"trial_signup": 30.0,
}

_SLUG = re.compile(r"[^0-9a-z]+")


def type_slug(value: str) -> str:
	"""Normalised activity type: lower case, runs of other characters as ``_`` (``Page View`` -> ``page_view``)."""
	return _SLUG.sub("_", str(value).strip().lower()).strip("_")


def _type_points(value: Any, path: str) -> dict[str, float]:
	raw = cu.points_map(value, path, minimum=0.0)
	out: dict[str, float] = {}
	for k, v in raw.items():
		slug = type_slug(k)
		if not slug or slug == OTHER:
			raise EngineConfigError(
				f"{path}: {k!r} is not a usable activity type (types not listed are grouped as 'other'; "
				f"set default_points for them)",
				field=cu.join(path, k),
			)
		if slug in out:
			raise EngineConfigError(f"{path}: {k!r} repeats type {slug!r}", field=cu.join(path, k))
		out[slug] = v
	return out


@dataclass(frozen=True)
class EngagementConfig:
	"""How activities become engagement points. All keys are optional in ``from_dict``.

	``interaction_points`` / ``event_points``: base points per activity type (event rows are also
	multiplied by their ``weight`` column when present). ``interaction_caps`` / ``event_caps``: the most
	decayed points one type may contribute (types without a cap use ``default_cap``).
	``half_life_days``: an activity is worth half as much after this many days.
	"""

	half_life_days: float = 30.0
	interaction_points: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERACTION_POINTS))
	event_points: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_POINTS))
	interaction_caps: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_INTERACTION_CAPS))
	event_caps: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_CAPS))
	default_points: float = 1.0
	default_cap: float = 5.0

	KEYS = (
		"half_life_days",
		"interaction_points",
		"event_points",
		"interaction_caps",
		"event_caps",
		"default_points",
		"default_cap",
	)

	def __post_init__(self):
		# normalise and validate, whether built in code or from a dict
		checked = self._validated({k: getattr(self, k) for k in self.KEYS}, "")
		for k, v in checked.items():
			object.__setattr__(self, k, v)

	@classmethod
	def _validated(cls, d: Mapping, path: str) -> dict[str, Any]:
		cu.require_mapping(d, path or "engagement", "engagement settings")
		cu.check_keys(d, cls.KEYS, path)
		defaults = cls.__dataclass_fields__
		out: dict[str, Any] = {}
		for k in cls.KEYS:
			f = defaults[k]
			v = d[k] if k in d else (f.default_factory() if callable(f.default_factory) else f.default)
			p = cu.join(path, k)
			if k == "half_life_days":
				out[k] = cu.number(v, p, minimum=0.0, exclusive_minimum=True)
			elif k in ("default_points",):
				out[k] = cu.number(v, p, minimum=0.0)
			elif k == "default_cap":
				out[k] = cu.number(v, p, minimum=0.0, exclusive_minimum=True)
			elif k.endswith("_points"):
				out[k] = _type_points(v, p)
			else:
				caps = _type_points(v, p)
				for t, c in caps.items():
					if c <= 0:
						raise EngineConfigError(
							f"{p}.{t} must be greater than 0 (to ignore a type set its points to 0)",
							field=cu.join(p, t),
						)
				out[k] = caps
		for kind in ("interaction", "event"):
			extra = set(out[f"{kind}_caps"]) - set(out[f"{kind}_points"])
			if extra:
				t = sorted(extra)[0]
				raise EngineConfigError(
					f"{cu.join(path, kind + '_caps')}.{t}: type {t!r} has a cap but no entry in {kind}_points",
					field=cu.join(cu.join(path, kind + "_caps"), t),
				)
		return out

	@classmethod
	def from_dict(cls, d: Mapping | None, path: str = "") -> EngagementConfig:
		return cls(**cls._validated(d or {}, path))

	def to_dict(self) -> dict[str, Any]:
		return {
			"half_life_days": self.half_life_days,
			"interaction_points": dict(self.interaction_points),
			"event_points": dict(self.event_points),
			"interaction_caps": dict(self.interaction_caps),
			"event_caps": dict(self.event_caps),
			"default_points": self.default_points,
			"default_cap": self.default_cap,
		}

	def activity_types(self) -> list[tuple[str, str]]:
		"""``(kind, type)`` pairs with their own points column, ``other`` last per kind."""
		out = [("interaction", t) for t in self.interaction_points] + [("interaction", OTHER)]
		return out + [("event", t) for t in self.event_points] + [("event", OTHER)]

	def base_points(self, kind: str, type_: str) -> float:
		table = self.interaction_points if kind == "interaction" else self.event_points
		return float(table.get(type_, self.default_points))

	def cap(self, kind: str, type_: str) -> float:
		table = self.interaction_caps if kind == "interaction" else self.event_caps
		return float(table.get(type_, self.default_cap))


def points_column(kind: str, type_: str) -> str:
	"""Name of the per-type count column: ``interactions_email``, ``events_page_view``."""
	return f"{kind}s_{type_}"


def _as_of(as_of: Any) -> pd.Timestamp:
	try:
		ts = pd.Timestamp(as_of)
	except (TypeError, ValueError):
		raise EngineInputError(f"as_of must be a date or datetime, got {as_of!r}")
	if pd.isna(ts):
		raise EngineInputError("as_of must be a date or datetime, got a missing value")
	return ts.tz_localize(None) if ts.tzinfo else ts


@dataclass
class _Activity:
	"""One kind of activity prepared for aggregation (rows up to as_of only)."""

	kind: str
	profile: np.ndarray  # object ids
	time: np.ndarray  # datetime64[ns]
	type_code: np.ndarray  # index into types
	types: list[str]  # configured types + "other"
	weight: np.ndarray  # float >= 0


def _prepare(
	frame: pd.DataFrame | None, kind: str, as_of: pd.Timestamp, config: EngagementConfig
) -> _Activity:
	table = config.interaction_points if kind == "interaction" else config.event_points
	types = [*table, OTHER]
	if frame is None:
		empty = np.empty(0)
		return _Activity(
			kind, empty.astype(object), empty.astype("datetime64[ns]"), empty.astype(np.int64), types, empty
		)
	name = "interactions" if kind == "interaction" else "events"
	require_columns(frame, INTERACTION_COLUMNS if kind == "interaction" else EVENT_COLUMNS, name)
	time = pd.to_datetime(frame["time"], errors="coerce")
	if getattr(time.dt, "tz", None) is not None:
		time = time.dt.tz_localize(None)
	time = time.to_numpy(dtype="datetime64[ns]")
	profile = frame["profile"].to_numpy(dtype=object)
	# rows without a profile drop out when profiles are located in the index (see _profile_index)
	keep = ~np.isnat(time) & (time <= np.datetime64(as_of, "ns"))
	# normalise the few distinct type values, not every row
	codes, uniques = pd.factorize(frame["type"], use_na_sentinel=True)
	slug = np.array([type_slug(u) for u in uniques], dtype=object)
	lookup = {t: i for i, t in enumerate(types)}
	unique_code = np.array([lookup.get(s, len(types) - 1) for s in slug], dtype=np.int64)
	type_code = np.append(unique_code, len(types) - 1)[np.where(codes >= 0, codes, len(unique_code))]
	if kind == "event" and "weight" in frame.columns:
		weight = pd.to_numeric(frame["weight"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
		weight = np.clip(np.nan_to_num(weight, nan=1.0, posinf=1.0, neginf=0.0), 0.0, None)
	else:
		weight = np.ones(len(frame), dtype=float)
	if keep.all():  # the usual case: nothing after as_of, no bad times
		return _Activity(kind, profile, time, type_code, types, weight)
	return _Activity(kind, profile[keep], time[keep], type_code[keep], types, weight[keep])


def _decayed(
	act: _Activity, as_of: pd.Timestamp, half_life_days: float, config: EngagementConfig
) -> np.ndarray:
	"""Decayed base points of each activity row: ``base * weight * 2 ** (-max(age, 0) / half_life)``,
	computed in place on two row-sized arrays (millions of rows: each temporary is tens of MB)."""
	decay = (np.datetime64(as_of, "ns") - act.time) / np.timedelta64(1, "D")  # age in days
	np.maximum(decay, 0.0, out=decay)
	np.negative(decay, out=decay)
	np.divide(decay, half_life_days, out=decay)
	np.exp2(decay, out=decay)
	base = np.array([config.base_points(act.kind, t) for t in act.types], dtype=float)
	points = base[act.type_code]
	np.multiply(points, act.weight, out=points)
	np.multiply(points, decay, out=points)
	return points


def engagement_by_type(
	interactions: pd.DataFrame | None,
	events: pd.DataFrame | None,
	as_of: Any,
	config: EngagementConfig | None = None,
	index: pd.Index | None = None,
) -> pd.DataFrame:
	"""Capped decayed points per profile (rows = ``index``, or every profile seen) and activity type.

	Columns are ``interactions_<type>`` / ``events_<type>`` for every configured type plus ``other``;
	the row sum is ``engagement_points``.
	"""
	config = config or EngagementConfig()
	as_of = _as_of(as_of)
	acts = [_prepare(interactions, "interaction", as_of, config), _prepare(events, "event", as_of, config)]
	index = _profile_index(acts, index)
	columns: dict[str, np.ndarray] = {}
	for act in acts:
		pcode, tcode, _time, pts = _located(act, index, as_of, config)
		_counts, capped = _type_matrices(act, pcode, tcode, pts, len(index), config)
		for j, t in enumerate(act.types):
			columns[points_column(act.kind, t)] = capped[j]
	return pd.DataFrame(columns, index=index)


def _located(
	act: _Activity, index: pd.Index, as_of: pd.Timestamp, config: EngagementConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
	"""Rows of ``act`` whose profile is in ``index``: (profile position, type code, time, points)."""
	pcode = index.get_indexer(act.profile)
	inside = pcode >= 0
	if inside.all():
		return pcode, act.type_code, act.time, _decayed(act, as_of, config.half_life_days, config)
	sub = _Activity(
		act.kind, act.profile[inside], act.time[inside], act.type_code[inside], act.types, act.weight[inside]
	)
	return pcode[inside], sub.type_code, sub.time, _decayed(sub, as_of, config.half_life_days, config)


def _type_matrices(
	act: _Activity, pcode: np.ndarray, tcode: np.ndarray, pts: np.ndarray, n: int, config: EngagementConfig
) -> tuple[np.ndarray, np.ndarray]:
	"""(count, capped points) per type x profile, as (n_types, n) arrays from one bincount each: row
	``j`` holds type ``j`` of every profile, contiguous, so a column of the result frames is a view."""
	nt = len(act.types)
	key = np.multiply(tcode, n, dtype=np.int64)
	np.add(key, pcode, out=key)
	counts = np.bincount(key, minlength=n * nt).reshape(nt, n)
	# (bincount gives integers for empty input, weights or not)
	sums = np.bincount(key, weights=pts, minlength=n * nt).astype(float, copy=False).reshape(nt, n)
	caps = np.array([config.cap(act.kind, t) for t in act.types], dtype=float)
	np.minimum(sums, caps[:, np.newaxis], out=sums)
	return counts, sums


def _profile_index(acts: list[_Activity], index: pd.Index | None) -> pd.Index:
	if index is not None:
		idx = pd.Index(index, dtype=object, name="profile")
		if idx.has_duplicates:
			raise EngineInputError("profiles must be unique; found duplicates in the profile index")
		return idx
	ids = np.concatenate([a.profile for a in acts]) if acts else np.empty(0, dtype=object)
	return pd.Index(pd.unique(ids), dtype=object, name="profile").dropna().sort_values()


def activity_summary(
	interactions: pd.DataFrame | None,
	events: pd.DataFrame | None,
	as_of: Any,
	config: EngagementConfig | None = None,
	profiles: pd.Index | pd.Series | list | None = None,
) -> pd.DataFrame:
	"""One row per profile (``profiles`` if given, else every profile with activity) with:

	``interactions``, ``last_interaction`` (NaT if none), ``days_since_interaction`` (whole days; NaN
	if none, like ``days_since_last``), ``interactions_30d``, ``events``, ``last_event``,
	``events_30d``, ``interactions_<type>`` / ``events_<type>`` counts for each configured type plus
	``other``, and ``engagement_points`` (decayed and capped per type, rounded to 2 decimals).
	"""
	return activity_and_engagement(interactions, events, as_of, config, profiles)[0]


def activity_and_engagement(
	interactions: pd.DataFrame | None,
	events: pd.DataFrame | None,
	as_of: Any,
	config: EngagementConfig | None = None,
	profiles: pd.Index | pd.Series | list | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
	""":func:`activity_summary` and :func:`engagement_by_type` from one pass over the activity.

	Locating millions of activity rows by profile is most of the cost of both; a pipeline that needs
	the summary and the lead score computes it once here and hands the second frame to
	:func:`~crm_fishpond.engine.scoring.lead_score` (``engagement=``).
	"""
	config = config or EngagementConfig()
	as_of = _as_of(as_of)
	acts = [_prepare(interactions, "interaction", as_of, config), _prepare(events, "event", as_of, config)]
	if isinstance(profiles, pd.DataFrame):
		require_columns(profiles, ("profile",), "profiles")
		profiles = profiles["profile"]
	index = _profile_index(acts, None if profiles is None else pd.Index(profiles))
	n = len(index)
	as_of_ns = np.datetime64(as_of, "ns")
	recent_from = as_of_ns - np.timedelta64(RECENT_DAYS, "D")
	out: dict[str, np.ndarray] = {}
	type_counts: dict[str, np.ndarray] = {}
	type_points: dict[str, np.ndarray] = {}
	for act in acts:
		plural = act.kind + "s"
		pcode, tcode, time, pts = _located(act, index, as_of, config)
		out[plural] = np.bincount(pcode, minlength=n).astype(np.int64)
		last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
		np.maximum.at(last, pcode, time.view(np.int64))
		last_dt = np.where(
			last == np.iinfo(np.int64).min, np.datetime64("NaT", "ns"), last.view("datetime64[ns]")
		)
		out[f"last_{act.kind}"] = last_dt.astype("datetime64[ns]")
		if act.kind == "interaction":
			last_day = last_dt.astype("datetime64[D]")
			missing = np.isnat(last_day)
			elapsed = np.datetime64(as_of.date(), "D") - np.where(
				missing, np.datetime64(as_of.date(), "D"), last_day
			)
			out["days_since_interaction"] = np.where(missing, np.nan, elapsed.astype(np.int64).astype(float))
		out[f"{plural}_30d"] = np.bincount(pcode[time > recent_from], minlength=n).astype(np.int64)
		counts, capped = _type_matrices(act, pcode, tcode, pts, n, config)
		del pcode, tcode, time, pts  # the next kind's rows need the room
		for j, t in enumerate(act.types):
			type_counts[points_column(act.kind, t)] = counts[j].astype(np.int64, copy=False)
			type_points[points_column(act.kind, t)] = capped[j]
		del counts, capped
	# copy=False: the frames stack the columns into their blocks anyway (copy=True copied each first)
	by_type = pd.DataFrame(type_points, index=index, copy=False)
	del type_points  # by_type holds a copy
	summary = pd.DataFrame(
		{
			"interactions": out["interactions"],
			"last_interaction": out["last_interaction"],
			"days_since_interaction": out["days_since_interaction"],
			"interactions_30d": out["interactions_30d"],
			"events": out["events"],
			"last_event": out["last_event"],
			"events_30d": out["events_30d"],
			**type_counts,
			"engagement_points": np.round(by_type.to_numpy().sum(axis=1) if n else np.zeros(0), 2),
		},
		index=index,
		copy=False,
	)
	return summary, by_type

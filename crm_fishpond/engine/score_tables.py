"""Scoring settings as table rows, the way a settings form holds them, and the engine dicts they make.

**Qualification.** A framework asks a fixed set of questions, each answered in one profile field:

========== ============================================= =====================================
framework  questions                                     profile fields read
========== ============================================= =====================================
BANT       budget, authority, need, timeline             the same
CHAMP      challenges, authority, money, priority        challenges, authority, budget, priority
========== ============================================= =====================================

(CHAMP's *money* is the budget answer.) An admin gives points per answer as rows
``(framework, question, answer, points)`` and a relative weight per question; only the chosen
framework's rows score. :func:`fit_factors` turns them into ``score.fit_factors``: one factor per
question that has rows and a weight above 0, in the framework's question order, named after the
question (so its breakdown column is ``f_<question>``). The defaults (:func:`default_answers`,
:func:`default_weights`) are BANT's :func:`~.scoring.default_fit_factors` and a CHAMP set of the
same shape.

**Engagement.** Rows ``(kind, type, points, cap)`` with kind ``interaction`` or ``event``;
:func:`engagement_settings` makes the ``engagement`` dict (a cap of 0 or none means the type has
no cap of its own and ``default_cap`` applies). :func:`default_engagement_rows` are the engine's
defaults.

:func:`unknown_setting` finds a misspelt key in an engine-config override before the engine does, with
the closest valid key, so a form can say which setting it meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from .activity import (
	DEFAULT_EVENT_CAPS,
	DEFAULT_EVENT_POINTS,
	DEFAULT_INTERACTION_CAPS,
	DEFAULT_INTERACTION_POINTS,
	type_slug,
)
from .config import SECTIONS, EngineConfig
from .scoring import PARTS, ValueConfig, default_fit_factors, normalise_answer

FRAMEWORKS: dict[str, tuple[str, ...]] = {
	"BANT": ("budget", "authority", "need", "timeline"),
	"CHAMP": ("challenges", "authority", "money", "priority"),
}
DEFAULT_FRAMEWORK = "BANT"
QUESTION_FIELDS: dict[str, str] = {
	"budget": "budget",
	"authority": "authority",
	"need": "need",
	"timeline": "timeline",
	"challenges": "challenges",
	"money": "budget",
	"priority": "priority",
}
"""Question -> the profile field holding its answer."""

KINDS = ("interaction", "event")


def _bant_defaults() -> tuple[dict[str, dict[str, float]], dict[str, float]]:
	factors = {f.name: f for f in default_fit_factors()}
	answers = {q: dict(factors[q].points) for q in FRAMEWORKS["BANT"]}
	weights = {q: float(factors[q].weight) for q in FRAMEWORKS["BANT"]}
	return answers, weights


def default_answers(framework: str) -> dict[str, dict[str, float]]:
	"""question -> {answer (normalised, see :func:`~.scoring.normalise_answer`): points}."""
	bant, _weights = _bant_defaults()
	if framework == "BANT":
		return bant
	if framework == "CHAMP":
		return {
			"challenges": {"critical": 10.0, "significant": 7.0, "moderate": 5.0, "minor": 2.0, "none": 0.0},
			"authority": dict(bant["authority"]),
			"money": dict(bant["budget"]),
			"priority": {"top_priority": 10.0, "high": 8.0, "medium": 5.0, "low": 2.0, "not_a_priority": 0.0},
		}
	raise KeyError(framework)


def default_weights(framework: str) -> dict[str, float]:
	"""question -> relative weight inside the fit part."""
	_answers, bant = _bant_defaults()
	if framework == "BANT":
		return bant
	if framework == "CHAMP":
		return {"challenges": 3.0, "authority": 2.5, "money": 2.5, "priority": 2.0}
	raise KeyError(framework)


def fit_factors(
	framework: str,
	rows: Iterable[tuple[str, str, str, float]],
	weights: Mapping[str, float],
) -> list[dict[str, Any]]:
	"""``score.fit_factors`` of ``framework`` from answer rows ``(framework, question, answer, points)``
	and question weights. Rows of other frameworks are ignored; a question without rows or with a
	weight of 0 (or none) is not scored. Frameworks and questions are matched case-insensitively."""
	framework = framework.upper()
	questions = FRAMEWORKS[framework]
	points: dict[str, dict[str, float]] = {q: {} for q in questions}
	for fw, question, answer, pts in rows:
		q = normalise_answer(question)
		if str(fw).upper() != framework or q not in points:
			continue
		points[q][str(answer)] = float(pts)
	out = []
	for q in questions:
		weight = float(weights.get(q) or 0.0)
		if not points[q] or weight <= 0:
			continue
		out.append({"field": QUESTION_FIELDS[q], "name": q, "weight": weight, "points": points[q]})
	return out


def default_engagement_rows(
	extra_events: Mapping[str, tuple[float, float]] | None = None,
) -> list[tuple[str, str, float, float]]:
	"""The engine's default ``(kind, type, points, cap)`` rows, then ``extra_events`` (type -> (points,
	cap)), e.g. a site's own event types."""
	rows = [("interaction", t, p, DEFAULT_INTERACTION_CAPS[t]) for t, p in DEFAULT_INTERACTION_POINTS.items()]
	rows += [("event", t, p, DEFAULT_EVENT_CAPS[t]) for t, p in DEFAULT_EVENT_POINTS.items()]
	rows += [("event", t, float(p), float(c)) for t, (p, c) in (extra_events or {}).items()]
	return rows


def engagement_settings(
	rows: Iterable[tuple[str, str, float, float | None]],
	*,
	half_life_days: float,
	default_points: float,
	default_cap: float,
) -> dict[str, Any]:
	"""The ``engagement`` dict from ``(kind, type, points, cap)`` rows; kind is ``interaction`` or
	``event`` (any case), types are slugged as the engine matches them (``Page View`` is ``page_view``).
	A cap of 0 or None leaves the type to ``default_cap``."""
	out: dict[str, Any] = {
		"half_life_days": float(half_life_days),
		"interaction_points": {},
		"interaction_caps": {},
		"event_points": {},
		"event_caps": {},
		"default_points": float(default_points),
		"default_cap": float(default_cap),
	}
	for kind, type_, pts, cap in rows:
		k = str(kind).strip().lower()
		slug = type_slug(type_)
		out[f"{k}_points"][slug] = float(pts)
		if cap:
			out[f"{k}_caps"][slug] = float(cap)
	return out


def _allowed_keys() -> dict[str, set[str]]:
	"""Dotted paths of the fixed-key mappings of an engine config -> their keys."""
	defaults = EngineConfig().to_dict()
	allowed = {"": set(SECTIONS)}
	for section, value in defaults.items():
		if isinstance(value, dict):
			allowed[section] = set(value)
	allowed["stages"].add("thresholds")  # accepted by StageConfig.from_dict, not written back
	allowed["score"].add("engagement")  # refused by EngineConfig.from_dict with its own explanation
	allowed["score.weights"] = set(PARTS)
	allowed["score.value"] = set(ValueConfig.KEYS)
	return allowed


def unknown_setting(data: Mapping[str, Any]) -> tuple[str, str | None] | None:
	"""The first key of ``data`` (an engine-config dict or override) that no engine setting has, as
	``(dotted path, closest valid key or None)``; None when every fixed key is known. Keys inside free
	mappings (activity types, segment names, answers) and lists (rules, factors) are the engine's to
	check."""
	allowed = _allowed_keys()

	def walk(value: Mapping[str, Any], path: str):
		keys = allowed.get(path)
		if keys is None:
			return None
		for key, sub in value.items():
			here = f"{path}.{key}" if path else str(key)
			if key not in keys:
				close = difflib.get_close_matches(str(key), sorted(keys), n=1, cutoff=0.6)
				return here, (close[0] if close else None)
			if isinstance(sub, Mapping):
				found = walk(sub, here)
				if found:
					return found
		return None

	return walk(data, "") if isinstance(data, Mapping) else None

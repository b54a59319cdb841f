"""One configuration object for the whole engine run.

:class:`EngineConfig` composes the config of every step of :func:`~.pipeline.run_pond`:

========== ==================================== =====================================================
key        class                                used by
========== ==================================== =====================================================
rfm        :class:`.rfm.RFMConfig`              RFM cut points, scores, segments and value grade
churn      :class:`.btyd.ChurnConfig`           BG/NBD + Gamma-Gamma: p_alive, churn risk, CLV
engagement :class:`.activity.EngagementConfig`  activity summary *and* the lead score's engagement
category   :class:`.category.CategoryConfig`    potential / intention / deal / loyal
score      :class:`.scoring.ScoreConfig`        lead score (fit, engagement, value)
stages     :class:`.lifecycle.StageConfig`      lifecycle stages and their transition rules
tags       list of :class:`.tags.TagRule`       admin tag rules
dedupe     :class:`.dedupe.DedupeConfig`        duplicate candidates
========== ==================================== =====================================================

The Frappe side builds the dict for :meth:`EngineConfig.from_dict` from Fishpond Settings and the rule
doctypes; every key is optional and missing keys take the defaults. Validation errors are
:class:`~.errors.EngineConfigError` whose ``field`` is the full dotted path of the bad setting
(``score.weights.fit``, ``tags[2].condition.all[0].op``), so the form can point at it.

``engagement`` exists once: the activity summary and the lead score read the same settings, so
``score.engagement`` is not accepted in the dict and is always replaced by the top-level one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import _configutil as cu
from .activity import EngagementConfig
from .btyd import ChurnConfig
from .category import CategoryConfig
from .dedupe import DedupeConfig
from .errors import EngineConfigError
from .lifecycle import StageConfig
from .rfm import RFMConfig
from .scoring import ScoreConfig
from .tags import TagRule

SECTIONS = ("rfm", "churn", "engagement", "category", "score", "stages", "tags", "dedupe")

T = TypeVar("T")


@dataclass(frozen=True)
class EngineConfig:
	"""Every setting of an engine run, with defaults for all of them."""

	rfm: RFMConfig = field(default_factory=RFMConfig)
	churn: ChurnConfig = field(default_factory=ChurnConfig)
	engagement: EngagementConfig = field(default_factory=EngagementConfig)
	category: CategoryConfig = field(default_factory=CategoryConfig)
	score: ScoreConfig = field(default_factory=ScoreConfig)
	stages: StageConfig = field(default_factory=StageConfig)
	tags: tuple[TagRule, ...] = ()
	dedupe: DedupeConfig = field(default_factory=DedupeConfig)

	def __post_init__(self):
		expected = {
			"rfm": RFMConfig,
			"churn": ChurnConfig,
			"engagement": EngagementConfig,
			"category": CategoryConfig,
			"score": ScoreConfig,
			"stages": StageConfig,
			"dedupe": DedupeConfig,
		}
		for name, cls in expected.items():
			value = getattr(self, name)
			if not isinstance(value, cls):
				raise EngineConfigError(
					f"{name} must be a {cls.__name__}, got {type(value).__name__} (use EngineConfig.from_dict "
					f"for plain dicts)",
					field=name,
				)
		tags = tuple(self.tags)
		for i, rule in enumerate(tags):
			if not isinstance(rule, TagRule):
				raise EngineConfigError(
					f"tags[{i}] must be a TagRule, got {type(rule).__name__}", field=f"tags[{i}]"
				)
		object.__setattr__(self, "tags", tags)
		if self.score.engagement != self.engagement:
			# one source of truth: the lead score's engagement part uses the top-level settings
			object.__setattr__(self, "score", dataclasses.replace(self.score, engagement=self.engagement))

	@classmethod
	def from_dict(cls, d: Mapping[str, Any] | None) -> EngineConfig:
		"""Build from plain data (JSON-able dicts and lists); every key is optional."""
		d = {} if d is None else d
		cu.require_mapping(d, "", "engine settings")
		cu.check_keys(d, SECTIONS)
		kw: dict[str, Any] = {}
		simple: dict[str, Callable[[Any], Any]] = {
			"rfm": RFMConfig.from_dict,
			"churn": ChurnConfig.from_dict,
			"engagement": EngagementConfig.from_dict,
			"category": CategoryConfig.from_dict,
			"stages": StageConfig.from_dict,
			"dedupe": DedupeConfig.from_dict,
		}
		for name, build in simple.items():
			if d.get(name) is not None:
				kw[name] = _section(name, build, d[name])
		if d.get("score") is not None:
			score = d["score"]
			cu.require_mapping(score, "score", "score settings")
			if "engagement" in score:
				raise EngineConfigError(
					"score.engagement is not a setting of its own: put engagement settings at the top level "
					"(key 'engagement'); the activity summary and the lead score share them",
					field="score.engagement",
				)
			kw["score"] = _section("score", ScoreConfig.from_dict, score)
		if d.get("tags") is not None:
			rules = cu.list_of(d["tags"], "tags")
			kw["tags"] = tuple(_tag_rule(r, i) for i, r in enumerate(rules))
			_check_unique_tags(kw["tags"])
		return cls(**kw)

	def to_dict(self) -> dict[str, Any]:
		"""Plain, JSON-able data; ``EngineConfig.from_dict(c.to_dict()) == c``."""
		score = self.score.to_dict()
		score.pop("engagement", None)
		return {
			"rfm": self.rfm.to_dict(),
			"churn": self.churn.to_dict(),
			"engagement": self.engagement.to_dict(),
			"category": self.category.to_dict(),
			"score": score,
			"stages": self.stages.to_dict(),
			"tags": [t.to_dict() for t in self.tags],
			"dedupe": self.dedupe.to_dict(),
		}

	def replace(self, **changes: Any) -> EngineConfig:
		"""A copy with some sections replaced (objects, not dicts)."""
		return dataclasses.replace(self, **changes)


def _prefixed(section: str, error: EngineConfigError) -> EngineConfigError:
	"""The same error with ``section`` in front of its field path and message."""
	inner = error.field
	if inner:
		path = f"{section}{inner}" if inner.startswith("[") else f"{section}.{inner}"
	else:
		path = section
	message = str(error)
	if inner and message.startswith(inner):
		message = f"{section}.{message}" if not inner.startswith("[") else f"{section}{message}"
	elif not message.startswith(section):
		message = f"{section}: {message}"
	return EngineConfigError(message, field=path)


def _section(name: str, build: Callable[[Any], T], value: Any) -> T:
	cu.require_mapping(value, name, f"{name} settings")
	try:
		return build(value)
	except EngineConfigError as e:
		raise _prefixed(name, e) from e


def _tag_rule(value: Any, i: int) -> TagRule:
	path = f"tags[{i}]"
	if isinstance(value, TagRule):
		return value
	cu.require_mapping(value, path, "tag rule settings")
	try:
		return TagRule.from_dict(value, path=path)
	except EngineConfigError as e:
		if e.field and e.field.startswith(path):
			raise
		raise _prefixed(path, e) from e


def _check_unique_tags(rules: Iterable[TagRule]) -> None:
	"""Several rules may give the same tag (the first match's reason wins); identical rules may not."""
	seen: dict[tuple, int] = {}
	for i, rule in enumerate(rules):
		key = (rule.tag, repr(rule.condition.to_dict()))
		if key in seen:
			raise EngineConfigError(
				f"tags[{i}] repeats tags[{seen[key]}] (same tag {rule.tag!r} and condition)",
				field=f"tags[{i}]",
			)
		seen[key] = i


def example_tag_rules() -> list[TagRule]:
	"""A small, sensible set of tag rules (used by the demo; admins define their own)."""
	rules = [
		{
			"tag": "VIP",
			"condition": {
				"all": [
					{"field": "value_grade", "op": "=", "value": "high"},
					{"field": "orders", "op": ">=", "value": 5},
				]
			},
			"reason": "high value grade with {orders} orders ({total_amount:,.0f} spent)",
		},
		{
			"tag": "At risk",
			"condition": {
				"all": [
					{"field": "orders", "op": ">=", "value": 2},
					{"field": "p_alive", "op": "<", "value": 0.5},
					{"field": "value_grade", "op": "in", "value": ["high", "mid"]},
				]
			},
			"reason": "valuable customer whose chance of still being active is {p_alive:.0%}",
		},
		{
			"tag": "Hot lead",
			"condition": {
				"all": [
					{"field": "orders", "op": "=", "value": 0},
					{"field": "lead_score", "op": ">=", "value": 60},
				]
			},
			"reason": "no purchase yet, lead score {lead_score}",
		},
		{
			"tag": "Asked for a demo",
			"condition": {"field": "events_demo_request", "op": ">=", "value": 1},
			"reason": "{events_demo_request} demo request(s)",
		},
		{
			"tag": "Gone quiet",
			"condition": {
				"all": [
					{"field": "orders", "op": "=", "value": 0},
					{"field": "days_since_interaction", "op": ">", "value": 180},
				]
			},
			"reason": "no purchase and no interaction for {days_since_interaction:.0f} days",
		},
		{
			"tag": "Big budget",
			"condition": {"field": "budget", "op": ">=", "value": 50000},
			"reason": "budget {budget:,.0f}",
		},
	]
	return [TagRule.from_dict(r, path=f"tags[{i}]") for i, r in enumerate(rules)]

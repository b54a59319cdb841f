"""EngineConfig from Desk: Fishpond Settings, Lifecycle Stage rules and Fishpond Tag rules.

Precedence, lowest first: the engine defaults, the Settings form (weights; the qualification
framework, its question weights and answer points; engagement points and caps per activity type,
half-life; churn thresholds; category thresholds; RFM bins, cut points and grade cut-offs: see
:mod:`crm_fishpond.scoring.settings_form`), the stages and tags defined in Desk, and last the JSON in
*Fishpond Settings → Engine config overrides* (deep-merged, so an admin can change one key). What the
form and the override make together is checked when Settings are saved (:func:`check_settings`).

Stage entry rules and tag conditions are stored as the admin wrote them, in the profile form's
vocabulary (labels and select options as shown, percents as percents), and translated to the
engine's here (:mod:`crm_fishpond.scoring.rules`). A rule that cannot be translated is left out of
the run and marked Failed on its record; the other rules and the run go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import frappe
from frappe import _
from frappe.utils import flt

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.lifecycle import DEFAULT_STAGES, TEMPLATE_EXTRAS, default_rules
from crm_fishpond.engine.score_tables import unknown_setting
from crm_fishpond.engine.vocabulary import Vocabulary
from crm_fishpond.scoring import rules, settings_form


@dataclass
class Setup:
	"""The engine config of a run and where its admin-defined rules came from.

	``used``: (engine kind, engine rule name) -> (doctype, record) of each Desk rule handed to the
	engine. ``left_out``: (doctype, record) -> translated error of each Desk rule that could not be
	translated; the run goes on without it (:func:`crm_fishpond.scoring.rules.record_status` marks it).
	"""

	config: EngineConfig
	used: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
	left_out: dict[tuple[str, str], str] = field(default_factory=dict)

	def record_status(self, engine_errors=()) -> int:
		return rules.record_status(self.used, self.left_out, engine_errors)


def engine_config() -> EngineConfig:
	"""The validated EngineConfig of this site; a bad setting throws naming the offending field."""
	return engine_setup().config


def engine_setup(stage_edits: dict[str, dict[str, Any]] | None = None, settings=None) -> Setup:
	"""The EngineConfig of this site with every Desk rule that can run; rules that cannot are left
	out (see :class:`Setup`) instead of stopping the run. A bad setting throws naming its field.
	``settings``: a Fishpond Settings document to use instead of the saved one (an unsaved form).
	``stage_edits``: stage name -> unsaved values of that Lifecycle Stage (``sequence``,
	``stage_key``, ``entry_condition``, ``entry_reason``), as a rule preview sees the stages."""
	settings = settings or frappe.get_cached_doc("Fishpond Settings")
	base = settings_dict(settings)
	vocab = rules.vocabulary(_validated(base))
	setup = Setup(EngineConfig())
	data = {
		**base,
		"stages": stage_settings(settings, vocab, setup, stage_edits),
		"tags": tag_rules(vocab, setup),
	}
	overrides = _overrides(settings.engine_config)
	stage_override = overrides.get("stages")
	if isinstance(stage_override, dict) and {"rules", "thresholds"} & set(stage_override):
		# the admin's own rules (or thresholds) replace the generated ones instead of mixing with them
		data["stages"] = {k: v for k, v in data["stages"].items() if k not in ("rules", "thresholds")}
		setup.used = {k: v for k, v in setup.used.items() if k[0] != "stage"}
	setup.config = _validated(deep_merge(data, overrides), overrides)
	return setup


def rule_vocabulary() -> Vocabulary:
	"""What rules may name and compare, for the rule forms (see :mod:`crm_fishpond.scoring.rules`)."""
	settings = frappe.get_cached_doc("Fishpond Settings")
	return rules.vocabulary(_validated(settings_dict(settings)))


def _validated(data: dict[str, Any], overrides: dict[str, Any] | None = None) -> EngineConfig:
	try:
		return EngineConfig.from_dict(data)
	except EngineConfigError as e:
		frappe.throw(settings_form.describe_error(e, overrides), title=_("Invalid scoring settings"))


def check_settings(settings) -> None:
	"""Throw a translated error naming the field, table row or override key when ``settings`` (a
	Fishpond Settings document, saved or not) would not make a valid engine config with the site's
	stages and tags: what would otherwise break the next rescore is refused on save."""
	settings_form.check(settings)
	overrides = _overrides(settings.engine_config)
	unknown = unknown_setting(overrides)
	if unknown:
		path, close = unknown
		label = frappe.bold(_("Engine Config Overrides (JSON)"))
		frappe.throw(
			_("{0}: there is no setting {1}; did you mean {2}?").format(
				label, frappe.bold(path), frappe.bold(close)
			)
			if close
			else _("{0}: there is no setting {1}.").format(label, frappe.bold(path)),
			title=_("Invalid scoring settings"),
		)
	rfm = overrides.get("rfm") if isinstance(overrides.get("rfm"), dict) else {}
	bins = rfm.get("bins", settings.get("rfm_bins"))
	if isinstance(bins, int) and bins > 5 and "segment_map" not in rfm:
		frappe.throw(
			_("The default RFM segments cover up to 5 bins: for {0} bins give {1} in {2}.").format(
				bins, frappe.bold("rfm.segment_map"), frappe.bold(_("Engine Config Overrides (JSON)"))
			),
			title=_("Invalid scoring settings"),
		)
	_validated(settings_dict(settings), overrides)
	engine_setup(settings=settings)


def config_dict() -> dict[str, Any]:
	"""The engine config of this site as plain data (Desk rules in the engine's vocabulary)."""
	return engine_setup().config.to_dict()


def settings_dict(settings=None) -> dict[str, Any]:
	"""Fishpond Settings' fields and tables and JSON overrides, without the Desk stages and tags."""
	settings = settings or frappe.get_cached_doc("Fishpond Settings")
	overrides = {k: v for k, v in _overrides(settings.engine_config).items() if k not in ("stages", "tags")}
	try:
		data = settings_form.engine_dict(settings)
	except EngineConfigError as e:
		frappe.throw(settings_form.describe_error(e), title=_("Invalid scoring settings"))
	return settings_form.follow_bins(deep_merge(data, overrides), overrides)


def stage_settings(
	settings, vocab: Vocabulary, setup: Setup, edits: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
	"""Stages in Desk order; the default transitions over the five keyed stages, with the churn
	thresholds of Settings; every stage's own entry rule (if any) tried before them. An entry rule
	that cannot be translated is left out and recorded in ``setup``. ``edits``: see
	:func:`engine_setup` (a stage not saved yet joins the list)."""
	stages = frappe.get_all(
		"Lifecycle Stage",
		fields=["name", "stage_key", "sequence", "entry_condition", "entry_reason"],
		order_by="sequence asc, name asc",
	)
	if edits:
		by_name = {s.name: s for s in stages}
		for name, values in edits.items():
			by_name.setdefault(name, frappe._dict(name=name)).update(values)
		stages = sorted(by_name.values(), key=lambda s: (s.get("sequence") or 0, s.name))
	if not stages:
		return {}
	names = [s.name for s in stages]
	by_key = {s.stage_key: s.name for s in stages if s.stage_key}
	custom = []
	for s in stages:
		if not s.entry_condition:
			continue
		rule_name = f"entry: {s.name}"
		try:
			condition = vocab.to_engine(json.loads(s.entry_condition))
			reason = vocab.template_to_engine(
				s.entry_reason or _("entered {0}").format(s.name), extras=TEMPLATE_EXTRAS
			)
		except (ValueError, EngineConfigError) as e:
			_leave_out(setup, (rules.STAGE, s.name), e)
			continue
		setup.used[("stage", rule_name)] = (rules.STAGE, s.name)
		custom.append({"name": rule_name, "to_stage": s.name, "condition": condition, "reason": reason})
	thresholds = {
		"churn_days": flt(settings.churn_inactive_days) or 180.0,
		"churn_p_alive": min(1.0, flt(settings.churn_p_alive_below) / 100.0),
	}
	if all(key in by_key for key in DEFAULT_STAGES):
		keyed = [by_key[k] for k in DEFAULT_STAGES]
		ordered = keyed + [n for n in names if n not in keyed]
		if not custom:
			return {"stages": ordered, "thresholds": thresholds}
		defaults = [r.to_dict() for r in default_rules(stages=keyed, **thresholds)]
		return {"stages": ordered, "rules": custom + defaults}
	# renamed keys or fewer than five stages: only the admin's entry rules move profiles
	return {"stages": names, "rules": custom}


def tag_rules(vocab: Vocabulary, setup: Setup) -> list[dict[str, Any]]:
	"""The enabled rule tags in the engine's vocabulary; one that cannot be translated is left out
	and recorded in ``setup``."""
	rows = frappe.get_all(
		"Fishpond Tag",
		filters={"tag_type": "Rule", "enabled": 1},
		fields=["name", "condition"],
		order_by="name asc",
	)
	out = []
	for row in rows:
		if not row.condition:
			continue
		try:
			condition = vocab.to_engine(json.loads(row.condition))
		except (ValueError, EngineConfigError) as e:
			_leave_out(setup, (rules.TAG, row.name), e)
			continue
		setup.used[("tag", row.name)] = (rules.TAG, row.name)
		out.append({"tag": row.name, "condition": condition})
	return out


def _leave_out(setup: Setup, rule: tuple[str, str], error: Exception) -> None:
	"""Record why a rule cannot be translated for the engine; the run skips it."""
	setup.left_out[rule] = (
		rules.error_text(error)
		if isinstance(error, EngineConfigError)
		else _("not valid JSON: {0}").format(error)
	)


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

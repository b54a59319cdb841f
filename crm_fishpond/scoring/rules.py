"""Tag and stage rules between Desk and the engine: one vocabulary, checked on save, isolated at run time.

Admins write a rule while looking at the profile form, so rules use the form's vocabulary
(:mod:`crm_fishpond.engine.vocabulary`): fields by name or label, select options as the form shows
them (any case), percents as percents. This module

* builds that vocabulary from the Fishpond Lead form and the columns the engine computes;
* checks a rule when it is saved (Fishpond Tag, Lifecycle Stage) and throws a translated error that
  names the field;
* records after a run which rules ran and which failed (``rule_status``, ``rule_error`` on the rule),
  so one bad rule is skipped and shown on its own form instead of stopping every rescore.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import frappe
from frappe import _

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.filters import condition_to_filters, filters_to_condition
from crm_fishpond.engine.lifecycle import TEMPLATE_EXTRAS
from crm_fishpond.engine.vocabulary import RuleError, Vocabulary, metric_kinds
from crm_fishpond.scoring.loader import PROFILE_FIELDS, profile_columns

PROFILE = "Fishpond Lead"
TAG = "Fishpond Tag"
STAGE = "Lifecycle Stage"
PLAN = "Fishpond Follow-up Plan"  # a plan's crowd is a rule too (crm_fishpond.nurture.crowd)
FACTS = "Fishpond Profile Facts"
OK = "OK"
FAILED = "Failed"


def vocabulary(base: EngineConfig | None = None) -> Vocabulary:
	"""The fields and values rules may use: the Fishpond Lead form's, plus every column the engine
	computes under ``base`` (its activity types and fit factors decide some of them)."""
	meta = frappe.get_meta(PROFILE)
	form = [
		{"fieldname": df.fieldname, "label": df.label, "fieldtype": df.fieldtype, "options": df.options}
		for df in meta.fields
	]
	kinds = {**dict.fromkeys(profile_columns(), "any"), **metric_kinds(base or EngineConfig())}
	renames = {lead: engine for engine, lead in PROFILE_FIELDS.items() if lead != engine}
	return Vocabulary.from_form(form, kinds, renames)


# --------------------------------------------------------------------------------------------------
# checking on save


def parse_json(raw: str | None) -> Any:
	"""The rule's JSON; throws a translated error when it is not JSON."""
	try:
		return json.loads(raw or "")
	except ValueError as e:
		frappe.throw(_("The rule is not valid JSON: {0}").format(str(e)), title=_("Invalid rule"))


def check_condition(vocab: Vocabulary, raw: str | None, what: str) -> dict:
	"""The engine form of a stored condition; throws ``what`` + the translated reason when it has none."""
	condition = parse_json(raw)
	try:
		return vocab.to_engine(condition)
	except EngineConfigError as e:
		frappe.throw(_("{0} is invalid: {1}").format(what, error_text(e)), title=_("Invalid rule"))


def check_template(vocab: Vocabulary, template: str, what: str) -> str:
	"""The engine form of a reason template (placeholders may use form names)."""
	try:
		return vocab.template_to_engine(template, extras=TEMPLATE_EXTRAS)
	except EngineConfigError as e:
		frappe.throw(_("{0} is invalid: {1}").format(what, error_text(e)), title=_("Invalid rule"))


def _field(params: Mapping[str, Any]) -> str:
	"""The field as the form shows it (translated label), with the name the rule used."""
	label = params.get("label")
	name = params.get("name")
	if label and name and str(name) != label:
		return frappe.bold(f"{_(label)} ({name})")
	return frappe.bold(_(label) if label else str(name or ""))


def error_text(e: Exception) -> str:
	"""A rule error in the user's language, naming the field."""
	if not isinstance(e, RuleError):
		return _("the engine could not run it: {0}").format(str(e))
	p = e.params
	f = _field(p)
	op = frappe.bold(str(p.get("op") or ""))
	value = frappe.bold(json.dumps(p.get("value"), ensure_ascii=False, default=str))
	texts = {
		"not_object": lambda: _("a condition must be a JSON object like {0}").format(
			'{"field": "days_since_last", "op": ">", "value": 90}'
		),
		"bad_key": lambda: _(
			"unknown key {0}; a condition has field, op and value, or one of all, any, not"
		).format(frappe.bold(str(p.get("name")))),
		"empty_group": lambda: _("{0} needs a non-empty list of conditions").format(frappe.bold(p["path"])),
		"no_field": lambda: _("every condition needs a field ({0})").format(p["path"]),
		"unknown_field": lambda: (
			_("unknown field {0}; did you mean {1}?").format(
				frappe.bold(str(p.get("name"))), frappe.bold(_(p["suggestion"]))
			)
			if p.get("suggestion")
			else _("unknown field {0}").format(frappe.bold(str(p.get("name"))))
		),
		"not_readable": lambda: _("field {0} is on the profile form, but rules cannot read it").format(f),
		"bad_op": lambda: _("unknown operator {0} on field {1}; use one of: {2}").format(
			frappe.bold(str(p.get("op"))), f, p.get("options")
		),
		"needs_value": lambda: _("operator {0} on field {1} needs a value").format(op, f),
		"no_value": lambda: _("operator {0} on field {1} takes no value").format(op, f),
		"needs_list": lambda: _("operator {0} on field {1} needs a list of values").format(op, f),
		"bad_range": lambda: _("operator {0} on field {1} needs [low, high] with low not above high").format(
			op, f
		),
		"op_needs_number": lambda: _(
			"operator {0} needs a number or date field, but field {1} is not one"
		).format(op, f),
		"op_needs_text": lambda: _("operator {0} needs a text field, but field {1} is not one").format(op, f),
		"bad_option": lambda: _("{0} is not an option of field {1}; use one of: {2}").format(
			value, f, ", ".join(_(o) for o in str(p.get("options") or "").split(", ") if o)
		),
		"needs_number": lambda: _("field {0} holds numbers, but the rule compares it with {1}").format(
			f, value
		),
		"needs_date": lambda: _(
			"field {0} holds dates, but the rule compares it with {1} (use YYYY-MM-DD)"
		).format(f, value),
		"needs_bool": lambda: _(
			"field {0} is yes/no, but the rule compares it with {1} (use true or false)"
		).format(f, value),
		"needs_text": lambda: _("field {0} holds text, but the rule compares it with {1}").format(f, value),
		"percent_range": lambda: _("field {0} is a percent from 0 to 100, but the rule uses {1}").format(
			f, value
		),
		"bad_filter_row": lambda: _("filter row {0} is not [doctype, field, operator, value]").format(
			p["path"]
		),
		"bad_match": lambda: _("match must be All or Any, not {0}").format(value),
		"bad_is": lambda: _("operator {0} on field {1} takes Set or Not Set").format(frappe.bold("is"), f),
		"like_pattern": lambda: _(
			"field {0}: the pattern {1} is not supported; use Like with text (contains) or text% (starts with)"
		).format(f, value),
	}
	text = texts.get(e.code)
	return text() if text else _("at {0}: {1}").format(p.get("path"), p.get("detail") or str(e))


# --------------------------------------------------------------------------------------------------
# rules built by clicking (Frappe's filter UI over Fishpond Profile Facts)


def facts_fieldtypes() -> dict[str, str]:
	"""Field name -> Frappe field type of every field the rule builder offers."""
	return {
		df.fieldname: df.fieldtype
		for df in frappe.get_meta(FACTS).fields
		if df.fieldtype not in ("Section Break", "Column Break", "Tab Break")
	}


def facts_names(vocab: Vocabulary, condition: Any) -> dict[str, str]:
	"""Each field ``condition`` names (label, form name or engine column) -> the rule builder's
	field for it; fields the builder does not offer are left out."""
	offered = facts_fieldtypes()
	out: dict[str, str] = {}
	for name in _named_fields(condition):
		try:
			f = vocab.resolve(name)
		except EngineConfigError:
			continue
		for candidate in (f.fieldname, f.column):
			if candidate and candidate in offered:
				out[name] = candidate
				break
	return out


def _named_fields(node: Any) -> list[str]:
	if isinstance(node, Mapping):
		if isinstance(node.get("field"), str):
			return [node["field"]]
		return [n for value in node.values() for n in _named_fields(value)]
	if isinstance(node, list):
		return [n for item in node for n in _named_fields(item)]
	return []


def sync_builder(doc, condition_field: str, what: str, vocab: Vocabulary) -> None:
	"""Keep a rule form's two views in step before it is checked.

	The builder is the source when its rows (``rule_filters``) or match (``rule_match``) changed, or
	the JSON did not: its rows are compiled into the JSON condition. Otherwise the JSON is the source
	(edited as JSON, or written by an API client or a data import): it is shown in the builder when
	the filter UI can show it (one all/any group of comparisons), else the form stays in JSON mode
	(``advanced_rule``)."""
	filters = parse_json(doc.rule_filters) if doc.rule_filters else None
	builder_changed = doc.has_value_changed("rule_filters") or doc.has_value_changed("rule_match")
	if not doc.advanced_rule and filters and (builder_changed or not doc.has_value_changed(condition_field)):
		doc.set(condition_field, compiled(doc, what))
		return
	show_in_builder(doc, condition_field, vocab)


def compiled(doc, what: str) -> str | None:
	"""The JSON condition the builder's rows and match mean; throws a translated error naming
	``what`` for a row the engine cannot evaluate."""
	filters = parse_json(doc.rule_filters) if doc.rule_filters else None
	if not filters:
		return None
	try:
		condition = filters_to_condition(filters, (doc.rule_match or "All").lower(), facts_fieldtypes())
	except EngineConfigError as e:
		frappe.throw(_("{0} is invalid: {1}").format(what, error_text(e)), title=_("Invalid rule"))
	return json.dumps(condition, ensure_ascii=False)


def show_in_builder(doc, condition_field: str, vocab: Vocabulary) -> bool:
	"""Set the builder's rows from the JSON condition; False (and JSON mode) when the filter UI
	cannot show it. Invalid JSON is left to the check that follows."""
	raw = doc.get(condition_field)
	if not raw:
		doc.rule_filters = None
		return True
	try:
		condition = json.loads(raw)
	except ValueError:
		return False
	shown = condition_to_filters(condition, FACTS, facts_names(vocab, condition))
	if shown is None:
		doc.rule_filters = None
		doc.advanced_rule = 1
		return False
	doc.rule_match = shown[0].title()
	doc.rule_filters = json.dumps(shown[1], ensure_ascii=False)
	return True


# --------------------------------------------------------------------------------------------------
# status after a run


def record_status(
	used: Mapping[tuple[str, str], tuple[str, str]],
	left_out: Mapping[tuple[str, str], str],
	engine_errors: Iterable[Mapping[str, str]] = (),
) -> int:
	"""Mark each rule OK or Failed (with its error) after a run; returns the records changed.

	``used``: (engine kind, engine rule name) -> (doctype, record) of every rule handed to the engine.
	``left_out``: (doctype, record) -> translated error of the rules that could not be translated.
	``engine_errors``: the run's ``rule_errors`` (rules the engine skipped).
	"""
	status: dict[tuple[str, str], tuple[str, str]] = {key: (OK, "") for key in used.values()}
	for key, error in left_out.items():
		status[key] = (FAILED, error)
	for e in engine_errors:
		key = used.get((e.get("kind"), e.get("rule")))
		if key:
			status[key] = (FAILED, error_text(EngineConfigError(e.get("error") or "")))
	changed = 0
	for doctype in (TAG, STAGE):
		names = [name for (dt, name) in status if dt == doctype]
		if not names:
			continue
		stored = frappe.get_all(
			doctype, filters={"name": ("in", names)}, fields=["name", "rule_status", "rule_error"]
		)
		for row in stored:
			new = status[(doctype, row.name)]
			if (row.rule_status or "", row.rule_error or "") != new:
				frappe.db.set_value(
					doctype, row.name, {"rule_status": new[0], "rule_error": new[1]}, update_modified=False
				)
				changed += 1
	return changed

"""One vocabulary from the profile form to the engine, for the rules admins write.

Admins write tag and stage rules while looking at the profile form, so a rule names fields and values
the way the form shows them; the engine computes with its own columns and values. This module
translates one into the other, and refuses on save whatever it cannot translate:

* a field is named by its engine column (``days_since_last``), by the form's field name
  (``email_id`` is the engine's ``email``) or by the label the form shows (``"Churn Risk"``), in any
  case;
* a select field takes its options as the form shows them, in any case (``"High"``, ``"high"`` and
  ``"HIGH"`` are the engine's ``high`` value grade); a value that is not an option is an error that
  lists the options;
* a percent field takes percents: ``churn_risk >= 70`` means 70 %, the engine's 0.7 (see
  :data:`PERCENT_COLUMNS`);
* an unknown field, a field the rules cannot read, an operator that does not fit the field or a value
  of the wrong kind raises :class:`RuleError`, whose ``code`` and ``params`` let the site word the
  message in the user's language and whose ``name`` is the field the rule wrote.

:data:`DISPLAY_OPTIONS` is also how the site stores the engine's values on the form (the writer shows
``high`` as ``High``), so the form and the rules share one vocabulary.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError
from .tags import ANY, BOOL, DATE, NUMBER, TEXT, _as_date, column_kind, normalise_operator, validate_condition

DISPLAY_OPTIONS: dict[str, dict[str, str]] = {
	"value_grade": {"high": "High", "mid": "Mid", "low": "Low"},
	"churn_band": {"low": "Low", "medium": "Medium", "high": "High"},
	"category": {"potential": "Potential", "intention": "Intention", "deal": "Deal", "loyal": "Loyal"},
	"churn_method": {"bgnbd": "BG/NBD", "recency": "Recency rule"},
}
"""Engine value -> the option the profile form shows, for the engine's own select columns."""

PERCENT_COLUMNS = ("churn_risk",)
"""Engine columns that hold a fraction (0-1) which the form shows, and rules write, as a percent."""

FIELDTYPE_KINDS = {
	"Int": NUMBER,
	"Float": NUMBER,
	"Currency": NUMBER,
	"Percent": NUMBER,
	"Rating": NUMBER,
	"Duration": NUMBER,
	"Check": BOOL,
	"Date": DATE,
	"Datetime": DATE,
	"Data": TEXT,
	"Link": TEXT,
	"Dynamic Link": TEXT,
	"Select": TEXT,
	"Autocomplete": TEXT,
	"Small Text": TEXT,
	"Text": TEXT,
	"Long Text": TEXT,
	"Phone": TEXT,
	"Read Only": TEXT,
}
"""Form field types that hold a value a rule can compare, and the kind of that value."""

_NO_VALUE = ("is_set", "is_not_set")
_ORDERING = (">", ">=", "<", "<=", "between")
_TEXT_OPS = ("contains", "startswith")
_LIST_OPS = ("in", "not_in")

MESSAGES = {
	"not_object": "{path} must be a condition like {{'field': ..., 'op': ..., 'value': ...}} or {{'all': [...]}}",
	"bad_key": "{path}: unknown key {name!r}; a condition has field, op and value, or one of all, any, not",
	"empty_group": "{path} must be a non-empty list of conditions",
	"no_field": "{path} needs a field",
	"unknown_field": "unknown field {name!r}{hint}",
	"not_readable": "{label} ({name}) is on the profile form, but rules cannot read it",
	"bad_op": "unknown operator {op!r} on {label}; use one of: {options}",
	"needs_value": "operator {op!r} on {label} needs a value",
	"no_value": "operator {op!r} on {label} takes no value",
	"needs_list": "operator {op!r} on {label} needs a list of values",
	"bad_range": "operator {op!r} on {label} needs [low, high] with low <= high, got {value!r}",
	"op_needs_number": "operator {op!r} needs a number or date field, but {label} holds {kind}",
	"op_needs_text": "operator {op!r} needs a text field, but {label} holds {kind}",
	"bad_option": "{value!r} is not an option of {label}; use one of: {options}",
	"needs_number": "{label} holds numbers, but the rule compares it with {value!r}",
	"needs_date": "{label} holds dates, but the rule compares it with {value!r} (use YYYY-MM-DD)",
	"needs_bool": "{label} is yes/no, but the rule compares it with {value!r} (use true or false)",
	"needs_text": "{label} holds text, but the rule compares it with {value!r}; quote it as text",
	"percent_range": "{label} is a percent from 0 to 100, got {value!r}",
	"invalid": "{path}: {detail}",
	# rules built in the filter UI (crm_fishpond.engine.filters)
	"bad_filter_row": "{path}: a filter row is [doctype, fieldname, operator, value]",
	"bad_match": "{path}: match must be 'all' or 'any', got {value!r}",
	"bad_is": "operator 'is' on {label} takes 'set' or 'not set', got {value!r}",
	"like_pattern": "{label}: the pattern {value!r} is not supported; use like %text% (contains) or text% (starts with)",
}
"""English text of each :class:`RuleError` code (the site translates the same codes itself)."""


class RuleError(EngineConfigError):
	"""A rule the form's vocabulary cannot translate.

	``code`` (a key of :data:`MESSAGES`) and ``params`` (``path``, ``name``, ``label``, ``op``,
	``value``, ``options``, ``kind``, ``suggestion``, ``detail`` as they apply) describe the problem;
	``name`` is the field as the rule wrote it; ``field`` (as for every EngineConfigError) is the
	path of the bad part, e.g. ``condition.all[1].value``.
	"""

	def __init__(self, code: str, path: str, **params: Any):
		params.setdefault("path", path)
		suggestion = params.get("suggestion")
		hint = f"; did you mean {suggestion!r}?" if suggestion else ""
		values = {k: "" for k in ("name", "label", "op", "value", "options", "kind", "detail")}
		message = MESSAGES[code].format(**{**values, **params, "hint": hint})
		super().__init__(message, field=path)
		self.code = code
		self.params = params
		self.name = params.get("name")


@dataclass(frozen=True)
class FormField:
	"""A field a rule may name.

	``column``: the engine column the rule reads (None: on the form, but not readable by rules).
	``label``: what the form shows. ``fieldname``: the form's name for it, when it differs from the
	column. ``options``: a select field's options as shown; ``values``: shown option -> engine value
	where they differ. ``percent``: the form shows a percent of the engine's fraction.
	"""

	column: str | None
	label: str = ""
	kind: str = ANY
	fieldname: str = ""
	options: tuple[str, ...] = ()
	values: Mapping[str, str] = field(default_factory=dict)
	percent: bool = False

	@property
	def name(self) -> str:
		return self.fieldname or self.column or ""

	@property
	def title(self) -> str:
		return self.label or self.name


def _key(name: str) -> str:
	"""Names compare ignoring case and runs of spaces, dashes and underscores."""
	return re.sub(r"[\s_\-]+", " ", name.strip().casefold())


class Vocabulary:
	"""The fields rules may name, and the translation of a rule into the engine's terms."""

	def __init__(self, fields: Iterable[FormField]):
		self.fields: list[FormField] = list(fields)
		self._by_name: dict[str, FormField] = {}
		self._by_label: dict[str, FormField] = {}
		# readable fields first, so a label shared with an unreadable field names the readable one
		for f in sorted(self.fields, key=lambda f: f.column is None):
			for name in (f.column, f.fieldname):
				if name:
					self._by_name.setdefault(_key(name), f)
		for f in sorted(self.fields, key=lambda f: f.column is None):
			if f.label:
				self._by_label.setdefault(_key(f.label), f)

	@classmethod
	def from_form(
		cls,
		form_fields: Iterable[Mapping[str, Any]],
		kinds: Mapping[str, str],
		renames: Mapping[str, str] | None = None,
	) -> Vocabulary:
		"""The vocabulary of a profile form.

		``form_fields``: the form's fields (``fieldname``, ``label``, ``fieldtype``, ``options``), in
		form order; layout fields are ignored. ``kinds``: every column the engine's rule frame has,
		with its kind (``any`` lets the form's field type decide). ``renames``: form field name ->
		engine column where they differ. Engine columns that no form field shows join by their own
		name.
		"""
		renames = dict(renames or {})
		out: list[FormField] = []
		seen: set[str] = set()
		for d in form_fields:
			fieldtype = d.get("fieldtype")
			if fieldtype not in FIELDTYPE_KINDS:
				continue
			fieldname = str(d.get("fieldname") or "")
			column = renames.get(fieldname, fieldname)
			readable = column in kinds
			kind = kinds.get(column, ANY) if readable else ANY
			if kind == ANY:
				kind = FIELDTYPE_KINDS[fieldtype]
			options: tuple[str, ...] = ()
			values: dict[str, str] = {}
			if fieldtype == "Select":
				options = tuple(o.strip() for o in str(d.get("options") or "").split("\n") if o.strip())
				display = DISPLAY_OPTIONS.get(column, {})
				values = {shown: engine for engine, shown in display.items()}
			out.append(
				FormField(
					column=column if readable else None,
					label=str(d.get("label") or ""),
					kind=kind,
					fieldname=fieldname if fieldname != column or not readable else "",
					options=options,
					values=values,
					percent=fieldtype == "Percent" and column in PERCENT_COLUMNS,
				)
			)
			if readable:
				seen.add(column)
		for column, kind in kinds.items():
			if column not in seen:
				out.append(FormField(column=column, kind=kind))
		return cls(out)

	def kinds(self) -> dict[str, str]:
		"""Engine column -> kind of every readable field."""
		return {f.column: f.kind for f in self.fields if f.column}

	def resolve(self, name: Any, path: str = "condition.field") -> FormField:
		"""The readable field ``name`` means (column, form field name or label, any case)."""
		if not isinstance(name, str) or not name.strip():
			raise RuleError("no_field", path)
		key = _key(name)
		found = self._by_name.get(key) or self._by_label.get(key)
		if found is None:
			names = [f.column for f in self.fields if f.column] + [
				f.label for f in self.fields if f.label and f.column
			]
			by_key = {_key(n): n for n in names}
			close = difflib.get_close_matches(key, list(by_key), n=1, cutoff=0.75)
			raise RuleError("unknown_field", path, name=name, suggestion=by_key[close[0]] if close else "")
		if found.column is None:
			raise RuleError("not_readable", path, name=name, label=found.title)
		return found

	# ----------------------------------------------------------------------------------------------
	# conditions

	def to_engine(self, condition: Any, path: str = "condition") -> dict:
		"""``condition`` (as the admin wrote it) in the engine's terms; RuleError if it cannot be."""
		out = self._node(condition, path)
		try:
			validate_condition(out, self.kinds(), path=path)
		except RuleError:
			raise
		except EngineConfigError as e:  # pragma: no cover - the checks above catch these first
			raise RuleError("invalid", e.field or path, detail=str(e)) from e
		return out

	def _node(self, spec: Any, path: str) -> dict:
		if not isinstance(spec, Mapping):
			raise RuleError("not_object", path)
		groups = [k for k in ("all", "any", "not") if k in spec]
		if groups:
			extra = [k for k in spec if k not in groups[:1]]
			if extra:
				raise RuleError("bad_key", cu.join(path, str(extra[0])), name=str(extra[0]))
			key = groups[0]
			sub = cu.join(path, key)
			if key == "not":
				return {"not": self._node(spec["not"], sub)}
			items = spec[key]
			if not isinstance(items, list | tuple) or not items:
				raise RuleError("empty_group", sub)
			return {key: [self._node(c, cu.join(sub, i)) for i, c in enumerate(items)]}
		for k in spec:
			if k not in ("field", "op", "value"):
				raise RuleError("bad_key", cu.join(path, str(k)), name=str(k))
		return self._leaf(spec, path)

	def _leaf(self, spec: Mapping, path: str) -> dict:
		name = spec.get("field")
		f = self.resolve(name, cu.join(path, "field"))
		about = {"name": name, "label": f.title}
		op_path = cu.join(path, "op")
		op = normalise_operator(spec.get("op"))
		if op is None:
			from .tags import OPERATORS

			raise RuleError("bad_op", op_path, op=spec.get("op"), options=" ".join(OPERATORS), **about)
		about["op"] = op
		out: dict[str, Any] = {"field": f.column, "op": op}
		v_path = cu.join(path, "value")
		value = spec.get("value")
		has_value = value is not None
		if op in _NO_VALUE:
			if has_value:
				raise RuleError("no_value", v_path, **about)
			return out
		if not has_value:
			raise RuleError("needs_value", v_path, **about)
		kind = f.kind
		if op in _ORDERING and kind in (TEXT, BOOL):
			raise RuleError("op_needs_number", op_path, kind=_KIND_WORDS[kind], **about)
		if op in _TEXT_OPS and kind not in (TEXT, ANY):
			raise RuleError("op_needs_text", op_path, kind=_KIND_WORDS[kind], **about)
		if op in _TEXT_OPS:
			if not isinstance(value, str) or not value:
				raise RuleError("needs_text", v_path, value=value, **about)
			out["value"] = value
			return out
		if op in _LIST_OPS or op == "between":
			if not isinstance(value, list | tuple) or not value or (op == "between" and len(value) != 2):
				if op == "between":
					raise RuleError("bad_range", v_path, value=value, **about)
				raise RuleError("needs_list", v_path, **about)
			values = [self._value(f, op, v, cu.join(v_path, i), about) for i, v in enumerate(value)]
			if op == "between" and _greater(values[0], values[1]):
				raise RuleError("bad_range", v_path, value=list(value), **about)
			out["value"] = values
			return out
		out["value"] = self._value(f, op, value, v_path, about)
		return out

	def _value(self, f: FormField, op: str, v: Any, path: str, about: dict) -> Any:
		kind = f.kind
		if isinstance(v, list | tuple | Mapping) or v is None:
			raise RuleError(_NEEDS[kind] if kind != ANY else "needs_text", path, value=v, **about)
		if f.options or f.values:
			if not isinstance(v, str):
				raise RuleError("bad_option", path, value=v, options=", ".join(f.options), **about)
			wanted = v.strip().casefold()
			for shown in f.options:
				if shown.casefold() == wanted:
					return f.values.get(shown, shown)
			for engine in f.values.values():
				if engine.casefold() == wanted:
					return engine
			if f.options:
				raise RuleError("bad_option", path, value=v, options=", ".join(f.options), **about)
			return v
		if kind == NUMBER:
			if not cu.is_number(v):
				raise RuleError("needs_number", path, value=v, **about)
			if f.percent:
				if not 0 <= float(v) <= 100:
					raise RuleError("percent_range", path, value=v, **about)
				return _tidy(float(v) / 100.0)
			return v
		if kind == DATE:
			if isinstance(v, bool) or cu.is_number(v) or _as_date(v) is None:
				raise RuleError("needs_date", path, value=v, **about)
			return v if isinstance(v, str) else _as_date(v).date().isoformat()
		if kind == BOOL:
			if isinstance(v, bool):
				return v
			if cu.is_number(v) and v in (0, 1):
				return bool(v)
			raise RuleError("needs_bool", path, value=v, **about)
		if kind == TEXT:
			if not isinstance(v, str):
				raise RuleError("needs_text", path, value=v, **about)
			return v
		return v

	# ----------------------------------------------------------------------------------------------
	# reason templates

	def template_to_engine(self, template: str, path: str = "reason", extras: Iterable[str] = ()) -> str:
		"""A reason template whose ``{placeholders}`` may use form names, in engine column names."""
		extras = set(extras)
		try:
			parsed = list(string.Formatter().parse(template))
		except ValueError as e:
			raise RuleError("invalid", path, detail=str(e)) from e
		out = []
		for literal, name, spec, conversion in parsed:
			out.append(literal.replace("{", "{{").replace("}", "}}"))
			if name is None:
				continue
			if not name or conversion or not name.replace("_", "a").isalnum():
				raise RuleError("invalid", path, detail=f"placeholder {{{name}}} must be a plain field name")
			column = name if name in extras else self.resolve(name, path).column
			out.append("{" + str(column) + (":" + spec if spec else "") + "}")
		return "".join(out)


_KIND_WORDS = {NUMBER: "numbers", DATE: "dates", BOOL: "yes/no values", TEXT: "text", ANY: "values"}
_NEEDS = {NUMBER: "needs_number", DATE: "needs_date", BOOL: "needs_bool", TEXT: "needs_text"}


def _tidy(x: float) -> float:
	"""Percent / 100 without binary noise (70 / 100 is 0.7, not 0.7000000000000001)."""
	return float(round(x, 12))


def _greater(a: Any, b: Any) -> bool:
	if cu.is_number(a) and cu.is_number(b):
		return float(a) > float(b)
	da, db = _as_date(a), _as_date(b)
	return da is not None and db is not None and da > db


# --------------------------------------------------------------------------------------------------
# the engine's own columns


def metric_kinds(config: Any = None) -> dict[str, str]:
	"""Kind (number/date/bool/text) of every column the engine computes for a profile, i.e. what rules
	may read besides the profile's own fields, under ``config`` (an EngineConfig or its dict; tag
	rules in it are ignored). Found by running the engine over a two-profile pond, so the list always
	matches what a run produces (activity types, fit factors and all)."""
	from .config import EngineConfig
	from .pipeline import PondInputs, run_pond

	if config is None:
		config = EngineConfig()
	elif not isinstance(config, EngineConfig):
		config = EngineConfig.from_dict(config)
	config = config.replace(tags=())
	as_of = pd.Timestamp("2024-01-01")
	day = pd.Timedelta(days=1)
	inputs = PondInputs(
		profiles=pd.DataFrame({"profile": ["a", "b"]}),
		transactions=pd.DataFrame(
			{"profile": ["a", "a"], "date": [as_of - 40 * day, as_of - 10 * day], "amount": [10.0, 20.0]}
		),
		interactions=pd.DataFrame(
			{"profile": ["a"], "time": [as_of - day], "type": ["email"], "direction": ["out"]}
		),
		events=pd.DataFrame(
			{"profile": ["a"], "time": [as_of - day], "type": ["page_view"], "weight": [1.0]}
		),
	)
	result = run_pond(inputs, config, as_of, dedupe=False)
	metrics = result.metrics
	kinds = {str(c): column_kind(metrics[c]) for c in metrics.columns}
	# a column a two-profile pond leaves empty is still text (reasons, segments)
	kinds = {c: TEXT if k == ANY else k for c, k in kinds.items()}
	kinds["profile"] = TEXT
	return kinds


def fractions_to_percents(condition: Any) -> tuple[Any, bool]:
	"""``condition`` with every fraction (strictly between 0 and 1) compared with a
	:data:`PERCENT_COLUMNS` field written as a percent; and whether anything changed.

	Rules stored before rules took percents compared ``churn_risk`` with the engine's fraction
	(``0.7``); a percent threshold below 1 % is not a plausible rule, so such values are rewritten
	(``70``). Whole numbers are left alone. Anything that is not a condition is returned unchanged.
	"""
	if isinstance(condition, Mapping):
		if "field" in condition:
			if str(condition.get("field")) not in PERCENT_COLUMNS:
				return condition, False
			value = condition.get("value")
			values = value if isinstance(value, list) else [value]
			if not any(cu.is_number(v) and 0 < float(v) < 1 for v in values):
				return condition, False
			scaled = [_tidy(float(v) * 100) if cu.is_number(v) and 0 < float(v) < 1 else v for v in values]
			scaled = [int(v) if isinstance(v, float) and v.is_integer() else v for v in scaled]
			return {**condition, "value": scaled if isinstance(value, list) else scaled[0]}, True
		out, changed = {}, False
		for key, sub in condition.items():
			out[key], c = fractions_to_percents(sub)
			changed |= c
		return out, changed
	if isinstance(condition, list):
		pairs = [fractions_to_percents(c) for c in condition]
		return [c for c, _ in pairs], any(c for _, c in pairs)
	return condition, False

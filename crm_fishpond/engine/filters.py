"""Rules built by clicking: Frappe's filter rows <-> the engine's condition language.

Desk's filter UI (``frappe.ui.FilterGroup``, the one list views, Dashboard Charts and Number Cards
use) produces rows ``[doctype, fieldname, operator, value]`` that all hold together. A rule form adds
one choice, *match all* or *match any*, so a rule built by clicking is

    {"match": "all" | "any", "filters": [[doctype, fieldname, operator, value], ...]}

:func:`filters_to_condition` turns that into a condition of :mod:`crm_fishpond.engine.tags` (in the
form's vocabulary: field names as the form has them, select options as shown; the site translates it
with :class:`~crm_fishpond.engine.vocabulary.Vocabulary`). :func:`condition_to_filters` goes back, for
the conditions the filter UI can show (one all/any group of plain comparisons); anything else (nested
groups, ``not`` of a comparison other than contains/starts with) stays in the JSON editor.

Both directions are exact inverses on what they accept: ``condition_to_filters(filters_to_condition(
f, m))`` gives back ``(m, f)`` with values normalised (numbers as numbers, lists as lists).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .vocabulary import RuleError

ALL = "all"
ANY = "any"

NUMBER_TYPES = frozenset({"Int", "Float", "Currency", "Percent", "Rating", "Duration"})
DATE_TYPES = frozenset({"Date", "Datetime"})

# Frappe filter operator -> engine operator, where they map one to one
_PLAIN = {"=": "=", "!=": "!=", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "in": "in", "not in": "not_in"}
_ENGINE_ALIASES = {"==": "=", "<>": "!=", "not in": "not_in", "starts_with": "startswith", "is set": "is_set"}


def filters_to_condition(
	filters: Sequence[Sequence[Any]],
	match: str = ALL,
	fieldtypes: Mapping[str, str] | None = None,
	path: str = "filters",
) -> dict:
	"""The condition the filter rows mean. ``fieldtypes``: fieldname -> Frappe field type, so that
	numbers typed into the filter UI become numbers, dates lose a time part, and a check box compares
	with true/false. Raises :class:`RuleError` for rows the engine cannot evaluate."""
	match = _match(match, path)
	if not isinstance(filters, Sequence) or isinstance(filters, str) or not filters:
		raise RuleError("empty_group", path)
	types = dict(fieldtypes or {})
	leaves = [_leaf(row, types, f"{path}[{i}]") for i, row in enumerate(filters)]
	return {match: leaves}


def condition_to_filters(
	condition: Any, doctype: str, fieldnames: Mapping[str, str] | None = None
) -> tuple[str, list[list[Any]]] | None:
	"""``(match, filter rows)`` showing ``condition`` in the filter UI of ``doctype``, or None when the
	filter UI cannot show it (the rule then stays in the JSON editor). ``fieldnames`` maps a field as
	the rule names it to the doctype's fieldname (labels, engine columns); unmapped names must be
	fieldnames already. A field the mapping lacks, when one is given, gives None."""
	if not isinstance(condition, Mapping):
		return None
	if len(condition) == 1 and next(iter(condition)) in (ALL, ANY):
		match = next(iter(condition))
		items = condition[match]
		if not isinstance(items, Sequence) or isinstance(items, str) or not items:
			return None
	else:
		match, items = ALL, [condition]
	rows = []
	for item in items:
		row = _row(item, doctype, fieldnames)
		if row is None:
			return None
		rows.append(row)
	return match, rows


# --------------------------------------------------------------------------------------------------


def _match(match: Any, path: str) -> str:
	value = str(match or ALL).strip().lower()
	if value not in (ALL, ANY):
		raise RuleError("bad_match", f"{path}.match", value=match)
	return value


def _leaf(row: Any, types: Mapping[str, str], path: str) -> dict:
	if not isinstance(row, Sequence) or isinstance(row, str) or len(row) < 4:
		raise RuleError("bad_filter_row", path)
	fieldname, op, value = row[1], row[2], row[3]
	if not isinstance(fieldname, str) or not fieldname.strip():
		raise RuleError("no_field", path)
	op = str(op or "").strip().lower()
	fieldtype = types.get(fieldname, "")
	if op in _PLAIN:
		engine_op = _PLAIN[op]
		if engine_op in ("in", "not_in"):
			items = _as_list(value)
			if not items:
				raise RuleError("needs_list", f"{path}.value", name=fieldname, label=fieldname, op=op)
			return {"field": fieldname, "op": engine_op, "value": [_typed(v, fieldtype) for v in items]}
		if value is None or (isinstance(value, str) and not value.strip() and fieldtype != "Check"):
			raise RuleError("needs_value", f"{path}.value", name=fieldname, label=fieldname, op=op)
		return {"field": fieldname, "op": engine_op, "value": _typed(value, fieldtype)}
	if op in ("like", "not like"):
		leaf = _like(fieldname, value, path)
		return {"not": leaf} if op == "not like" else leaf
	if op == "is":
		state = str(value or "").strip().lower()
		if state not in ("set", "not set"):
			raise RuleError("bad_is", f"{path}.value", name=fieldname, label=fieldname, value=value)
		return {"field": fieldname, "op": "is_set" if state == "set" else "is_not_set"}
	if op == "between":
		items = _as_list(value)
		if len(items) != 2:
			raise RuleError("bad_range", f"{path}.value", name=fieldname, label=fieldname, op=op, value=value)
		return {"field": fieldname, "op": "between", "value": [_typed(v, fieldtype) for v in items]}
	raise RuleError(
		"bad_op",
		f"{path}.op",
		name=fieldname,
		label=fieldname,
		op=row[2],
		options="=, !=, >, >=, <, <=, in, not in, like, not like, is, between",
	)


def _like(fieldname: str, value: Any, path: str) -> dict:
	text = str(value or "")
	inner = text.strip("%")
	if not inner.strip():
		raise RuleError("needs_value", f"{path}.value", name=fieldname, label=fieldname, op="like")
	if "%" in inner:
		raise RuleError("like_pattern", f"{path}.value", name=fieldname, label=fieldname, value=text)
	starts, ends = text.startswith("%"), text.endswith("%")
	if starts and not ends:
		raise RuleError("like_pattern", f"{path}.value", name=fieldname, label=fieldname, value=text)
	if ends and not starts:
		return {"field": fieldname, "op": "startswith", "value": inner}
	# %text% as the filter UI writes it, or plain text: contains
	return {"field": fieldname, "op": "contains", "value": inner}


def _as_list(value: Any) -> list[Any]:
	if isinstance(value, str):
		return [v.strip() for v in value.split(",") if v.strip()]
	if isinstance(value, Sequence):
		return [v for v in value if not (isinstance(v, str) and not v.strip()) and v is not None]
	return [] if value is None else [value]


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _typed(value: Any, fieldtype: str) -> Any:
	"""A value typed into the filter UI as the engine compares it."""
	if fieldtype == "Check":
		if isinstance(value, str):
			return value.strip().lower() in ("1", "true", "yes")
		return bool(value)
	if isinstance(value, str):
		text = value.strip()
		if fieldtype in NUMBER_TYPES and _NUMBER.match(text.replace(",", "")):
			number = float(text.replace(",", ""))
			return int(number) if number.is_integer() else number
		if fieldtype in DATE_TYPES and re.match(r"^\d{4}-\d{2}-\d{2}[ T]", text):
			return text[:10]
		return text
	if isinstance(value, float) and value.is_integer() and fieldtype in ("Int", "Check"):
		return int(value)
	return value


def _row(item: Any, doctype: str, fieldnames: Mapping[str, str] | None) -> list[Any] | None:
	if not isinstance(item, Mapping):
		return None
	negated = False
	if set(item) == {"not"}:
		item, negated = item["not"], True
		if not isinstance(item, Mapping):
			return None
	if not {"field", "op"} <= set(item) or not set(item) <= {"field", "op", "value"}:
		return None
	name = item["field"]
	if not isinstance(name, str):
		return None
	if fieldnames is not None:
		name = fieldnames.get(name)
		if name is None:
			return None
	op = str(item["op"]).strip().lower()
	op = _ENGINE_ALIASES.get(op, op)
	value = item.get("value")
	if op in ("contains", "startswith"):
		pattern = f"%{value}%" if op == "contains" else f"{value}%"
		return [doctype, name, "not like" if negated else "like", pattern]
	if negated:
		return None
	frappe_op = {engine: frappe for frappe, engine in _PLAIN.items()}.get(op)
	if frappe_op:
		return [doctype, name, frappe_op, list(value) if isinstance(value, (list, tuple)) else value]
	if op in ("is_set", "is_not_set"):
		return [doctype, name, "is", "set" if op == "is_set" else "not set"]
	if op == "between" and isinstance(value, (list, tuple)):
		return [doctype, name, "Between", list(value)]
	return None

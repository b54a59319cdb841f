"""Admin-defined tag rules and the condition language shared by tags, lifecycle and category rules.

A condition is plain data (it comes from a Desk form as JSON), never code: it is parsed into a small
tree, validated against the frame's columns, and evaluated as numpy boolean masks over all profiles
at once. Nothing is ever ``eval``-ed.

Condition grammar::

	{"all": [cond, ...]}        every sub-condition holds
	{"any": [cond, ...]}        at least one holds
	{"not": cond}               the sub-condition does not hold
	{"field": "days_since_last", "op": ">", "value": 90}

Operators: ``=  !=  >  >=  <  <=  in  not_in  between  contains  startswith  is_set  is_not_set``.

Missing values (NaN, NaT, None, empty text) never satisfy a positive test (``=``, ``>``, ``in``,
``between``, ``contains``...), so a profile that never bought has ``days_since_last > 90`` False.
``!=`` and ``not_in`` are the exact negations of ``=`` and ``in``, so they hold for missing values.
Dates compare by calendar day. Text comparisons ignore case: ``=``, ``in``, ``contains`` and
``startswith`` (``territory = "india"`` matches ``India``, as the database's collation and Desk's list
filters do).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError

OPERATORS = (
	"=",
	"!=",
	">",
	">=",
	"<",
	"<=",
	"in",
	"not_in",
	"between",
	"contains",
	"startswith",
	"is_set",
	"is_not_set",
)
_ALIASES = {"==": "=", "<>": "!=", "not in": "not_in", "starts_with": "startswith", "is set": "is_set"}
_ORDERING = (">", ">=", "<", "<=")
_TEXT_OPS = ("contains", "startswith")
_NO_VALUE = ("is_set", "is_not_set")
_LIST_OPS = ("in", "not_in")

MISSING_TEXT = "n/a"

# column kinds used for type checks and evaluation
NUMBER, DATE, BOOL, TEXT, ANY = "number", "date", "bool", "text", "any"


# --------------------------------------------------------------------------------------------------
# the condition tree


@dataclass(frozen=True)
class Leaf:
	"""``{"field": ..., "op": ..., "value": ...}``; ``path`` locates it in the admin's config."""

	field: str
	op: str
	value: Any = None
	path: str = field(default="condition", compare=False)

	def to_dict(self) -> dict:
		d: dict[str, Any] = {"field": self.field, "op": self.op}
		if self.op not in _NO_VALUE:
			v = self.value
			if isinstance(v, tuple):
				v = [_plain(x) for x in v]
			d["value"] = _plain(v)
		return d


@dataclass(frozen=True)
class All:
	items: tuple[Condition, ...]
	path: str = field(default="condition", compare=False)

	def to_dict(self) -> dict:
		return {"all": [c.to_dict() for c in self.items]}


@dataclass(frozen=True)
class AnyOf:
	items: tuple[Condition, ...]
	path: str = field(default="condition", compare=False)

	def to_dict(self) -> dict:
		return {"any": [c.to_dict() for c in self.items]}


@dataclass(frozen=True)
class Not:
	item: Condition
	path: str = field(default="condition", compare=False)

	def to_dict(self) -> dict:
		return {"not": self.item.to_dict()}


Condition = Union[Leaf, All, AnyOf, Not]  # noqa: UP007 (a runtime alias, also used in isinstance checks)
_NODE_TYPES = (Leaf, All, AnyOf, Not)


def _plain(v: Any) -> Any:
	"""Values as JSON-friendly scalars for to_dict (dates back to ISO text)."""
	if isinstance(v, pd.Timestamp):
		return v.date().isoformat()
	if isinstance(v, list | tuple):
		return [_plain(x) for x in v]
	return v


def _is_scalar(v: Any) -> bool:
	return isinstance(v, str | bool | int | float | _dt.date) and not (isinstance(v, float) and np.isnan(v))


def _as_date(v: Any) -> pd.Timestamp | None:
	"""A date value: datetime/date objects or ISO text (``2024-01-31``); None if it is not one."""
	if isinstance(v, bool) or cu.is_number(v):
		return None
	if isinstance(v, _dt.date | pd.Timestamp):
		return pd.Timestamp(v).normalize()
	if isinstance(v, str):
		try:
			ts = pd.Timestamp(v.strip())
		except (ValueError, TypeError):
			return None
		if pd.isna(ts):
			return None
		return ts.tz_localize(None).normalize() if ts.tzinfo else ts.normalize()
	return None


def normalise_operator(op: Any) -> str | None:
	"""The canonical operator for ``op`` (aliases and case resolved), or None when it is not one."""
	if not isinstance(op, str):
		return None
	op = _ALIASES.get(op.strip().lower(), op.strip().lower())
	return op if op in OPERATORS else None


def parse_condition(spec: Any, path: str = "condition") -> Condition:
	"""Parse and validate a condition dict (see module doc). Already-parsed trees are returned as is.

	Raises EngineConfigError whose ``field`` is the dotted path of the bad part
	(``condition.all[1].op``).
	"""
	if isinstance(spec, _NODE_TYPES):
		return spec
	if not isinstance(spec, Mapping):
		raise EngineConfigError(
			f"{path} must be a condition object like {{'field': ..., 'op': ..., 'value': ...}} "
			f"or {{'all': [...]}}, got {type(spec).__name__}",
			field=path,
		)
	groups = [k for k in ("all", "any", "not") if k in spec]
	if groups:
		if len(spec) != 1:
			raise EngineConfigError(
				f"{path}: a group condition has exactly one key ('all', 'any' or 'not'), got "
				f"{', '.join(map(str, spec))}",
				field=path,
			)
		key = groups[0]
		sub_path = cu.join(path, key)
		if key == "not":
			return Not(parse_condition(spec["not"], sub_path), path=path)
		items = spec[key]
		if not isinstance(items, list | tuple) or not items:
			raise EngineConfigError(f"{sub_path} must be a non-empty list of conditions", field=sub_path)
		parsed = tuple(parse_condition(c, cu.join(sub_path, i)) for i, c in enumerate(items))
		return All(parsed, path=path) if key == "all" else AnyOf(parsed, path=path)
	return _parse_leaf(spec, path)


def _parse_leaf(spec: Mapping, path: str) -> Leaf:
	cu.check_keys(spec, ("field", "op", "value"), path)
	if "field" not in spec:
		raise EngineConfigError(
			f"{path} needs 'field' (or is a group: 'all', 'any', 'not')", field=cu.join(path, "field")
		)
	fld = cu.text(spec["field"], cu.join(path, "field"))
	op_path = cu.join(path, "op")
	op = spec.get("op")
	if not isinstance(op, str):
		raise EngineConfigError(f"{op_path} must be one of: {' '.join(OPERATORS)}", field=op_path)
	op = _ALIASES.get(op.strip().lower(), op.strip().lower())
	if op not in OPERATORS:
		raise EngineConfigError(
			f"{op_path}: unknown operator {spec['op']!r} on field {fld!r}; use one of: {' '.join(OPERATORS)}",
			field=op_path,
		)
	v_path = cu.join(path, "value")
	has_value = "value" in spec and spec["value"] is not None
	value = spec.get("value")

	def bad(expected: str):
		return EngineConfigError(
			f"{v_path}: operator {op!r} on field {fld!r} needs {expected}, got {value!r}", field=v_path
		)

	if op in _NO_VALUE:
		if has_value:
			raise bad("no value")
		return Leaf(fld, op, None, path)
	if not has_value:
		raise bad("a value")
	if op in ("=", "!="):
		if not _is_scalar(value):
			raise bad("a single number, text, date or true/false")
		if isinstance(value, _dt.date):
			value = _as_date(value)
	elif op in _ORDERING:
		if cu.is_number(value):
			value = float(value)
		else:
			date = _as_date(value)
			if date is None:
				raise bad("a number or a date (YYYY-MM-DD)")
			value = date
	elif op == "between":
		if not isinstance(value, list | tuple) or len(value) != 2:
			raise bad("a list of two bounds [low, high]")
		if all(cu.is_number(x) for x in value):
			lo, hi = float(value[0]), float(value[1])
		else:
			lo, hi = _as_date(value[0]), _as_date(value[1])
			if lo is None or hi is None:
				raise bad("two numbers or two dates [low, high]")
		if lo > hi:
			raise bad("low <= high")
		value = (lo, hi)
	elif op in _LIST_OPS:
		if not isinstance(value, list | tuple) or not value:
			raise bad("a non-empty list of values")
		if not all(_is_scalar(x) for x in value):
			raise bad("a list of numbers, texts or dates")
		value = tuple(_as_date(x) if isinstance(x, _dt.date) else x for x in value)
	elif op in _TEXT_OPS:
		if not isinstance(value, str) or not value:
			raise bad("non-empty text")
	return Leaf(fld, op, value, path)


def condition_fields(condition: Condition | Mapping) -> list[str]:
	"""Field names a condition reads, in first-use order, without duplicates."""
	cond = parse_condition(condition)
	out: list[str] = []

	def walk(c: Condition) -> None:
		if isinstance(c, Leaf):
			if c.field not in out:
				out.append(c.field)
		elif isinstance(c, Not):
			walk(c.item)
		else:
			for item in c.items:
				walk(item)

	walk(cond)
	return out


def _leaves(c: Condition) -> Iterable[Leaf]:
	if isinstance(c, Leaf):
		yield c
	elif isinstance(c, Not):
		yield from _leaves(c.item)
	else:
		for item in c.items:
			yield from _leaves(item)


# --------------------------------------------------------------------------------------------------
# describing


def _fmt_value(v: Any) -> str:
	if isinstance(v, pd.Timestamp):
		return v.date().isoformat()
	if isinstance(v, bool):
		return "true" if v else "false"
	if isinstance(v, float):
		return f"{v:g}" if abs(v) < 1e15 else repr(v)
	if isinstance(v, str):
		return '"' + v.replace('"', '\\"') + '"'
	return str(v)


def describe_condition(condition: Condition | Mapping) -> str:
	"""Human-readable text of a condition: ``orders >= 2 and (p_alive < 0.3 or days_since_last > 180)``."""
	cond = parse_condition(condition)
	return _describe(cond, top=True)


def _describe(c: Condition, top: bool = False) -> str:
	if isinstance(c, Leaf):
		if c.op in _NO_VALUE:
			return f"{c.field} {c.op.replace('_', ' ')}"
		if c.op == "between":
			return f"{c.field} between {_fmt_value(c.value[0])} and {_fmt_value(c.value[1])}"
		if c.op in _LIST_OPS:
			return f"{c.field} {c.op.replace('_', ' ')} ({', '.join(_fmt_value(v) for v in c.value)})"
		return f"{c.field} {c.op} {_fmt_value(c.value)}"
	if isinstance(c, Not):
		return f"not ({_describe(c.item, top=True)})"
	joiner = " and " if isinstance(c, All) else " or "
	if len(c.items) == 1:
		return _describe(c.items[0], top=top)
	text = joiner.join(_describe(i) for i in c.items)
	return text if top else f"({text})"


# --------------------------------------------------------------------------------------------------
# column kinds and validation


def column_kind(series: pd.Series) -> str:
	"""number / date / bool / text / any, from the dtype (object columns: inferred from a sample)."""
	dtype = series.dtype
	if pd.api.types.is_bool_dtype(dtype):
		return BOOL
	if pd.api.types.is_datetime64_any_dtype(dtype):
		return DATE
	if pd.api.types.is_numeric_dtype(dtype):
		return NUMBER
	if isinstance(dtype, pd.CategoricalDtype):
		return TEXT
	if pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype):
		return TEXT
	inferred = pd.api.types.infer_dtype(_first_present(series, 1000), skipna=True)
	if inferred in ("string", "unicode", "bytes"):
		return TEXT
	if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
		return NUMBER
	if inferred == "boolean":
		return BOOL
	if inferred in ("datetime", "datetime64", "date"):
		return DATE
	if inferred == "empty":
		return ANY
	return TEXT


def _first_present(series: pd.Series, n: int) -> pd.Series:
	"""``series.dropna().head(n)`` without copying the whole column: a head of growing length is
	searched for n present values (a rule check reads the kind of each of ~80 columns of a 1M pond)."""
	size = 4 * n
	while True:
		found = series.iloc[:size].dropna()
		if len(found) >= n or size >= len(series):
			return found.head(n)
		size *= 16


def _kinds(columns: Any) -> dict[str, str]:
	"""Map of column -> kind from a DataFrame, a mapping of column -> dtype/kind, or plain names."""
	if isinstance(columns, pd.DataFrame):
		if columns.empty:  # an empty frame's dtypes say nothing (an empty list becomes float64)
			names = [str(c) for c in columns.columns] + [str(columns.index.name)] * bool(columns.index.name)
			return dict.fromkeys(names, ANY)
		kinds = {str(c): column_kind(columns[c]) for c in columns.columns}
		if columns.index.name and columns.index.name not in kinds:
			kinds[str(columns.index.name)] = column_kind(columns.index.to_series())
		return kinds
	if isinstance(columns, Mapping):
		out = {}
		for c, dt in columns.items():
			if isinstance(dt, str) and dt in (NUMBER, DATE, BOOL, TEXT, ANY):
				out[str(c)] = dt
				continue
			try:
				dtype = pd.api.types.pandas_dtype(dt)
			except TypeError:
				out[str(c)] = ANY
				continue
			out[str(c)] = (
				ANY if pd.api.types.is_object_dtype(dtype) else column_kind(pd.Series([], dtype=dtype))
			)
		return out
	return {str(c): ANY for c in columns}


def _value_kind(v: Any) -> str:
	if isinstance(v, bool):
		return BOOL
	if cu.is_number(v):
		return NUMBER
	if isinstance(v, pd.Timestamp):
		return DATE
	return TEXT


def validate_condition(
	condition: Condition | Mapping, columns: Any, *, label: str = "condition", path: str = "condition"
) -> Condition:
	"""Parse ``condition`` and check every field exists in ``columns`` with a type its operator fits.

	``columns`` is a DataFrame, a mapping of column -> dtype, or an iterable of names (then only
	existence is checked). ``label`` names the rule in messages (``tag rule 'dormant'``).
	"""
	cond = parse_condition(condition, path)
	kinds = _kinds(columns)
	for leaf in _leaves(cond):
		f_path = cu.join(leaf.path, "field")
		if leaf.field not in kinds:
			close = difflib.get_close_matches(leaf.field, list(kinds), n=1)
			hint = f"; did you mean {close[0]!r}?" if close else ""
			raise EngineConfigError(f"{label}: unknown field {leaf.field!r} at {f_path}{hint}", field=f_path)
		kind = kinds[leaf.field]
		if kind == ANY or leaf.op in _NO_VALUE:
			continue
		v_path = cu.join(leaf.path, "value")
		values = leaf.value if isinstance(leaf.value, tuple) else (leaf.value,)
		if leaf.op in _TEXT_OPS and kind != TEXT:
			raise EngineConfigError(
				f"{label}: operator {leaf.op!r} needs a text field, but {leaf.field!r} holds {kind} values",
				field=cu.join(leaf.path, "op"),
			)
		if leaf.op in (*_ORDERING, "between") and kind in (TEXT, BOOL):
			raise EngineConfigError(
				f"{label}: operator {leaf.op!r} needs a number or date field, but {leaf.field!r} "
				f"holds {kind} values",
				field=cu.join(leaf.path, "op"),
			)
		for v in values:
			vk = _value_kind(v)
			if kind == BOOL and not (vk == BOOL or (vk == NUMBER and v in (0, 1))):
				raise EngineConfigError(
					f"{label}: {leaf.field!r} is true/false, but {v_path} is {v!r}", field=v_path
				)
			if kind == NUMBER and vk != NUMBER:
				raise EngineConfigError(
					f"{label}: {leaf.field!r} holds numbers, but {v_path} is {v!r}", field=v_path
				)
			if kind == DATE and vk != DATE and _as_date(v) is None:
				raise EngineConfigError(
					f"{label}: {leaf.field!r} holds dates, but {v_path} is {v!r} (use YYYY-MM-DD)",
					field=v_path,
				)
			if kind == TEXT and vk in (NUMBER, BOOL, DATE):
				raise EngineConfigError(
					f"{label}: {leaf.field!r} holds text, but {v_path} is {v!r}; quote it as text",
					field=v_path,
				)
	return cond


# --------------------------------------------------------------------------------------------------
# evaluation


def _to_bool(values: Any) -> np.ndarray:
	"""Any boolean-ish result (numpy, nullable BooleanDtype, object) as a plain bool array, NA -> False."""
	if isinstance(values, pd.Series | pd.Index | pd.api.extensions.ExtensionArray):
		return np.asarray(pd.array(values, dtype="boolean").to_numpy(dtype=bool, na_value=False))
	arr = np.asarray(values)
	if arr.dtype == bool:
		return arr
	return np.asarray(pd.array(arr, dtype="boolean").to_numpy(dtype=bool, na_value=False))


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
	if name in frame.columns:
		return frame[name]
	if frame.index.name == name:
		return frame.index.to_series(index=frame.index)
	raise EngineInputError(f"frame has no column {name!r} used by a rule")


def _numbers(col: pd.Series) -> np.ndarray:
	if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
		return col.to_numpy(dtype=float, na_value=np.nan)
	return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _days(col: pd.Series) -> np.ndarray:
	"""Dates floored to the day as int64 day numbers (NaT -> a sentinel below every real date)."""
	ts = pd.to_datetime(col, errors="coerce")
	if getattr(ts.dt, "tz", None) is not None:
		ts = ts.dt.tz_localize(None)
	return ts.dt.floor("D").to_numpy(dtype="datetime64[D]")


def _texts(col: pd.Series) -> pd.Series:
	return col.astype("string")


def _leaf_mask(frame: pd.DataFrame, leaf: Leaf) -> np.ndarray:
	col = _column(frame, leaf.field)
	op, value = leaf.op, leaf.value
	kind = column_kind(col)
	if op in _NO_VALUE:
		present = col.notna().to_numpy(dtype=bool, copy=True)
		if kind in (TEXT, ANY):
			s = _texts(col).str.strip()
			present &= _to_bool(s.ne("") & s.notna())
		return present if op == "is_set" else ~present
	if op == "!=":
		return ~_leaf_mask(frame, Leaf(leaf.field, "=", value, leaf.path))
	if op == "not_in":
		return ~_leaf_mask(frame, Leaf(leaf.field, "in", value, leaf.path))

	if op in _TEXT_OPS:
		s = _texts(col).str.lower()
		v = value.lower()
		res = s.str.contains(v, regex=False) if op == "contains" else s.str.startswith(v)
		return _to_bool(res)

	values = value if isinstance(value, tuple) else (value,)
	if kind == DATE or (kind in (ANY, TEXT) and all(isinstance(v, pd.Timestamp) for v in values)):
		arr = _days(col)
		vals = [np.datetime64(_as_date(v).date(), "D") if _as_date(v) is not None else None for v in values]
		valid = ~np.isnat(arr)
		if any(v is None for v in vals):
			return np.zeros(len(col), dtype=bool)
		return valid & _compare(arr, op, vals)
	if kind == BOOL or (kind == ANY and all(isinstance(v, bool) for v in values)):
		b = pd.array(col, dtype="boolean")
		valid = ~np.asarray(b.isna())
		arr = b.to_numpy(dtype=bool, na_value=False)
		return valid & _compare(arr, op, [bool(v) for v in values])
	if kind == NUMBER or (kind == ANY and all(cu.is_number(v) for v in values)):
		if not all(cu.is_number(v) for v in values):
			return np.zeros(len(col), dtype=bool)
		arr = _numbers(col)
		with np.errstate(invalid="ignore"):
			return ~np.isnan(arr) & _compare(arr, op, [float(v) for v in values])
	# text equality / membership, ignoring case: each distinct text is folded once
	if op in _ORDERING or op == "between":
		return np.zeros(len(col), dtype=bool)
	wanted = {(v if isinstance(v, str) else _fmt_value(v).strip('"')).casefold() for v in values}
	codes, uniques = pd.factorize(_texts(col), use_na_sentinel=True)
	hit = np.array([str(u).casefold() in wanted for u in uniques] + [False], dtype=bool)
	return hit[np.where(codes < 0, len(uniques), codes)]


def _compare(arr: np.ndarray, op: str, values: Sequence) -> np.ndarray:
	if op == "=":
		return arr == values[0]
	if op == ">":
		return arr > values[0]
	if op == ">=":
		return arr >= values[0]
	if op == "<":
		return arr < values[0]
	if op == "<=":
		return arr <= values[0]
	if op == "between":
		return (arr >= values[0]) & (arr <= values[1])
	if op == "in":
		return np.isin(arr, np.asarray(values, dtype=arr.dtype))
	raise AssertionError(op)  # pragma: no cover - parse_condition only lets known operators through


def _evaluate(frame: pd.DataFrame, c: Condition) -> np.ndarray:
	if isinstance(c, Leaf):
		return _leaf_mask(frame, c)
	if isinstance(c, Not):
		return ~_evaluate(frame, c.item)
	masks = (_evaluate(frame, i) for i in c.items)
	out = next(masks).copy()
	for m in masks:
		if isinstance(c, All):
			out &= m
		else:
			out |= m
	return out


def evaluate_condition(frame: pd.DataFrame, condition: Condition | Mapping) -> pd.Series:
	"""Boolean Series (index of ``frame``) of the rows where ``condition`` holds; never NaN.

	Fields may be columns or the index name. A field missing from the frame raises
	EngineConfigError naming it; call :func:`validate_condition` first for type checks.
	"""
	if not isinstance(frame, pd.DataFrame):
		raise EngineInputError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
	cond = parse_condition(condition)
	names = set(map(str, frame.columns)) | ({frame.index.name} if frame.index.name else set())
	for leaf in _leaves(cond):
		if leaf.field not in names:
			f_path = cu.join(leaf.path, "field")
			raise EngineConfigError(f"unknown field {leaf.field!r} at {f_path}", field=f_path)
	return pd.Series(_evaluate(frame, cond), index=frame.index, dtype=bool)


# --------------------------------------------------------------------------------------------------
# reasons: vectorised formatting of the values a rule looked at


def format_column(values: pd.Series | np.ndarray) -> np.ndarray:
	"""Each value as short display text (object array): dates ``2024-03-01``, numbers rounded to 2 dp
	with integral values shown without decimals, booleans yes/no, missing ``n/a``."""
	s = values if isinstance(values, pd.Series) else pd.Series(values)
	n = len(s)
	if n == 0:
		return np.empty(0, dtype=object)
	kind = column_kind(s)
	if kind == DATE:
		out = pd.to_datetime(s, errors="coerce").dt.strftime("%Y-%m-%d")
		return out.astype(object).where(out.notna(), MISSING_TEXT).to_numpy(dtype=object)
	if kind == BOOL:
		b = pd.array(s, dtype="boolean")
		isna = np.asarray(b.isna())
		arr = b.to_numpy(dtype=bool, na_value=False)
		return np.where(isna, MISSING_TEXT, np.where(arr, "yes", "no")).astype(object)
	if kind == NUMBER:
		arr = _numbers(s)
		isna = ~np.isfinite(arr)
		rounded = np.round(np.where(isna, 0.0, arr), 2)
		integral = rounded == np.floor(rounded)
		big = np.abs(rounded) >= 1e15
		ints = np.where(integral & ~big, rounded, 0).astype(np.int64).astype(str).astype(object)
		floats = rounded.astype(str).astype(object)
		out = np.where(integral & ~big, ints, floats)
		return np.where(isna, MISSING_TEXT, out).astype(object)
	t = s.astype(object)
	return t.where(t.notna(), MISSING_TEXT).astype(str).to_numpy(dtype=object)


def _masked(frame: pd.DataFrame, name: str, mask: np.ndarray | None) -> pd.Series:
	col = _column(frame, name)
	return col if mask is None else col[np.asarray(mask, dtype=bool)]


def _distinct(values: pd.Series, spec: str = "", path: str = "reason") -> tuple[np.ndarray, np.ndarray]:
	"""(codes, texts): each row's index into ``texts``, the display text of each distinct value.

	Values are factorised first so formatting (and a ``spec`` such as ``.0%``) runs once per distinct
	value, not per row. Missing values map to the last text, ``n/a``.
	"""
	kind = column_kind(values) if len(values) else ANY
	if kind == NUMBER and not spec:
		values = pd.Series(np.round(_numbers(values), 2), index=values.index)
	elif kind == DATE:
		values = pd.to_datetime(values, errors="coerce").dt.normalize()
	codes, uniques = pd.factorize(values, use_na_sentinel=True)
	u = pd.Series(uniques)
	if spec:
		fmt = "{:" + spec + "}"
		try:
			texts = [fmt.format(v) for v in u.tolist()]  # one call per distinct value
		except (ValueError, TypeError) as e:
			raise EngineConfigError(f"{path}: format {{:{spec}}} does not fit {u.iloc[0]!r}: {e}", field=path)
		texts = np.array([*texts, MISSING_TEXT], dtype=object)
	else:
		texts = np.append(format_column(u), MISSING_TEXT).astype(object)
	return np.where(codes < 0, len(uniques), codes), texts


def _compose(pieces: Sequence[str | tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
	"""Concatenate literal text and (codes, texts) columns for ``n`` rows.

	Rows are grouped by their combination of codes and each distinct combination's text is built once,
	so the string work scales with the number of distinct combinations, not with the rows.
	"""
	columns = [p for p in pieces if not isinstance(p, str)]
	if not columns:
		return np.full(n, "".join(pieces), dtype=object)
	key = np.zeros(n, dtype=np.int64)
	for codes, texts in columns:
		key, _ = pd.factorize(key * len(texts) + codes)  # dense combination ids, never overflow
		key = key.astype(np.int64)
	n_combos = int(key.max()) + 1 if n else 0
	first = np.empty(n_combos, dtype=np.int64)
	first[key[::-1]] = np.arange(n - 1, -1, -1)  # one row of each combination
	out = np.full(n_combos, "", dtype=object)
	for p in pieces:
		if isinstance(p, str):
			if p:
				out = out + p
		else:
			codes, texts = p
			out = out + texts[codes[first]]
	return out[key]


def format_values(frame: pd.DataFrame, fields: Sequence[str], mask: np.ndarray | None = None) -> np.ndarray:
	"""``"orders=3, days_since_last=12"`` for each (masked) row, as an object array."""
	n = len(frame) if mask is None else int(np.count_nonzero(mask))
	pieces: list = []
	for i, name in enumerate(fields):
		pieces += [("" if i == 0 else ", ") + name + "=", _distinct(_masked(frame, name, mask))]
	return _compose(pieces, n)


def condition_reason(
	frame: pd.DataFrame, condition: Condition | Mapping, mask: np.ndarray | None = None, prefix: str = ""
) -> np.ndarray:
	"""``"<prefix><condition text> (field=value, ...)"`` for each (masked) row, as an object array."""
	cond = parse_condition(condition)
	n = len(frame) if mask is None else int(np.count_nonzero(mask))
	pieces: list = [prefix + describe_condition(cond) + " ("]
	for i, name in enumerate(condition_fields(cond)):
		pieces += [("" if i == 0 else ", ") + name + "=", _distinct(_masked(frame, name, mask))]
	return _compose([*pieces, ")"], n)


def template_fields(template: str, path: str = "reason") -> list[str]:
	"""Placeholders of a ``{field}`` / ``{field:.1f}`` template; EngineConfigError on bad syntax."""
	try:
		parsed = list(string.Formatter().parse(template))
	except ValueError as e:
		raise EngineConfigError(f"{path}: bad template {template!r}: {e}", field=path)
	out = []
	for _literal, name, _spec, conversion in parsed:
		if name is None:
			continue
		if not name or not name.replace("_", "a").isalnum() or conversion:
			raise EngineConfigError(
				f"{path}: placeholder {{{name}}} must be a plain column name like {{orders}}", field=path
			)
		out.append(name)
	return out


def render_template(
	frame: pd.DataFrame,
	template: str,
	mask: np.ndarray | None = None,
	extra: Mapping[str, np.ndarray | pd.Series] | None = None,
	path: str = "reason",
) -> np.ndarray:
	"""Fill ``{column}`` placeholders with each (masked) row's values; an object array of text.

	Placeholders take Python format specs (``{p_alive:.0%}``), applied to non-missing values only.
	``extra`` supplies computed placeholders (arrays aligned with ``frame``).
	"""
	extra = dict(extra or {})
	sel = None if mask is None else np.asarray(mask, dtype=bool)
	n = len(frame) if sel is None else int(np.count_nonzero(sel))
	pieces: list = []
	for literal, name, spec, _conv in string.Formatter().parse(template):
		if literal:
			pieces.append(literal)
		if name is None:
			continue
		if name in extra:
			arr = np.asarray(extra[name])
			col = pd.Series(arr if sel is None else arr[sel])
		elif name in frame.columns or frame.index.name == name:
			col = _masked(frame, name, sel)
		else:
			raise EngineConfigError(f"{path}: unknown placeholder {{{name}}} in {template!r}", field=path)
		pieces.append(_distinct(col, spec or "", path))
	return _compose(pieces, n)


# --------------------------------------------------------------------------------------------------
# tag rules


@dataclass(frozen=True)
class TagRule:
	"""Tag every profile where ``condition`` holds.

	``reason`` is an optional template (``"no order for {days_since_last} days"``); by default the
	reason is the condition text followed by the values it read.
	"""

	tag: str
	condition: Condition
	reason: str | None = None
	enabled: bool = True

	def __post_init__(self):
		if not isinstance(self.tag, str) or not self.tag.strip():
			raise EngineConfigError("a tag rule needs a non-empty tag", field="tag")
		if not isinstance(self.condition, _NODE_TYPES):
			object.__setattr__(self, "condition", parse_condition(self.condition))

	@classmethod
	def from_dict(cls, d: Mapping, path: str = "") -> TagRule:
		cu.require_mapping(d, path or "tag rule", "tag rule settings")
		cu.check_keys(d, ("tag", "condition", "reason", "enabled"), path)
		if "tag" not in d:
			raise EngineConfigError(f"{path or 'tag rule'} needs a 'tag'", field=cu.join(path, "tag"))
		tag = cu.text(d["tag"], cu.join(path, "tag"))
		if len(tag) > 140:
			raise EngineConfigError(
				f"tag {tag[:20]!r}... is longer than 140 characters", field=cu.join(path, "tag")
			)
		if "condition" not in d:
			raise EngineConfigError(f"tag rule {tag!r} needs a 'condition'", field=cu.join(path, "condition"))
		cond = parse_condition(d["condition"], cu.join(path, "condition"))
		reason = cu.text(d.get("reason"), cu.join(path, "reason"), allow_none=True, allow_empty=True) or None
		if reason:
			template_fields(reason, cu.join(path, "reason"))
		enabled = cu.boolean(d.get("enabled", True), cu.join(path, "enabled"))
		return cls(tag=tag, condition=cond, reason=reason, enabled=enabled)

	def to_dict(self) -> dict:
		d: dict[str, Any] = {"tag": self.tag, "condition": self.condition.to_dict(), "enabled": self.enabled}
		if self.reason:
			d["reason"] = self.reason
		return d

	def describe(self) -> str:
		return describe_condition(self.condition)


def _as_rules(rules: Iterable[TagRule | Mapping]) -> list[TagRule]:
	if isinstance(rules, Mapping | TagRule):
		rules = [rules]
	out = []
	for i, r in enumerate(rules):
		out.append(r if isinstance(r, TagRule) else TagRule.from_dict(r, path=f"rules[{i}]"))
	return out


def validate_rules(rules: Iterable[TagRule | Mapping], columns: Any) -> list[TagRule]:
	"""Parse rules (dicts or TagRule) and check each against ``columns`` (a DataFrame, a mapping
	column -> dtype, or names). Raises EngineConfigError naming the rule and the bad field."""
	parsed = _as_rules(rules)
	kinds = _kinds(columns)
	for i, rule in enumerate(parsed):
		validate_condition(rule.condition, kinds, label=f"tag rule {rule.tag!r} (rules[{i}])")
		if rule.reason:
			for name in template_fields(rule.reason, f"rules[{i}].reason"):
				if name not in kinds:
					raise EngineConfigError(
						f"tag rule {rule.tag!r}: unknown placeholder {{{name}}} in its reason",
						field=f"rules[{i}].reason",
					)
	return parsed


def _profile_ids(frame: pd.DataFrame) -> np.ndarray:
	if "profile" in frame.columns:
		return frame["profile"].to_numpy(dtype=object)
	return frame.index.to_numpy(dtype=object)


def rule_error(kind: str, rule: str, error: Exception) -> dict[str, str]:
	"""One entry of the ``errors`` list that rule evaluators fill: which rule failed and why."""
	return {"kind": kind, "rule": rule, "error": str(error)}


def evaluate_tags(
	frame: pd.DataFrame, rules: Iterable[TagRule | Mapping], *, errors: list[dict] | None = None
) -> pd.DataFrame:
	"""Long frame ``profile, tag, reason``: one row per (profile, tag) whose rule holds.

	``frame`` is indexed by profile (or has a ``profile`` column). Rules are validated against the
	frame first. When several enabled rules give the same tag, the first matching rule's reason wins.

	Without ``errors`` the first invalid rule raises EngineConfigError. With a list, each rule is
	validated and evaluated on its own: a rule that fails is skipped and reported as
	``{"kind": "tag", "rule": <tag>, "error": <message>}``, and the other rules still tag.
	"""
	if not isinstance(frame, pd.DataFrame):
		raise EngineInputError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
	if errors is None:
		parsed = validate_rules(rules, frame)
	else:
		parsed = _as_rules(rules)
		kinds = _kinds(frame)
	ids = _profile_ids(frame)
	parts = []
	for rule in parsed:
		if not rule.enabled:
			continue
		try:
			if errors is not None:
				validate_rules([rule], kinds)
			mask = _evaluate(frame, rule.condition)
			if not mask.any():
				continue
			if rule.reason:
				reason = render_template(frame, rule.reason, mask)
			else:
				reason = condition_reason(frame, rule.condition, mask)
		except (EngineConfigError, EngineInputError) as e:
			if errors is None:
				raise
			errors.append(rule_error("tag", rule.tag, e))
			continue
		parts.append(pd.DataFrame({"profile": ids[mask], "tag": rule.tag, "reason": reason}))
	if not parts:
		return pd.DataFrame(
			{
				"profile": pd.Series([], dtype=object),
				"tag": pd.Series([], dtype=object),
				"reason": pd.Series([], dtype=object),
			}
		)
	out = pd.concat(parts, ignore_index=True)
	out = out.drop_duplicates(["profile", "tag"], keep="first").reset_index(drop=True)
	return out.astype({"profile": object, "tag": object, "reason": object})

"""Validation helpers shared by the rule-driven configs (activity, category, scoring, lifecycle, tags, dedupe).

Configs arrive as plain dicts edited by admins in Desk forms, so every check raises
:class:`~crm_fishpond.engine.errors.EngineConfigError` whose ``field`` is the dotted path of the bad
key (``weights.fit``, ``fit_factors[2].points``, ``rules[0].condition.all[1].op``) and whose message
says what was expected. The helpers are private to the engine; the public surface is each config's
``from_dict`` / ``to_dict``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import EngineConfigError


def join(prefix: str, key: str | int) -> str:
	"""Dotted path of ``key`` under ``prefix`` (``fit_factors`` + 2 -> ``fit_factors[2]``)."""
	if isinstance(key, int):
		return f"{prefix}[{key}]"
	return f"{prefix}.{key}" if prefix else key


def require_mapping(value: Any, path: str, what: str = "settings") -> Mapping:
	if not isinstance(value, Mapping):
		raise EngineConfigError(
			f"{path or what} must be a mapping of {what}, got {type(value).__name__}", field=path or None
		)
	return value


def check_keys(d: Mapping, allowed: Iterable[str], path: str = "") -> None:
	"""Reject unknown keys (typos in admin-edited dicts must not be silently ignored)."""
	allowed = set(allowed)
	unknown = [k for k in d if k not in allowed]
	if unknown:
		key = unknown[0]
		raise EngineConfigError(
			f"unknown setting {join(path, str(key))!r}; expected one of: {', '.join(sorted(allowed))}",
			field=join(path, str(key)),
		)


def is_number(value: Any) -> bool:
	"""A real number (bool excluded, NaN excluded)."""
	return isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isnan(float(value))


def number(
	value: Any,
	path: str,
	*,
	minimum: float | None = None,
	maximum: float | None = None,
	exclusive_minimum: bool = False,
	allow_none: bool = False,
	integer: bool = False,
) -> float | int | None:
	"""Validate a number (optionally an integer) inside bounds; return it as float/int."""
	if value is None:
		if allow_none:
			return None
		raise EngineConfigError(f"{path} is required", field=path)
	if not is_number(value) or math.isinf(float(value)):
		raise EngineConfigError(f"{path} must be a finite number, got {value!r}", field=path)
	if integer:
		if float(value) != int(value):
			raise EngineConfigError(f"{path} must be a whole number, got {value!r}", field=path)
		value = int(value)
	else:
		value = float(value)
	if minimum is not None:
		if exclusive_minimum and value <= minimum:
			raise EngineConfigError(f"{path} must be greater than {minimum:g}, got {value:g}", field=path)
		if not exclusive_minimum and value < minimum:
			raise EngineConfigError(f"{path} must be at least {minimum:g}, got {value:g}", field=path)
	if maximum is not None and value > maximum:
		raise EngineConfigError(f"{path} must be at most {maximum:g}, got {value:g}", field=path)
	return value


def boolean(value: Any, path: str) -> bool:
	"""Accept real booleans and Desk's 0/1 check values."""
	if isinstance(value, bool):
		return value
	if isinstance(value, numbers.Integral) and value in (0, 1):
		return bool(value)
	raise EngineConfigError(f"{path} must be true or false (or 1/0), got {value!r}", field=path)


def text(value: Any, path: str, *, allow_empty: bool = False, allow_none: bool = False) -> str | None:
	if value is None and allow_none:
		return None
	if not isinstance(value, str):
		raise EngineConfigError(f"{path} must be text, got {type(value).__name__}", field=path)
	value = value.strip()
	if not value and not allow_empty:
		raise EngineConfigError(f"{path} must not be empty", field=path)
	return value


def text_list(value: Any, path: str, *, allow_empty: bool = True, unique: bool = True) -> list[str]:
	if not isinstance(value, list | tuple):
		raise EngineConfigError(
			f"{path} must be a list of text values, got {type(value).__name__}", field=path
		)
	out = [text(v, join(path, i)) for i, v in enumerate(value)]
	if not out and not allow_empty:
		raise EngineConfigError(f"{path} must not be empty", field=path)
	if unique:
		seen: set[str] = set()
		for i, v in enumerate(out):
			if v in seen:
				raise EngineConfigError(f"{path} lists {v!r} twice", field=join(path, i))
			seen.add(v)
	return out


def points_map(
	value: Any, path: str, *, minimum: float | None = 0.0, allow_none_values: bool = False
) -> dict[str, float]:
	"""A mapping of text keys to numbers (e.g. activity type -> base points)."""
	require_mapping(value, path, "values")
	out: dict[str, float] = {}
	for k, v in value.items():
		key = text(k, f"{path} key")
		if v is None and allow_none_values:
			continue
		out[key] = number(v, join(path, key), minimum=minimum)
	return out


def list_of(value: Any, path: str) -> list:
	if not isinstance(value, list | tuple):
		raise EngineConfigError(f"{path} must be a list, got {type(value).__name__}", field=path)
	return list(value)

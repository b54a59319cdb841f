"""RFM: the per-profile purchase summary, and recency/frequency/monetary scores and segments.

Two layers:

* :func:`rfm_summary` turns a transaction log into one row per profile with the
  buy-till-you-die (BTYD) summary used by :mod:`crm_fishpond.engine.btyd` (``frequency``,
  ``recency``, ``T``, ``monetary_value``, with exactly the conventions of lifetimes'
  ``summary_data_from_transaction_data``) plus the plain figures RFM scoring and the other
  engine modules need (``orders``, ``total_amount``, ``first_purchase``, ``last_purchase``,
  ``days_since_last``).
* :func:`fit_rfm_thresholds` learns (quantile method) or copies (threshold method) the cut
  points, which the site stores (:meth:`RFMThresholds.to_dict`) so that incremental rescoring
  with :func:`score_rfm` uses the same cut points as the last full run.

Conventions (docs/engine-rfm-btyd.md has the worked details):

* Transactions are bucketed into periods (``freq="D"``: calendar days; ``"W"``: weeks starting
  on Monday). Amounts are netted per (profile, period): a credit note booked on the same day as
  its invoice reduces that day's spend. A period whose net amount is <= 0 (up to float noise:
  1e-9 of its gross amount) is not a purchase period (a return-only day, a fully returned day,
  a zero-amount invoice). With ``zero_amount_purchases=True`` (:attr:`RFMConfig.zero_amount_purchases`)
  a period holding a zero-amount transaction and netting to zero or more is a purchase period:
  lifetimes' convention, where every transaction is a purchase (CDNOW has $0 rows).
* ``as_of`` is floored to its period, like lifetimes' ``observation_period_end``: every
  transaction dated in a period up to and including the ``as_of`` period counts, later ones
  are ignored.
* ``total_amount`` is the net of *every* counted transaction, returns included, so it can be
  lower than the sum of the purchase periods' spend (a return booked on a later day lowers
  ``total_amount`` but not ``monetary_value``).
* Profiles with transactions but no purchase period (only credit notes) have ``orders == 0``,
  zeros in the numeric BTYD columns, ``NaT`` purchase dates and ``days_since_last == 0``;
  :func:`score_rfm` puts them in segment ``"no purchase"`` with grade ``"low"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .schema import TRANSACTION_COLUMNS, require_columns

__all__ = [
	"DEFAULT_SEGMENT_MAP",
	"NO_PURCHASE",
	"SCORE_COLUMNS",
	"SUMMARY_COLUMNS",
	"RFMConfig",
	"RFMThresholds",
	"fit_rfm_thresholds",
	"rfm_summary",
	"score_rfm",
]

SUMMARY_COLUMNS = (
	"frequency",
	"recency",
	"T",
	"monetary_value",
	"first_purchase",
	"last_purchase",
	"orders",
	"total_amount",
	"days_since_last",
)
SCORE_COLUMNS = ("r_score", "f_score", "m_score", "rfm_score", "rfm_segment", "value_grade")

NO_PURCHASE = "no purchase"

# period length in days and the shift that makes period boundaries fall on the right weekday
# (day 0 = 1970-01-01, a Thursday; (day + 3) // 7 counts weeks starting on Monday, which is
# what pandas' Period("W") and therefore lifetimes use)
_PERIODS = {"D": (1, 0), "W": (7, 3)}
_NS_PER_DAY = 86_400_000_000_000
# a (profile, period) whose net is at most this fraction of its gross amount counts as net zero
_NET_TOLERANCE = 1e-9


# ---------------------------------------------------------------------------------------------
# rfm_summary
# ---------------------------------------------------------------------------------------------


def rfm_summary(
	transactions: pd.DataFrame,
	as_of: Any,
	freq: str = "D",
	*,
	profiles: Iterable[Any] | None = None,
	zero_amount_purchases: bool = False,
) -> pd.DataFrame:
	"""Summarise a transaction log per profile (BTYD summary + RFM figures).

	:param transactions: frame with ``profile``, ``date`` (datetime-like) and ``amount``
		(company currency, credit notes negative). Other columns are ignored.
	:param as_of: end of the observation window (anything :class:`pandas.Timestamp` accepts);
		floored to its period. Transactions in later periods are ignored.
	:param freq: ``"D"`` (days, the default) or ``"W"`` (weeks starting on Monday): the unit of
		``frequency``/``recency``/``T`` and the bucket in which same-period orders are merged.
	:param profiles: optional list of every profile to report. When given, the result has
		exactly these rows, in this order: profiles without transactions get zeros/``NaT``
		(``orders == 0``), and transactions of profiles not listed are dropped.
	:param zero_amount_purchases: count a zero-amount transaction as a purchase (its period is a
		purchase period unless it nets below zero), as lifetimes does. Default False: in ERP data
		a zero-amount invoice (a free replacement, a sample, a fully discounted order) is no sale.
	:returns: frame indexed by ``profile`` with :data:`SUMMARY_COLUMNS`:

		* ``frequency`` (int): purchase periods - 1, i.e. repeat purchases (0 without purchase)
		* ``recency`` (float): last - first purchase period, in ``freq`` units
		* ``T`` (float): ``as_of`` period - first purchase period, in ``freq`` units
		* ``monetary_value`` (float): mean net spend of the repeat purchase periods (the first
		  purchase period excluded, as lifetimes does); 0 when ``frequency == 0``
		* ``first_purchase``, ``last_purchase`` (datetime64[ns]): start of the first/last
		  purchase period; ``NaT`` without purchase
		* ``orders`` (int): number of purchase periods (distinct purchase days for ``"D"``)
		* ``total_amount`` (float): net amount of all counted transactions, returns included
		* ``days_since_last`` (float): days from the start of the last purchase period to the
		  start of the ``as_of`` period; 0 without purchase

		Rows follow the order in which profiles first appear in ``transactions``.

	Runs in O(n) numpy passes plus one sort of a packed integer key: no groupby, no Python loop
	over profiles. 10 million transactions of 1 million profiles take a few seconds.
	"""
	if freq not in _PERIODS:
		raise EngineInputError(f"freq must be one of {', '.join(_PERIODS)}; got {freq!r}")
	require_columns(transactions, TRANSACTION_COLUMNS, "transactions")
	with ThreadPoolExecutor(max_workers=2, thread_name_prefix="rfm_summary") as pool:
		return _rfm_summary(transactions, as_of, freq, profiles, pool, bool(zero_amount_purchases))


def _rfm_summary(
	transactions: pd.DataFrame,
	as_of: Any,
	freq: str,
	profiles: Iterable[Any] | None,
	pool: ThreadPoolExecutor,
	zero_amount_purchases: bool = False,
) -> pd.DataFrame:
	period_days, shift = _PERIODS[freq]
	as_of_day = _day_number(as_of)
	as_of_period = (as_of_day + shift) // period_days

	codes, labels = _encode_profiles(transactions["profile"])
	period = (_day_numbers(transactions["date"]) + shift) // period_days
	amount = _amounts(transactions["amount"])

	keep = period <= as_of_period
	if not keep.all():
		codes, period, amount = codes[keep], period[keep], amount[keep]

	if profiles is not None:
		codes, labels = _restrict_to_profiles(codes, labels, profiles)
		listed = codes >= 0
		if not listed.all():
			codes, period, amount = codes[listed], period[listed], amount[listed]
		present = np.ones(len(labels), dtype=bool)
	n_profiles = len(labels)
	agg = _aggregate(codes, period, amount, n_profiles, pool, zero_amount_purchases)
	if profiles is None:
		present = agg["rows"] > 0
		if not present.all():
			labels = labels[present]
	return _summary_frame(agg, present, labels, as_of_period, period_days, shift)


def _aggregate(
	codes: np.ndarray,
	period: np.ndarray,
	amount: np.ndarray,
	n_profiles: int,
	pool: ThreadPoolExecutor,
	zero_amount_purchases: bool = False,
) -> dict:
	"""The per-profile reductions behind :func:`rfm_summary`, on dense integer codes.

	Strategy: a (profile, period) pair is a purchase period when its net amount is > 0. Only
	pairs holding a row with amount <= 0 can fail that test, so those few pairs are netted
	exactly and their rows dropped when the net is <= 0 (with ``zero_amount_purchases``: when it
	is < 0, or 0 without a zero-amount row). Every remaining row then belongs to a
	purchase period, and the reductions are plain scatters (bincount, minimum.at, maximum.at);
	the one thing that needs the pairs themselves, the number of distinct purchase periods, comes
	from a single sort of a packed integer key.
	"""
	rows = np.bincount(codes, minlength=n_profiles)
	total = np.bincount(codes, weights=amount, minlength=n_profiles)
	empty = {
		"rows": rows,
		"total": total,
		"orders": np.zeros(n_profiles, dtype=np.int64),
		"first": np.zeros(n_profiles, dtype=np.int64),
		"last": np.zeros(n_profiles, dtype=np.int64),
		"purchase_amount": np.zeros(n_profiles),
		"first_amount": np.zeros(n_profiles),
	}
	if len(codes) == 0:
		return empty

	p0 = int(period.min())
	offset = period - p0
	span = int(offset.max()) + 1
	if n_profiles * span < 2**32:
		key = codes.astype(np.uint32) * np.uint32(span) + offset.astype(np.uint32)
	elif n_profiles * span < 2**63:
		key = codes * np.int64(span) + offset
	else:  # pragma: no cover - needs > 2**63 profile-periods
		raise EngineInputError("transactions span too many periods for the number of profiles")

	nonpositive = amount <= 0
	if nonpositive.any():
		# net the (profile, period) pairs that hold a credit note or a zero amount
		suspect = pd.unique(key[nonpositive])
		touched = np.flatnonzero(pd.Series(key, copy=False).isin(suspect).to_numpy())
		inverse, pair_keys = pd.factorize(key[touched])
		net = np.bincount(inverse, weights=amount[touched], minlength=len(pair_keys))
		gross = np.bincount(inverse, weights=np.abs(amount[touched]), minlength=len(pair_keys))
		# "<= 0" up to float noise: 0.1 + 0.2 - 0.3 nets to 5.6e-17, not to a purchase
		not_purchase = net <= _NET_TOLERANCE * gross
		if zero_amount_purchases:  # a zero-amount transaction is a purchase unless the period nets < 0
			has_zero = np.bincount(inverse, weights=amount[touched] == 0, minlength=len(pair_keys)) > 0
			not_purchase &= ~(has_zero & (net >= -_NET_TOLERANCE * gross))
		not_purchase = not_purchase[inverse]
		if not_purchase.any():
			valid = np.ones(len(codes), dtype=bool)
			valid[touched[not_purchase]] = False
			codes, offset, amount, key = codes[valid], offset[valid], amount[valid], key[valid]
			if len(codes) == 0:
				return empty

	def count_orders() -> np.ndarray:  # numpy sorts without the GIL: this overlaps the scatters
		key.sort()
		distinct = np.empty(len(key), dtype=bool)
		distinct[0] = True
		np.not_equal(key[1:], key[:-1], out=distinct[1:])
		return np.bincount(key[distinct] // key.dtype.type(span), minlength=n_profiles)

	orders_future = pool.submit(count_orders)
	first = np.full(n_profiles, span, dtype=np.int64)
	np.minimum.at(first, codes, offset)
	last = np.full(n_profiles, -1, dtype=np.int64)
	np.maximum.at(last, codes, offset)
	purchase_amount = np.bincount(codes, weights=amount, minlength=n_profiles)
	on_first = offset == first[codes]
	first_amount = np.bincount(codes[on_first], weights=amount[on_first], minlength=n_profiles)
	orders = orders_future.result()

	buyer = orders > 0
	first = np.where(buyer, first + p0, 0)
	last = np.where(buyer, last + p0, 0)
	return {
		"rows": rows,
		"total": total,
		"orders": orders.astype(np.int64),
		"first": first,
		"last": last,
		"purchase_amount": purchase_amount,
		"first_amount": first_amount,
	}


def _summary_frame(
	agg: dict, present: np.ndarray, labels: pd.Index, as_of_period: int, period_days: int, shift: int
) -> pd.DataFrame:
	def pick(values: np.ndarray) -> np.ndarray:
		return values if present.all() else values[present]

	orders = pick(agg["orders"])
	buyer = orders > 0
	first = pick(agg["first"])
	last = pick(agg["last"])
	frequency = np.where(buyer, orders - 1, 0).astype(np.int64)
	repeat_amount = pick(agg["purchase_amount"]) - pick(agg["first_amount"])
	monetary = np.divide(repeat_amount, frequency, out=np.zeros(len(orders)), where=frequency > 0)
	first_day = first * period_days - shift
	last_day = last * period_days - shift
	as_of_start = as_of_period * period_days - shift

	def to_datetime(days: np.ndarray) -> np.ndarray:
		out = (days * _NS_PER_DAY).astype("datetime64[ns]")
		out[~buyer] = np.datetime64("NaT", "ns")
		return out

	frame = pd.DataFrame(
		{
			"frequency": frequency,
			"recency": np.where(buyer, last - first, 0).astype(np.float64),
			"T": np.where(buyer, as_of_period - first, 0).astype(np.float64),
			"monetary_value": monetary,
			"first_purchase": to_datetime(first_day),
			"last_purchase": to_datetime(last_day),
			"orders": orders,
			"total_amount": pick(agg["total"]).astype(np.float64),
			"days_since_last": np.where(buyer, as_of_start - last_day, 0).astype(np.float64),
		},
		index=labels,
	)
	frame.index.name = "profile"
	return frame


def _day_number(value: Any) -> int:
	"""Days since 1970-01-01 (floored) of a scalar date/datetime, naive wall-clock time."""
	try:
		stamp = pd.Timestamp(value)
	except (TypeError, ValueError) as exc:
		raise EngineInputError(f"as_of is not a date: {value!r}") from exc
	if stamp is pd.NaT:
		raise EngineInputError("as_of is missing (NaT)")
	if stamp.tzinfo is not None:
		stamp = stamp.tz_localize(None)
	return int(np.datetime64(stamp, "ns").astype("datetime64[D]").astype(np.int64))


def _day_numbers(dates: pd.Series) -> np.ndarray:
	"""Days since 1970-01-01 (floored) of a date column, as int64."""
	if isinstance(dates.dtype, pd.DatetimeTZDtype):
		dates = dates.dt.tz_localize(None)
	elif not pd.api.types.is_datetime64_dtype(dates.dtype):
		try:  # datetime.date objects (what the database driver returns for Date fields) or text
			dates = pd.to_datetime(dates, format="mixed")
		except (TypeError, ValueError) as exc:
			raise EngineInputError(f"transactions.date holds values that are not dates: {exc}") from exc
		if isinstance(dates.dtype, pd.DatetimeTZDtype):
			dates = dates.dt.tz_localize(None)
	days = dates.to_numpy().astype("datetime64[D]").view(np.int64)
	if len(days) and (days == np.iinfo(np.int64).min).any():
		raise EngineInputError("transactions.date has missing values")
	return days


def _amounts(amounts: pd.Series) -> np.ndarray:
	try:
		values = pd.to_numeric(amounts).to_numpy(dtype=np.float64, na_value=np.nan)
	except (TypeError, ValueError) as exc:
		raise EngineInputError(f"transactions.amount holds values that are not numbers: {exc}") from exc
	if len(values) and not np.isfinite(values).all():
		raise EngineInputError("transactions.amount has missing or infinite values")
	return values


def _restrict_to_profiles(codes: np.ndarray, labels: pd.Index, profiles: Iterable[Any]):
	"""Re-code rows onto the caller's profile list; rows of unlisted profiles get code -1."""
	if isinstance(profiles, (pd.Index, pd.Series, np.ndarray)):
		wanted = pd.Index(profiles)
	else:
		wanted = pd.Index(list(profiles))
	if wanted.hasnans:
		raise EngineInputError("profiles has missing values")
	if not wanted.is_unique:
		raise EngineInputError("profiles has duplicates")
	position = wanted.get_indexer(labels).astype(np.int64)
	return (position[codes] if len(codes) else codes), wanted


# ---------------------------------------------------------------------------------------------
# profile ids -> dense integer codes
# ---------------------------------------------------------------------------------------------

_MAX_ID_BYTES = 64
"""Text ids up to this many bytes (as fixed-width strings) take :func:`_factorize_text`; longer
ones would make its array too large and go through :func:`pandas.factorize`."""


def _encode_profiles(profiles: pd.Series) -> tuple[np.ndarray, pd.Index]:
	"""Dense int64 codes in order of first appearance, and the profile id of each code.

	* a :class:`pandas.Categorical` column uses its codes (the cheapest input: no text is read);
	* integer ids are factorised as integers;
	* text ids go through :func:`_factorize_text`;
	* anything else (mixed types, very long ids) through :func:`pandas.factorize`.
	"""
	if isinstance(profiles.dtype, pd.CategoricalDtype):
		cat_codes = profiles.cat.codes.to_numpy()
		if len(cat_codes) and (cat_codes < 0).any():
			raise EngineInputError("transactions.profile has missing values")
		# keep first-appearance order and drop unused categories, like the other paths
		codes, order = pd.factorize(cat_codes)
		return codes.astype(np.int64), pd.Index(profiles.cat.categories.take(order))
	values = profiles.to_numpy()
	if values.dtype.kind in "iu":
		codes, uniques = pd.factorize(values)
		return codes.astype(np.int64, copy=False), pd.Index(uniques)
	if len(values) and pd.api.types.infer_dtype(values, skipna=False) == "string":
		codes = _factorize_text(values)
		if codes is not None:
			first_row = np.empty(int(codes.max()) + 1, dtype=np.int64)
			first_row[codes[::-1]] = np.arange(len(codes) - 1, -1, -1, dtype=np.int64)
			return codes, pd.Index(values[first_row], dtype=profiles.dtype)
	codes, uniques = pd.factorize(values, use_na_sentinel=True)
	if len(codes) and (codes < 0).any():
		raise EngineInputError("transactions.profile has missing values")
	return codes.astype(np.int64, copy=False), pd.Index(uniques, dtype=profiles.dtype)


def _factorize_text(values: np.ndarray) -> np.ndarray | None:
	"""Codes in order of first appearance for an array of ``str``, or None when it does not apply.

	:func:`pandas.factorize` hashes every Python string; on ten million database strings that is
	several seconds. Instead the strings are copied once into numpy's fixed-width bytes
	(``"S"``: ASCII, the usual document name; ``"U"`` otherwise), each row is read as a few 64-bit
	words (a view of that array, padded to a multiple of 8 bytes) and the words are factorised
	column by column as integers, folding each column's codes into the running code. Equal strings
	have equal bytes, so this is exact, with one documented exception of numpy's fixed-width
	strings: trailing NUL characters are padding, so ``"a\\x00"`` counts as ``"a"`` (document
	names never hold NUL). Returns None when an id is longer than :data:`_MAX_ID_BYTES`.
	"""
	try:
		fixed = values.astype("S")
	except UnicodeEncodeError:  # non-ASCII text: UTF-32, four bytes a character
		fixed = values.astype("U")
	unit = 4 if fixed.dtype.kind == "U" else 1  # bytes a character
	width = -(-fixed.itemsize // 8) * 8
	if width > _MAX_ID_BYTES * unit:
		return None
	if width != fixed.itemsize:  # pad with NUL bytes to whole 64-bit words
		fixed = fixed.astype(f"{fixed.dtype.kind}{width // unit}")
	words = fixed.view(np.uint64).reshape(len(fixed), width // 8)
	codes, _ = pd.factorize(words[:, 0])
	for k in range(1, words.shape[1]):
		word_codes, word_values = pd.factorize(words[:, k])
		codes, _ = pd.factorize(codes.astype(np.int64) * len(word_values) + word_codes)
	return codes.astype(np.int64, copy=False)


# ---------------------------------------------------------------------------------------------
# scoring configuration
# ---------------------------------------------------------------------------------------------

# 5 x 5 grid on (R score, FM score), FM = round half up of (F + M) / 2. Each pattern is a regular
# expression matched against the two digits "<R><FM>"; the first segment that matches wins.
DEFAULT_SEGMENT_MAP: dict[str, str] = {
	"champions": "5[4-5]",
	"loyal": "[3-4][4-5]",
	"cannot lose": "[1-2]5",
	"at risk": "[1-2][3-4]",
	"potential loyalist": "[4-5][2-3]",
	"need attention": "33",
	"about to sleep": "3[1-2]",
	"promising": "41",
	"new": "51",
	"lost": "11",
	"hibernating": "[1-2][1-2]",
}

_METHODS = ("quantile", "threshold")
_GRADE_BASES = ("rfm_sum", "m_score", "fm_score")
_GRADES = ("high", "mid", "low")


@dataclass(frozen=True)
class RFMConfig:
	"""How profiles are scored 1..bins on recency, frequency and monetary value.

	* ``R`` scores ``days_since_last`` (fewer days = higher score), ``F`` scores ``orders`` and
	  ``M`` scores ``total_amount`` (net spend).
	* ``method="quantile"``: cut points are the 1/bins, 2/bins, ... quantiles of the purchasing
	  profiles (fitted by :func:`fit_rfm_thresholds`). ``method="threshold"``: the admin gives
	  ``bins - 1`` strictly increasing cut points per dimension. A value equal to a cut point
	  falls in the lower bin (bins are closed on the right, like :func:`pandas.qcut`).
	* ``segment_map`` maps a segment name to a regular expression over ``"<R><FM>"``; the
	  first match wins and every cell of the grid must be matched.
	* ``value_grade``: ``high`` when the grade basis is >= ``grade_high_min``, ``mid`` when
	  >= ``grade_mid_min``, else ``low``. Bases: ``rfm_sum`` (R + F + M), ``m_score``,
	  ``fm_score``.
	* ``zero_amount_purchases``: the summary counts zero-amount transactions as purchases
	  (lifetimes' convention; see :func:`rfm_summary`). Off by default: in ERP data a zero-amount
	  invoice is no sale.
	"""

	method: str = "quantile"
	bins: int = 5
	recency_thresholds: tuple[float, ...] = ()
	frequency_thresholds: tuple[float, ...] = ()
	monetary_thresholds: tuple[float, ...] = ()
	segment_map: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SEGMENT_MAP))
	grade_basis: str = "rfm_sum"
	grade_high_min: float = 12
	grade_mid_min: float = 8
	zero_amount_purchases: bool = False

	def __post_init__(self) -> None:
		self.validate()

	@classmethod
	def from_dict(cls, data: Mapping[str, Any] | None) -> RFMConfig:
		"""Build from stored settings; unknown keys and bad values raise EngineConfigError."""
		if data is None:
			return cls()
		if not isinstance(data, Mapping):
			raise EngineConfigError(f"RFM config must be a mapping, got {type(data).__name__}")
		known = set(cls.__dataclass_fields__)
		for key in data:
			if key not in known:
				raise EngineConfigError(f"unknown RFM setting {key!r}", field=str(key))
		values: dict[str, Any] = {}
		for name in ("method", "grade_basis"):
			if name in data:
				values[name] = _as_str(data[name], name)
		if "bins" in data:
			values["bins"] = _as_int(data["bins"], "bins")
		if "zero_amount_purchases" in data:
			values["zero_amount_purchases"] = cu.boolean(
				data["zero_amount_purchases"], "zero_amount_purchases"
			)
		for name in ("grade_high_min", "grade_mid_min"):
			if name in data:
				values[name] = _as_float(data[name], name)
		for name in ("recency_thresholds", "frequency_thresholds", "monetary_thresholds"):
			if name in data and data[name] is not None:
				values[name] = _as_floats(data[name], name)
		if "segment_map" in data and data["segment_map"] is not None:
			segment_map = data["segment_map"]
			if not isinstance(segment_map, Mapping):
				raise EngineConfigError("segment_map must map segment names to patterns", field="segment_map")
			values["segment_map"] = {str(k): v for k, v in segment_map.items()}
		return cls(**values)

	def to_dict(self) -> dict[str, Any]:
		return {
			"method": self.method,
			"bins": self.bins,
			"recency_thresholds": list(self.recency_thresholds),
			"frequency_thresholds": list(self.frequency_thresholds),
			"monetary_thresholds": list(self.monetary_thresholds),
			"segment_map": dict(self.segment_map),
			"grade_basis": self.grade_basis,
			"grade_high_min": self.grade_high_min,
			"grade_mid_min": self.grade_mid_min,
			"zero_amount_purchases": self.zero_amount_purchases,
		}

	def validate(self) -> None:
		if not isinstance(self.zero_amount_purchases, bool):
			raise EngineConfigError(
				f"zero_amount_purchases must be true or false; got {self.zero_amount_purchases!r}",
				field="zero_amount_purchases",
			)
		if self.method not in _METHODS:
			raise EngineConfigError(
				f"method must be one of {', '.join(_METHODS)}; got {self.method!r}", field="method"
			)
		if (
			isinstance(self.bins, bool)
			or not isinstance(self.bins, (int, np.integer))
			or not 2 <= self.bins <= 9
		):
			raise EngineConfigError(f"bins must be an integer from 2 to 9; got {self.bins!r}", field="bins")
		if self.method == "threshold":
			for name in ("recency_thresholds", "frequency_thresholds", "monetary_thresholds"):
				cuts = getattr(self, name)
				if len(cuts) != self.bins - 1:
					raise EngineConfigError(
						f"{name} needs {self.bins - 1} cut points for {self.bins} bins; got {len(cuts)}",
						field=name,
					)
				_check_cuts(cuts, name, strict=True)
		if self.grade_basis not in _GRADE_BASES:
			raise EngineConfigError(
				f"grade_basis must be one of {', '.join(_GRADE_BASES)}; got {self.grade_basis!r}",
				field="grade_basis",
			)
		for name in ("grade_high_min", "grade_mid_min"):
			value = getattr(self, name)
			if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
				raise EngineConfigError(f"{name} must be a finite number; got {value!r}", field=name)
		if self.grade_mid_min > self.grade_high_min:
			raise EngineConfigError(
				f"grade_mid_min ({self.grade_mid_min}) must not exceed grade_high_min ({self.grade_high_min})",
				field="grade_mid_min",
			)
		self.segment_grid()  # validates the map

	def segment_grid(self) -> np.ndarray:
		"""Segment name for every (R, FM) cell: array of shape (bins, bins), [r - 1, fm - 1]."""
		if not self.segment_map:
			raise EngineConfigError("segment_map is empty", field="segment_map")
		compiled = []
		for name, pattern in self.segment_map.items():
			label = f"segment_map.{name}"
			if not name.strip():
				raise EngineConfigError("segment names must not be blank", field="segment_map")
			if name == NO_PURCHASE:
				raise EngineConfigError(
					f"{NO_PURCHASE!r} is reserved for profiles without purchases", field=label
				)
			if not isinstance(pattern, str):
				raise EngineConfigError(f"the pattern of segment {name!r} must be a string", field=label)
			try:
				compiled.append((name, re.compile(pattern)))
			except re.error as exc:
				raise EngineConfigError(
					f"the pattern of segment {name!r} is invalid: {exc}", field=label
				) from exc
		grid = np.empty((self.bins, self.bins), dtype=object)
		for r in range(1, self.bins + 1):
			for fm in range(1, self.bins + 1):
				cell = f"{r}{fm}"
				grid[r - 1, fm - 1] = next((name for name, rx in compiled if rx.fullmatch(cell)), None)
				if grid[r - 1, fm - 1] is None:
					raise EngineConfigError(
						f"segment_map leaves R={r}, FM={fm} (cell {cell!r}) without a segment",
						field="segment_map",
					)
		return grid


@dataclass(frozen=True)
class RFMThresholds:
	"""Cut points in use: stored by the site so incremental rescoring matches the last fit.

	Each tuple holds ``bins - 1`` non-decreasing cut points: ``recency`` on ``days_since_last``,
	``frequency`` on ``orders``, ``monetary`` on ``total_amount``. Quantile cut points may repeat
	(ties in the data). They are empty when nobody had purchased at fit time; every buyer then
	scores the middle bin until the thresholds are refitted.
	"""

	method: str
	bins: int
	recency: tuple[float, ...]
	frequency: tuple[float, ...]
	monetary: tuple[float, ...]
	n: int = 0
	fitted_on: str | None = None

	def __post_init__(self) -> None:
		if self.method not in _METHODS:
			raise EngineConfigError(f"method must be one of {', '.join(_METHODS)}", field="method")
		if (
			isinstance(self.bins, bool)
			or not isinstance(self.bins, (int, np.integer))
			or not 2 <= self.bins <= 9
		):
			raise EngineConfigError(f"bins must be an integer from 2 to 9; got {self.bins!r}", field="bins")
		for name in ("recency", "frequency", "monetary"):
			cuts = getattr(self, name)
			if len(cuts) not in (0, self.bins - 1):
				raise EngineConfigError(
					f"{name} needs {self.bins - 1} cut points for {self.bins} bins (or none); got {len(cuts)}",
					field=name,
				)
			_check_cuts(cuts, name, strict=False)

	def to_dict(self) -> dict[str, Any]:
		return {
			"method": self.method,
			"bins": int(self.bins),
			"recency": [float(x) for x in self.recency],
			"frequency": [float(x) for x in self.frequency],
			"monetary": [float(x) for x in self.monetary],
			"n": int(self.n),
			"fitted_on": self.fitted_on,
		}

	@classmethod
	def from_dict(cls, data: Mapping[str, Any]) -> RFMThresholds:
		if not isinstance(data, Mapping):
			raise EngineConfigError(f"RFM thresholds must be a mapping, got {type(data).__name__}")
		for key in ("method", "bins", "recency", "frequency", "monetary"):
			if key not in data:
				raise EngineConfigError(f"RFM thresholds lack {key!r}", field=key)
		fitted_on = data.get("fitted_on")
		return cls(
			method=_as_str(data["method"], "method"),
			bins=_as_int(data["bins"], "bins"),
			recency=_as_floats(data["recency"], "recency"),
			frequency=_as_floats(data["frequency"], "frequency"),
			monetary=_as_floats(data["monetary"], "monetary"),
			n=_as_int(data.get("n", 0), "n"),
			fitted_on=None if fitted_on is None else str(fitted_on),
		)


def _as_str(value: Any, name: str) -> str:
	if not isinstance(value, str):
		raise EngineConfigError(f"{name} must be a string; got {value!r}", field=name)
	return value.strip()


def _as_int(value: Any, name: str) -> int:
	if isinstance(value, bool):
		raise EngineConfigError(f"{name} must be an integer; got {value!r}", field=name)
	try:
		as_float = float(value)
	except (TypeError, ValueError):
		raise EngineConfigError(f"{name} must be an integer; got {value!r}", field=name) from None
	if not as_float.is_integer():
		raise EngineConfigError(f"{name} must be an integer; got {value!r}", field=name)
	return int(as_float)


def _as_float(value: Any, name: str) -> float:
	if isinstance(value, bool):
		raise EngineConfigError(f"{name} must be a number; got {value!r}", field=name)
	try:
		out = float(value)
	except (TypeError, ValueError):
		raise EngineConfigError(f"{name} must be a number; got {value!r}", field=name) from None
	if not math.isfinite(out):
		raise EngineConfigError(f"{name} must be finite; got {value!r}", field=name)
	return out


def _as_floats(value: Any, name: str) -> tuple[float, ...]:
	if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
		raise EngineConfigError(f"{name} must be a list of numbers; got {value!r}", field=name)
	return tuple(_as_float(v, name) for v in value)


def _check_cuts(cuts: tuple[float, ...], name: str, strict: bool) -> None:
	values = np.asarray(cuts, dtype=np.float64)
	if not np.isfinite(values).all():
		raise EngineConfigError(f"{name} must hold finite numbers", field=name)
	steps = np.diff(values)
	if (steps <= 0).any() if strict else (steps < 0).any():
		order = "strictly increasing" if strict else "non-decreasing"
		raise EngineConfigError(f"{name} must be {order}; got {list(cuts)}", field=name)


# ---------------------------------------------------------------------------------------------
# fitting and scoring
# ---------------------------------------------------------------------------------------------

_SCORED_COLUMNS = ("orders", "days_since_last", "total_amount")
_THREE_DIGITS = np.array([f"{i:03d}" for i in range(1000)], dtype=object)  # rfm_score by r*100+f*10+m


def fit_rfm_thresholds(
	summary: pd.DataFrame, config: RFMConfig | None = None, *, fitted_on: str | None = None
) -> RFMThresholds:
	"""Cut points for :func:`score_rfm`: quantiles of the purchasing profiles, or the config's.

	Quantiles use linear interpolation over the profiles with ``orders > 0``.
	"""
	config = config or RFMConfig()
	require_columns(summary, _SCORED_COLUMNS, "summary")
	buyers = summary["orders"].to_numpy() > 0
	if config.method == "threshold":
		return RFMThresholds(
			method="threshold",
			bins=config.bins,
			recency=tuple(config.recency_thresholds),
			frequency=tuple(config.frequency_thresholds),
			monetary=tuple(config.monetary_thresholds),
			n=int(buyers.sum()),
			fitted_on=fitted_on,
		)
	levels = np.arange(1, config.bins) / config.bins

	def cuts(column: str) -> tuple[float, ...]:
		values = summary[column].to_numpy(dtype=np.float64)[buyers]
		if len(values) == 0:
			return ()
		if not np.isfinite(values).all():
			raise EngineInputError(f"summary.{column} has missing or infinite values")
		return tuple(float(x) for x in np.quantile(values, levels))

	return RFMThresholds(
		method="quantile",
		bins=config.bins,
		recency=cuts("days_since_last"),
		frequency=cuts("orders"),
		monetary=cuts("total_amount"),
		n=int(buyers.sum()),
		fitted_on=fitted_on,
	)


def score_rfm(
	summary: pd.DataFrame, thresholds: RFMThresholds, config: RFMConfig | None = None
) -> pd.DataFrame:
	"""R, F, M scores (1..bins; 0 without purchase), the 3-digit ``rfm_score``, segment and grade.

	``rfm_score`` is the string ``"<R><F><M>"`` (``"000"`` without purchase). Profiles with
	``orders == 0`` get segment :data:`NO_PURCHASE` and grade ``"low"``.
	"""
	config = config or RFMConfig()
	require_columns(summary, _SCORED_COLUMNS, "summary")
	if thresholds.bins != config.bins:
		raise EngineConfigError(
			f"the stored thresholds have {thresholds.bins} bins but the config asks for {config.bins}: refit them",
			field="bins",
		)
	bins = config.bins
	buyer = summary["orders"].to_numpy() > 0

	def values(column: str) -> np.ndarray:
		out = summary[column].to_numpy(dtype=np.float64)
		if not np.isfinite(out[buyer]).all():
			raise EngineInputError(f"summary.{column} has missing or infinite values")
		return out

	def score(column: str, cuts: tuple[float, ...], higher_is_better: bool) -> np.ndarray:
		if not cuts:  # fitted before anyone purchased: every buyer sits in the middle bin
			return np.where(buyer, (bins + 1) // 2, 0).astype(np.int64)
		below = np.searchsorted(np.asarray(cuts, dtype=np.float64), values(column), side="left")
		raw = 1 + below if higher_is_better else bins - below
		return np.where(buyer, raw, 0).astype(np.int64)

	r = score("days_since_last", thresholds.recency, higher_is_better=False)
	f = score("orders", thresholds.frequency, higher_is_better=True)
	m = score("total_amount", thresholds.monetary, higher_is_better=True)
	fm = (f + m + 1) // 2

	grid = config.segment_grid()
	segment = np.empty(len(summary), dtype=object)
	segment.fill(NO_PURCHASE)  # one shared str (np.full would convert it into a new str per row)
	if buyer.any():
		segment[buyer] = grid[r[buyer] - 1, fm[buyer] - 1]

	basis = {"rfm_sum": r + f + m, "m_score": m, "fm_score": fm}[config.grade_basis]
	level = np.where(basis >= config.grade_high_min, 0, np.where(basis >= config.grade_mid_min, 1, 2))
	grade = np.array(["high", "mid", "low"], dtype=object)[np.where(buyer, level, 2)]
	digits = _THREE_DIGITS[r * 100 + f * 10 + m]

	return pd.DataFrame(
		{
			"r_score": r,
			"f_score": f,
			"m_score": m,
			"rfm_score": digits,
			"rfm_segment": segment,
			"value_grade": grade,
		},
		index=summary.index,
	)

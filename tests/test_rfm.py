"""rfm_summary (hand-checked cases, lifetimes parity, a plain-pandas oracle) and RFM scoring."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine import rfm
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.rfm import (
	DEFAULT_SEGMENT_MAP,
	NO_PURCHASE,
	SCORE_COLUMNS,
	SUMMARY_COLUMNS,
	RFMConfig,
	RFMThresholds,
	fit_rfm_thresholds,
	rfm_summary,
	score_rfm,
)

AS_OF = pd.Timestamp("2024-03-31")
NUMERIC = ("frequency", "recency", "T", "monetary_value", "orders", "total_amount", "days_since_last")


def tx(*rows) -> pd.DataFrame:
	"""rows of (profile, date text, amount)."""
	return pd.DataFrame(
		{
			"profile": [r[0] for r in rows],
			"date": pd.to_datetime([r[1] for r in rows], format="mixed"),
			"amount": [float(r[2]) for r in rows],
		}
	)


def row(summary: pd.DataFrame, profile: str) -> dict:
	return summary.loc[profile].to_dict()


def assert_clean(summary: pd.DataFrame) -> None:
	assert tuple(summary.columns) == SUMMARY_COLUMNS
	assert summary.index.name == "profile"
	for column in NUMERIC:
		values = summary[column].to_numpy(dtype=float)
		assert np.isfinite(values).all(), column
	assert (summary["frequency"] >= 0).all()
	assert (summary["recency"] <= summary["T"]).all()
	buyers = summary["orders"] > 0
	assert summary.loc[buyers, ["first_purchase", "last_purchase"]].notna().all().all()
	assert summary.loc[~buyers, ["first_purchase", "last_purchase"]].isna().all().all()


# ---------------------------------------------------------------------------------------------
# rfm_summary: hand-checked cases
# ---------------------------------------------------------------------------------------------


def test_single_purchase():
	s = rfm_summary(tx(("a", "2024-03-01 10:00", 120)), AS_OF)
	assert row(s, "a") == {
		"frequency": 0,
		"recency": 0.0,
		"T": 30.0,
		"monetary_value": 0.0,
		"first_purchase": pd.Timestamp("2024-03-01"),
		"last_purchase": pd.Timestamp("2024-03-01"),
		"orders": 1,
		"total_amount": 120.0,
		"days_since_last": 30.0,
	}
	assert_clean(s)


def test_same_day_orders_make_one_purchase_day_and_first_day_is_excluded_from_monetary():
	s = rfm_summary(
		tx(
			("a", "2024-03-01 09:00", 10),
			("a", "2024-03-01 17:00", 15),  # same day: one purchase day of 25
			("a", "2024-03-04", 20),
			("a", "2024-03-04 12:00", 5),  # 25 on day 3
			("a", "2024-03-11", 35),  # 35 on day 10
		),
		AS_OF,
	)
	r = row(s, "a")
	assert r["orders"] == 3
	assert r["frequency"] == 2
	assert r["recency"] == 10.0
	assert r["T"] == 30.0
	assert r["monetary_value"] == pytest.approx((25 + 35) / 2)  # first purchase day left out
	assert r["total_amount"] == pytest.approx(85.0)
	assert r["days_since_last"] == 20.0
	assert r["last_purchase"] == pd.Timestamp("2024-03-11")


def test_returns_are_netted_per_day():
	s = rfm_summary(
		tx(
			# fully returned on the same day: not a purchase day at all
			("full", "2024-03-01", 100),
			("full", "2024-03-01 15:00", -100),
			# partial same-day return: a purchase day of 30
			("partial", "2024-03-01", 10),
			("partial", "2024-03-05", 50),
			("partial", "2024-03-05 16:00", -20),
			# return booked on a later day: lowers total_amount, not monetary_value, not orders
			("later", "2024-03-01", 40),
			("later", "2024-03-02", 60),
			("later", "2024-03-20", -60),
			# a credit note and nothing else
			("credit_only", "2024-03-10", -15),
		),
		AS_OF,
	)
	assert row(s, "full")["orders"] == 0
	assert row(s, "full")["total_amount"] == 0.0
	partial = row(s, "partial")
	assert (partial["orders"], partial["frequency"], partial["monetary_value"]) == (2, 1, 30.0)
	assert partial["recency"] == 4.0 and partial["total_amount"] == 40.0
	later = row(s, "later")
	assert (later["orders"], later["monetary_value"], later["total_amount"]) == (2, 60.0, 40.0)
	assert later["last_purchase"] == pd.Timestamp("2024-03-02")
	credit = row(s, "credit_only")
	assert credit["orders"] == 0 and credit["frequency"] == 0 and credit["total_amount"] == -15.0
	assert credit["T"] == 0.0 and credit["days_since_last"] == 0.0
	assert pd.isna(credit["first_purchase"]) and pd.isna(credit["last_purchase"])
	assert_clean(s)


def test_float_noise_in_a_fully_returned_day_is_net_zero():
	s = rfm_summary(tx(("a", "2024-03-01", 0.1), ("a", "2024-03-01", 0.2), ("a", "2024-03-01", -0.3)), AS_OF)
	assert row(s, "a")["orders"] == 0


def test_zero_amount_day_is_not_a_purchase_day():
	s = rfm_summary(tx(("a", "2024-03-01", 50), ("a", "2024-03-10", 0)), AS_OF)
	assert row(s, "a")["orders"] == 1
	assert row(s, "a")["last_purchase"] == pd.Timestamp("2024-03-01")


def test_zero_amount_purchases_setting_counts_zero_amount_days():
	log = tx(
		("a", "2024-03-01", 50),
		("a", "2024-03-10", 0),  # a zero-amount invoice: a purchase under the setting
		("b", "2024-03-02", 0),  # only zero-amount invoices
		("b", "2024-03-05", 0),
		("c", "2024-03-01", 40),
		("c", "2024-03-03", 0),  # zero-amount invoice and a credit note: nets below zero
		("c", "2024-03-03", -5),
		("d", "2024-03-01", 40),
		("d", "2024-03-04", 30),  # fully returned day without a zero-amount row: still no purchase
		("d", "2024-03-04", -30),
	)
	s = rfm_summary(log, AS_OF, zero_amount_purchases=True)
	a, b, c, d = (row(s, name) for name in "abcd")
	assert (a["orders"], a["frequency"], a["recency"], a["monetary_value"]) == (2, 1, 9.0, 0.0)
	assert a["last_purchase"] == pd.Timestamp("2024-03-10") and a["days_since_last"] == 21.0
	assert (b["orders"], b["frequency"], b["recency"], b["T"], b["total_amount"]) == (2, 1, 3.0, 29.0, 0.0)
	assert c["orders"] == 1 and d["orders"] == 1
	default = rfm_summary(log, AS_OF)
	assert [row(default, name)["orders"] for name in "abcd"] == [1, 0, 1, 1]


def test_zero_amount_purchases_is_an_rfm_setting():
	assert RFMConfig().zero_amount_purchases is False
	config = RFMConfig.from_dict({"zero_amount_purchases": 1})
	assert config.zero_amount_purchases is True
	assert RFMConfig.from_dict(config.to_dict()) == config
	with pytest.raises(EngineConfigError) as info:
		RFMConfig.from_dict({"zero_amount_purchases": "yes"})
	assert info.value.field == "zero_amount_purchases"


def test_transactions_after_as_of_are_ignored_and_as_of_is_floored_to_the_day():
	s = rfm_summary(
		tx(
			("a", "2024-03-01", 10),
			("a", "2024-03-31 23:30", 20),  # the as-of day itself counts, whatever the hour
			("a", "2024-04-01 00:00", 1000),  # the next day does not
			("late", "2024-04-02", 5),  # only after as_of: not reported
		),
		pd.Timestamp("2024-03-31 08:00"),
	)
	assert list(s.index) == ["a"]
	r = row(s, "a")
	assert (r["orders"], r["recency"], r["T"], r["days_since_last"]) == (2, 30.0, 30.0, 0.0)
	assert r["total_amount"] == 30.0


def test_empty_input_gives_an_empty_frame_with_every_column():
	empty = pd.DataFrame({"profile": pd.Series([], dtype=object), "date": pd.to_datetime([]), "amount": []})
	s = rfm_summary(empty, AS_OF)
	assert len(s) == 0 and tuple(s.columns) == SUMMARY_COLUMNS
	with_profiles = rfm_summary(empty, AS_OF, profiles=["x", "y"])
	assert list(with_profiles.index) == ["x", "y"]
	assert (with_profiles["orders"] == 0).all()
	assert_clean(with_profiles)


def test_one_customer_with_thousands_of_orders():
	days = pd.date_range("2020-01-01", periods=1500, freq="D")
	amounts = np.arange(1, 1501, dtype=float)
	frame = pd.DataFrame({"profile": "big", "date": days, "amount": amounts})
	# plus a second order on every tenth day
	extra = pd.DataFrame({"profile": "big", "date": days[::10] + pd.Timedelta(hours=5), "amount": 1.0})
	s = rfm_summary(pd.concat([frame, extra]).sample(frac=1, random_state=1), pd.Timestamp("2024-12-31"))
	r = row(s, "big")
	assert r["orders"] == 1500 and r["frequency"] == 1499
	assert r["recency"] == 1499.0
	assert r["T"] == float((pd.Timestamp("2024-12-31") - days[0]).days)
	repeat_total = amounts[1:].sum() + len(days[::10]) - 1  # the first day's extra order is excluded
	assert r["monetary_value"] == pytest.approx(repeat_total / 1499)
	assert r["total_amount"] == pytest.approx(amounts.sum() + len(days[::10]))


def test_profiles_argument_fixes_rows_and_order():
	frame = tx(("a", "2024-03-01", 10), ("b", "2024-03-02", 20))
	s = rfm_summary(frame, AS_OF, profiles=["c", "a"])
	assert list(s.index) == ["c", "a"]  # b dropped, c added with zeros
	assert row(s, "c")["orders"] == 0 and row(s, "a")["orders"] == 1
	with pytest.raises(EngineInputError, match="duplicates"):
		rfm_summary(frame, AS_OF, profiles=["a", "a"])


def test_weekly_periods_start_on_monday():
	s = rfm_summary(
		tx(
			("a", "2024-01-01", 10),  # Monday
			("a", "2024-01-07", 10),  # Sunday, same week
			("a", "2024-01-08", 30),  # next Monday
		),
		"2024-01-24",  # Wednesday of the 4th week
		freq="W",
	)
	r = row(s, "a")
	assert (r["orders"], r["frequency"], r["recency"], r["T"]) == (2, 1, 1.0, 3.0)
	assert r["monetary_value"] == 30.0
	assert r["first_purchase"] == pd.Timestamp("2024-01-01")
	assert r["days_since_last"] == 14.0  # week starts: 2024-01-22 - 2024-01-08


def test_output_order_follows_first_appearance():
	s = rfm_summary(tx(("z", "2024-03-01", 1), ("a", "2024-03-02", 1), ("z", "2024-03-03", 1)), AS_OF)
	assert list(s.index) == ["z", "a"]


@pytest.mark.parametrize(
	"dates",
	[
		pd.Series(pd.to_datetime(["2024-03-01", "2024-03-05"])).dt.tz_localize("Asia/Shanghai"),
		pd.Series([dt.date(2024, 3, 1), dt.date(2024, 3, 5)], dtype=object),
		pd.Series(["2024-03-01", "2024-03-05 10:00"]),
		pd.Series(pd.to_datetime(["2024-03-01", "2024-03-05"])).astype("datetime64[s]"),
	],
	ids=["tz-aware", "date objects", "text", "seconds resolution"],
)
def test_date_columns_of_every_kind(dates):
	frame = pd.DataFrame({"profile": ["a", "a"], "date": dates, "amount": [5.0, 7.0]})
	r = row(rfm_summary(frame, dt.date(2024, 3, 31)), "a")
	assert (r["orders"], r["recency"], r["T"]) == (2, 4.0, 30.0)


def test_decimal_amounts_from_the_database_driver():
	from decimal import Decimal

	frame = pd.DataFrame(
		{
			"profile": ["a", "a", "a"],
			"date": pd.to_datetime(["2024-03-01", "2024-03-03", "2024-03-04"]),
			"amount": [Decimal("10.50"), Decimal("4.25"), Decimal("-2.25")],
		}
	)
	r = row(rfm_summary(frame, AS_OF), "a")
	assert (r["orders"], r["monetary_value"], r["total_amount"]) == (2, 4.25, 12.5)


@pytest.mark.parametrize(
	"profiles",
	[
		pd.Categorical(["b", "a", "b", "c"], categories=["a", "b", "c", "unused"]),
		[7, 3, 7, 9],
		["東京-01", "Ünïcode", "東京-01", "a" * 200],  # multi-byte, long (pandas.factorize)
		["p\x00x", "q", "p\x00x", "r"],  # NUL inside
		["same-prefix-12345678-a", "same-prefix-12345678-b", "same-prefix-12345678-a", "x"],
	],
	ids=["categorical", "integers", "unicode-long", "nul", "shared-prefix"],
)
def test_profile_columns_of_every_kind(profiles):
	frame = pd.DataFrame(
		{
			"profile": profiles,
			"date": pd.to_datetime(["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]),
			"amount": [1.0, 2.0, 3.0, 4.0],
		}
	)
	s = rfm_summary(frame, AS_OF)
	values = list(pd.Series(profiles))
	expected_order = list(dict.fromkeys(values))
	assert list(s.index) == expected_order
	first = values[0]
	assert row(s, first)["orders"] == 2 and row(s, first)["monetary_value"] == 3.0
	assert s["orders"].sum() == 4


def _expected_codes(values):
	"""Codes by Python equality (pandas 2's factorize stops at a NUL inside a string)."""
	first: dict = {}
	codes = np.array([first.setdefault(v, len(first)) for v in values], dtype=np.int64)
	return codes, list(first)


@pytest.mark.parametrize(
	"pool",
	[
		[f"FPL-{i:07d}" for i in range(50)],  # the usual document name: 11 ASCII bytes, two words
		["a", "ab", "abcdefgh", "abcdefghi", "", "abcdefgh" * 3, "abcdefgh" * 3 + "x"],  # word edges
		["東京-01", "Ünïcode", "東京-1", "e\u0301", "\u00e9"],  # non-ASCII: UTF-32 words
		["p\x00x", "p", "px", "\x00p"],  # NUL inside a name is kept
		["x" * 64, "x" * 65, "y" * 300],  # longer than _MAX_ID_BYTES: pandas.factorize
	],
	ids=["document-names", "word-edges", "unicode", "inner-nul", "long"],
)
def test_encode_profiles_matches_python_equality(pool):
	rng = np.random.default_rng(3)
	values = np.array(pool, dtype=object)[rng.integers(0, len(pool), 2000)]
	codes, labels = rfm._encode_profiles(pd.Series(values, dtype=object))
	expected_codes, uniques = _expected_codes(values)
	assert codes.dtype == np.int64
	assert np.array_equal(codes, expected_codes)
	assert list(labels) == uniques


def test_encode_profiles_is_exact_on_random_text():
	rng = np.random.default_rng(5)
	pool = ["".join(rng.choice(list("ab\u00e9x-0"), size=n)) for n in rng.integers(0, 30, 400)]
	values = np.array(pool, dtype=object)[rng.integers(0, len(pool), 5000)]
	codes, labels = rfm._encode_profiles(pd.Series(values, dtype=object))
	expected_codes, uniques = _expected_codes(values)
	assert np.array_equal(codes, expected_codes) and list(labels) == uniques


def test_encode_profiles_takes_integer_and_categorical_keys_without_reading_text():
	codes, labels = rfm._encode_profiles(pd.Series(np.array([7, 3, 7, 9], dtype=np.int32)))
	assert list(codes) == [0, 1, 0, 2] and list(labels) == [7, 3, 9]
	cat = pd.Series(pd.Categorical(["b", "a", "b"], categories=["a", "b", "unused"]))
	codes, labels = rfm._encode_profiles(cat)
	assert list(codes) == [0, 1, 0] and list(labels) == ["b", "a"]


def test_mixed_types_are_not_merged_by_their_text():
	# 1 and "1" are different profiles (numpy's bytes would print both as b"1")
	codes, labels = rfm._encode_profiles(pd.Series([1, "1", 1], dtype=object))
	assert list(codes) == [0, 1, 0] and list(labels) == [1, "1"]


def test_the_engine_reads_no_interpreter_internals():
	import re
	from pathlib import Path

	app = Path(rfm.__file__).parents[1]
	for path in app.rglob("*.py"):
		assert not re.search(r"\bctypes\b", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize(
	("frame", "message"),
	[
		(pd.DataFrame({"profile": ["a"], "date": [pd.Timestamp("2024-01-01")]}), "missing column"),
		(pd.DataFrame({"profile": ["a"], "date": [pd.NaT], "amount": [1.0]}), "date has missing"),
		(
			pd.DataFrame({"profile": ["a"], "date": [pd.Timestamp("2024-01-01")], "amount": [np.nan]}),
			"amount",
		),
		(pd.DataFrame({"profile": [None], "date": [pd.Timestamp("2024-01-01")], "amount": [1.0]}), "profile"),
		(pd.DataFrame({"profile": ["a"], "date": ["not a date"], "amount": [1.0]}), "not dates"),
		(
			pd.DataFrame({"profile": ["a"], "date": [pd.Timestamp("2024-01-01")], "amount": ["x"]}),
			"not numbers",
		),
	],
)
def test_bad_frames_raise_input_errors(frame, message):
	with pytest.raises(EngineInputError, match=message):
		rfm_summary(frame, AS_OF)


def test_bad_arguments():
	frame = tx(("a", "2024-03-01", 1))
	with pytest.raises(EngineInputError, match="freq"):
		rfm_summary(frame, AS_OF, freq="M")
	with pytest.raises(EngineInputError, match="as_of"):
		rfm_summary(frame, "yesterday-ish")
	with pytest.raises(EngineInputError, match="as_of"):
		rfm_summary(frame, None)


# ---------------------------------------------------------------------------------------------
# rfm_summary against lifetimes and against a plain pandas oracle
# ---------------------------------------------------------------------------------------------


def lifetimes_summary():
	try:
		from lifetimes.utils import summary_data_from_transaction_data
	except Exception:  # not installed, or its autograd does not import here
		pytest.skip("lifetimes is not importable")
	return summary_data_from_transaction_data


def random_log(rng: np.random.Generator, n: int, n_profiles: int, returns: bool) -> pd.DataFrame:
	minutes = rng.integers(0, 200 * 24 * 60, n)
	amount = np.round(rng.gamma(2.0, 30.0, n), 2) + 0.01
	if returns:
		flip = rng.random(n) < 0.25
		amount[flip] = -np.round(amount[flip] * rng.uniform(0.2, 2.0, flip.sum()), 2)
	return pd.DataFrame(
		{
			"profile": np.array([f"p{i}" for i in rng.integers(0, n_profiles, n)], dtype=object),
			"date": pd.Timestamp("2023-01-01") + pd.to_timedelta(minutes, unit="min"),
			"amount": amount,
		}
	)


@pytest.mark.filterwarnings("ignore:The 'mode.chained_assignment' option is deprecated")
@pytest.mark.parametrize("freq", ["D", "W"])
def test_matches_lifetimes_for_positive_amounts(freq):
	summary_data_from_transaction_data = lifetimes_summary()
	rng = np.random.default_rng(11)
	for _ in range(15):
		frame = random_log(rng, int(rng.integers(1, 400)), int(rng.integers(1, 50)), returns=False)
		as_of = pd.Timestamp("2023-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 220 * 24 * 60)))
		ours = rfm_summary(frame, as_of, freq=freq)
		if frame["date"].min().to_period(freq).to_timestamp() > as_of:
			assert len(ours) == 0
			continue
		theirs = summary_data_from_transaction_data(
			frame, "profile", "date", monetary_value_col="amount", observation_period_end=as_of, freq=freq
		)
		ours = ours.loc[theirs.index]
		for column in ("frequency", "recency", "T", "monetary_value"):
			np.testing.assert_allclose(
				ours[column].to_numpy(float), theirs[column].to_numpy(), err_msg=column
			)


def oracle(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
	"""The documented semantics, written the slow and obvious way."""
	as_of_day = as_of.normalize()
	frame = frame.assign(day=frame["date"].dt.normalize())
	frame = frame[frame["day"] <= as_of_day]
	total = frame.groupby("profile", sort=False)["amount"].sum()
	grouped = frame.assign(gross=frame["amount"].abs()).groupby(["profile", "day"], sort=True)
	days = grouped[["amount", "gross"]].sum().reset_index()
	days = days[days["amount"] > 1e-9 * days["gross"]]
	out = {}
	for profile, tot in total.items():
		mine = days[days["profile"] == profile].sort_values("day")
		if len(mine) == 0:
			out[profile] = (0, 0.0, 0.0, 0.0, 0, tot, 0.0)
			continue
		first, last = mine["day"].iloc[0], mine["day"].iloc[-1]
		freq = len(mine) - 1
		monetary = mine["amount"].iloc[1:].mean() if freq else 0.0
		out[profile] = (
			freq,
			float((last - first).days),
			float((as_of_day - first).days),
			monetary,
			len(mine),
			tot,
			float((as_of_day - last).days),
		)
	columns = ["frequency", "recency", "T", "monetary_value", "orders", "total_amount", "days_since_last"]
	return pd.DataFrame.from_dict(out, orient="index", columns=columns)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 120), n_profiles=st.integers(1, 12))
def test_matches_the_pandas_oracle_with_returns(seed, n, n_profiles):
	rng = np.random.default_rng(seed)
	frame = random_log(rng, n, n_profiles, returns=True)
	as_of = pd.Timestamp("2023-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 220 * 24 * 60)))
	ours = rfm_summary(frame, as_of)
	assert_clean(ours)
	expected = oracle(frame, as_of)
	assert sorted(ours.index) == sorted(expected.index)
	for column in expected.columns:
		np.testing.assert_allclose(
			ours.loc[expected.index, column].to_numpy(float), expected[column].to_numpy(float), atol=1e-9
		)


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


def test_default_config_and_round_trip():
	config = RFMConfig()
	assert config.method == "quantile" and config.bins == 5
	assert RFMConfig.from_dict(config.to_dict()) == config
	assert RFMConfig.from_dict(None) == config
	custom = RFMConfig.from_dict(
		{
			"method": "threshold",
			"recency_thresholds": [30, 90, 180, 365],
			"frequency_thresholds": [1, 2, 4, 8],
			"monetary_thresholds": [100, 500, 1000, 5000],
			"grade_basis": "m_score",
			"grade_high_min": 5,
			"grade_mid_min": 3,
		}
	)
	assert custom.recency_thresholds == (30.0, 90.0, 180.0, 365.0)
	assert RFMConfig.from_dict(custom.to_dict()) == custom


def test_default_segment_map_covers_the_grid_with_the_standard_names():
	grid = RFMConfig().segment_grid()
	assert grid.shape == (5, 5)
	assert set(grid.ravel()) == set(DEFAULT_SEGMENT_MAP)
	assert grid[4, 4] == "champions" and grid[0, 0] == "lost" and grid[0, 4] == "cannot lose"
	assert grid[4, 0] == "new" and grid[3, 0] == "promising" and grid[2, 2] == "need attention"


@pytest.mark.parametrize(
	("data", "field"),
	[
		({"colour": "red"}, "colour"),
		({"method": "kmeans"}, "method"),
		({"method": 3}, "method"),
		({"bins": 1}, "bins"),
		({"bins": 12}, "bins"),
		({"bins": 2.5}, "bins"),
		({"bins": True}, "bins"),
		({"method": "threshold"}, "recency_thresholds"),
		(
			{
				"method": "threshold",
				"recency_thresholds": [30, 90, 180, 365],
				"frequency_thresholds": [1, 2, 2, 8],
				"monetary_thresholds": [1, 2, 3, 4],
			},
			"frequency_thresholds",
		),
		(
			{
				"method": "threshold",
				"recency_thresholds": [30, 90, 180, 365],
				"frequency_thresholds": [1, 2, 4, 8],
				"monetary_thresholds": [1, 2, "lots", 4],
			},
			"monetary_thresholds",
		),
		({"recency_thresholds": "30, 90"}, "recency_thresholds"),
		({"segment_map": {"everyone": "[1-5"}}, "segment_map.everyone"),
		({"segment_map": {"top": "5[4-5]"}}, "segment_map"),
		({"segment_map": {NO_PURCHASE: ".."}}, f"segment_map.{NO_PURCHASE}"),
		({"segment_map": ["a"]}, "segment_map"),
		({"grade_basis": "vibes"}, "grade_basis"),
		({"grade_high_min": "high"}, "grade_high_min"),
		({"grade_high_min": float("nan")}, "grade_high_min"),
		({"grade_high_min": 5, "grade_mid_min": 9}, "grade_mid_min"),
		({"bins": 6}, "segment_map"),  # the default map leaves the cells with a 6 unmatched
	],
)
def test_bad_config_names_the_field(data, field):
	with pytest.raises(EngineConfigError) as err:
		RFMConfig.from_dict(data)
	assert err.value.field == field


def test_config_needs_a_mapping():
	with pytest.raises(EngineConfigError):
		RFMConfig.from_dict(["method"])


# ---------------------------------------------------------------------------------------------
# thresholds and scoring
# ---------------------------------------------------------------------------------------------


def summary_of(days_since_last, orders, total_amount) -> pd.DataFrame:
	n = len(orders)
	return pd.DataFrame(
		{"days_since_last": days_since_last, "orders": orders, "total_amount": total_amount},
		index=pd.Index([f"p{i}" for i in range(n)], name="profile"),
	)


THRESHOLD_CONFIG = RFMConfig(
	method="threshold",
	recency_thresholds=(30, 90, 180, 365),
	frequency_thresholds=(1, 2, 4, 8),
	monetary_thresholds=(100, 500, 1000, 5000),
)


def test_threshold_scores_are_right_closed():
	summary = summary_of(
		days_since_last=[10, 30, 31, 365, 400, 0],
		orders=[1, 2, 3, 8, 9, 0],
		total_amount=[100, 100.01, 999, 5000, 6000, 0],
	)
	thresholds = fit_rfm_thresholds(summary, THRESHOLD_CONFIG)
	assert thresholds.recency == (30.0, 90.0, 180.0, 365.0) and thresholds.n == 5
	scores = score_rfm(summary, thresholds, THRESHOLD_CONFIG)
	assert tuple(scores.columns) == SCORE_COLUMNS
	assert list(scores["r_score"]) == [5, 5, 4, 2, 1, 0]
	assert list(scores["f_score"]) == [1, 2, 3, 4, 5, 0]
	assert list(scores["m_score"]) == [1, 2, 3, 4, 5, 0]
	assert list(scores["rfm_score"]) == ["511", "522", "433", "244", "155", "000"]
	# FM = round half up of (F + M) / 2; default map
	assert list(scores["rfm_segment"]) == [
		"new",
		"potential loyalist",
		"potential loyalist",
		"at risk",
		"cannot lose",
		NO_PURCHASE,
	]
	# value grade on R + F + M: high >= 12, mid >= 8
	assert list(scores["value_grade"]) == ["low", "mid", "mid", "mid", "mid", "low"]


def test_quantile_thresholds_on_known_data():
	summary = summary_of(
		days_since_last=[*np.arange(1, 11, dtype=float).tolist(), 0.0],
		orders=[1, 1, 1, 1, 1, 1, 2, 2, 3, 10, 0],
		total_amount=[*np.arange(10, 110, 10, dtype=float).tolist(), -5.0],
	)
	thresholds = fit_rfm_thresholds(summary, fitted_on="2024-03-31")
	assert thresholds.method == "quantile" and thresholds.n == 10 and thresholds.fitted_on == "2024-03-31"
	np.testing.assert_allclose(thresholds.recency, np.quantile(np.arange(1, 11), [0.2, 0.4, 0.6, 0.8]))
	np.testing.assert_allclose(thresholds.frequency, [1.0, 1.0, 1.4, 2.2])  # ties repeat: most bought once
	scores = score_rfm(summary, thresholds)
	assert list(scores["r_score"][:10]) == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
	assert list(scores["f_score"][:10]) == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
	assert list(scores["m_score"][:10]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
	last = scores.iloc[-1]
	assert (last["rfm_segment"], last["value_grade"], last["r_score"]) == (NO_PURCHASE, "low", 0)


def test_thresholds_round_trip_and_rescoring_uses_the_stored_cut_points():
	fit_on = summary_of([5, 50, 500], [1, 3, 9], [10, 100, 1000])
	thresholds = fit_rfm_thresholds(fit_on)
	stored = RFMThresholds.from_dict(thresholds.to_dict())
	assert stored == thresholds
	new_profile = summary_of([50], [3], [100])
	assert score_rfm(new_profile, stored).iloc[0].to_dict() == score_rfm(fit_on, thresholds).iloc[1].to_dict()


def test_thresholds_fitted_before_any_purchase_put_buyers_in_the_middle():
	thresholds = fit_rfm_thresholds(summary_of([0, 0], [0, 0], [0, -3]))
	assert thresholds.recency == () and thresholds.n == 0
	scores = score_rfm(summary_of([10], [2], [50]), thresholds)
	assert scores.iloc[0]["rfm_score"] == "333" and scores.iloc[0]["rfm_segment"] == "need attention"


@pytest.mark.parametrize(
	("data", "field"),
	[
		({"method": "quantile", "bins": 5, "recency": [1, 2], "frequency": [], "monetary": []}, "recency"),
		(
			{"method": "quantile", "bins": 5, "recency": [4, 3, 2, 1], "frequency": [], "monetary": []},
			"recency",
		),
		({"method": "quantile", "bins": 5, "recency": [], "frequency": []}, "monetary"),
		({"method": "x", "bins": 5, "recency": [], "frequency": [], "monetary": []}, "method"),
		({"method": "quantile", "bins": 5, "recency": [], "frequency": [None], "monetary": []}, "frequency"),
	],
)
def test_bad_thresholds_name_the_field(data, field):
	with pytest.raises(EngineConfigError) as err:
		RFMThresholds.from_dict(data)
	assert err.value.field == field


def test_scoring_with_thresholds_of_another_bin_count_is_refused():
	thresholds = fit_rfm_thresholds(summary_of([1, 2, 3], [1, 2, 3], [1, 2, 3]), RFMConfig(bins=3))
	with pytest.raises(EngineConfigError) as err:
		score_rfm(summary_of([1], [1], [1]), thresholds, RFMConfig())
	assert err.value.field == "bins"


def test_scoring_needs_summary_columns():
	with pytest.raises(EngineInputError, match="total_amount"):
		score_rfm(
			pd.DataFrame({"orders": [1], "days_since_last": [3]}),
			fit_rfm_thresholds(summary_of([1], [1], [1])),
		)


def test_custom_segment_map_and_grade_basis():
	config = RFMConfig(
		bins=3,
		segment_map={"good": "3[2-3]", "rest": ".."},
		grade_basis="fm_score",
		grade_high_min=3,
		grade_mid_min=2,
	)
	summary = summary_of([1, 100, 50], [5, 1, 3], [500, 1, 100])
	scores = score_rfm(summary, fit_rfm_thresholds(summary, config), config)
	assert list(scores["rfm_segment"]) == ["good", "rest", "rest"]
	assert list(scores["value_grade"]) == ["high", "low", "mid"]


@settings(max_examples=60, deadline=None)
@given(
	data=st.lists(
		st.tuples(
			st.integers(0, 40),  # orders
			st.floats(0, 3000, allow_nan=False),  # days since last
			st.floats(-1e6, 1e7, allow_nan=False),  # total amount
		),
		min_size=0,
		max_size=40,
	),
	bins=st.integers(2, 9),
)
def test_scores_are_in_range_for_any_summary(data, bins):
	summary = summary_of([d[1] for d in data], [d[0] for d in data], [d[2] for d in data])
	config = RFMConfig(bins=bins, segment_map={"all": "[1-9][1-9]"})
	scores = score_rfm(summary, fit_rfm_thresholds(summary, config), config)
	assert len(scores) == len(summary)
	buyers = summary["orders"].to_numpy() > 0
	for column in ("r_score", "f_score", "m_score"):
		values = scores[column].to_numpy()
		assert ((values >= 1) & (values <= bins))[buyers].all()
		assert (values[~buyers] == 0).all()
	assert set(scores["rfm_segment"]) <= {"all", NO_PURCHASE}
	assert set(scores["value_grade"]) <= {"high", "mid", "low"}
	assert scores.notna().all().all()


def test_summary_feeds_scoring_end_to_end():
	rng = np.random.default_rng(5)
	summary = rfm_summary(random_log(rng, 3000, 300, returns=True), pd.Timestamp("2023-07-01"))
	scores = score_rfm(summary, fit_rfm_thresholds(summary))
	assert scores.index.equals(summary.index)
	assert set(scores["rfm_segment"]) <= set(DEFAULT_SEGMENT_MAP) | {NO_PURCHASE}
	assert (scores.loc[summary["orders"] == 0, "rfm_segment"] == NO_PURCHASE).all()
	assert scores.notna().all().all()

"""BG/NBD and Gamma-Gamma: CDNOW reproduction, lifetimes parity, invariants and edge cases."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crm_fishpond.engine import btyd
from crm_fishpond.engine.btyd import (
	CHURN_COLUMNS,
	BGNBDParams,
	ChurnConfig,
	GammaGammaParams,
	churn_frame,
	clv,
	expected_purchases,
	expected_spend,
	fit_bgnbd,
	fit_gamma_gamma,
	p_alive,
)
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.rfm import rfm_summary

DATA = Path(__file__).parent / "data"

# lifetimes 0.11.3 (BetaGeoFitter / GammaGammaFitter, penalizer 0) on the same CDNOW files, full precision
LIFETIMES_BG = {
	"r": 0.24259292827982148,
	"alpha": 4.413532265271809,
	"a": 0.7928859664406578,
	"b": 2.4257523826257374,
}
LIFETIMES_GG = {"p": 6.24880249607099, "q": 3.7445884609237634, "v": 15.447748064943575}
# (x, t_x, T) rows and a spend per row; the predictions lifetimes gives for them with the parameters above
ROWS = [
	(0, 0, 38.86),
	(2, 30.43, 38.86),
	(1, 1.71, 38.86),
	(29, 38.43, 38.86),
	(5, 10, 38),
	(0, 0, 0.5),
	(100, 200, 200.5),
	(3, 0.5, 60),
]
SPENDS = [20.0, 22.35, 11.77, 40, 5, 10, 100, 35.5]
P_ALIVE = [
	1.0,
	0.7266091367990596,
	0.21222738807220765,
	0.9662790837132983,
	0.02749313607871951,
	1.0,
	0.9901121030654843,
	0.00132535642706778,
]
EXPECTED_10 = [
	0.0542100973313467,
	0.3569310086469064,
	0.05820268119914963,
	6.031632490987274,
	0.03180675422604566,
	0.3951234493716561,
	4.754205990559556,
	0.0006409182039521598,
]
EXPECTED_52 = [
	0.25166572540726884,
	1.5585837617716805,
	0.25990707940849045,
	24.610736566999194,
	0.13413125216446392,
	1.3469733828813308,
	23.0168652545593,
	0.00289986545561334,
]
SPEND = [
	35.17100215250688,
	24.65861618923827,
	18.911479869933782,
	39.927953784542815,
	7.436316355160955,
	35.17100215250688,
	99.71650433725156,
	35.45798409259229,
]
CLV_W_12M_1PCT = [
	8.34409312180974,
	36.278495763627944,
	4.637466328570688,
	928.9646073995846,
	0.9422596794844401,
	44.95260657447106,
	2161.7666562510954,
	0.09698715963017814,
]
CLV_D_6M_2PCT = [
	23.035876541290417,
	90.77788035642129,
	12.00068943130289,
	2138.73606116307,
	2.2520554908838255,
	93.55872031638681,
	6276.8277750840225,
	0.25338820933936257,
]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
	return pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv", index_col="ID")


@pytest.fixture(scope="module")
def bg(cdnow) -> BGNBDParams:
	return fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], freq="W", fitted_on="1997-09-30")


@pytest.fixture(scope="module")
def gg(cdnow) -> GammaGammaParams:
	return fit_gamma_gamma(cdnow["x"], cdnow["zbar"])


def lifetimes_bg(freq: str = "W") -> BGNBDParams:
	return BGNBDParams(**LIFETIMES_BG, n=2357, log_likelihood=0.0, freq=freq)


def lifetimes_gg() -> GammaGammaParams:
	return GammaGammaParams(**LIFETIMES_GG, n=946, log_likelihood=0.0)


def columns(rows=ROWS):
	return tuple(np.array([r[i] for r in rows], dtype=float) for i in range(3))


# ---------------------------------------------------------------------------------------------
# CDNOW: the published fits
# ---------------------------------------------------------------------------------------------


def test_bgnbd_reproduces_fader_hardie_lee_on_cdnow(bg):
	# Fader, Hardie & Lee (2005), Marketing Science 24(2): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426
	assert f"{bg.r:.3g}" == "0.243"
	assert f"{bg.alpha:.4g}" == "4.414"
	assert f"{bg.a:.3g}" == "0.793"
	assert f"{bg.b:.4g}" == "2.426"
	assert bg.log_likelihood == pytest.approx(-9582.4, abs=0.05)  # the paper's LL
	assert bg.n == 2357 and bg.converged and bg.freq == "W" and bg.fitted_on == "1997-09-30"
	for name, value in LIFETIMES_BG.items():
		assert getattr(bg, name) == pytest.approx(value, rel=1e-5), name


def test_bgnbd_on_the_plain_cdnow_summary_file(bg):
	plain = pd.read_csv(DATA / "cdnow_customers_summary.csv", index_col="ID")
	again = fit_bgnbd(plain["frequency"], plain["recency"], plain["T"], freq="W")
	for name in ("r", "alpha", "a", "b"):
		assert getattr(again, name) == pytest.approx(getattr(bg, name), rel=1e-6)


def test_gamma_gamma_reproduces_the_published_cdnow_fit(gg):
	# Fader & Hardie (2013) note 025 and lifetimes' docs: p = 6.25, q = 3.74, v = 15.45 on 946 repeat buyers
	assert f"{gg.p:.3g}" == "6.25"
	assert f"{gg.q:.3g}" == "3.74"
	assert f"{gg.v:.4g}" == "15.45"
	assert gg.n == 946 and gg.converged
	for name, value in LIFETIMES_GG.items():
		assert getattr(gg, name) == pytest.approx(value, rel=1e-5), name
	assert gg.mean_spend == pytest.approx(gg.p * gg.v / (gg.q - 1))


def test_gamma_gamma_log_likelihood_is_on_the_original_money_scale(cdnow, gg):
	x = cdnow.loc[cdnow["x"] > 0, "x"].to_numpy(float)
	m = cdnow.loc[cdnow["x"] > 0, "zbar"].to_numpy(float)
	from scipy.special import gammaln

	p, q, v = gg.p, gg.q, gg.v
	direct = (
		gammaln(p * x + q)
		- gammaln(p * x)
		- gammaln(q)
		+ q * np.log(v)
		+ (p * x - 1) * np.log(m)
		+ p * x * np.log(x)
		- (p * x + q) * np.log(x * m + v)
	).sum()
	assert gg.log_likelihood == pytest.approx(direct, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# predictions match lifetimes
# ---------------------------------------------------------------------------------------------


def test_p_alive_matches_lifetimes():
	np.testing.assert_allclose(p_alive(lifetimes_bg(), *columns()), P_ALIVE, rtol=1e-10)


@pytest.mark.parametrize(("t", "expected"), [(10, EXPECTED_10), (52, EXPECTED_52)])
def test_expected_purchases_match_lifetimes(t, expected):
	np.testing.assert_allclose(expected_purchases(lifetimes_bg(), t, *columns()), expected, rtol=1e-9)


def test_expected_spend_matches_lifetimes():
	x = columns()[0]
	np.testing.assert_allclose(expected_spend(lifetimes_gg(), x, SPENDS), SPEND, rtol=1e-12)


@pytest.mark.parametrize(
	("freq", "months", "rate", "expected"), [("W", 12, 0.01, CLV_W_12M_1PCT), ("D", 6, 0.02, CLV_D_6M_2PCT)]
)
def test_clv_matches_lifetimes(freq, months, rate, expected):
	value = clv(lifetimes_bg(freq), lifetimes_gg(), *columns(), SPENDS, months=months, discount_rate=rate)
	np.testing.assert_allclose(value, expected, rtol=1e-9)


def test_clv_without_gamma_gamma_uses_the_given_spend():
	x, tx, big_t = columns()
	with_spend = clv(lifetimes_bg(), None, x, tx, big_t, SPENDS)
	per_purchase = clv(lifetimes_bg(), None, x, tx, big_t, np.ones(len(x)))
	np.testing.assert_allclose(with_spend, per_purchase * np.array(SPENDS))
	undiscounted = clv(lifetimes_bg(), None, x, tx, big_t, 1.0, months=3, discount_rate=0.0)
	np.testing.assert_allclose(undiscounted, expected_purchases(lifetimes_bg(), 3 * 4.345, x, tx, big_t))


# ---------------------------------------------------------------------------------------------
# invariants
# ---------------------------------------------------------------------------------------------


def test_p_alive_rises_with_recency_at_fixed_frequency_and_age(bg):
	recency = np.linspace(0.01, 38, 200)
	for x in (1, 3, 10):
		values = p_alive(bg, np.full(200, x), recency, np.full(200, 38.0))
		assert (np.diff(values) > 0).all()
		assert ((values >= 0) & (values <= 1)).all()


def test_expected_purchases_grow_with_the_horizon(bg):
	x, tx, big_t = columns()
	previous = np.zeros(len(x))
	for t in (0.5, 1, 5, 26, 52, 520, 5200):
		current = expected_purchases(bg, t, x, tx, big_t)
		assert (current >= previous).all()
		previous = current
	assert (expected_purchases(bg, 0, x, tx, big_t) == 0).all()


def test_extreme_but_valid_inputs_stay_finite(bg, gg):
	rows = [
		(0, 0, 0),  # bought today, once
		(0, 0, 1e6),
		(1, 0, 0),  # two purchases on the first day is impossible in a summary, but valid maths
		(1e6, 1e6, 1e6),  # huge frequency
		(5e4, 10, 1e5),
		(1, 1e-9, 1e7),
		(300, 300, 300),
	]
	x, tx, big_t = columns(rows)
	for values in (
		p_alive(bg, x, tx, big_t),
		expected_purchases(bg, 52, x, tx, big_t),
		expected_purchases(bg, 1e6, x, tx, big_t),
		expected_spend(gg, x, np.full(len(x), 1e9)),
		clv(bg, gg, x, tx, big_t, np.full(len(x), 25.0)),
	):
		assert np.isfinite(values).all() and (values >= 0).all()


# (r, alpha, a, b, x, T, t, E[purchases in t | alive]) computed with mpmath at 40 digits from FHL's
# original (non-transformed) formula; a = 1 as the limit. They cover the plain closed form, the
# contiguous-relation branch (x = 0, a + b <= 1), the interpolation next to a = 1 and a huge x.
MPMATH_EXPECTED_IF_ALIVE = [
	(0.5, 5.0, 0.3, 0.5, 0, 20, 10, 0.1817266465998028),
	(0.5, 5.0, 0.3, 0.5, 0, 0, 10, 0.7259985148219076),
	(1.2, 2.0, 0.2, 0.3, 0, 3, 100, 9.227763726950133),
	(0.3, 1.0, 0.05, 0.02, 0, 0.5, 3000, 122.19988287376215),
	(0.5, 5.0, 0.9999999, 2.0, 3, 20, 10, 1.2255086503303874),
	(0.5, 5.0, 1.0, 2.0, 0, 20, 52, 0.7329800867034153),
	(0.5, 5.0, 1.0004, 2.0, 40, 30, 52, 37.32435624946496),
	(0.24, 4.4, 0.79, 2.4, 5000, 38, 52, 4358.59430590668),
	(2.0, 30.0, 3.5, 1.2, 7, 5, 0.1, 0.025604802121361576),
]


@pytest.mark.parametrize(("r", "alpha", "a", "b", "x", "big_t", "t", "expected"), MPMATH_EXPECTED_IF_ALIVE)
def test_conditional_expectation_against_high_precision(r, alpha, a, b, x, big_t, t, expected):
	params = BGNBDParams(r=r, alpha=alpha, a=a, b=b, n=1, log_likelihood=0)
	value = btyd._expected_if_alive(
		params, np.array([t], float), np.array([x], float), np.array([big_t], float)
	)
	assert value[0] == pytest.approx(expected, rel=1e-6)


def test_quadrature_fallback_agrees_with_the_closed_form():
	t = np.array([0.1, 1, 10, 52, 400, 0.1, 5, 52, 52, 10])
	x = np.array([0, 0, 1, 2, 3, 7, 20, 50, 0, 1], dtype=float)
	big_t = np.array([1, 10, 20, 38, 38, 5, 40, 60, 2, 0.5])
	for params in (
		lifetimes_bg(),
		BGNBDParams(r=2.0, alpha=30.0, a=3.5, b=1.2, n=1, log_likelihood=0),
		BGNBDParams(r=0.05, alpha=0.5, a=0.2, b=8.0, n=1, log_likelihood=0),
	):
		closed = btyd._expected_if_alive(params, t, x, big_t)
		quad = btyd._expected_if_alive_quadrature(params, t, x, big_t)
		np.testing.assert_allclose(closed, quad, rtol=1e-6)


def test_expectation_is_continuous_across_a_equal_one():
	x, tx, big_t = columns()
	near = [
		BGNBDParams(r=0.5, alpha=5.0, a=a, b=2.0, n=1, log_likelihood=0) for a in (1 - 1e-7, 1.0, 1 + 1e-7)
	]
	values = [expected_purchases(p, 10, x, tx, big_t) for p in near]
	np.testing.assert_allclose(values[0], values[1], rtol=1e-6)
	np.testing.assert_allclose(values[2], values[1], rtol=1e-6)
	edge = [BGNBDParams(r=0.5, alpha=5.0, a=a, b=2.0, n=1, log_likelihood=0) for a in (0.999, 0.99900001)]
	np.testing.assert_allclose(*(expected_purchases(p, 10, x, tx, big_t) for p in edge), rtol=1e-6)


@settings(max_examples=150, deadline=None)
@given(
	log_params=st.tuples(*(st.floats(-5, 5) for _ in range(4))),
	x=st.integers(0, 5000),
	fraction=st.floats(0, 1),
	big_t=st.floats(0, 5000),
	t=st.floats(0, 5000),
)
def test_predictions_are_finite_and_in_range_for_any_parameters(log_params, x, fraction, big_t, t):
	r, alpha, a, b = np.exp(log_params)
	params = BGNBDParams(r=r, alpha=alpha, a=a, b=b, n=1, log_likelihood=0)
	tx = fraction * big_t if x > 0 else 0.0
	alive = p_alive(params, x, tx, big_t)
	expected = expected_purchases(params, t, x, tx, big_t)
	assert np.isfinite(alive).all() and 0 <= alive[0] <= 1
	assert np.isfinite(expected).all() and expected[0] >= 0
	# never more than an always-alive customer buying at the posterior mean rate
	assert expected[0] <= (r + x) / (alpha + big_t) * t * (1 + 1e-6) + 1e-9


@settings(max_examples=60, deadline=None)
@given(
	rows=st.lists(
		st.tuples(st.integers(0, 30), st.floats(0, 1), st.floats(0.1, 400)), min_size=1, max_size=30
	),
	spend=st.floats(0.01, 1e5),
)
def test_churn_frame_has_no_nan_for_any_summary(bg, gg, rows, spend):
	x = np.array([r[0] for r in rows], dtype=float)
	big_t = np.array([r[2] for r in rows])
	tx = np.where(x > 0, np.array([r[1] for r in rows]) * big_t, 0.0)
	summary = pd.DataFrame(
		{
			"frequency": x,
			"recency": tx,
			"T": big_t,
			"monetary_value": np.where(x > 0, spend, 0.0),
			"orders": x + 1,
		}
	)
	frame = churn_frame(summary, bg, gg)
	assert frame.notna().all().all()
	numeric = frame.drop(columns="churn_band").to_numpy(float)
	assert np.isfinite(numeric).all() and (numeric >= 0).all()
	assert ((frame["p_alive"] <= 1) & (frame["churn_risk"] <= 1)).all()


# ---------------------------------------------------------------------------------------------
# fitting: weights, rounding, degenerate data
# ---------------------------------------------------------------------------------------------


def test_weights_equal_repeated_rows(cdnow):
	sample = cdnow.iloc[:300]
	counts = np.resize([1, 2, 3], len(sample))
	weighted = fit_bgnbd(sample["x"], sample["t_x"], sample["T"], weights=counts)
	repeated = sample.loc[sample.index.repeat(counts)]
	expanded = fit_bgnbd(repeated["x"], repeated["t_x"], repeated["T"])
	for name in ("r", "alpha", "a", "b", "log_likelihood", "n"):
		assert getattr(weighted, name) == pytest.approx(getattr(expanded, name), rel=1e-5), name


def test_round_to_merges_times(cdnow):
	exact = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"])
	rounded = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], round_to=1.0)
	assert rounded.r == pytest.approx(exact.r, rel=0.05) and rounded.a == pytest.approx(exact.a, rel=0.05)


def simulate_bgnbd(n: int, r: float, alpha: float, a: float, b: float, seed: int, horizon: float = 365.0):
	"""(x, t_x, T) from the BG/NBD story, vectorised over customers (a loop over purchase number only)."""
	rng = np.random.default_rng(seed)
	lam = rng.gamma(r, 1 / alpha, n)
	p = rng.beta(a, b, n)
	big_t = rng.uniform(horizon / 4, horizon, n)
	x = np.zeros(n)
	tx = np.zeros(n)
	clock = np.zeros(n)
	active = np.ones(n, dtype=bool)
	while active.any():
		clock[active] += rng.exponential(1 / lam[active])
		buys = active & (clock <= big_t)
		x[buys] += 1
		tx[buys] = clock[buys]
		active = buys & (rng.random(n) >= p)  # drop out right after a purchase with probability p
	return x, tx, big_t


def test_fit_recovers_simulated_parameters():
	x, tx, big_t = simulate_bgnbd(30_000, r=0.6, alpha=20.0, a=0.9, b=4.0, seed=3)
	params = fit_bgnbd(x, tx, big_t, round_to=1.0)
	assert params.r == pytest.approx(0.6, rel=0.15)
	assert params.alpha == pytest.approx(20.0, rel=0.2)
	assert params.a / (params.a + params.b) == pytest.approx(0.9 / 4.9, rel=0.25)


def test_summary_to_churn_frame_end_to_end():
	rng = np.random.default_rng(9)
	n = 20_000
	frame = pd.DataFrame(
		{
			"profile": np.array([f"c{i}" for i in rng.integers(0, 2000, n)], dtype=object),
			"date": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D"),
			"amount": np.round(rng.gamma(2, 40, n), 2),
		}
	)
	summary = rfm_summary(frame, "2023-12-31", profiles=[*pd.unique(frame["profile"]), "lead-without-orders"])
	bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], fitted_on="2023-12-31")
	gg = fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
	out = churn_frame(summary, bg, gg, ChurnConfig(horizon_days=30))
	assert tuple(out.columns) == CHURN_COLUMNS and out.index.equals(summary.index)
	assert out.notna().all().all()
	lead = out.loc["lead-without-orders"]
	assert lead["churn_band"] == "no purchase" and lead["clv"] == 0 and lead["p_alive"] == 0
	buyers = out.drop(index="lead-without-orders")
	assert set(buyers["churn_band"]) <= {"low", "medium", "high"}
	np.testing.assert_allclose(buyers["churn_risk"], 1 - buyers["p_alive"])
	bands = pd.cut(
		buyers["churn_risk"], [-np.inf, 0.3, 0.7, np.inf], right=False, labels=["low", "medium", "high"]
	)
	assert (bands.astype(str) == buyers["churn_band"]).all()
	assert (buyers["expected_spend"] > 0).all() and (buyers["clv"] >= 0).all()


def test_churn_frame_without_gamma_gamma_uses_own_spend(bg):
	summary = pd.DataFrame(
		{
			"frequency": [0, 2],
			"recency": [0.0, 10.0],
			"T": [20.0, 20.0],
			"monetary_value": [0.0, 30.0],
			"orders": [1, 3],
			"total_amount": [50.0, 110.0],
		},
		index=pd.Index(["once", "thrice"], name="profile"),
	)
	out = churn_frame(summary, bg, None)
	assert list(out["expected_spend"]) == [50.0, 30.0]  # average order value for one-time buyers
	assert (out["clv"] > 0).all()


def test_degenerate_fits_raise_clear_errors():
	with pytest.raises(EngineInputError, match="repeat purchases"):
		fit_bgnbd([0, 0, 0], [0, 0, 0], [10, 20, 30])
	with pytest.raises(EngineInputError, match="at least one profile"):
		fit_bgnbd([], [], [])
	with pytest.raises(EngineInputError, match="every T is 0"):
		fit_bgnbd([1], [0], [0])
	with pytest.raises(EngineInputError, match="two repeat buyers"):
		fit_gamma_gamma([0, 3, 0], [0, 20.0, 0])
	with pytest.raises(EngineInputError, match="same spend"):
		fit_gamma_gamma([2, 2, 2], [10.0, 10.0, 10.0])


def test_tiny_data_gives_finite_usable_parameters():
	params = fit_bgnbd([1, 0, 3], [5, 0, 20], [30, 30, 30])
	for name in ("r", "alpha", "a", "b"):
		assert np.isfinite(getattr(params, name)) and getattr(params, name) > 0
	values = expected_purchases(params, 30, [0, 1, 3], [0, 5, 20], [30, 30, 30])
	assert np.isfinite(values).all()
	penalised = fit_bgnbd([1, 0, 3], [5, 0, 20], [30, 30, 30], penalizer=0.1)
	assert max(penalised.r, penalised.alpha, penalised.a, penalised.b) < 1e3


def test_single_row_and_empty_inputs():
	one = fit_bgnbd([2], [5], [10])  # a single repeat buyer: finite (if extreme) parameters
	assert all(np.isfinite([one.r, one.alpha, one.a, one.b]))
	assert np.isfinite(expected_purchases(one, 10, [2], [5], [10])).all()
	for values in (
		p_alive(one, [], [], []),
		expected_purchases(one, 5, [], [], []),
		clv(one, None, [], [], [], []),
	):
		assert values.shape == (0,)
	empty = pd.DataFrame(
		{"frequency": [], "recency": [], "T": [], "monetary_value": [], "orders": pd.Series([], dtype=int)}
	)
	out = churn_frame(empty, one)
	assert len(out) == 0 and tuple(out.columns) == CHURN_COLUMNS


@pytest.mark.parametrize(
	("args", "message"),
	[
		(([1, 2], [3, 4], [2, 10]), "recency must not exceed T"),
		(([0, 2], [3, 4], [5, 10]), "recency must be 0 where frequency is 0"),
		(([1.5], [1], [2]), "whole numbers"),
		(([-1], [0], [2]), "whole numbers"),
		(([1], [-1], [2]), "recency must be >= 0"),
		(([1, np.nan], [1, 1], [2, 2]), "frequency has missing"),
		(([1, 2], [1], [2, 3, 4]), "same length"),
	],
)
def test_invalid_summaries_raise_input_errors(args, message):
	with pytest.raises(EngineInputError, match=message):
		fit_bgnbd(*args)
	with pytest.raises(EngineInputError, match=message):
		p_alive(lifetimes_bg(), *args)


def test_bad_prediction_arguments():
	with pytest.raises(EngineInputError, match="t must be >= 0"):
		expected_purchases(lifetimes_bg(), -1, [1], [1], [2])
	with pytest.raises(EngineInputError, match="months"):
		clv(lifetimes_bg(), None, [1], [1], [2], [10.0], months=0)
	with pytest.raises(EngineInputError, match="summary is missing"):
		churn_frame(pd.DataFrame({"frequency": [1]}), lifetimes_bg())


# ---------------------------------------------------------------------------------------------
# serialisation and config
# ---------------------------------------------------------------------------------------------


def test_params_round_trip_through_json(bg, gg):
	assert BGNBDParams.from_dict(json.loads(json.dumps(bg.to_dict()))) == bg
	assert GammaGammaParams.from_dict(json.loads(json.dumps(gg.to_dict()))) == gg


@pytest.mark.parametrize(
	("cls", "data", "field"),
	[
		(BGNBDParams, {"r": 1, "alpha": 1, "a": 1}, "b"),
		(BGNBDParams, {"r": -1, "alpha": 1, "a": 1, "b": 1}, "r"),
		(BGNBDParams, {"r": 1, "alpha": "x", "a": 1, "b": 1}, "alpha"),
		(BGNBDParams, {"r": 1, "alpha": 1, "a": 1, "b": 1, "freq": "M"}, "freq"),
		(BGNBDParams, {"model": "gamma_gamma", "r": 1, "alpha": 1, "a": 1, "b": 1}, "model"),
		(GammaGammaParams, {"p": 1, "q": 0.5, "v": 1}, "q"),
		(GammaGammaParams, {"p": 1, "q": 2}, "v"),
	],
)
def test_bad_params_name_the_field(cls, data, field):
	with pytest.raises(EngineConfigError) as err:
		cls.from_dict(data)
	assert err.value.field == field


def test_churn_config_round_trip_and_validation():
	config = ChurnConfig.from_dict({"horizon_days": 30, "clv_months": 24, "discount_rate": 0.02})
	assert ChurnConfig.from_dict(config.to_dict()) == config
	assert ChurnConfig.from_dict(None) == ChurnConfig()
	for data, field in (
		({"horizon": 30}, "horizon"),
		({"horizon_days": 0}, "horizon_days"),
		({"clv_months": 1.5}, "clv_months"),
		({"discount_rate": -0.1}, "discount_rate"),
		({"medium_risk": 0.8, "high_risk": 0.5}, "medium_risk"),
		({"high_risk": 2}, "high_risk"),
		({"penalizer": -1}, "penalizer"),
	):
		with pytest.raises(EngineConfigError) as err:
			ChurnConfig.from_dict(data)
		assert err.value.field == field, data
	assert dataclasses.replace(ChurnConfig(), high_risk=0.9).high_risk == 0.9


# ---------------------------------------------------------------------------------------------
# tiny ponds: a fit the data cannot support is flagged, never used
# ---------------------------------------------------------------------------------------------


def test_a_fit_on_one_customer_is_flagged_unusable():
	one = fit_bgnbd([2], [30], [60])
	assert not one.usable
	assert one.problem == "too_few_customers"
	assert "1 customer" in one.reason and str(btyd.MIN_CUSTOMERS) in one.reason


def test_gamma_gamma_on_two_buyers_is_flagged_unusable():
	two = fit_gamma_gamma([1, 2], [10.0, 20.0])
	assert not two.usable
	assert two.problem == "too_few_repeat_buyers"
	assert "2 repeat buyers" in two.reason


def test_cdnow_fits_stay_usable(bg, gg):
	assert bg.usable and bg.problem == "" and bg.reason == ""
	assert gg.usable and gg.problem == ""


def test_absurd_or_unconverged_parameters_are_flagged(bg, gg):
	r_huge = dataclasses.replace(bg, r=3e7, alpha=1e9)
	assert btyd.bgnbd_problem(r_huge, customers=5000, repeat_buyers=2000)[0] == "implausible"
	q_huge = dataclasses.replace(gg, q=5e6)
	assert btyd.gamma_gamma_problem(q_huge, repeat_buyers=5000)[0] == "implausible"
	stuck = dataclasses.replace(bg, converged=False)
	assert btyd.bgnbd_problem(stuck, customers=5000, repeat_buyers=2000)[0] == "not_converged"
	few_repeat = btyd.bgnbd_problem(bg, customers=5000, repeat_buyers=btyd.MIN_REPEAT_BUYERS - 1)
	assert few_repeat[0] == "too_few_repeat_buyers"
	assert btyd.bgnbd_problem(bg, customers=5000, repeat_buyers=2000) == ("", "")


def test_unusable_flags_round_trip_and_old_records_are_checked(bg):
	one = fit_bgnbd([2], [30], [60])
	again = BGNBDParams.from_dict(json.loads(json.dumps(one.to_dict())))
	assert again == one and not again.usable
	# a record stored before fits were checked: its parameters are checked on load
	old = {k: v for k, v in one.to_dict().items() if k not in ("usable", "problem", "reason")}
	assert not BGNBDParams.from_dict(old).usable
	old_good = {k: v for k, v in bg.to_dict().items() if k not in ("usable", "problem", "reason")}
	assert BGNBDParams.from_dict(old_good).usable


def test_recency_rule_rises_with_days_since_the_last_purchase():
	summary = pd.DataFrame(
		{
			"orders": [1, 1, 1, 1, 0],
			"days_since_last": [10.0, 60.0, 120.0, 400.0, 0.0],
		},
		index=list("abcde"),
	)
	out = btyd.recency_frame(summary, gap_days=60.0, config=ChurnConfig())
	# 0 within one typical gap, rising linearly to 100 % at three gaps
	assert out["churn_risk"].tolist() == [0.0, 0.0, 0.5, 1.0, 0.0]
	assert out["churn_band"].tolist() == ["low", "low", "medium", "high", btyd.NO_PURCHASE]
	assert out[["p_alive", "clv", "expected_purchases"]].isna().all().all()


def test_typical_gap_is_the_median_repeat_interval_or_the_horizon():
	summary = pd.DataFrame({"frequency": [2, 4, 1, 0], "recency": [60.0, 80.0, 30.0, 0.0]})
	assert btyd.typical_gap_days(summary, fallback=90.0) == 30.0  # median of 30, 20, 30
	assert btyd.typical_gap_days(summary.iloc[:2], fallback=90.0) == 90.0  # too few repeat buyers


def test_a_fit_ending_at_a_stationary_point_counts_as_converged(monkeypatch):
	"""L-BFGS-B can stop "ABNORMAL" at the optimum itself (its line search finds nothing lower at
	ftol near machine precision; on some CPUs it did on the pipeline's test pond). Judged by the
	gradient, such a fit converged; one stopped away from the optimum did not."""
	real = btyd.optimize.minimize

	def abnormal(*args, **kwargs):
		result = real(*args, **kwargs)
		result.success, result.message = False, "ABNORMAL: "
		return result

	def loglik(theta):  # a concave log-likelihood with its maximum at theta = (1, -2)
		target = np.array([1.0, -2.0])
		return -float(np.sum((theta - target) ** 2)), -2 * (theta - target)

	monkeypatch.setattr(btyd.optimize, "minimize", abnormal)
	theta, converged = btyd._maximise(loglik, 2, 1.0, 0.0, [np.zeros(2)])
	np.testing.assert_allclose(theta, [1.0, -2.0], atol=1e-6)
	assert converged

	def stopped_early(*args, **kwargs):
		kwargs["options"] = {**kwargs["options"], "maxiter": 1}
		result = real(*args, **kwargs)
		result.success = False
		return result

	monkeypatch.setattr(btyd.optimize, "minimize", stopped_early)
	_, converged = btyd._maximise(loglik, 2, 1.0, 0.0, [np.array([8.0, 8.0])])
	assert not converged

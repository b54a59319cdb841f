"""Zero-amount purchases: the engine against lifetimes on the full CDNOW master transaction log.

CDNOW_master.txt (69,659 transactions of 23,570 customers, January 1997 to June 1998) ships with
lifetimes (``lifetimes/datasets/``); 80 of its customers have $0 rows. lifetimes counts every
transaction as a purchase. The engine by default does not count a period whose net amount is zero
(ERP data: a zero-amount invoice is not a sale); with ``RFMConfig(zero_amount_purchases=True)`` it
does, and then its summary and its BG/NBD / Gamma-Gamma figures match lifetimes per customer.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_fishpond.engine import btyd
from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.pipeline import PondInputs, run_pond
from crm_fishpond.engine.rfm import RFMConfig, rfm_summary

lifetimes = pytest.importorskip("lifetimes")
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

END = pd.Timestamp("1998-06-30")
TOL = 1e-4


@pytest.fixture(scope="module")
def master() -> pd.DataFrame:
	spec = importlib.util.find_spec("lifetimes.datasets")
	path = Path(next(iter(spec.submodule_search_locations))) / "CDNOW_master.txt"
	raw = pd.read_csv(
		path,
		sep=r"\s+",
		header=0,  # the file's own header line
		names=["customer_id", "date", "number_of_cds", "dollar_value"],
		dtype={"customer_id": str, "date": str},
	)
	return pd.DataFrame(
		{
			"profile": raw["customer_id"].astype(object),
			"date": pd.to_datetime(raw["date"], format="%Y%m%d"),
			"amount": raw["dollar_value"].astype(float),
		}
	)


@pytest.fixture(scope="module")
def reference(master) -> pd.DataFrame:
	return summary_data_from_transaction_data(
		master, "profile", "date", monetary_value_col="amount", observation_period_end=END, freq="D"
	)


@pytest.fixture(scope="module")
def ours(master) -> pd.DataFrame:
	return rfm_summary(master, END, zero_amount_purchases=True)


def test_the_data_has_zero_amount_customers(master):
	assert len(master) == 69_659 and master["profile"].nunique() == 23_570
	assert master.loc[master["amount"] == 0, "profile"].nunique() == 80


def test_default_does_not_count_zero_amount_invoices(master, reference):
	default = rfm_summary(master, END).reindex(reference.index)
	differs = (default["frequency"] != reference["frequency"]) | ~np.isclose(
		default["monetary_value"], reference["monetary_value"]
	)
	assert 0 < differs.sum() <= 80


def test_summary_matches_lifetimes_per_customer(ours, reference):
	ours = ours.reindex(reference.index)
	assert not ours["orders"].isna().any()
	for column in ("frequency", "recency", "T"):
		np.testing.assert_array_equal(ours[column].to_numpy(float), reference[column].to_numpy(float), column)
	np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=TOL, atol=TOL)


@pytest.fixture(scope="module")
def fits(ours, reference):
	bg_life = BetaGeoFitter().fit(reference["frequency"], reference["recency"], reference["T"])
	# lifetimes refuses a zero mean spend; ours leaves those repeat buyers out of the fit by itself
	repeat = reference[(reference["frequency"] > 0) & (reference["monetary_value"] > 0)]
	gg_life = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
	bg = btyd.fit_bgnbd(ours["frequency"], ours["recency"], ours["T"])
	gg = btyd.fit_gamma_gamma(ours["frequency"], ours["monetary_value"])
	return bg, gg, bg_life, gg_life


def test_fitted_parameters_match_lifetimes(fits):
	bg, gg, bg_life, gg_life = fits
	for name in ("r", "alpha", "a", "b"):
		assert getattr(bg, name) == pytest.approx(bg_life.params_[name], rel=TOL), name
	for name in ("p", "q", "v"):
		assert getattr(gg, name) == pytest.approx(gg_life.params_[name], rel=TOL), name


def test_predictions_match_lifetimes_per_customer(fits, reference):
	bg, gg, bg_life, gg_life = fits
	x, tx, big_t = (reference[c].to_numpy(float) for c in ("frequency", "recency", "T"))
	np.testing.assert_allclose(
		btyd.p_alive(bg, x, tx, big_t), bg_life.conditional_probability_alive(x, tx, big_t), atol=TOL
	)
	np.testing.assert_allclose(
		btyd.expected_purchases(bg, 30, x, tx, big_t),
		bg_life.conditional_expected_number_of_purchases_up_to_time(30, x, tx, big_t),
		rtol=TOL,
		atol=TOL,
	)
	m = reference["monetary_value"].to_numpy(float)
	np.testing.assert_allclose(
		btyd.expected_spend(gg, x, m),
		gg_life.conditional_expected_average_profit(reference["frequency"], reference["monetary_value"]),
		rtol=TOL,
	)


def test_the_setting_reaches_the_pipeline(master, reference, fits):
	bg = fits[0]
	profiles = pd.DataFrame({"profile": reference.index.to_numpy(dtype=object)})
	config = EngineConfig.from_dict({"rfm": {"zero_amount_purchases": True}})
	assert config.rfm == RFMConfig(zero_amount_purchases=True)
	result = run_pond(PondInputs(profiles, master), config, as_of=END, dedupe=False)
	metrics = result.metrics.reindex(reference.index)
	np.testing.assert_array_equal(
		metrics["frequency"].to_numpy(float), reference["frequency"].to_numpy(float)
	)
	x, tx, big_t = (reference[c].to_numpy(float) for c in ("frequency", "recency", "T"))
	np.testing.assert_allclose(metrics["p_alive"].to_numpy(float), btyd.p_alive(bg, x, tx, big_t), atol=TOL)

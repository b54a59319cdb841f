"""The synthetic pond: deterministic per seed, well-formed, and realistic where the engine cares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import phonenumbers
import pytest

from crm_fishpond.engine.schema import (
	EVENT_COLUMNS,
	INTERACTION_COLUMNS,
	PROFILE_COLUMNS,
	TRANSACTION_COLUMNS,
)
from crm_fishpond.engine.synth import DEFAULT_AS_OF, EVENT_TYPES, INTERACTION_TYPES, generate_pond


@pytest.fixture(scope="module")
def pond():
	return generate_pond(n_profiles=3000, n_transactions=30_000, seed=7)


def frames(p):
	return {
		"profiles": p.profiles,
		"transactions": p.transactions,
		"interactions": p.interactions,
		"events": p.events,
	}


def test_same_seed_gives_equal_frames(pond):
	again = generate_pond(n_profiles=3000, n_transactions=30_000, seed=7)
	for name, frame in frames(pond).items():
		pd.testing.assert_frame_equal(frame, frames(again)[name], obj=name)


def test_another_seed_gives_another_pond(pond):
	other = generate_pond(n_profiles=3000, n_transactions=30_000, seed=8)
	assert not pond.profiles["person_name"].equals(other.profiles["person_name"])
	assert not pond.transactions["amount"].equals(other.transactions["amount"])


def test_sizes_and_columns(pond):
	assert len(pond.profiles) == 3000
	assert len(pond.transactions) == 30_000  # exact, credit notes included
	assert len(pond.interactions) == 3 * 3000
	assert len(pond.events) == 6 * 3000
	for cols, frame in (
		(PROFILE_COLUMNS, pond.profiles),
		(TRANSACTION_COLUMNS, pond.transactions),
		(INTERACTION_COLUMNS, pond.interactions),
		(EVENT_COLUMNS, pond.events),
	):
		assert set(cols) <= set(frame.columns)
	assert pond.profiles["profile"].is_unique
	for col in ("created",):
		assert pond.profiles[col].dtype == "datetime64[ns]"
	assert pond.transactions["date"].dtype == "datetime64[ns]"
	assert pond.interactions["time"].dtype == "datetime64[ns]"
	assert pond.events["time"].dtype == "datetime64[ns]"


def test_nothing_happens_after_as_of_or_before_a_profile_exists(pond):
	as_of = DEFAULT_AS_OF
	created = pond.profiles.set_index("profile")["created"]
	assert created.max() <= as_of
	for frame, col in ((pond.transactions, "date"), (pond.interactions, "time"), (pond.events, "time")):
		assert frame[col].max() <= as_of
		assert (frame[col].to_numpy() >= created.dt.floor("D").reindex(frame["profile"]).to_numpy()).all()
	assert set(pond.transactions["profile"]) <= set(pond.profiles["profile"])
	assert set(pond.interactions["profile"]) <= set(pond.profiles["profile"])


def test_transactions_look_like_a_btyd_process(pond):
	tx = pond.transactions
	purchases = tx[~tx["is_return"]]
	assert (purchases["amount"] > 0).all()
	assert (tx.loc[tx["is_return"], "amount"] < 0).all()
	assert tx["is_return"].mean() == pytest.approx(0.03, abs=0.002)
	per_customer = purchases.groupby("profile").size()
	# heterogeneous: many one-off buyers and a long tail of frequent ones
	assert (per_customer == 1).mean() > 0.05
	assert per_customer.quantile(0.99) > 5 * per_customer.median()
	# a mix of never-purchased prospects
	buyers = pond.profiles["profile"].isin(purchases["profile"])
	assert 0.25 < buyers.mean() < 0.7
	# customers are linked exactly for buyers
	assert (pond.profiles["customer"].notna() == buyers).all()


def test_activity_types_and_decay(pond):
	assert set(pond.interactions["type"]) <= set(INTERACTION_TYPES)
	assert set(pond.events["type"]) <= set(EVENT_TYPES)
	notes = pond.interactions["type"] == "note"
	assert pond.interactions.loc[notes, "direction"].isna().all()
	assert set(pond.interactions.loc[~notes, "direction"]) == {"inbound", "outbound"}
	# decay: the last 90 days hold more activity than the 90 days a year earlier
	t = pond.events["time"]
	recent = (t > DEFAULT_AS_OF - pd.Timedelta(days=90)).sum()
	year_ago = (
		(t > DEFAULT_AS_OF - pd.Timedelta(days=455)) & (t <= DEFAULT_AS_OF - pd.Timedelta(days=365))
	).sum()
	assert recent > year_ago


def test_phone_numbers_are_valid_international_numbers(pond):
	p = pond.profiles.dropna(subset=["phone"])
	assert p["country"].nunique() >= 10
	parsed = [phonenumbers.parse(ph, cc) for ph, cc in zip(p["phone"], p["country"], strict=True)]
	assert all(phonenumbers.is_valid_number(n) for n in parsed)
	assert p["phone"].str.startswith("+").mean() > 0.5  # mostly international, some national formats


def test_near_duplicates_exist_for_dedupe(pond):
	p = pond.profiles
	e164 = [
		None
		if pd.isna(ph)
		else phonenumbers.format_number(phonenumbers.parse(ph, cc), phonenumbers.PhoneNumberFormat.E164)
		for ph, cc in zip(p["phone"], p["country"], strict=True)
	]
	same_phone = pd.Series(e164).dropna().duplicated(keep=False)
	assert same_phone.sum() >= 0.01 * len(p)
	# the same number typed in different ways
	raw_for_dupes = p["phone"][pd.Series(e164).duplicated(keep=False) & pd.Series(e164).notna()]
	assert raw_for_dupes.nunique() > same_phone.sum() / 2
	# case and legal-form variants of a company name
	lower_email = p["email"].str.lower()
	assert (lower_email.duplicated(keep=False) & lower_email.notna()).sum() > 0
	assert p["email"].dropna().str.contains("[A-Z]", regex=True).any()
	assert p["company_name"].dropna().str.contains("Limited|Incorporated|L.L.C.|G.m.b.H.", regex=True).any()


def test_fit_answers_match_the_default_scoring_vocabulary(pond):
	from crm_fishpond.engine.scoring import default_fit_factors, normalise_answer

	factors = {f.field: f for f in default_fit_factors()}
	for col in ("authority", "need", "timeline"):
		answers = {normalise_answer(v) for v in pond.profiles[col].dropna().unique()}
		assert answers <= set(factors[col].points), col
	assert pd.api.types.is_float_dtype(pond.profiles["budget"])
	assert pond.profiles["budget"].isna().any() and pond.profiles["authority"].isna().any()


def test_small_and_edge_sizes():
	tiny = generate_pond(n_profiles=5, n_transactions=3, seed=1)
	assert len(tiny.profiles) == 5 and len(tiny.transactions) == 3
	none = generate_pond(n_profiles=10, n_transactions=0, n_interactions=0, n_events=0, seed=1)
	assert none.transactions.empty and none.interactions.empty and none.events.empty
	assert none.profiles["customer"].isna().all()
	with pytest.raises(ValueError):
		generate_pond(n_profiles=0)


def test_numbers_are_vectorised_fast_enough():
	# not a timing assert: a 50k-profile pond must simply be cheap enough to build in a test
	p = generate_pond(n_profiles=50_000, n_transactions=500_000, seed=3)
	assert len(p.transactions) == 500_000
	assert np.isfinite(p.transactions["amount"]).all()

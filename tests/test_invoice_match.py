"""Suggestions: the invoice matcher (crm_fishpond.engine.invoice_match), on hand-checked cases and on
random ponds. See docs/accountants.md."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.dedupe import DedupeConfig
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.invoice_match import (
	DEFAULT_WEIGHTS,
	MESSAGES,
	SUGGESTION_COLUMNS,
	Evidence,
	MatchConfig,
	name_key,
	normalise_address,
	normalise_tax_id,
	suggest,
)

PROFILES = pd.DataFrame(
	[
		{
			"profile": "P-ACME",
			"customer": "Acme Ltd",
			"name": ["Acme Ltd", "John Smith"],
			"email": "john.smith@gmail.com",
			"phone": "+44 20 7946 0958",
			"tax_id": "GB123456789",
			"address": "12 High Street, London",
			"region": "GB",
		},
		{
			"profile": "P-ACMETR",
			"customer": "Acme Trading GmbH",
			"name": "Acme Trading GmbH",
			"email": ["einkauf@acme-trading.de"],
			"phone": "030 1234567",
			"tax_id": "DE811111111",
			"region": "DE",
		},
		{
			"profile": "P-JANE",
			"customer": "Jane Doe",
			"name": "Jane Doe",
			"phone": "07911 123456",
			"region": "GB",
		},
		{"profile": "P-EMPTY", "customer": None},
	]
)


def one(invoice: dict, profiles=PROFILES, history=None, config=None) -> pd.DataFrame:
	return suggest(pd.DataFrame([{"invoice": "INV-1", **invoice}]), profiles, history, config)


def codes(row) -> list[str]:
	return [e.code for e in row["evidence"]]


def test_walk_in_invoice_with_a_phone_in_another_format():
	got = one({"name": "Walk-In Customer", "phone": "020-7946-0958", "region": "GB"})
	assert got["profile"].tolist() == ["P-ACME"]
	row = got.iloc[0]
	assert row["customer"] == "Acme Ltd"
	assert codes(row) == ["same_phone"]  # the generic name is no evidence
	assert row["evidence"][0].params == {"phone": "+442079460958"}
	assert row["score"] == DEFAULT_WEIGHTS["same_phone"]
	# the same number written internationally, parsed whatever the till's region
	assert one({"phone": "0044 20 7946 0958", "region": "GB"})["profile"].tolist() == ["P-ACME"]
	assert one({"phone": "+442079460958", "region": "DE"})["profile"].tolist() == ["P-ACME"]


def test_tax_id_beats_a_fuzzy_name():
	got = one({"name": "Acme Trading", "tax_id": "gb 123-456-789"})
	assert got["profile"].tolist()[0] == "P-ACME"
	assert codes(got.iloc[0]) == ["same_tax_id"]
	# the similar name alone does not win against a different tax id
	acme_tr = got[got["profile"] == "P-ACMETR"]
	assert acme_tr.empty  # 0.45 name - 0.4 penalty: under the threshold


def test_a_different_tax_id_is_a_penalty():
	cfg = MatchConfig(suggest_threshold=0.0)
	plain = one({"name": "Acme Trading"}, config=cfg)
	assert plain["profile"].tolist() == ["P-ACMETR"]
	assert plain.iloc[0]["score"] == pytest.approx(0.45)
	both = one({"name": "Acme Trading", "phone": "+49 30 1234567", "tax_id": "DE822222222"}, config=cfg)
	row = both.iloc[0]
	assert codes(row) == ["same_phone", "similar_name", "different_tax_id"]
	assert row["score"] == pytest.approx(0.6 + 0.45 - 0.4)
	assert row["evidence"][-1].params == {"invoice_tax_id": "DE822222222", "profile_tax_id": "DE811111111"}


def test_email_with_gmail_dots_and_a_plus_tag():
	got = one({"email": "JohnSmith+till3@googlemail.com"})
	assert got["profile"].tolist() == ["P-ACME"]
	assert got.iloc[0]["evidence"][0].params == {"email": "johnsmith@gmail.com"}
	# role mailboxes identify nobody (dedupe's rule)
	profiles = PROFILES.assign(email=[["info@acme.com"], None, None, None])
	assert one({"email": "info@acme.com"}, profiles).empty


def test_company_suffix_difference_is_the_same_name():
	got = one({"name": "ACME TRADING G.m.b.H."})
	row = got.iloc[0]
	assert row["profile"] == "P-ACMETR"
	assert row["evidence"][0].params == {
		"invoice_name": "ACME TRADING G.m.b.H.",
		"profile_name": "Acme Trading GmbH",
		"similarity": 100,
		"shared_by": 1,
	}
	assert one({"name": "Acme Limited"})["profile"].tolist() == ["P-ACME"]
	assert name_key("Smith, John") == name_key("john smith") == "john smith"


def test_a_typo_in_a_name_scores_less_than_the_exact_name():
	cfg = MatchConfig(suggest_threshold=0.0)
	exact = one({"name": "Jane Doe"}, config=cfg).iloc[0]
	typo = one({"name": "Jane Dooe"}, config=cfg).iloc[0]
	assert exact["profile"] == typo["profile"] == "P-JANE"
	assert 0.45 * 0.5 <= typo["score"] < exact["score"] == 0.45
	assert typo["evidence"][0].params["similarity"] < 100


def test_no_evidence_no_suggestion():
	got = one({"name": "Somebody Else", "phone": "07911 123999", "email": "x@example.org", "region": "GB"})
	assert got.empty
	assert tuple(got.columns) == SUGGESTION_COLUMNS
	assert one({}).empty
	empty_profiles = pd.DataFrame({"profile": pd.Series([], dtype=object)})
	assert one({"name": "Acme"}, empty_profiles).empty


def test_address_normalised():
	assert one({"address": "london, 12 HIGH ST."}).empty  # an address alone is under the threshold
	got = one({"address": "london, 12 HIGH ST."}, config=MatchConfig(suggest_threshold=0.3))
	assert got["profile"].tolist() == ["P-ACME"]
	assert got.iloc[0]["evidence"][0].params == {"address": "12 High Street, London", "shared_by": 1}
	assert (
		normalise_address("Hauptstraße 5, Berlin")
		== normalise_address("HAUPTSTRASSE 5 Berlin")
		== "5 berlin hauptst"
	)
	assert normalise_address("12 High Street, London") == normalise_address("London 12 high st")
	assert normalise_address("London") is None


def test_normalise_tax_id():
	assert normalise_tax_id(" gb 123 4567-89 ") == "GB123456789"
	assert normalise_tax_id("ＧＢ１２３４５６７８９") == "GB123456789"  # full-width
	assert normalise_tax_id("n/a") is None
	assert normalise_tax_id("ABCDEFG") is None
	assert normalise_tax_id(None) is None


def test_ties_are_ordered_by_profile_id_whatever_the_input_order():
	profiles = pd.DataFrame(
		[
			{"profile": "P-B", "phone": "07911 123456", "region": "GB"},
			{"profile": "P-A", "phone": "+44 7911 123456", "region": "GB"},
			{"profile": "P-C", "phone": "+447911123456"},
		]
	)
	inv = {"phone": "07911123456", "region": "GB"}
	got = one(inv, profiles)
	assert got["profile"].tolist() == ["P-A", "P-B", "P-C"]
	assert got["rank"].tolist() == [1, 2, 3]
	assert not got["confident"].any()  # no margin over the runner-up
	again = one(inv, profiles.iloc[::-1])
	pd.testing.assert_frame_equal(got, again)


def test_shared_values_identify_nobody():
	profiles = pd.DataFrame(
		{"profile": [f"P{k}" for k in range(4)], "phone": ["020 7946 0000"] * 4, "region": "GB"}
	)
	assert len(one({"phone": "020 7946 0000", "region": "GB"}, profiles)) == 4
	cfg = MatchConfig(max_group_size=3)
	assert one({"phone": "020 7946 0000", "region": "GB"}, profiles, config=cfg).empty


def test_a_name_shared_by_several_profiles_is_weaker():
	profiles = pd.DataFrame({"profile": ["P1", "P2"], "name": ["Maria Garcia", "Maria García"]})
	got = one({"name": "MARIA GARCIA"}, profiles, config=MatchConfig(suggest_threshold=0.0))
	assert got["profile"].tolist() == ["P1", "P2"]
	assert [e.params["shared_by"] for e in got.iloc[0]["evidence"]] == [2]
	assert got.iloc[0]["score"] == pytest.approx(0.45 / 2)


def test_past_invoices_from_the_same_contact():
	history = pd.DataFrame(
		[
			{"profile": "P-JANE", "invoice": "SINV-1", "posting_date": "2024-01-05", "phone": "07911 123457"},
			{
				"profile": "P-JANE",
				"invoice": "SINV-2",
				"posting_date": "2024-02-05",
				"phone": "+447911123457",
			},
			{"profile": "P-ACME", "invoice": "SINV-9", "posting_date": "2024-09-01", "phone": "07911 123457"},
			{"profile": "P-GONE", "invoice": "SINV-3", "phone": "07911 123457"},  # not in the pond
		]
	).assign(region="GB")
	got = one({"phone": "07911 123457", "region": "GB", "posting_date": "2024-03-01"}, history=history)
	assert got["profile"].tolist() == ["P-JANE"]  # P-ACME's invoice is later than this one
	ev = got.iloc[0]["evidence"][0]
	assert ev.code == "past_contact"
	assert ev.params == {"via": "phone", "value": "+447911123457", "count": 2, "last_invoice": "SINV-2"}
	assert (
		ev.text == "the same phone +447911123457 is on 2 earlier invoice(s) of this profile, the last SINV-2"
	)
	# the queued invoice itself is not its own history
	history = pd.DataFrame(
		[{"profile": "P-JANE", "invoice": "INV-1", "phone": "07911 123457", "region": "GB"}]
	)
	assert one({"phone": "07911 123457", "region": "GB"}, history=history).empty
	# a number already on the profile is evidence once, as the profile's own
	history = pd.DataFrame(
		[{"profile": "P-JANE", "invoice": "SINV-1", "phone": "07911 123456", "region": "GB"}]
	)
	got = one({"phone": "07911 123456", "region": "GB"}, history=history)
	assert codes(got.iloc[0]) == ["same_phone"]


def test_points_add_up_to_the_score_and_the_score_caps_at_one():
	got = one(
		{
			"name": "Acme Ltd",
			"email": "john.smith@gmail.com",
			"phone": "020 7946 0958",
			"tax_id": "GB123456789",
			"address": "12 High Street, London",
			"region": "GB",
		}
	)
	row = got.iloc[0]
	assert row["score"] == 1.0
	assert row["confident"]
	assert codes(row) == ["same_tax_id", "same_email", "same_phone", "similar_name", "same_address"]
	points = [e.points for e in row["evidence"]]
	assert points[:2] == [0.9, 0.1] and points[2:] == [0.0, 0.0, 0.0]  # the weakest are cut
	assert sum(points) == pytest.approx(row["score"])
	assert all(isinstance(e, Evidence) and e.text for e in row["evidence"])
	assert row["evidence"][0].to_dict() == {
		"code": "same_tax_id",
		"params": {"tax_id": "GB123456789"},
		"points": 0.9,
	}


def test_confident_needs_the_threshold_and_a_margin():
	got = one({"email": "john.smith@gmail.com"})
	assert got.iloc[0]["score"] == 0.7 and got.iloc[0]["confident"]
	assert not one({"email": "john.smith@gmail.com"}, config=MatchConfig(confident_threshold=0.8)).iloc[0][
		"confident"
	]
	# a runner-up close behind: not confident
	profiles = pd.concat(
		[PROFILES, pd.DataFrame([{"profile": "P-TWIN", "name": "John Smith", "phone": "07911 000001"}])]
	)
	cfg = MatchConfig(suggest_threshold=0.0)
	got = one({"email": "john.smith@gmail.com", "name": "John Smith"}, profiles, config=cfg)
	assert got["profile"].tolist() == ["P-ACME", "P-TWIN"]
	assert got.iloc[0]["score"] == pytest.approx(0.7 + 0.225)
	assert got["confident"].tolist() == [True, False]
	cfg = MatchConfig(confident_margin=0.8)
	assert not one({"email": "john.smith@gmail.com", "name": "John Smith"}, profiles, config=cfg)[
		"confident"
	].any()


def test_max_suggestions_and_threshold():
	profiles = pd.DataFrame({"profile": [f"P{k}" for k in range(8)], "name": "Maria Garcia"})
	cfg = MatchConfig(suggest_threshold=0.0, max_suggestions=3)
	assert one({"name": "Maria Garcia"}, profiles, config=cfg)["rank"].tolist() == [1, 2, 3]
	assert one({"name": "Maria Garcia"}, profiles).empty  # 0.45 / 8 is under the default threshold


def test_several_invoices_keep_their_order():
	invoices = pd.DataFrame(
		[
			{"invoice": "B", "phone": "07911 123456", "region": "GB"},
			{"invoice": "C", "name": "nobody"},
			{"invoice": "A", "tax_id": "DE 811 111 111"},
		]
	)
	got = suggest(invoices, PROFILES)
	assert got["invoice"].tolist() == ["B", "A"]
	assert got["profile"].tolist() == ["P-JANE", "P-ACMETR"]


def test_the_dedupe_settings_apply():
	inv = {"email": "j.smith+shop@example.com"}
	profiles = pd.DataFrame([{"profile": "P1", "email": "j.smith@example.com"}])
	assert one(inv, profiles).empty
	dedupe = DedupeConfig(strip_plus_tags=True)
	got = suggest(pd.DataFrame([{"invoice": "I", **inv}]), profiles, dedupe=dedupe)
	assert got["profile"].tolist() == ["P1"]
	# the default region parses numbers of rows without one
	profiles = pd.DataFrame([{"profile": "P1", "phone": "+49 151 12345678"}])
	invoices = pd.DataFrame([{"invoice": "I", "phone": "0151 12345678"}])
	assert suggest(invoices, profiles).empty
	assert len(suggest(invoices, profiles, dedupe=DedupeConfig(default_region="DE"))) == 1


@pytest.mark.parametrize(
	("settings", "field"),
	[
		({"suggest_threshold": 1.5}, "suggest_threshold"),
		({"suggest_threshold": "high"}, "suggest_threshold"),
		({"suggest_threshold": 0.8, "confident_threshold": 0.5}, "confident_threshold"),
		({"confident_margin": -0.1}, "confident_margin"),
		({"weights": {"same_email": 2}}, "weights.same_email"),
		({"weights": {"same_emial": 0.5}}, "weights.same_emial"),
		({"weights": {"different_tax_id": 0.3}}, "weights.different_tax_id"),
		({"weights": [0.5]}, "weights"),
		({"name_threshold": 20}, "name_threshold"),
		({"ignore_names": ["cash", "cash"]}, "ignore_names[1]"),
		({"max_suggestions": 0}, "max_suggestions"),
		({"max_suggestions": 2.5}, "max_suggestions"),
		({"max_group_size": 0}, "max_group_size"),
		({"max_block": None}, "max_block"),
		({"workers": 0}, "workers"),
		({"treshold": 0.5}, "treshold"),
	],
)
def test_config_errors_name_the_field(settings, field):
	with pytest.raises(EngineConfigError) as err:
		MatchConfig.from_dict(settings)
	assert err.value.field == field
	assert field.split(".")[-1].split("[")[0] in str(err.value)


def test_config_round_trip():
	cfg = MatchConfig.from_dict({"weights": {"same_phone": 0.5}, "suggest_threshold": 0.3})
	assert cfg.weights["same_phone"] == 0.5 and cfg.weights["same_email"] == 0.7  # others keep defaults
	assert MatchConfig.from_dict(cfg.to_dict()) == cfg
	assert MatchConfig.from_dict(None) == MatchConfig()
	assert set(DEFAULT_WEIGHTS) == set(MESSAGES)


def test_input_errors():
	with pytest.raises(EngineInputError, match="invoice"):
		suggest(pd.DataFrame({"name": ["x"]}), PROFILES)
	with pytest.raises(EngineInputError, match="more than once"):
		suggest(pd.DataFrame({"invoice": ["a", "a"]}), PROFILES)
	with pytest.raises(EngineInputError, match="profile"):
		suggest(pd.DataFrame({"invoice": ["a"]}), PROFILES.assign(profile=None))
	with pytest.raises(EngineInputError, match="posting_date"):
		suggest(pd.DataFrame({"invoice": ["a"], "posting_date": ["not a date"]}), PROFILES)
	with pytest.raises(EngineInputError, match="history"):
		suggest(pd.DataFrame({"invoice": ["a"]}), PROFILES, pd.DataFrame({"phone": ["1"]}))


# --------------------------------------------------------------------------------------------------
# random ponds

FIRST = ("Anna", "Ben", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana")
LAST = ("Kowalski", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Silva", "Tanaka")
LEGAL = ("Ltd", "GmbH", "Inc.", "Limited", "")


@st.composite
def ponds(draw):
	n = draw(st.integers(1, 25))
	profiles = []
	for k in range(n):
		first, last = draw(st.sampled_from(FIRST)), draw(st.sampled_from(LAST))
		profiles.append(
			{
				"profile": f"P{k:03d}",
				"name": [f"{first} {last}"]
				+ ([f"{last} Works {draw(st.sampled_from(LEGAL))}"] if k % 3 == 0 else []),
				"email": f"{first}.{last}{k}@gmail.com".lower() if draw(st.booleans()) else None,
				"phone": f"07911 {100000 + k * 7:06d}" if draw(st.booleans()) else None,
				"tax_id": f"GB{900000000 + k}" if draw(st.booleans()) else None,
				"address": f"{k + 1} {last} Road, Leeds" if draw(st.booleans()) else None,
				"region": "GB",
			}
		)
	invoices = []
	for j in range(draw(st.integers(1, 15))):
		k = draw(st.integers(0, n - 1))
		p = profiles[k]
		inv = {"invoice": f"I{j:03d}", "region": "GB"}
		if draw(st.booleans()):
			inv["name"] = draw(st.sampled_from([p["name"][0], p["name"][0].upper(), "Walk-in Customer"]))
		if p["email"] and draw(st.booleans()):
			local, _, domain = p["email"].partition("@")
			inv["email"] = (local.replace(".", "") + "+pos@" + domain).upper()
		if p["phone"] and draw(st.booleans()):
			inv["phone"] = draw(
				st.sampled_from(["+44" + p["phone"][1:].replace(" ", ""), p["phone"].replace(" ", "-")])
			)
		if p["tax_id"] and draw(st.booleans()):
			inv["tax_id"] = p["tax_id"].lower()
		foreign = draw(st.booleans())
		if foreign:
			inv["tax_id"] = f"GB{800000000 + j}"  # nobody's: a penalty
		invoices.append((inv, p, foreign))
	return pd.DataFrame(profiles), invoices


@settings(max_examples=60, deadline=None)
@given(ponds(), st.randoms(use_true_random=False))
def test_random_ponds(pond, rnd):
	profiles, pairs = pond
	invoices = pd.DataFrame([inv for inv, _, _ in pairs])
	cfg = MatchConfig(suggest_threshold=0.0, max_suggestions=100)
	got = suggest(invoices, profiles, config=cfg)
	assert tuple(got.columns) == SUGGESTION_COLUMNS
	assert got["score"].between(0, 1).all() and (got["score"] > 0).all()
	for _invoice, rows in got.groupby("invoice", sort=False):
		assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
		assert rows["score"].is_monotonic_decreasing
		assert rows["confident"].iloc[1:].sum() == 0
		for row in rows.itertuples():
			assert sum(e.points for e in row.evidence) == pytest.approx(row.score, abs=1e-9)
			assert len({e.code for e in row.evidence}) == len(row.evidence)
	# a unique identifier copied from a profile puts that profile first
	for inv, p, foreign in pairs:
		strong = ("email" in inv) or ("phone" in inv and not (foreign and p["tax_id"]))
		strong = strong or (inv.get("tax_id", "").upper() == p["tax_id"])
		if strong:
			top = got[(got["invoice"] == inv["invoice"]) & (got["rank"] == 1)]
			assert top["profile"].tolist() == [p["profile"]], inv
	# the order of the profiles and of the invoices changes nothing but the invoices' order
	shuffled = profiles.sample(frac=1, random_state=rnd.randint(0, 10_000))
	again = suggest(invoices.iloc[::-1], shuffled, config=cfg)
	key = ["invoice", "rank"]
	pd.testing.assert_frame_equal(
		got.sort_values(key).reset_index(drop=True), again.sort_values(key).reset_index(drop=True)
	)
	# the default threshold keeps a subset
	kept = suggest(invoices, profiles)
	assert (kept["score"] >= MatchConfig().suggest_threshold).all()
	assert set(zip(kept["invoice"], kept["profile"], strict=True)) <= set(
		zip(got["invoice"], got["profile"], strict=True)
	)
	assert np.isin(kept["invoice"], invoices["invoice"]).all()


def test_a_dismissed_pair_is_never_suggested_and_the_next_candidate_moves_up():
	invoices = pd.DataFrame(
		[
			{"invoice": "INV-1", "name": "Acme Trading", "phone": "+44 20 7946 0958"},
			{"invoice": "INV-2", "phone": "+44 20 7946 0958"},
		]
	)
	cfg = MatchConfig(suggest_threshold=0.0, confident_threshold=0.4, confident_margin=0.3)
	before = suggest(invoices, PROFILES, config=cfg)
	first = before[before["invoice"] == "INV-1"]
	assert first["profile"].tolist() == ["P-ACME", "P-ACMETR"]
	assert not first.iloc[0]["confident"]  # the runner-up is too close
	after = suggest(invoices, PROFILES, config=cfg, exclude=[("INV-1", "P-ACME"), ("INV-9", "P-X")])
	first = after[after["invoice"] == "INV-1"]
	assert first["profile"].tolist() == ["P-ACMETR"]
	assert first.iloc[0]["rank"] == 1 and first.iloc[0]["confident"]
	# the same profile stays a suggestion for another invoice
	assert after[after["invoice"] == "INV-2"]["profile"].tolist() == ["P-ACME"]
	assert suggest(invoices.iloc[1:], PROFILES, config=cfg, exclude=[("INV-2", "P-ACME")]).empty

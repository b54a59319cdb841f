"""duplicate_candidates / duplicate_clusters and the e-mail, phone and company normalisers."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.dedupe import (
	DedupeConfig,
	duplicate_candidates,
	duplicate_clusters,
	normalise_company,
	normalise_emails,
	phone_e164,
)
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError


def test_normalise_emails():
	emails = pd.Series(
		[
			" John.Smith+crm@GMail.com ",
			"johnsmith@googlemail.com",
			"j.smith+x@example.com",
			"INFO@acme.com",
			"not-an-email",
			"a@b",
			None,
			"",
			np.nan,
		]
	)
	assert normalise_emails(emails).tolist() == [
		"johnsmith@gmail.com",
		"johnsmith@gmail.com",
		"j.smith+x@example.com",
		None,  # role mailbox
		None,
		None,
		None,
		None,
		None,
	]
	cfg = DedupeConfig(gmail_normalise=False, strip_plus_tags=True, ignore_mailboxes=())
	assert normalise_emails(emails, cfg).tolist()[:4] == [
		"john.smith@gmail.com",
		"johnsmith@googlemail.com",
		"j.smith@example.com",
		"info@acme.com",
	]


@pytest.mark.parametrize(
	("raw", "expected"),
	[
		("Acme GmbH", "acme"),
		("ACME G.m.b.H.", "acme"),
		("Acme Inc.", "acme"),
		("Acme, Inc", "acme"),
		("The Acme Company Limited", "acme"),
		("Acme Co., Ltd.", "acme"),
		("Acme Pty Ltd", "acme"),
		("Acme Private Limited", "acme"),
		("Acme S.A.R.L.", "acme"),
		("Acme Kabushiki Kaisha", "acme"),
		("ＡＣＭＥ　ＧｍｂＨ", "acme"),  # full-width
		("PT Maju Jaya Tbk", "maju jaya"),
		("Johnson & Johnson", "johnson and johnson"),
		("上海华为科技有限公司", "上海华为科技"),
		("北京字节跳动股份有限公司", "北京字节跳动"),
		("株式会社トヨタ", "トヨタ"),
		("トヨタ株式会社", "トヨタ"),
		("Ltd", None),  # nothing left
		("  ", None),
		(None, None),
	],
)
def test_normalise_company(raw, expected):
	assert normalise_company(pd.Series([raw], dtype=object)).iloc[0] == expected


def test_phone_e164_formats_and_regions():
	phones = pd.Series(
		[
			"+49 151 12345678",
			"0151-12345678",
			"(0151) 1234 5678",
			"138 0013 8000",
			"+86 138 0013 8000",
			"123",
			None,
			"+1 (212) 555-0199 ext. 7",
			"+1-800-FLOWERS",
		]
	)
	countries = pd.Series(["DE", "de", "DE", "CN", None, "US", "US", None, "Narnia"])
	full = phone_e164(phones, countries, DedupeConfig(phone_prefilter=False)).tolist()
	assert full == [
		"+4915112345678",
		"+4915112345678",
		"+4915112345678",
		"+8613800138000",
		"+8613800138000",
		None,  # too short: invalid
		None,
		"+12125550199",
		"+18003569377",
	]
	# a national number without a country needs default_region
	assert phone_e164(pd.Series(["138 0013 8000"]), None, DedupeConfig(phone_prefilter=False)).tolist() == [
		None
	]
	assert phone_e164(
		pd.Series(["138 0013 8000"]), None, DedupeConfig(phone_prefilter=False, default_region="cn")
	).tolist() == ["+8613800138000"]


def test_phone_prefilter_finds_the_same_matches():
	# short national numbers (Niue: 4 digits) written with a long international prefix, extensions,
	# vanity letters and plain duplicates
	phones = pd.Series(
		[
			"4002",
			"011 683 4002",
			"+683 4002",
			"0049 151 12345678",
			"0151 12345678",
			"+49 151 87654321",
			"+1 800 356 9377 x 12",
			"1-800-FLOWERS",
			"+44 20 7946 0958",
			None,
		]
	)
	countries = pd.Series(["NU", "US", None, "FR", "DE", "DE", None, "US", "GB", "GB"])
	full = phone_e164(phones, countries, DedupeConfig(phone_prefilter=False))
	quick = phone_e164(phones, countries, DedupeConfig(phone_prefilter=True))
	shared = full.duplicated(keep=False) & full.notna()
	assert shared.tolist() == [True, True, True, True, True, False, True, True, False, False]
	assert (quick[shared] == full[shared]).all()
	# numbers that cannot match another one are not parsed at all
	assert quick[~shared].isna().all()


def test_phone_prefilter_matches_full_parsing_on_a_generated_pond():
	from crm_fishpond.engine.synth import generate_pond

	pond = generate_pond(20_000, 1_000, seed=5).profiles
	phones = pd.concat(
		[
			pond["phone"],
			# the same numbers written with the international call prefix of another country
			pd.Series(["00" + p.lstrip("+").replace(" ", "") for p in pond["phone"].dropna().head(300)]),
			pd.Series(["011 " + p.lstrip("+") for p in pond["phone"].dropna().iloc[300:600]]),
		],
		ignore_index=True,
	)
	countries = pd.concat(
		[pond["country"], pd.Series(["FR"] * 300), pd.Series(["US"] * 300)], ignore_index=True
	)
	full = phone_e164(phones, countries, DedupeConfig(phone_prefilter=False))
	quick = phone_e164(phones, countries, DedupeConfig(phone_prefilter=True))
	shared = full.duplicated(keep=False) & full.notna()
	assert shared.sum() > 600
	assert (quick[shared] == full[shared]).all()


def test_phone_prefilter_skips_numbers_of_different_countries_that_share_their_last_digits(monkeypatch):
	# every number ends in the same seven digits, but their country calling codes differ (written with
	# "+", or national numbers of their region), so none can be a duplicate and none is parsed
	from crm_fishpond.engine import dedupe

	parsed = []
	real = dedupe._parse_phone.__wrapped__
	monkeypatch.setattr(dedupe, "_parse_phone", lambda raw, region: parsed.append(raw) or real(raw, region))
	phones = pd.Series(
		[
			"+49 151 0001234567",
			"+33 6 01234567",
			"+86 138 01234567",
			"+91 98 01234567",
			"0151 1001234567",
			"(202) 401-234-567",
			"+44 7700 1234567",
			"+81 90 01234567",
		]
	)
	countries = pd.Series([None, None, None, None, "AT", "US", "FR", "CN"])
	e164 = phone_e164(phones, countries, DedupeConfig())
	assert e164.isna().all()
	assert parsed == []


def profiles(**cols):
	n = len(next(iter(cols.values())))
	return pd.DataFrame({"profile": [f"p{i}" for i in range(n)], **cols})


def test_hand_checked_pairs():
	p = pd.DataFrame(
		{
			"profile": ["p2", "p1", "p3", "p4", "p5", "p6", "p7", "p8", "p9"],
			"email": [
				"johnsmith+crm@googlemail.com",
				"John.Smith@Gmail.com",
				None,
				"info@acme.de",
				"info@acme.de",
				None,
				None,
				None,
				None,
			],
			"phone": ["0151-12345678", "+49 151 12345678", None, None, None, None, None, None, None],
			"country": ["DE", "DE", None, None, None, None, None, None, None],
			"company_name": [
				"ACME G.m.b.H.",
				"Acme GmbH",
				"Acme GmbH",
				"Acme GmbH",
				"Acme GmbH",
				"Globex Ltd",
				"Globex Limited",
				"Initech LLC",
				"Initech L.L.C.",
			],
			"person_name": [
				"JOHN SMITH",
				"John Smith",
				"Mary Major",
				None,
				None,
				"Hank Scorpio",
				"Hank Scorpio",
				None,
				None,
			],
			"territory": ["Europe"] * 7 + ["Europe", "Asia"],
		}
	)
	out = duplicate_candidates(p)
	assert list(out.columns) == ["profile_a", "profile_b", "confidence", "reason"]
	pairs = {(a, b): (c, r) for a, b, c, r in out.itertuples(index=False)}
	assert set(pairs) == {("p1", "p2"), ("p4", "p5"), ("p6", "p7")}
	conf, reason = pairs[("p1", "p2")]
	# email 0.95, phone 0.9, company 0.75 (same company, same person) combine as 1 - 0.05 * 0.1 * 0.25
	assert conf == pytest.approx(round(1 - 0.05 * 0.1 * 0.25, 3))
	assert reason == (
		"same email johnsmith@gmail.com; same phone +4915112345678; "
		"similar company 'acme' ~ 'acme' (100) in Europe, person 'John Smith' ~ 'JOHN SMITH' (100)"
	)
	# p4/p5: role mailbox ignored; company records without person names -> company-only confidence
	assert pairs[("p4", "p5")] == (0.5, "similar company 'acme' ~ 'acme' (100) in Europe, no person names")
	assert pairs[("p6", "p7")][0] == 0.75
	# p3 (Mary Major) is a colleague, not a duplicate; Initech is in two territories
	assert out["confidence"].is_monotonic_decreasing


def test_pairs_are_ordered_unique_and_never_self():
	p = profiles(
		email=["a@x.com"] * 4 + ["b@x.com"],
		phone=["+4915112345678"] * 5,
		company_name=["Foo"] * 5,
		person_name=["Al"] * 5,
	)
	out = duplicate_candidates(p)
	assert (out["profile_a"] < out["profile_b"]).all()
	assert not out.duplicated(["profile_a", "profile_b"]).any()
	assert len(out) == 10  # every pair of five profiles once


def test_big_shared_values_are_skipped_and_thresholds_apply():
	p = profiles(email=["shared@x.com"] * 60, phone=[None] * 60)
	assert duplicate_candidates(p).empty  # 60 > max_group_size: a shared mailbox, not 1770 duplicates
	assert len(duplicate_candidates(p, DedupeConfig(max_group_size=60))) == 60 * 59 // 2
	p = profiles(
		company_name=["Acme Industrial Supplies", "Acme Industrial Suplies"], person_name=[None, None]
	)
	assert len(duplicate_candidates(p)) == 1
	assert duplicate_candidates(p, DedupeConfig(company_threshold=99)).empty
	assert duplicate_candidates(p, DedupeConfig(min_confidence=0.6)).empty
	assert duplicate_candidates(p, DedupeConfig(company=False)).empty


def test_territories():
	p = profiles(
		company_name=["Acme", "Acme", "Acme"], territory=["Europe", "Asia", None], person_name=[None] * 3
	)
	assert duplicate_candidates(p).empty
	anywhere = duplicate_candidates(p, DedupeConfig(same_territory=False))
	assert len(anywhere) == 3 and "in " not in anywhere["reason"].iloc[0]


def test_big_companies_use_the_cdist_path():
	# 400 contacts at one company: colleagues are not pairs, the two typed-twice people are
	names = [f"Person {i:04d} Surname{i}" for i in range(400)]
	names[399] = "person 0007 surname7"
	names[398] = "PERSON 0011 SURNAME11"
	p = profiles(company_name=["Big Corp Inc"] * 200 + ["Big Corp Incorporated"] * 200, person_name=names)
	out = duplicate_candidates(p, DedupeConfig(person_threshold=97))
	assert set(zip(out["profile_a"], out["profile_b"], strict=True)) == {("p399", "p7"), ("p11", "p398")}


def test_empty_single_and_missing_columns():
	assert duplicate_candidates(pd.DataFrame({"profile": pd.Series(dtype=object)})).empty
	assert duplicate_candidates(
		profiles(email=["a@x.com"], phone=["+4915112345678"], company_name=["Acme"])
	).empty
	assert duplicate_candidates(profiles(other=[1, 2])).empty
	with pytest.raises(EngineInputError, match="more than once"):
		duplicate_candidates(pd.DataFrame({"profile": ["a", "a"]}))
	with pytest.raises(EngineInputError, match="missing column"):
		duplicate_candidates(pd.DataFrame({"email": ["a@x.com"]}))


def test_clusters():
	pairs = pd.DataFrame(
		{
			"profile_a": ["a", "b", "x", "m"],
			"profile_b": ["b", "c", "y", "n"],
			"confidence": [0.9, 0.9, 0.5, 0.2],
		}
	)
	c = duplicate_clusters(pairs)
	assert c.to_dict("list") == {
		"profile": ["a", "b", "c", "m", "n", "x", "y"],
		"cluster": ["a", "a", "a", "m", "m", "x", "x"],
		"cluster_size": [3, 3, 3, 2, 2, 2, 2],
	}
	assert list(duplicate_clusters(pairs, min_confidence=0.6)["profile"]) == ["a", "b", "c"]
	assert duplicate_clusters(pairs.iloc[:0]).empty


@pytest.mark.parametrize(
	("d", "field"),
	[
		({"email_confidence": 1.5}, "email_confidence"),
		({"company_threshold": 0}, "company_threshold"),
		({"default_region": "Narnia"}, "default_region"),
		({"fuzzy_window": 0}, "fuzzy_window"),
		({"max_group_size": 1}, "max_group_size"),
		({"workers": 0}, "workers"),
		({"phone": "yes"}, "phone"),
		({"ignore_mailboxes": "info"}, "ignore_mailboxes"),
		({"fuzzy": True}, "fuzzy"),
	],
)
def test_bad_configs_name_the_field(d, field):
	with pytest.raises(EngineConfigError) as err:
		DedupeConfig.from_dict(d)
	assert err.value.field == field


def test_config_round_trip():
	cfg = DedupeConfig.from_dict({"default_region": "gb", "ignore_mailboxes": ["Info"], "phone": 0})
	assert cfg.default_region == "GB" and cfg.ignore_mailboxes == ("info",) and cfg.phone is False
	assert DedupeConfig.from_dict(cfg.to_dict()) == cfg


_email = st.sampled_from(["a@x.com", "A@x.com", "b@y.org", "bad", None, "c.d@gmail.com", "cd@gmail.com"])
_company = st.sampled_from(
	["Acme GmbH", "Acme Inc", "Globex", "Globex Ltd", None, "上海华为有限公司", "上海华为"]
)
_person = st.sampled_from(["Ann Lee", "ANN LEE", "Bob Stone", None])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_email, _company, _person, st.sampled_from(["E", "A", None])), max_size=25))
def test_pair_invariants(rows):
	p = pd.DataFrame(rows, columns=["email", "company_name", "person_name", "territory"])
	p.insert(0, "profile", [f"p{i:02d}" for i in range(len(p))])
	out = duplicate_candidates(p)
	assert (out["profile_a"] < out["profile_b"]).all()
	assert not out.duplicated(["profile_a", "profile_b"]).any()
	assert out["confidence"].between(0, 1).all() and not out.isna().any().any()
	assert (out["reason"].str.len() > 0).all()
	clusters = duplicate_clusters(out)
	assert set(clusters["profile"]) == set(out["profile_a"]) | set(out["profile_b"])


# --------------------------------------------------------------------------------------------------
# blocking: the e-mail signal normalises only addresses that could match, the fuzzy matcher compares
# the same neighbourhoods as before, and neither loses a pair

_local = st.sampled_from(["john.smith", "JohnSmith", " john.smith+crm", "info", "mary", "Mary", "m.ary+x"])
_domain = st.sampled_from(["gmail.com", "GoogleMail.com", "acme.de", "ACME.de", "x.org "])
_address = st.one_of(
	st.builds(lambda local, domain: f"{local}@{domain}", _local, _domain),
	st.sampled_from([None, "not an address", "a@b", "  ", float("nan")]),
)
_email_configs = [DedupeConfig(), DedupeConfig(gmail_normalise=False), DedupeConfig(strip_plus_tags=True)]


def _pairs_of(values) -> set[tuple[int, int]]:
	"""Row pairs sharing a non-missing value."""
	rows: dict = {}
	for i, v in enumerate(values):
		if v is not None:
			rows.setdefault(v, []).append(i)
	return {(a, b) for group in rows.values() for a in group for b in group if a < b}


@settings(max_examples=150, deadline=None)
@given(st.lists(_address, max_size=30), st.sampled_from(_email_configs))
def test_email_blocking_finds_every_pair_normalising_all_finds(emails, config):
	from crm_fishpond.engine.dedupe import _shared_emails

	series = pd.Series(emails, dtype=object)
	full = normalise_emails(series, config).tolist()
	blocked = _shared_emails(series, config).tolist()
	# a blocked address is either left out or normalised exactly as before ...
	assert all(b is None or b == f for b, f in zip(blocked, full, strict=True))
	# ... and every address another row shares is kept, so the same pairs come out
	assert _pairs_of(blocked) == _pairs_of(full)


def test_email_blocking_normalises_only_addresses_that_could_match(monkeypatch):
	from crm_fishpond.engine import dedupe

	seen = []
	real = dedupe.normalise_email
	monkeypatch.setattr(dedupe, "normalise_email", lambda v, config=None: seen.append(v) or real(v, config))
	emails = pd.Series(
		["ann@acme.de", " ANN@acme.de", "bob@acme.de", "carl@example.org", "d.an@gmail.com", None, "eve@x.io"]
	)
	p = profiles(email=emails)
	out = duplicate_candidates(p)
	assert set(zip(out["profile_a"], out["profile_b"], strict=True)) == {("p0", "p1")}
	# the two spellings of ann@ (they trim and lower-case alike) and the Gmail address, nothing else
	assert sorted(seen) == sorted(["ann@acme.de", " ANN@acme.de", "d.an@gmail.com"])


def _similar_pairs_reference(keys, group, window, threshold):
	"""The sorted neighbourhood by its definition: small groups (at most window + 1 rows) compare
	every pair; in a bigger group each row is compared with the rows within ``window`` places of it,
	sorted by key and sorted by reversed key, with fuzz.ratio."""
	from rapidfuzz import fuzz, process

	from crm_fishpond.engine.dedupe import _text_order

	found = {}
	size = np.bincount(group)[group]
	for i in range(len(keys)):
		for j in range(i + 1, len(keys)):
			if group[i] == group[j] and size[i] <= window + 1:
				score = process.cpdist([keys[i]], [keys[j]], scorer=fuzz.ratio)[0]
				if score >= threshold:
					found.setdefault((i, j), float(score))
	for g in np.unique(group[size > window + 1]):
		rows = np.flatnonzero(group == g)
		for sort_keys in (keys[rows], np.array([k[::-1] for k in keys[rows]], dtype=object)):
			order = rows[_text_order(sort_keys)]
			for x in range(len(order)):
				for y in range(x + 1, min(x + window + 1, len(order))):
					a, b = order[x], order[y]
					score = process.cdist(
						[keys[a]], [keys[b]], scorer=fuzz.ratio, score_cutoff=threshold, dtype=np.uint8
					)[0, 0]
					if score:
						found.setdefault((min(a, b), max(a, b)), float(score))
	return found


_word = st.sampled_from(["acme", "acne", "globex", "globe", "initech", "inytech", "umbrella", "hooli", "a"])


@settings(max_examples=60, deadline=None)
@given(
	st.lists(st.tuples(st.lists(_word, min_size=1, max_size=3), st.integers(0, 2)), min_size=2, max_size=40),
	st.integers(1, 4),
	st.sampled_from([60.0, 80.0, 90.0]),
)
def test_sorted_neighbourhood_finds_the_pairs_of_the_reference(rows, window, threshold):
	from crm_fishpond.engine.dedupe import _similar_pairs

	keys = np.array([" ".join(words) for words, _ in rows], dtype=object)
	group = np.array([g for _, g in rows], dtype=np.int64)
	a, b, sim = _similar_pairs(keys, group, window, threshold, 1)
	got = dict(zip(zip(a.tolist(), b.tolist(), strict=True), sim.tolist(), strict=True))
	want = _similar_pairs_reference(keys, group, window, threshold)
	assert got == want
	assert len(a) == len(got)  # each pair once


def _territory_parts(pond: pd.DataFrame, parts: int) -> list[pd.DataFrame]:
	"""The profiles split by territory into consecutive ranges of the sorted territories (as the
	site's duplicate pass splits its company chunks)."""
	territory = pond["territory"].fillna("")
	names = sorted(territory.unique())
	bounds = np.array_split(np.array(names, dtype=object), parts)
	return [pond[territory.isin(list(b))] for b in bounds if len(b)]


@pytest.mark.parametrize("same_territory", [True, False])
def test_signals_found_apart_combine_into_the_pairs_of_one_pass(same_territory):
	"""E-mail and phone from their own columns, the company signal per range of territories (or on
	every row without same_territory), parts in any order: the pairs of duplicate_candidates."""
	from crm_fishpond.engine.dedupe import SIGNALS, combine_signals, signal_pairs
	from crm_fishpond.engine.synth import generate_pond

	pond = generate_pond(6_000, 100, seed=9, duplicate_share=0.05).profiles
	# a few territories big enough for the sorted neighbourhood, some empty
	pond["territory"] = np.where(np.arange(len(pond)) % 17 == 0, None, pond["territory"])
	config = DedupeConfig(
		same_territory=same_territory, fuzzy_window=3, company_threshold=60.0, person_threshold=60.0
	)
	whole = duplicate_candidates(pond, config)
	assert len(whole) > 100
	assert whole["reason"].str.contains("; ").any(), "some pairs are found by several signals"

	email = signal_pairs(pond[["profile", "email"]], "email", config)
	phone = signal_pairs(pond[["profile", "phone", "country"]], "phone", config)
	columns = ["profile", "company_name", "person_name", "territory"]
	if same_territory:
		parts = _territory_parts(pond[columns], 3)
		assert len(parts) == 3
		company = [signal_pairs(part, "company", config) for part in reversed(parts)]
	else:
		company = [signal_pairs(pond[columns], "company", config)]
	apart = combine_signals([email, phone, *company], config)
	pd.testing.assert_frame_equal(apart, whole)
	assert SIGNALS == ("email", "phone", "company")


def test_an_unknown_signal_is_refused():
	from crm_fishpond.engine.dedupe import signal_pairs

	with pytest.raises(EngineConfigError, match="unknown duplicate signal"):
		signal_pairs(pd.DataFrame({"profile": ["a"]}), "fax")

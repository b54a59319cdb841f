"""Duplicate profile candidates from e-mail, phone and company + person name.

Signals (each can be switched off in :class:`DedupeConfig`):

* **email**: the same normalised address (lower case, trimmed; Gmail dots and ``+tags`` removed;
  optionally ``+tags`` everywhere). Role mailboxes (``info@``, ``sales@``...) are ignored.
* **phone**: the same E.164 number, parsed with ``phonenumbers`` in the profile's ``country``
  (ISO alpha-2) or ``default_region``; numbers that do not parse or are not valid are ignored.
* **company**: company names normalised (case, punctuation, legal forms such as Ltd, GmbH, Inc.,
  S.A.R.L., 有限公司, 株式会社) and compared with rapidfuzz ``token_sort_ratio`` inside blocks of the
  same first ``block_chars`` characters (and, by default, the same territory). Two people at a
  similar company are a candidate only when their person names are similar too (colleagues are not
  duplicates); two company records without person names are a weaker candidate.

An e-mail or phone value shared by more than ``max_group_size`` profiles (a switchboard, a shared or
placeholder mailbox) produces no pairs. Several signals on one pair combine as
``1 - prod(1 - confidence)``; the reason lists each.

Scale: everything is vectorised except ``phonenumbers`` (a pure-Python parser), which runs once per
distinct (number, region) and, with ``phone_prefilter``, only for numbers that could equal another
one: two numbers can only share an E.164 form if their last seven digits agree (see
:func:`_phone_candidates`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from rapidfuzz import fuzz, process, utils
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .schema import require_columns

PAIR_COLUMNS = ("profile_a", "profile_b", "confidence", "reason")

ROLE_MAILBOXES = (
	"info",
	"sales",
	"admin",
	"contact",
	"office",
	"hello",
	"support",
	"service",
	"enquiries",
	"inquiries",
	"noreply",
	"no-reply",
	"marketing",
	"hr",
	"billing",
	"accounts",
)
_GMAIL = ("gmail.com", "googlemail.com")

# legal forms stripped from the end of a company name (after dots are removed and other punctuation
# became spaces, so "G.m.b.H." is "gmbh" and "Co., Ltd." is "co ltd")
LEGAL_FORMS = (
	"co", "company", "corp", "corporation", "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp",
	"plc", "pllc", "gmbh", "mbh", "ag", "kg", "kgaa", "ug", "ohg", "ev", "sa", "sas", "sasu", "sarl",
	"sl", "slu", "spa", "srl", "sapa", "bv", "nv", "vof", "cv", "pty", "pvt", "private", "proprietary",
	"pte", "kk", "gk", "yk", "kabushiki", "godo", "yugen", "kaisha", "ltda", "eireli", "me", "fze",
	"fzc", "fzco", "fz", "oy", "oyj", "ab", "as", "asa", "aps", "sp", "zoo", "ooo", "zao", "oao", "pao",
	"pjsc", "jsc", "bhd", "sdn", "tbk", "pt", "sro", "as", "kft", "zrt", "doo", "ad", "ead",
	"aktiengesellschaft", "gesellschaft", "group", "holding", "holdings",
)  # fmt: skip
CJK_LEGAL_FORMS = (
	"股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "集团公司", "集團公司", "公司",
	"株式会社", "有限会社", "合同会社", "合資会社", "（株）", "(株)", "㈱",
)  # fmt: skip
_LEGAL_RE = re.compile(
	r"(?:(?:^|\s+)(?:" + "|".join(sorted(set(LEGAL_FORMS), key=len, reverse=True)) + r"))+\s*$"
)
_LEGAL_LEAD_RE = re.compile(r"^(?:the|pt|cv)\s+")
_CJK_RE = re.compile("(?:" + "|".join(re.escape(s) for s in CJK_LEGAL_FORMS) + ")+$")
_CJK_LEAD_RE = re.compile("^(?:株式会社|有限会社|合同会社|（株）|\\(株\\)|㈱)")


@dataclass(frozen=True)
class DedupeConfig:
	"""Which signals to use and how confident each one is (0..1)."""

	email: bool = True
	email_confidence: float = 0.95
	gmail_normalise: bool = True
	strip_plus_tags: bool = False
	ignore_mailboxes: tuple[str, ...] = ROLE_MAILBOXES
	phone: bool = True
	phone_confidence: float = 0.9
	default_region: str | None = None
	phone_prefilter: bool = True
	company: bool = True
	company_threshold: float = 90.0
	person_threshold: float = 85.0
	company_confidence: float = 0.75
	company_only_confidence: float = 0.5
	same_territory: bool = True
	block_chars: int = 3
	max_group_size: int = 50
	min_confidence: float = 0.0
	workers: int = 1

	KEYS = (
		"email",
		"email_confidence",
		"gmail_normalise",
		"strip_plus_tags",
		"ignore_mailboxes",
		"phone",
		"phone_confidence",
		"default_region",
		"phone_prefilter",
		"company",
		"company_threshold",
		"person_threshold",
		"company_confidence",
		"company_only_confidence",
		"same_territory",
		"block_chars",
		"max_group_size",
		"min_confidence",
		"workers",
	)

	def __post_init__(self):
		for k in (
			"email",
			"gmail_normalise",
			"strip_plus_tags",
			"phone",
			"phone_prefilter",
			"company",
			"same_territory",
		):
			object.__setattr__(self, k, cu.boolean(getattr(self, k), k))
		for k in (
			"email_confidence",
			"phone_confidence",
			"company_confidence",
			"company_only_confidence",
			"min_confidence",
		):
			object.__setattr__(self, k, cu.number(getattr(self, k), k, minimum=0.0, maximum=1.0))
		for k in ("company_threshold", "person_threshold"):
			object.__setattr__(self, k, cu.number(getattr(self, k), k, minimum=1.0, maximum=100.0))
		object.__setattr__(
			self,
			"block_chars",
			cu.number(self.block_chars, "block_chars", minimum=1, maximum=20, integer=True),
		)
		object.__setattr__(
			self, "max_group_size", cu.number(self.max_group_size, "max_group_size", minimum=2, integer=True)
		)
		workers = cu.number(self.workers, "workers", minimum=-1, integer=True)
		if workers == 0:
			raise EngineConfigError("workers must be -1 (all cores) or at least 1", field="workers")
		object.__setattr__(self, "workers", workers)
		boxes = tuple(m.lower() for m in cu.text_list(list(self.ignore_mailboxes), "ignore_mailboxes"))
		object.__setattr__(self, "ignore_mailboxes", boxes)
		region = cu.text(self.default_region, "default_region", allow_none=True, allow_empty=True) or None
		if region is not None:
			region = region.upper()
			if region not in phonenumbers.SUPPORTED_REGIONS:
				raise EngineConfigError(
					f"default_region {self.default_region!r} is not an ISO 3166 alpha-2 region phonenumbers knows",
					field="default_region",
				)
		object.__setattr__(self, "default_region", region)

	@classmethod
	def from_dict(cls, d: Mapping | None) -> DedupeConfig:
		d = d or {}
		cu.require_mapping(d, "", "dedupe settings")
		cu.check_keys(d, cls.KEYS)
		kw = dict(d)
		if "ignore_mailboxes" in kw:
			kw["ignore_mailboxes"] = tuple(cu.text_list(kw["ignore_mailboxes"], "ignore_mailboxes"))
		return cls(**kw)

	def to_dict(self) -> dict:
		d = {k: getattr(self, k) for k in self.KEYS}
		d["ignore_mailboxes"] = list(self.ignore_mailboxes)
		return d


# --------------------------------------------------------------------------------------------------
# normalisation


def _text(series: pd.Series) -> pd.Series:
	"""Object Series of stripped text with missing/empty as None (vectorised)."""
	s = series.astype("string").str.strip()
	return s.astype(object).where(s.notna() & s.ne("").fillna(False), None)


def normalise_emails(emails: pd.Series, config: DedupeConfig | None = None) -> pd.Series:
	"""Normalised addresses (None for missing, malformed or role mailboxes), vectorised."""
	config = config or DedupeConfig()
	s = pd.Series(_text(emails), dtype="string").str.lower()
	parts = s.str.extract(r"^([^@\s]+)@([^@\s]+\.[^@\s.]+)$")
	local, domain = parts[0], parts[1]
	if config.gmail_normalise:
		gmail = domain.isin(_GMAIL).fillna(False).astype(bool)
		local = local.where(
			~gmail, local.str.replace(".", "", regex=False).str.replace(r"\+.*$", "", regex=True)
		)
		domain = domain.where(~gmail, "gmail.com")
	if config.strip_plus_tags:
		local = local.str.replace(r"\+.*$", "", regex=True)
	role = local.isin(config.ignore_mailboxes).fillna(False).astype(bool)
	out = local + "@" + domain
	ok = out.notna() & local.ne("").fillna(False) & ~role
	return out.astype(object).where(ok.to_numpy(dtype=bool), None)


_STRIP_PUNCT = re.compile(r"[^\w\s]", flags=re.UNICODE)


def normalise_company(names: pd.Series) -> pd.Series:
	"""Comparable company names: NFKC, case-folded, punctuation and legal forms removed (None if
	nothing is left). Distinct values are normalised once."""
	s = _text(names)
	codes, uniques = pd.factorize(s, use_na_sentinel=True)
	if len(uniques) == 0:
		return pd.Series([None] * len(s), index=names.index, dtype=object)
	u = pd.Series(uniques, dtype="string")
	u = u.str.normalize("NFKC").str.casefold()
	u = u.str.replace("&", " and ", regex=False).str.replace(".", "", regex=False)
	for _ in range(2):  # a CJK legal form may precede a Latin one and vice versa
		u = u.str.replace(_CJK_RE, "", regex=True).str.replace(_CJK_LEAD_RE, "", regex=True)
		u = u.str.replace(_STRIP_PUNCT, " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
		u = u.str.replace(_LEGAL_RE, "", regex=True).str.replace(_LEGAL_LEAD_RE, "", regex=True).str.strip()
	long_enough = u.str.len().ge(2).fillna(False).to_numpy(dtype=bool)
	u = np.where(long_enough, u.to_numpy(dtype=object, na_value=None), None)
	out = np.where(codes >= 0, u[np.maximum(codes, 0)], None)
	return pd.Series(out, index=names.index, dtype=object)


_PHONE_FORMAT = re.compile(r"[\s\-.()/\u00a0\u2010-\u2015]")


@lru_cache(maxsize=1 << 18)
def _parse_phone(raw: str, region: str | None) -> tuple[str, int] | None:
	"""(E.164, length of the national significant number) of a valid number, else None."""
	try:
		num = phonenumbers.parse(raw, region)
	except phonenumbers.NumberParseException:
		return None
	if not phonenumbers.is_valid_number(num):
		return None
	nsn = phonenumbers.national_significant_number(num)
	return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164), len(nsn)


def _phone_candidates(cleaned: pd.Series, digits: pd.Series, unusual: np.ndarray) -> np.ndarray:
	"""Which numbers need parsing because they could share an E.164 form with another number.

	Any written form of a number (national, +international, with an international call prefix) ends
	with its national significant number (NSN). So when NSNs have 7+ digits, equal numbers share
	their last 7 digits, and a number whose last 7 digits no other number has cannot be a duplicate.
	Numbers with fewer than 10 digits (which covers every national and ``+`` form of a shorter NSN)
	and numbers with letters or extension marks are always parsed; :func:`_phone_e164` then adds
	numbers ending in a parsed short number's country code + NSN.
	"""
	nd = digits.str.len().to_numpy(dtype=np.int64, na_value=0)
	suffix = digits.str[-7:]
	shared = suffix.duplicated(keep=False).to_numpy(dtype=bool)
	return unusual | (nd < 10) | shared


def phone_e164(phones: pd.Series, regions: pd.Series | None, config: DedupeConfig | None = None) -> pd.Series:
	"""E.164 form of every number (None when missing or invalid). ``regions`` holds each profile's
	ISO alpha-2 country; missing/unknown regions use ``config.default_region``.

	With ``config.phone_prefilter`` only numbers that could equal another one are parsed; the rest
	are returned as None, which is all duplicate detection needs. Set it to False for every number's
	E.164 form."""
	config = config or DedupeConfig()
	s = pd.Series(_text(phones), dtype="string")
	n = len(s)
	present = s.notna().to_numpy(dtype=bool)
	if not present.any():
		return pd.Series([None] * n, index=phones.index, dtype=object)
	region = _regions(regions, n, config.default_region)
	cleaned = s.str.replace(_PHONE_FORMAT, "", regex=True)
	unusual = ~cleaned.str.fullmatch(r"\+?\d+").fillna(False).to_numpy(dtype=bool)
	digits = cleaned.str.replace(r"\D", "", regex=True)
	if config.phone_prefilter:
		todo = present & _phone_candidates(cleaned, digits, unusual)
	else:
		todo = present.copy()
	# a number written with + parses the same in every region
	intl = cleaned.str.startswith("+").fillna(False).to_numpy(dtype=bool)
	region_key = np.where(intl, "", region)
	raw = np.where(
		unusual, s.to_numpy(dtype=object, na_value=None), cleaned.to_numpy(dtype=object, na_value=None)
	)
	e164 = np.full(n, None, dtype=object)
	nsn_len = np.zeros(n, dtype=np.int64)

	def parse(rows: np.ndarray) -> None:
		if not rows.any():
			return
		keys = pd.MultiIndex.from_arrays([raw[rows], region_key[rows]])
		codes, uniques = pd.factorize(keys)
		parsed = [_parse_phone(r, g or None) for r, g in uniques]  # one call per distinct number
		table = np.array([p[0] if p else None for p in parsed] + [None], dtype=object)
		lens = np.array([p[1] if p else 0 for p in parsed] + [0], dtype=np.int64)
		e164[rows] = table[codes]
		nsn_len[rows] = lens[codes]

	parse(todo)
	if config.phone_prefilter:
		# short national numbers: find their forms written with a long international call prefix
		short = todo & (nsn_len > 0) & (nsn_len < 7)
		rest = present & ~todo
		if short.any() and rest.any():
			tails = pd.Series(e164[short], dtype="string").str.slice(1).unique()
			extra = np.zeros(n, dtype=bool)
			for length in sorted({len(t) for t in tails}):
				want = {t for t in tails if len(t) == length}
				extra |= rest & digits.str[-length:].isin(want).fillna(False).to_numpy(dtype=bool)
			parse(extra)
	return pd.Series(e164, index=phones.index, dtype=object)


def _regions(regions: pd.Series | None, n: int, default: str | None) -> np.ndarray:
	fallback = default or ""
	if regions is None:
		return np.full(n, fallback, dtype=object)
	r = pd.Series(_text(regions), dtype="string").str.upper()
	known = r.isin(phonenumbers.SUPPORTED_REGIONS).fillna(False).to_numpy(dtype=bool)
	return np.where(known, r.to_numpy(dtype=object, na_value=""), fallback).astype(object)


# --------------------------------------------------------------------------------------------------
# pair generation


def _pairs_within(codes: np.ndarray, max_size: int | None) -> tuple[np.ndarray, np.ndarray]:
	"""All (i, j) row pairs, i before j, of rows sharing a code >= 0 (groups above max_size skipped)."""
	rows = np.flatnonzero(codes >= 0)
	if len(rows) < 2:
		return np.empty(0, np.int64), np.empty(0, np.int64)
	order = rows[np.argsort(codes[rows], kind="stable")]
	c = codes[order]
	start = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
	size = np.diff(np.r_[start, len(c)])
	keep = size >= 2
	if max_size is not None:
		keep &= size <= max_size
	group_of = np.repeat(np.arange(len(start)), size)
	rank = np.arange(len(c)) - start[group_of]
	after = np.where(keep[group_of], size[group_of] - 1 - rank, 0)
	total = int(after.sum())
	if total == 0:
		return np.empty(0, np.int64), np.empty(0, np.int64)
	pos = np.repeat(np.arange(len(c)), after)
	offset = np.arange(total) - np.repeat(np.cumsum(after) - after, after)
	return order[pos], order[pos + 1 + offset]


def _exact_signal(
	ids: np.ndarray, values: pd.Series, confidence: float, label: str, max_size: int
) -> pd.DataFrame:
	codes, _ = pd.factorize(values, use_na_sentinel=True)
	i, j = _pairs_within(codes, max_size)
	vals = values.to_numpy(dtype=object)
	return _frame(ids[i], ids[j], np.full(len(i), confidence), f"same {label} " + vals[i].astype(object))


def _frame(a: np.ndarray, b: np.ndarray, conf: np.ndarray, reason: Any) -> pd.DataFrame:
	return pd.DataFrame(
		{"profile_a": a, "profile_b": b, "confidence": np.asarray(conf, dtype=float), "reason": reason}
	).astype({"profile_a": object, "profile_b": object, "reason": object})


def _fmt_name(values: np.ndarray) -> np.ndarray:
	return "'" + pd.Series(values, dtype=object).fillna("").astype(str).to_numpy(dtype=object) + "'"


def _company_signal(profiles: pd.DataFrame, ids: np.ndarray, config: DedupeConfig) -> pd.DataFrame:
	"""Pairs of profiles at similar companies (same block), with similar or no person names."""
	name = normalise_company(profiles["company_name"]).to_numpy(dtype=object)
	has = pd.notna(name).astype(bool)
	if has.sum() < 2:
		return _frame(np.empty(0, object), np.empty(0, object), np.empty(0), np.empty(0, object))
	if config.same_territory and "territory" in profiles.columns:
		territory = _text(profiles["territory"]).fillna("").to_numpy(dtype=object)
	else:
		territory = np.full(len(ids), "", dtype=object)
	# entities: distinct (territory, normalised name)
	rows = np.flatnonzero(has)
	ent_codes, ent_uniques = pd.factorize(pd.MultiIndex.from_arrays([territory[rows], name[rows]]))
	ent_territory = ent_uniques.get_level_values(0).to_numpy(dtype=object)
	ent_name = ent_uniques.get_level_values(1).to_numpy(dtype=object)
	nospace = pd.Series(ent_name, dtype="string").str.replace(" ", "", regex=False)
	block = pd.MultiIndex.from_arrays(
		[ent_territory, nospace.str[: config.block_chars].to_numpy(dtype=object)]
	)
	block_codes, _ = pd.factorize(block)
	# fuzzy entity pairs within blocks; the Python loop runs over blocks holding 2+ distinct names
	order = np.argsort(block_codes, kind="stable")
	bc = block_codes[order]
	starts = np.r_[0, np.flatnonzero(bc[1:] != bc[:-1]) + 1]
	ends = np.r_[starts[1:], len(bc)]
	e1_parts, e2_parts, sim_parts = [], [], []
	for s, e in zip(starts[ends - starts >= 2], ends[ends - starts >= 2], strict=True):
		members = order[s:e]
		for lo in range(0, len(members), 2000):  # bound memory on huge blocks
			chunk = members[lo : lo + 2000]
			scores = process.cdist(
				ent_name[chunk],
				ent_name[members],
				scorer=fuzz.token_sort_ratio,
				score_cutoff=config.company_threshold,
				dtype=np.uint8,
				workers=config.workers,
			)
			r, c = np.nonzero(scores)
			keep = chunk[r] < members[c]
			e1_parts.append(chunk[r][keep])
			e2_parts.append(members[c][keep])
			sim_parts.append(scores[r, c][keep].astype(float))
	n_ent = len(ent_name)
	e1 = np.concatenate([np.arange(n_ent), *e1_parts])
	e2 = np.concatenate([np.arange(n_ent), *e2_parts])
	sim = np.concatenate([np.full(n_ent, 100.0), *sim_parts])
	# expand entity pairs to profile pairs
	person = (
		_text(profiles["person_name"]).to_numpy(dtype=object)
		if "person_name" in profiles.columns
		else np.full(len(ids), None, dtype=object)
	)
	prof = pd.DataFrame({"row": rows, "ent": ent_codes})
	pairs = pd.DataFrame({"e1": e1, "e2": e2, "sim": sim})
	size = np.bincount(ent_codes, minlength=n_ent)
	pairs = pairs[(pairs["e1"] != pairs["e2"]) | (size[pairs["e1"].to_numpy()] >= 2)]
	big = size[pairs["e1"].to_numpy()] * size[pairs["e2"].to_numpy()] > 20_000
	out = [_expand_small(pairs[~big], prof, person, config), _expand_big(pairs[big], prof, person, config)]
	got = pd.concat(out, ignore_index=True)
	if got.empty:
		return _frame(np.empty(0, object), np.empty(0, object), np.empty(0), np.empty(0, object))
	i, j = got["i"].to_numpy(dtype=np.int64), got["j"].to_numpy(dtype=np.int64)
	i, j = np.where(ids[j] < ids[i], j, i), np.where(ids[j] < ids[i], i, j)  # reason reads a ~ b
	csim, psim = got["sim"].to_numpy(dtype=float), got["psim"].to_numpy(dtype=float)
	named = ~np.isnan(psim)
	conf = np.where(
		named,
		config.company_confidence * csim / 100 * psim / 100,
		config.company_only_confidence * csim / 100,
	)
	where = np.where(territory[i] != "", " in " + territory[i].astype(object), "")
	reason = (
		"similar company "
		+ _fmt_name(name[i])
		+ " ~ "
		+ _fmt_name(name[j])
		+ " ("
		+ _int_text(csim)
		+ ")"
		+ where
	)
	person_txt = np.where(
		named,
		", person "
		+ _fmt_name(person[i])
		+ " ~ "
		+ _fmt_name(person[j])
		+ " ("
		+ _int_text(np.nan_to_num(psim))
		+ ")",
		", no person names",
	)
	return _frame(ids[i], ids[j], conf, reason + person_txt)


def _int_text(values: np.ndarray) -> np.ndarray:
	return np.round(values).astype(np.int64).astype(str).astype(object)


def _expand_small(
	pairs: pd.DataFrame, prof: pd.DataFrame, person: np.ndarray, config: DedupeConfig
) -> pd.DataFrame:
	"""Profile pairs of small entity pairs: merged, then person names compared pairwise."""
	if pairs.empty:
		return pd.DataFrame({"i": [], "j": [], "sim": [], "psim": []})
	m = pairs.merge(prof.rename(columns={"row": "i", "ent": "e1"}), on="e1").merge(
		prof.rename(columns={"row": "j", "ent": "e2"}), on="e2"
	)
	m = m[m["i"] != m["j"]]
	m = m[(m["e1"] != m["e2"]) | (m["i"] < m["j"])]
	return _person_filter(
		m["i"].to_numpy(), m["j"].to_numpy(), m["sim"].to_numpy(dtype=float), person, config
	)


def _expand_big(
	pairs: pd.DataFrame, prof: pd.DataFrame, person: np.ndarray, config: DedupeConfig
) -> pd.DataFrame:
	"""Big entity pairs (a company with many contacts): person names matched with cdist, not all pairs."""
	if pairs.empty:
		return pd.DataFrame({"i": [], "j": [], "sim": [], "psim": []})
	members = prof.groupby("ent")["row"].agg(lambda r: r.to_numpy())
	parts = []
	for e1, e2, sim in pairs[["e1", "e2", "sim"]].itertuples(index=False):
		a, b = members[e1], members[e2]
		pa, pb = person[a], person[b]
		na, nb = np.array([p is not None for p in pa]), np.array([p is not None for p in pb])
		# named x named through cdist
		if na.any() and nb.any():
			scores = process.cdist(
				pa[na].tolist(),
				pb[nb].tolist(),
				scorer=fuzz.token_sort_ratio,
				processor=utils.default_process,
				score_cutoff=config.person_threshold,
				dtype=np.uint8,
				workers=config.workers,
			)
			r, c = np.nonzero(scores)
			i, j = a[na][r], b[nb][c]
			keep = (i != j) & ((e1 != e2) | (i < j))
			parts.append(
				pd.DataFrame(
					{"i": i[keep], "j": j[keep], "sim": float(sim), "psim": scores[r, c][keep].astype(float)}
				)
			)
		# unnamed x unnamed: company-only
		ua, ub = a[~na], b[~nb]
		if len(ua) and len(ub):
			i, j = np.repeat(ua, len(ub)), np.tile(ub, len(ua))
			keep = (i != j) & ((e1 != e2) | (i < j))
			parts.append(pd.DataFrame({"i": i[keep], "j": j[keep], "sim": float(sim), "psim": np.nan}))
	return (
		pd.concat(parts, ignore_index=True)
		if parts
		else pd.DataFrame({"i": [], "j": [], "sim": [], "psim": []})
	)


def _person_filter(
	i: np.ndarray, j: np.ndarray, sim: np.ndarray, person: np.ndarray, config: DedupeConfig
) -> pd.DataFrame:
	pa, pb = person[i], person[j]
	na = pd.notna(pa) if len(pa) else np.zeros(0, bool)
	nb = pd.notna(pb) if len(pb) else np.zeros(0, bool)
	both = na & nb
	psim = np.full(len(i), np.nan)
	if both.any():
		psim[both] = process.cpdist(
			pa[both].tolist(),
			pb[both].tolist(),
			scorer=fuzz.token_sort_ratio,
			processor=utils.default_process,
			workers=config.workers,
		)
	keep = (both & (psim >= config.person_threshold)) | (~na & ~nb)
	return pd.DataFrame({"i": i[keep], "j": j[keep], "sim": sim[keep], "psim": psim[keep]})


# --------------------------------------------------------------------------------------------------
# entry points


def duplicate_candidates(profiles: pd.DataFrame, config: DedupeConfig | None = None) -> pd.DataFrame:
	"""Likely duplicate pairs: ``profile_a < profile_b``, ``confidence`` 0..1 (3 dp), ``reason``.

	Reads ``profile`` and, when present, ``email``, ``phone`` (+ ``country``), ``company_name``,
	``person_name`` and ``territory``. No self pairs, each pair once, sorted by confidence (highest
	first) then ids; pairs under ``min_confidence`` are dropped.
	"""
	config = config or DedupeConfig()
	require_columns(profiles, ("profile",), "profiles")
	if profiles["profile"].isna().any():
		raise EngineInputError("profiles has rows without a profile id")
	ids = profiles["profile"].astype(str).to_numpy(dtype=object)
	if pd.Index(ids).has_duplicates:
		raise EngineInputError("profiles lists a profile id more than once")
	profiles = profiles.reset_index(drop=True)
	signals = []
	if config.email and "email" in profiles.columns:
		emails = normalise_emails(profiles["email"], config)
		signals.append(_exact_signal(ids, emails, config.email_confidence, "email", config.max_group_size))
	if config.phone and "phone" in profiles.columns:
		regions = profiles["country"] if "country" in profiles.columns else None
		e164 = phone_e164(profiles["phone"], regions, config)
		signals.append(_exact_signal(ids, e164, config.phone_confidence, "phone", config.max_group_size))
	if config.company and "company_name" in profiles.columns:
		signals.append(_company_signal(profiles, ids, config))
	signals = [s for s in signals if len(s)]
	if not signals:
		return _frame(np.empty(0, object), np.empty(0, object), np.empty(0), np.empty(0, object))
	allp = pd.concat(signals, ignore_index=True)
	a, b = allp["profile_a"].to_numpy(dtype=object), allp["profile_b"].to_numpy(dtype=object)
	swap = b < a
	allp["profile_a"], allp["profile_b"] = np.where(swap, b, a), np.where(swap, a, b)
	allp = allp[allp["profile_a"] != allp["profile_b"]]
	allp = allp.assign(miss=np.log1p(-np.minimum(allp["confidence"].to_numpy(), 1 - 1e-12)))
	grouped = allp.groupby(["profile_a", "profile_b"], sort=False)
	combined = grouped["miss"].sum()
	multi = grouped.size() > 1
	reasons = grouped["reason"].first()
	if multi.any():
		joined = allp.set_index(["profile_a", "profile_b"]).loc[multi[multi].index, "reason"]
		reasons.loc[multi[multi].index] = joined.groupby(level=[0, 1], sort=False).agg("; ".join)
	out = pd.DataFrame(
		{"confidence": np.round(1 - np.exp(combined.to_numpy()), 3), "reason": reasons.to_numpy()},
		index=combined.index,
	)
	out = out.reset_index()
	out = out[out["confidence"] >= config.min_confidence]
	out = out.sort_values(
		["confidence", "profile_a", "profile_b"], ascending=[False, True, True], kind="stable"
	)
	return _frame(
		out["profile_a"].to_numpy(),
		out["profile_b"].to_numpy(),
		out["confidence"].to_numpy(),
		out["reason"].to_numpy(),
	)


def duplicate_clusters(pairs: pd.DataFrame, min_confidence: float = 0.0) -> pd.DataFrame:
	"""Group profiles linked by pairs (union-find via connected components): ``profile``, ``cluster``
	(the smallest profile id in the cluster) and ``cluster_size``, for every profile in a pair with
	``confidence >= min_confidence``."""
	require_columns(pairs, ("profile_a", "profile_b"), "pairs")
	cu.number(min_confidence, "min_confidence", minimum=0.0, maximum=1.0)
	if "confidence" in pairs.columns:
		pairs = pairs[pairs["confidence"].to_numpy(dtype=float) >= min_confidence]
	if pairs.empty:
		return pd.DataFrame(
			{
				"profile": pd.Series([], dtype=object),
				"cluster": pd.Series([], dtype=object),
				"cluster_size": pd.Series([], dtype=np.int64),
			}
		)
	codes, uniques = pd.factorize(
		np.concatenate([pairs["profile_a"].to_numpy(dtype=object), pairs["profile_b"].to_numpy(dtype=object)])
	)
	n, m = len(uniques), len(pairs)
	graph = coo_matrix((np.ones(m), (codes[:m], codes[m:])), shape=(n, n))
	_, labels = connected_components(graph, directed=False)
	frame = pd.DataFrame({"profile": np.asarray(uniques, dtype=object), "label": labels})
	first = frame.groupby("label")["profile"].transform("min")
	size = frame.groupby("label")["profile"].transform("size")
	out = pd.DataFrame({"profile": frame["profile"], "cluster": first, "cluster_size": size.astype(np.int64)})
	return out.sort_values(["cluster", "profile"], kind="stable").reset_index(drop=True)

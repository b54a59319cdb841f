"""Duplicate profile candidates from e-mail, phone and company + person name.

Signals (each can be switched off in :class:`DedupeConfig`):

* **email**: the same normalised address (lower case, trimmed; Gmail dots and ``+tags`` removed;
  optionally ``+tags`` everywhere). Role mailboxes (``info@``, ``sales@``...) are ignored.
* **phone**: the same E.164 number, parsed with ``phonenumbers`` in the profile's ``country``
  (ISO alpha-2) or ``default_region``; numbers that do not parse or are not valid are ignored.
* **company**: company names normalised (case, punctuation, legal forms such as Ltd, GmbH, Inc.,
  S.A.R.L., 有限公司, 株式会社) and compared with rapidfuzz (``token_sort_ratio``), by default within
  the same territory. Two people at the same or a similar company are a candidate only when their
  person names are similar too (colleagues are not duplicates); two company records without person
  names are a weaker candidate.

An e-mail or phone value shared by more than ``max_group_size`` profiles (a switchboard, a shared or
placeholder mailbox) produces no pairs. Several signals on one pair combine as
``1 - prod(1 - confidence)``; the reason lists each.

Scale. Text normalisation runs once per *distinct* value (pandas' ``.str`` methods loop over values
in Python too, only slower, unless pyarrow strings are installed), and e-mail addresses are blocked
first: only an address another row could share is normalised (:func:`_shared_emails`: its trimmed,
lower-cased text is another row's too, or it is at a Gmail domain). ``phonenumbers`` is a pure-Python
parser: it runs once per distinct (number, region), results are cached across calls, and with
``phone_prefilter`` only numbers that could equal another one are parsed (two numbers can only share
an E.164 form if their last seven digits and their country calling codes agree, see
:func:`_phone_candidates` and :func:`_calling_codes`). Fuzzy matching
(:func:`_similar_pairs`) compares small groups completely and big ones with a sorted neighbourhood
instead of prefix blocks: prefix blocks cost the square of the block size and real names pile up on
common prefixes ("sha", "int", "glo"), while a window of ``fuzzy_window`` neighbours in two orders
(token-sorted name, and the same reversed, which catches typos near the start) costs
``2 * window`` comparisons per name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
INPUT_COLUMNS = ("profile", "email", "phone", "country", "company_name", "person_name", "territory")
"""The profile columns :func:`duplicate_candidates` reads (the others are ignored)."""

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
_LEGAL_SET = frozenset(LEGAL_FORMS)
_LEGAL_LEAD = frozenset(("the", "pt", "cv"))
_CJK_LEAD = ("株式会社", "有限会社", "合同会社", "（株）", "(株)", "㈱")
_STRIP_PUNCT = re.compile(r"[^\w\s]")


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
	fuzzy_window: int = 20
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
		"fuzzy_window",
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
			"fuzzy_window",
			cu.number(self.fuzzy_window, "fuzzy_window", minimum=1, maximum=1000, integer=True),
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


def _as_list(uniques: Any) -> list:
	"""Plain Python values of factorize's uniques (iterating a pandas array element-wise is slow)."""
	return np.asarray(uniques, dtype=object).tolist()


def per_distinct(values: pd.Series, fn: Callable[[Any], Any]) -> np.ndarray:
	"""``fn`` applied once per distinct non-missing value, spread back to every row (object array;
	missing values give None). Public: the invoice matcher normalises its own keys with it."""
	codes, uniques = pd.factorize(values, use_na_sentinel=True)
	mapped = np.empty(len(uniques) + 1, dtype=object)
	mapped[:-1] = [fn(u) for u in _as_list(uniques)]
	mapped[-1] = None
	return mapped[np.where(codes < 0, len(uniques), codes)]


def _per_distinct_pair(
	values: pd.Series, first: Callable[[Any], Any], second: Callable[[Any], Any]
) -> tuple[np.ndarray, np.ndarray]:
	"""Like :func:`per_distinct` for two functions, factorising the values once."""
	codes, uniques = pd.factorize(values, use_na_sentinel=True)
	at = np.where(codes < 0, len(uniques), codes)
	plain = _as_list(uniques)
	out = []
	for fn in (first, second):
		mapped = np.empty(len(plain) + 1, dtype=object)
		mapped[:-1] = [fn(u) for u in plain]
		mapped[-1] = None
		out.append(mapped[at])
	return out[0], out[1]


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def normalise_email(value: Any, config: DedupeConfig | None = None) -> str | None:
	"""One address, normalised (None when missing, malformed or a role mailbox)."""
	config = config or DedupeConfig()
	if not isinstance(value, str):
		return None
	v = value.strip().lower()
	if not _EMAIL.fullmatch(v):
		return None
	local, _, domain = v.partition("@")
	if config.gmail_normalise and domain in _GMAIL:
		local, domain = local.split("+", 1)[0].replace(".", ""), "gmail.com"
	elif config.strip_plus_tags:
		local = local.split("+", 1)[0]
	if not local or local in config.ignore_mailboxes:
		return None
	return local + "@" + domain


def normalise_emails(emails: pd.Series, config: DedupeConfig | None = None) -> pd.Series:
	"""Normalised addresses (None for missing, malformed or role mailboxes), once per distinct value."""
	config = config or DedupeConfig()
	return pd.Series(
		per_distinct(emails, lambda v: normalise_email(v, config)), index=emails.index, dtype=object
	)


_GMAIL_ENDINGS = tuple("@" + domain for domain in _GMAIL)


def _shared_emails(emails: pd.Series, config: DedupeConfig) -> np.ndarray:
	"""Each row's normalised address (:func:`normalise_email`) when another row could have the same
	one, else None: what the e-mail signal needs, without normalising every address.

	Blocking: unless ``strip_plus_tags`` is on, an address's normal form is its trimmed, lower-cased
	text, or None, except at gmail.com and googlemail.com (dots and +tags removed). So an address
	that is not at a Gmail domain and whose trimmed, lower-cased text no other row has cannot share
	its normal form with another row. Only the other addresses are normalised, once per distinct
	value. Returns an object array, one value per row."""
	codes, uniques = pd.factorize(emails, use_na_sentinel=True)
	values = _as_list(uniques)
	m = len(values)
	at = np.where(codes < 0, m, codes)
	if config.strip_plus_tags:
		todo = np.ones(m, dtype=bool)
	else:
		keys = [v.strip().lower() if isinstance(v, str) else None for v in values]
		key_codes, _ = pd.factorize(np.array([*keys, None], dtype=object), use_na_sentinel=True)
		rows_per_key = np.bincount(key_codes[at][key_codes[at] >= 0], minlength=m + 1)
		shared = (key_codes[:m] >= 0) & (rows_per_key[key_codes[:m]] >= 2)
		gmail = np.array([k is not None and k.endswith(_GMAIL_ENDINGS) for k in keys], dtype=bool)
		todo = shared | (gmail & config.gmail_normalise)
	mapped = np.full(m + 1, None, dtype=object)
	picked = np.flatnonzero(todo)
	mapped[picked] = [normalise_email(values[i], config) for i in picked.tolist()]
	return mapped[at]


_CJK_TAIL = re.compile("(?:" + "|".join(re.escape(f) for f in CJK_LEGAL_FORMS) + ")+$")
_CJK_HEAD = re.compile("^(?:" + "|".join(re.escape(f) for f in _CJK_LEAD) + ")+")


def normalise_company_name(value: Any) -> str | None:
	"""One company name made comparable: NFKC, case-folded, ``&`` as ``and``, dots dropped (so
	``G.m.b.H.`` is ``gmbh``), other punctuation as spaces, legal forms stripped from the end (and
	``the``/``PT``/``CV``/``株式会社`` from the start). None when fewer than two characters remain."""
	if not isinstance(value, str):
		return None
	ascii_only = value.isascii()
	s = value if ascii_only else unicodedata.normalize("NFKC", value)
	s = s.casefold().replace("&", " and ").replace(".", "")
	for _ in range(1 if ascii_only else 2):  # a CJK legal form may follow a Latin one and vice versa
		if not ascii_only:
			s = _CJK_HEAD.sub("", _CJK_TAIL.sub("", s.strip()))
		tokens = _STRIP_PUNCT.sub(" ", s).split()
		while tokens and tokens[-1] in _LEGAL_SET:
			tokens.pop()
		while tokens and tokens[0] in _LEGAL_LEAD:
			tokens.pop(0)
		s = " ".join(tokens)
	return s if len(s) >= 2 else None


def normalise_company(names: pd.Series) -> pd.Series:
	"""Comparable company names (:func:`normalise_company_name`), once per distinct value."""
	return pd.Series(per_distinct(names, normalise_company_name), index=names.index, dtype=object)


_PHONE_FORMAT = str.maketrans("", "", " \t-.()/\u00a0\u2010\u2011\u2012\u2013\u2014\u2015")
_PLAIN_PHONE = re.compile(r"\+?\d+")


def _phone_shape(value: Any) -> tuple[str, str, bool, bool] | None:
	"""(text to parse, digits, unusual, international) of a raw phone value; None when empty.
	``unusual`` marks letters, extensions and other marks: such numbers are always parsed."""
	if not isinstance(value, str):
		if value is None or (isinstance(value, float) and value != value):
			return None
		value = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
	raw = value.strip()
	if not raw:
		return None
	cleaned = raw.translate(_PHONE_FORMAT)
	plain = _PLAIN_PHONE.fullmatch(cleaned) is not None
	digits = cleaned.lstrip("+") if plain else "".join(ch for ch in cleaned if ch.isdigit())
	return (cleaned if plain else raw), digits, not plain, cleaned.startswith("+")


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


def clear_phone_cache() -> None:
	"""Forget parsed numbers (the cache keeps up to 262,144 distinct (number, region) pairs)."""
	_parse_phone.cache_clear()


def _phone_candidates(
	suffix: np.ndarray,
	n_digits: np.ndarray,
	unusual: np.ndarray,
	present: np.ndarray,
	calling_code: np.ndarray | None = None,
) -> np.ndarray:
	"""Which numbers need parsing because they could share an E.164 form with another number.

	Any written form of a number (national, +international, with an international call prefix) ends
	with its national significant number (NSN). So when NSNs have 7+ digits, equal numbers share
	their last 7 digits, and a number whose last 7 digits no other number has cannot be a duplicate.
	Equal numbers also have the same country calling code: with ``calling_code`` (from
	:func:`_calling_codes`, -1 where it cannot be told without parsing) numbers that share their last
	7 digits only with numbers of other countries are not parsed either.
	Numbers with fewer than 10 digits (which covers every national and ``+`` form of a shorter NSN)
	and numbers with letters or extension marks are always parsed; :func:`phone_e164` then adds
	numbers ending in a parsed short number's country code + NSN.
	"""
	if calling_code is None:
		calling_code = np.full(len(suffix), -1, dtype=np.int64)
	group, _ = pd.factorize(np.where(present, suffix, None), use_na_sentinel=True)
	rows = np.flatnonzero(group >= 0)
	group, code = group[rows], calling_code[rows]
	size = np.bincount(group)
	unknown = np.bincount(group, weights=code < 0, minlength=len(size))
	pair, _ = pd.factorize(group.astype(np.int64) * (int(code.max()) + 2) + (code + 1))
	same_code = np.bincount(pair)[pair]  # rows with this row's last 7 digits and calling code
	# a known code can equal its own code and any unknown one; an unknown one can equal anything
	could = np.where(code < 0, size[group] >= 2, same_code + unknown[group] >= 2)
	shared = np.zeros(len(suffix), dtype=bool)
	shared[rows] = could
	return present & (unusual | (n_digits < 10) | shared)


def _calling_codes(digits: np.ndarray, international: np.ndarray, regions: np.ndarray) -> np.ndarray:
	"""The country calling code ``phonenumbers.parse`` gives each number, or -1 when only parsing can
	tell (or the number has no digits).

	phonenumbers takes it (``_maybe_extract_country_code``) from the digits after a ``+`` (calling
	codes are a prefix code: exactly one of the first 1, 2 or 3 digits is one), from the digits after
	the region's international call prefix, or else it is the region's own code. Numbers that start
	with something the region's international prefix pattern matches, and numbers with non-ASCII
	digits, get -1.
	"""
	if len(digits) == 0:
		return np.zeros(0, dtype=np.int64)
	known = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
	where = np.where(international, "+", regions)
	keys = _pair_codes(digits, where)
	first = np.empty(int(keys.max()) + 1, dtype=np.int64)
	first[keys[::-1]] = np.arange(len(keys) - 1, -1, -1)  # one row of each distinct (number, region)
	numbers, places = digits[first].tolist(), where[first].tolist()
	values = np.array(
		[_calling_code(d, r, known) for d, r in zip(numbers, places, strict=True)], dtype=np.int64
	)
	return values[keys]


def _pair_codes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
	"""Dense codes of the distinct (a, b) pairs of two object columns (no sorting of the values)."""
	a_codes, _ = pd.factorize(a, use_na_sentinel=False)
	b_codes, b_values = pd.factorize(b, use_na_sentinel=False)
	codes, _ = pd.factorize(a_codes.astype(np.int64) * len(b_values) + b_codes)
	return codes


def _calling_code(number: Any, region: str, known: Mapping[int, Any]) -> int:
	if not isinstance(number, str) or not number or not number.isascii() or not number.isdigit():
		return -1
	if region == "+":
		for length in (1, 2, 3):
			if int(number[:length]) in known and number[0] != "0":
				return int(number[:length])
		return -1
	metadata = phonenumbers.PhoneMetadata.metadata_for_region(region) if region else None
	if metadata is None:
		return -1
	if metadata.international_prefix and _idd_pattern(metadata.international_prefix).match(number):
		return -1
	return int(metadata.country_code)


@lru_cache(maxsize=512)
def _idd_pattern(pattern: str) -> re.Pattern:
	return re.compile(pattern)


def phone_e164(phones: pd.Series, regions: pd.Series | None, config: DedupeConfig | None = None) -> pd.Series:
	"""E.164 form of every number (None when missing or invalid). ``regions`` holds each profile's
	ISO alpha-2 country; missing/unknown regions use ``config.default_region``.

	With ``config.phone_prefilter`` only numbers that could equal another one are parsed; the rest
	are returned as None, which is all duplicate detection needs. Set it to False for every number's
	E.164 form."""
	config = config or DedupeConfig()
	n = len(phones)
	# the shape of each distinct raw value, spread back to the rows
	codes, uniques = pd.factorize(phones, use_na_sentinel=True)
	values = _as_list(uniques)
	shapes = [_phone_shape(u) for u in values]
	m = len(shapes)
	u_digits = np.empty(m + 1, dtype=object)
	u_digits[:m] = [sh[1] if sh else None for sh in shapes]
	u_digits[m] = None
	u_suffix = np.empty(m + 1, dtype=object)
	u_suffix[:m] = [sh[1][-7:] if sh else None for sh in shapes]
	u_suffix[m] = None
	u_nd = np.array([len(sh[1]) if sh else 0 for sh in shapes] + [0], dtype=np.int64)
	u_unusual = np.array([bool(sh and sh[2]) for sh in shapes] + [False], dtype=bool)
	u_intl = np.array([bool(sh and sh[3]) for sh in shapes] + [False], dtype=bool)
	u_present = np.array([sh is not None for sh in shapes] + [False], dtype=bool)
	# the text to parse is taken again for the few numbers parsed: a million of them is ~0.2 GB
	del shapes
	at = np.where(codes < 0, m, codes)
	present = u_present[at]
	if not present.any():
		return pd.Series([None] * n, index=phones.index, dtype=object)
	digits = u_digits[at]
	# a number written with + parses the same in every region
	region_key = np.where(u_intl[at], "", _regions(regions, n, config.default_region))
	if config.phone_prefilter:
		suffix, n_digits, unusual = u_suffix[at], u_nd[at], u_unusual[at]
		todo = _phone_candidates(suffix, n_digits, unusual, present)
		# then among the numbers kept only for sharing their last 7 digits, compare calling codes too
		# (a number's partners share those digits, so they were kept as well)
		by_suffix = np.flatnonzero(todo & ~unusual & (n_digits >= 10))
		if len(by_suffix):
			calling_code = np.full(n, -1, dtype=np.int64)
			calling_code[by_suffix] = _calling_codes(
				digits[by_suffix], u_intl[at][by_suffix], region_key[by_suffix]
			)
			todo = _phone_candidates(suffix, n_digits, unusual, todo, calling_code)
	else:
		todo = present.copy()
	e164 = np.full(n, None, dtype=object)
	nsn_len = np.zeros(n, dtype=np.int64)

	def parse(sel: np.ndarray) -> None:
		if not sel.any():
			return
		value = at[sel]  # which distinct raw value; its text to parse:
		text = np.empty(m + 1, dtype=object)
		wanted = np.unique(value)
		text[wanted] = [_phone_shape(values[k])[0] for k in wanted.tolist()]
		keys, pairs = pd.factorize(pd.MultiIndex.from_arrays([text[value], region_key[sel]]))
		parsed = [_parse_phone(r, g or None) for r, g in pairs.tolist()]  # once per distinct number
		table = np.empty(len(parsed) + 1, dtype=object)
		table[:-1] = [p[0] if p else None for p in parsed]
		lens = np.array([p[1] if p else 0 for p in parsed] + [0], dtype=np.int64)
		e164[sel] = table[keys]
		nsn_len[sel] = lens[keys]

	parse(todo)
	if config.phone_prefilter:
		# short national numbers: find their forms written with a long international call prefix
		short = todo & (nsn_len > 0) & (nsn_len < 7)
		rest = present & ~todo
		if short.any() and rest.any():
			tails = {t[1:] for t in e164[short] if t}
			rest_rows = np.flatnonzero(rest)
			rest_digits = pd.Series(digits[rest_rows], dtype=object)
			extra = np.zeros(n, dtype=bool)
			for length in sorted({len(t) for t in tails}):
				want = {t for t in tails if len(t) == length}
				hit = rest_digits.str[-length:].isin(want).to_numpy(dtype=bool)
				extra[rest_rows[hit]] = True
			parse(extra)
	return pd.Series(e164, index=phones.index, dtype=object)


def _region_code(value: Any) -> str | None:
	if not isinstance(value, str):
		return None
	code = value.strip().upper()
	return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _regions(regions: pd.Series | None, n: int, default: str | None) -> np.ndarray:
	"""Each row's phone region: its ISO alpha-2 country when phonenumbers knows it, else ``default``."""
	fallback = default or ""
	if regions is None:
		return np.full(n, fallback, dtype=object)
	codes = per_distinct(regions, _region_code)
	return np.where(pd.notna(codes), codes, fallback).astype(object)


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


def _clean_text(value: Any) -> str | None:
	if not isinstance(value, str):
		return None
	value = value.strip()
	return value or None


def _similar_pairs(keys: np.ndarray, group: np.ndarray, window: int, threshold: float, workers: int):
	"""Pairs (a < b) of rows in the same group whose keys have ``fuzz.ratio >= threshold``.

	Groups of at most ``window + 1`` rows are compared completely (every pair, one ``cpdist`` for all
	of them). Bigger groups use a sorted neighbourhood: each row is compared with the rows within
	``window`` places of it when the group is sorted by key, and again when sorted by reversed key
	(which brings together keys that differ near the start). The sorted rows are cut into overlapping
	chunks of ``4 * window`` (overlap ``window``) matched with one ``cdist`` each, so rapidfuzz converts
	each string about once per chunk; only pairs within ``window`` places are kept, so a group's pairs
	depend on its own rows alone (not on where the chunks happen to start), and any split of the
	groups finds the same pairs. Returns (a, b, similarity)."""
	empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
	n = len(keys)
	if n < 2:
		return empty
	size = np.bincount(group)[group]
	a_parts, b_parts, s_parts = [], [], []
	# small groups: every pair
	small = np.where(size <= window + 1, group, -1)
	a, b = _pairs_within(small, None)
	if len(a):
		scores = process.cpdist(keys[a].tolist(), keys[b].tolist(), scorer=fuzz.ratio, workers=workers)
		hit = scores >= threshold
		a_parts.append(a[hit])
		b_parts.append(b[hit])
		s_parts.append(np.asarray(scores[hit], dtype=float))
	# big groups: sorted neighbourhood
	big = np.flatnonzero(size > window + 1)
	chunk = 4 * window
	if len(big):
		big_keys = keys[big]
		for sort_keys in (big_keys, np.array([k[::-1] for k in big_keys.tolist()], dtype=object)):
			order = big[_text_order(sort_keys)]
			order = order[np.argsort(group[order], kind="stable")]
			texts = keys[order].tolist()
			# per chunk only the hits (positions in order); rows and groups are looked up once below
			first, second, sims = [], [], []
			for start in range(0, max(len(order) - window, 1), chunk - window):
				scores = process.cdist(
					texts[start : start + chunk],
					texts[start : start + chunk],  # a second list: given one list twice, rapidfuzz is slower
					scorer=fuzz.ratio,
					score_cutoff=threshold,
					dtype=np.uint8,
					workers=workers,
				)
				r, c = np.nonzero(scores)
				upper = (r < c) & (c - r <= window)
				r, c = r[upper], c[upper]
				first.append(start + r)
				second.append(start + c)
				sims.append(scores[r, c])
			a, b = order[np.concatenate(first)], order[np.concatenate(second)]
			same = group[a] == group[b]
			a_parts.append(np.minimum(a[same], b[same]))
			b_parts.append(np.maximum(a[same], b[same]))
			s_parts.append(np.concatenate(sims)[same].astype(float))
	if not a_parts:
		return empty
	found = pd.DataFrame(
		{"a": np.concatenate(a_parts), "b": np.concatenate(b_parts), "sim": np.concatenate(s_parts)}
	)
	found = found.drop_duplicates(["a", "b"])
	return found["a"].to_numpy(np.int64), found["b"].to_numpy(np.int64), found["sim"].to_numpy(float)


def _text_order(keys: np.ndarray) -> np.ndarray:
	"""Stable argsort of an object array of ``str``, in Python's order (by code point).

	Sorting an object array compares Python objects one call at a time; numpy's fixed-width unicode
	strings sort in C in the same order (keys hold no NUL character). Very long keys keep the object
	sort, so the fixed-width copy stays small."""
	longest = max((len(k) for k in keys.tolist()), default=0)
	if longest > 256:
		return np.argsort(keys, kind="stable")
	return np.argsort(keys.astype(f"U{max(longest, 1)}"), kind="stable")


def _token_key(value: Any) -> str | None:
	"""Lower-cased alphanumeric tokens in sorted order: ``fuzz.ratio`` of two keys is rapidfuzz's
	``token_sort_ratio`` of the two names (with its default processor)."""
	if not isinstance(value, str):
		return None
	key = " ".join(sorted(utils.default_process(value).split()))
	return key or None


def _company_signal(profiles: pd.DataFrame, ids: np.ndarray, config: DedupeConfig) -> pd.DataFrame:
	"""Pairs of profiles at similar companies, with similar person names or none on either side.

	1. Entities are the distinct (territory, normalised company name); similar entities are found with
	   :func:`_similar_pairs` grouped by territory.
	2. Entities linked by similarity form company clusters. Person names are matched inside each
	   cluster (:func:`_similar_pairs` grouped by cluster), and a person pair counts when its two
	   companies are the same entity or a similar pair.
	3. Profiles without a person name pair with the other nameless profiles of the same or a similar
	   entity (at most ``max_group_size`` of them per entity).
	"""
	empty = _frame(np.empty(0, object), np.empty(0, object), np.empty(0), np.empty(0, object))
	name = normalise_company(profiles["company_name"]).to_numpy(dtype=object)
	rows = np.flatnonzero(pd.notna(name))
	if len(rows) < 2:
		return empty
	if config.same_territory and "territory" in profiles.columns:
		territory = per_distinct(profiles["territory"], _clean_text)
		territory = np.where(pd.notna(territory), territory, "").astype(object)
	else:
		territory = np.full(len(ids), "", dtype=object)
	# entities: distinct (territory, normalised name); integer codes combine without building tuples
	t_codes, _ = pd.factorize(territory[rows])
	n_codes, n_uniques = pd.factorize(name[rows])
	radix = len(n_uniques) + 1
	ent_of_row, ent_keys = pd.factorize(t_codes.astype(np.int64) * radix + n_codes)
	n_ent = len(ent_keys)
	ent_group = (ent_keys // radix).astype(np.int64)
	ent_key = np.empty(n_ent, dtype=object)
	ent_key[:] = [
		" ".join(sorted(x.split())) for x in np.asarray(n_uniques, dtype=object)[ent_keys % radix].tolist()
	]
	e1, e2, esim = _similar_pairs(
		ent_key, ent_group, config.fuzzy_window, config.company_threshold, config.workers
	)
	ent_pairs = pd.DataFrame({"a": e1, "b": e2, "csim": esim})
	# company clusters: entities linked by similarity
	graph = coo_matrix((np.ones(len(e1)), (e1, e2)), shape=(n_ent, n_ent))
	_, cluster = connected_components(graph, directed=False)

	if "person_name" in profiles.columns:
		person, person_key = _per_distinct_pair(profiles["person_name"], _clean_text, _token_key)
		person_key = person_key[rows]
	else:
		person = np.full(len(ids), None, dtype=object)
		person_key = np.full(len(rows), None, dtype=object)
	named = pd.notna(person_key).astype(bool)
	found = []
	# named profiles: similar person names in the same company cluster
	nrows = np.flatnonzero(named)
	if len(nrows) >= 2:
		pa, pb, psim = _similar_pairs(
			person_key[nrows],
			cluster[ent_of_row[nrows]],
			config.fuzzy_window,
			config.person_threshold,
			config.workers,
		)
		pa, pb = nrows[pa], nrows[pb]
		found.append(_with_company_similarity(pa, pb, psim, ent_of_row, ent_pairs))
	# nameless profiles: the same or a similar entity, small groups only
	urows = np.flatnonzero(~named)
	if len(urows) >= 2:
		ent_u = ent_of_row[urows]
		per_entity = np.bincount(ent_u, minlength=n_ent)
		ok = per_entity[ent_u] <= config.max_group_size
		urows, ent_u = urows[ok], ent_u[ok]
		ua, ub = _pairs_within(ent_u, None)
		same = pd.DataFrame({"i": urows[ua], "j": urows[ub], "csim": 100.0, "psim": np.nan})
		members = pd.DataFrame({"row": urows, "ent": ent_u})
		cross = ent_pairs.merge(members.rename(columns={"row": "i", "ent": "a"}), on="a").merge(
			members.rename(columns={"row": "j", "ent": "b"}), on="b"
		)
		found += [same, cross[["i", "j", "csim"]].assign(psim=np.nan)]
	got = pd.concat([f for f in found if len(f)], ignore_index=True) if any(len(f) for f in found) else None
	if got is None:
		return empty
	i, j = rows[got["i"].to_numpy(dtype=np.int64)], rows[got["j"].to_numpy(dtype=np.int64)]
	i, j = np.where(ids[j] < ids[i], j, i), np.where(ids[j] < ids[i], i, j)  # reason reads a ~ b
	csim, psim = got["csim"].to_numpy(dtype=float), got["psim"].to_numpy(dtype=float)
	has_person = ~np.isnan(psim)
	conf = np.where(
		has_person,
		config.company_confidence * csim / 100 * np.nan_to_num(psim) / 100,
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
		has_person,
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


def _with_company_similarity(
	a: np.ndarray, b: np.ndarray, psim: np.ndarray, ent_of_row: np.ndarray, ent_pairs: pd.DataFrame
) -> pd.DataFrame:
	"""Person pairs (row positions) whose companies are the same entity (similarity 100) or a similar
	entity pair; pairs whose companies are only linked through other entities are dropped."""
	ea, eb = ent_of_row[a], ent_of_row[b]
	pairs = pd.DataFrame({"i": a, "j": b, "psim": psim, "a": np.minimum(ea, eb), "b": np.maximum(ea, eb)})
	same = pairs[pairs["a"] == pairs["b"]].assign(csim=100.0)
	other = pairs[pairs["a"] != pairs["b"]].merge(ent_pairs, on=["a", "b"])
	return pd.concat([same, other], ignore_index=True)[["i", "j", "csim", "psim"]]


def _int_text(values: np.ndarray) -> np.ndarray:
	return np.round(values).astype(np.int64).astype(str).astype(object)


# --------------------------------------------------------------------------------------------------
# entry points


def duplicate_candidates(profiles: pd.DataFrame, config: DedupeConfig | None = None) -> pd.DataFrame:
	"""Likely duplicate pairs: ``profile_a < profile_b``, ``confidence`` 0..1 (3 dp), ``reason``.

	Reads ``profile`` and, when present, ``email``, ``phone`` (+ ``country``), ``company_name``,
	``person_name`` and ``territory``. No self pairs, each pair once, sorted by confidence (highest
	first) then ids; pairs under ``min_confidence`` are dropped.

	It is :func:`signal_pairs` for each of :data:`SIGNALS` and :func:`combine_signals`, which a
	fan-out runs apart (each signal's pairs can be found on its own, the company signal's per
	territory when ``same_territory`` is on).
	"""
	config = config or DedupeConfig()
	return combine_signals([signal_pairs(profiles, signal, config) for signal in SIGNALS], config)


SIGNALS = ("email", "phone", "company")
"""The signals in the order :func:`combine_signals` lists a pair's reasons."""


def signal_pairs(profiles: pd.DataFrame, signal: str, config: DedupeConfig | None = None) -> pd.DataFrame:
	"""The pairs one signal finds (:data:`PAIR_COLUMNS`, not yet combined with the other signals';
	empty when the signal is off or its columns are missing).

	A signal's pairs depend only on the rows that share its key: the same normalised e-mail address,
	the same phone number, or (``company``, with ``same_territory``) the same territory. So the pairs
	of the whole pond are the union of each signal's pairs on its own rows, and the company signal's
	on any split of the profiles by territory."""
	config = config or DedupeConfig()
	if signal not in SIGNALS:
		raise EngineConfigError(
			f"unknown duplicate signal {signal!r}; one of {', '.join(SIGNALS)}", field="signal"
		)
	require_columns(profiles, ("profile",), "profiles")
	if profiles["profile"].isna().any():
		raise EngineInputError("profiles has rows without a profile id")
	ids = profiles["profile"].astype(str).to_numpy(dtype=object)
	if pd.Index(ids).has_duplicates:
		raise EngineInputError("profiles lists a profile id more than once")
	profiles = profiles[[c for c in profiles.columns if c in INPUT_COLUMNS]].reset_index(drop=True)
	if signal == "email" and config.email and "email" in profiles.columns:
		emails = pd.Series(_shared_emails(profiles["email"], config), dtype=object)
		return _exact_signal(ids, emails, config.email_confidence, "email", config.max_group_size)
	if signal == "phone" and config.phone and "phone" in profiles.columns:
		regions = profiles["country"] if "country" in profiles.columns else None
		e164 = phone_e164(profiles["phone"], regions, config)
		return _exact_signal(ids, e164, config.phone_confidence, "phone", config.max_group_size)
	if signal == "company" and config.company and "company_name" in profiles.columns:
		return _company_signal(profiles, ids, config)
	return _frame(np.empty(0, object), np.empty(0, object), np.empty(0), np.empty(0, object))


def combine_signals(frames: list[pd.DataFrame], config: DedupeConfig | None = None) -> pd.DataFrame:
	"""The duplicate pairs from the signals' pairs (:func:`signal_pairs`; frames in the order of
	:data:`SIGNALS`, a signal's parts in any order): each pair once, ``profile_a < profile_b``, the
	signals' confidences combined as ``1 - prod(1 - confidence)``, their reasons joined in the order
	of the frames; sorted by confidence (highest first) then ids, ``min_confidence`` applied."""
	config = config or DedupeConfig()
	signals = [s for s in frames if len(s)]
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
	reasons = grouped["reason"].first().to_numpy(dtype=object, copy=True)  # written below
	if multi.any():
		# the reasons of a pair found by several signals, joined in the order the signals came
		group = grouped.ngroup().to_numpy()  # numbered like the rows of combined (sort=False)
		several = multi.to_numpy()[group]
		texts: dict[int, list[str]] = {}
		for g, text in zip(group[several].tolist(), allp["reason"].to_numpy()[several].tolist(), strict=True):
			texts.setdefault(g, []).append(text)
		for g, parts in texts.items():
			reasons[g] = "; ".join(parts)
	out = pd.DataFrame(
		{"confidence": np.round(1 - np.exp(combined.to_numpy()), 3), "reason": reasons},
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
	# profiles sorted by id: the first of each component in that order is its smallest id
	names = np.asarray(uniques, dtype=object)
	order = np.argsort(names, kind="stable")
	labels_sorted = labels[order]
	_, first = np.unique(labels_sorted, return_index=True)
	smallest = names[order][first]  # per component label
	sizes = np.bincount(labels)
	out = pd.DataFrame(
		{
			"profile": names[order],
			"cluster": smallest[labels_sorted],
			"cluster_size": sizes[labels_sorted].astype(np.int64),
		}
	)
	return out.sort_values(["cluster", "profile"], kind="stable").reset_index(drop=True)

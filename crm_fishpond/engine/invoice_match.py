"""Suggestions: which profiles a queued invoice probably belongs to, and why.

An invoice booked on a generic customer (walk-in, cash) or on a likely duplicate still carries the
details someone typed: a customer name, a contact e-mail or mobile, a tax id, an address. The
matcher compares them with every profile's identifiers and returns, per invoice, the best candidate
profiles with a score in [0, 1] and the evidence, explainable like the lead score: each piece of
evidence brings points, and the points add up to the score.

Inputs are DataFrames (one row per invoice / profile). Every identifier column may hold one value
or a list of values (an invoice's contact mobile *and* phone; a profile's several e-mails); missing
columns simply give no evidence.

* ``invoices``: ``invoice`` (required, unique), ``name`` (customer name as typed on the invoice),
  ``email``, ``phone``, ``tax_id``, ``address`` (one text per address), ``region`` (ISO alpha-2,
  the region numbers without ``+`` are parsed in), ``posting_date``.
* ``profiles``: ``profile`` (required, unique), ``customer``, ``name`` (customer, company and
  contact names), ``email``, ``phone``, ``tax_id``, ``address``, ``region``.
* ``history`` (optional): the contact details on invoices already attributed to a profile:
  ``profile`` (required), ``invoice``, ``posting_date``, ``email``, ``phone``, ``region``.

Evidence (a code of :data:`MESSAGES` with its params; the weight is the points at full strength,
:attr:`MatchConfig.weights`):

=================== ======= ======================================================================
code                weight  when
=================== ======= ======================================================================
``same_tax_id``     0.9     a tax id of the invoice equals one of the profile's (letters and digits
                            only, upper case: ``GB 123 4567-89`` is ``GB123456789``)
``same_email``      0.7     the same e-mail as dedupe normalises it (case, Gmail dots and ``+tags``;
                            role mailboxes such as ``info@`` are ignored)
``same_phone``      0.6     the same number in E.164, parsed in each side's region
``past_contact``    0.5     the invoice's e-mail or phone is on earlier invoices of the profile (and
                            not already one of the profile's own)
``similar_name``    0.45    a name of the invoice and one of the profile are similar (company names
                            normalised as dedupe does, so ``Acme Ltd`` is ``Acme GmbH``; rapidfuzz
                            ``token_sort_ratio`` at least ``name_threshold``): half the weight at
                            the threshold, all of it at 100, divided among the profiles with a
                            similar name (``shared_by``)
``same_address``    0.35    the same normalised address (case, punctuation, word order, ``Street``
                            as ``St``...), divided among the profiles at that address
``different_tax_id`` -0.4   both sides have tax ids and none is shared (a penalty)
=================== ======= ======================================================================

One item per code and pair (the strongest). The score is the sum of the points, clipped to [0, 1]:
when the sum exceeds 1, the weakest items count for less (their ``points`` say how much), so the
items of a suggestion always add up to its score. A suggestion is kept when its score is above 0 and
at least ``suggest_threshold``; the top suggestion is ``confident`` when its score is at least
``confident_threshold`` and the runner-up (any candidate with evidence) is at least
``confident_margin`` below it.

Scale: never all pairs. Exact identifiers (tax id, e-mail, phone, address) are joined on their
normalised keys; a value shared by more than ``max_group_size`` profiles (a switchboard, a
placeholder mailbox, a shopping centre) gives no evidence. Names are compared only within blocks of
a token index: a name's words, and the first and last three letters of its longer words (so one
typo keeps most keys); a key shared by more than ``max_block`` distinct profile names (``trading``,
``joh``) is not used for blocking. Normalisation runs once per distinct value, phones are parsed
only when they could equal another number (dedupe's prefilter).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from . import _configutil as cu
from .dedupe import DedupeConfig, normalise_company_name, normalise_emails, per_distinct, phone_e164
from .errors import EngineConfigError, EngineInputError
from .schema import require_columns

MESSAGES = {
	"same_tax_id": "the same tax id {tax_id}",
	"same_email": "the same e-mail address {email}",
	"same_phone": "the same phone number {phone}",
	"past_contact": "the same {via} {value} is on {count} earlier invoice(s) of this profile, the last {last_invoice}",
	"similar_name": "a similar name: '{invoice_name}' ~ '{profile_name}' ({similarity}%; profiles with a similar name: {shared_by})",
	"same_address": "the same address {address} (profiles at this address: {shared_by})",
	"different_tax_id": "a different tax id: {invoice_tax_id} on the invoice, {profile_tax_id} on the profile",
}
"""English text of every evidence code (the site translates the same codes itself)."""

EVIDENCE_CODES = tuple(MESSAGES)
PENALTIES = ("different_tax_id",)

DEFAULT_WEIGHTS = {
	"same_tax_id": 0.9,
	"same_email": 0.7,
	"same_phone": 0.6,
	"past_contact": 0.5,
	"similar_name": 0.45,
	"same_address": 0.35,
	"different_tax_id": -0.4,
}

GENERIC_NAMES = (
	"walk in",
	"walk in customer",
	"walkin customer",
	"cash",
	"cash customer",
	"cash sale",
	"guest",
	"customer",
	"pos customer",
	"retail customer",
	"counter sale",
)
"""Names typed on walk-in invoices that identify nobody (compared after normalisation)."""

SUGGESTION_COLUMNS = ("invoice", "rank", "profile", "customer", "score", "confident", "evidence")

_MILLI = 1000  # points are kept in integer thousandths, so items add up to the score exactly


@dataclass(frozen=True)
class Evidence:
	"""One reason for a suggestion: ``code`` is a key of :data:`MESSAGES`, ``params`` fill its template
	(plain strings and numbers), ``points`` is what it adds to the score (negative for a penalty)."""

	code: str
	params: Mapping[str, Any] = field(default_factory=dict)
	points: float = 0.0

	@property
	def text(self) -> str:
		return MESSAGES[self.code].format(**self.params)

	def to_dict(self) -> dict:
		return {"code": self.code, "params": dict(self.params), "points": self.points}


@dataclass(frozen=True)
class MatchConfig:
	"""Thresholds and weights of the matcher (the *Suggestions* settings)."""

	suggest_threshold: float = 0.4
	confident_threshold: float = 0.7
	confident_margin: float = 0.2
	weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
	name_threshold: float = 85.0
	ignore_names: tuple[str, ...] = GENERIC_NAMES
	max_suggestions: int = 5
	max_group_size: int = 50
	max_block: int = 200
	workers: int = 1

	KEYS = (
		"suggest_threshold",
		"confident_threshold",
		"confident_margin",
		"weights",
		"name_threshold",
		"ignore_names",
		"max_suggestions",
		"max_group_size",
		"max_block",
		"workers",
	)

	def __post_init__(self):
		for k in ("suggest_threshold", "confident_threshold", "confident_margin"):
			object.__setattr__(self, k, cu.number(getattr(self, k), k, minimum=0.0, maximum=1.0))
		if self.confident_threshold < self.suggest_threshold:
			raise EngineConfigError(
				f"confident_threshold ({self.confident_threshold:g}) must be at least suggest_threshold "
				f"({self.suggest_threshold:g})",
				field="confident_threshold",
			)
		cu.require_mapping(self.weights, "weights", "evidence weights")
		cu.check_keys(self.weights, EVIDENCE_CODES, "weights")
		weights = dict(DEFAULT_WEIGHTS)
		for code, value in self.weights.items():
			path = cu.join("weights", code)
			if code in PENALTIES:
				weights[code] = cu.number(value, path, minimum=-1.0, maximum=0.0)
			else:
				weights[code] = cu.number(value, path, minimum=0.0, maximum=1.0)
		object.__setattr__(self, "weights", weights)
		object.__setattr__(
			self,
			"name_threshold",
			cu.number(self.name_threshold, "name_threshold", minimum=50.0, maximum=100.0),
		)
		names = cu.text_list(list(self.ignore_names), "ignore_names")
		object.__setattr__(self, "ignore_names", tuple(names))
		object.__setattr__(
			self,
			"max_suggestions",
			cu.number(self.max_suggestions, "max_suggestions", minimum=1, maximum=100, integer=True),
		)
		object.__setattr__(
			self, "max_group_size", cu.number(self.max_group_size, "max_group_size", minimum=1, integer=True)
		)
		object.__setattr__(self, "max_block", cu.number(self.max_block, "max_block", minimum=1, integer=True))
		workers = cu.number(self.workers, "workers", minimum=-1, integer=True)
		if workers == 0:
			raise EngineConfigError("workers must be -1 (all cores) or at least 1", field="workers")
		object.__setattr__(self, "workers", workers)

	@classmethod
	def from_dict(cls, d: Mapping | None) -> MatchConfig:
		d = d or {}
		cu.require_mapping(d, "", "suggestion settings")
		cu.check_keys(d, cls.KEYS)
		kw = dict(d)
		if "ignore_names" in kw:
			kw["ignore_names"] = tuple(cu.text_list(kw["ignore_names"], "ignore_names"))
		return cls(**kw)

	def to_dict(self) -> dict:
		d = {k: getattr(self, k) for k in self.KEYS}
		d["weights"] = dict(self.weights)
		d["ignore_names"] = list(self.ignore_names)
		return d


# --------------------------------------------------------------------------------------------------
# normalisers (the e-mail, phone and company ones are dedupe's)

_NOT_ALNUM = re.compile(r"[\W_]+")


def normalise_tax_id(value: Any) -> str | None:
	"""Letters and digits of a tax id, upper case (NFKC first): ``gb 123 4567-89`` is ``GB123456789``.
	None when fewer than 5 remain or no digit is among them."""
	if not isinstance(value, str):
		return None
	s = _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", value)).upper()
	return s if len(s) >= 5 and any(ch.isdigit() for ch in s) else None


ADDRESS_WORDS = {
	"street": "st", "str": "st", "strasse": "st", "straße": "st", "road": "rd", "avenue": "ave",
	"av": "ave", "boulevard": "blvd", "drive": "dr", "lane": "ln", "place": "pl", "square": "sq",
	"court": "ct", "terrace": "ter", "highway": "hwy", "building": "bldg", "floor": "fl",
	"apartment": "apt", "suite": "ste", "unit": "unit", "number": "no", "nr": "no", "north": "n",
	"south": "s", "east": "e", "west": "w", "saint": "st", "mount": "mt",
}  # fmt: skip
"""Spelled-out address words and their abbreviation (both sides are abbreviated before comparing)."""


def normalise_address(value: Any) -> str | None:
	"""An address made comparable: NFKC, case-folded, punctuation as spaces, common words abbreviated
	(:data:`ADDRESS_WORDS`; German ``...straße`` endings too), distinct words in sorted order. None
	when fewer than two words remain."""
	if not isinstance(value, str):
		return None
	s = unicodedata.normalize("NFKC", value).casefold().replace("&", " and ")
	words = set()
	for w in _NOT_ALNUM.sub(" ", s).split():
		if len(w) > 7 and (w.endswith("strasse") or w.endswith("straße")):
			w = w[: -7 if w.endswith("strasse") else -6] + "st"
		words.add(ADDRESS_WORDS.get(w, w))
	return " ".join(sorted(words)) if len(words) >= 2 else None


def name_key(value: Any) -> str | None:
	"""A name made comparable: dedupe's company normalisation (case, punctuation, legal forms such as
	Ltd/GmbH/有限公司 stripped), words in sorted order (so ``Smith, John`` is ``John Smith``)."""
	s = normalise_company_name(value)
	return " ".join(sorted(s.split())) if s else None


# --------------------------------------------------------------------------------------------------
# inputs as long frames: one row per (row of the input, value)


def _check_ids(frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
	require_columns(frame, (column,), what)
	if frame[column].isna().any():
		raise EngineInputError(f"{what} has rows without {column!r}")
	ids = frame[column].astype(str).to_numpy(dtype=object)
	if pd.Index(ids).has_duplicates:
		raise EngineInputError(f"{what} lists an {column!r} more than once")
	return ids


def _long(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.Series]:
	"""(row position, value) for every non-missing value of a scalar-or-list column."""
	if column not in frame.columns:
		return np.empty(0, np.int64), pd.Series([], dtype=object)
	values = pd.Series(frame[column].to_numpy(dtype=object), index=np.arange(len(frame)), dtype=object)
	values = values.explode()
	values = values[values.notna().to_numpy(dtype=bool)]
	return values.index.to_numpy(dtype=np.int64), values.reset_index(drop=True).astype(object)


def _regions(frame: pd.DataFrame) -> np.ndarray:
	if "region" not in frame.columns:
		return np.full(len(frame), None, dtype=object)
	return frame["region"].to_numpy(dtype=object)


def _dates(frame: pd.DataFrame, what: str) -> np.ndarray:
	if "posting_date" not in frame.columns:
		return np.full(len(frame), np.datetime64("NaT", "ns"), dtype="datetime64[ns]")
	try:
		return pd.to_datetime(frame["posting_date"]).to_numpy(dtype="datetime64[ns]")
	except (ValueError, TypeError) as e:
		raise EngineInputError(f"{what}.posting_date holds a value that is not a date: {e}") from e


@dataclass
class _Keys:
	"""Normalised keys of one identifier kind: the row each key belongs to, the key, the raw value."""

	row: np.ndarray
	key: np.ndarray
	raw: np.ndarray

	@classmethod
	def of(cls, row: np.ndarray, key: np.ndarray, raw: pd.Series | np.ndarray) -> _Keys:
		raw = np.asarray(raw, dtype=object)
		ok = pd.notna(key).astype(bool)
		return cls(row[ok], key[ok].astype(object), raw[ok])


def _text_keys(frame: pd.DataFrame, column: str, fn) -> _Keys:
	row, values = _long(frame, column)
	return _Keys.of(row, per_distinct(values, fn), values)


def _email_keys(frame: pd.DataFrame, dedupe: DedupeConfig) -> _Keys:
	row, values = _long(frame, "email")
	return _Keys.of(row, normalise_emails(values, dedupe).to_numpy(dtype=object), values)


def _phone_keys(frames: list[pd.DataFrame], dedupe: DedupeConfig) -> list[_Keys]:
	"""E.164 keys of several frames, parsed together: dedupe's prefilter then parses only numbers whose
	last digits another number (of any frame) shares."""
	parts = []
	for frame in frames:
		row, values = _long(frame, "phone")
		parts.append((row, values, _regions(frame)[row]))
	values = pd.concat([p[1] for p in parts], ignore_index=True) if parts else pd.Series([], dtype=object)
	regions = pd.Series(np.concatenate([p[2] for p in parts]) if parts else [], dtype=object)
	e164 = phone_e164(values.astype(object), regions, dedupe).to_numpy(dtype=object)
	out, start = [], 0
	for row, vals, _ in parts:
		out.append(_Keys.of(row, e164[start : start + len(row)], vals))
		start += len(row)
	return out


# --------------------------------------------------------------------------------------------------
# evidence


def _evidence(i, p, code, milli, a=None, b=None, c=None, d=None) -> pd.DataFrame:
	n = len(i)

	def col(v):
		if v is None:
			return np.full(n, None, dtype=object)
		return np.asarray(v, dtype=object) if not np.isscalar(v) else np.full(n, v, dtype=object)

	return pd.DataFrame(
		{
			"i": np.asarray(i, dtype=np.int64),
			"p": np.asarray(p, dtype=np.int64),
			"code": code,
			"milli": np.broadcast_to(np.asarray(milli, dtype=np.int64), (n,)).copy(),
			"a": col(a),
			"b": col(b),
			"c": col(c),
			"d": col(d),
		}
	)


def _exact(inv: _Keys, prof: _Keys, max_group: int) -> pd.DataFrame:
	"""(i, p, key, raw profile value, profiles sharing the key) of invoice and profile rows sharing a
	key held by at most ``max_group`` profiles."""
	if not len(inv.row) or not len(prof.row):
		return pd.DataFrame({"i": [], "p": [], "key": [], "raw": [], "shared": []})
	codes, uniques = pd.factorize(np.concatenate([inv.key, prof.key]))
	ic, pc = codes[: len(inv.key)], codes[len(inv.key) :]
	pf = pd.DataFrame({"k": pc, "p": prof.row, "raw": prof.raw}).drop_duplicates(["k", "p"])
	size = np.bincount(pf["k"].to_numpy(), minlength=len(uniques))
	pf = pf[size[pf["k"].to_numpy()] <= max_group]
	inf = pd.DataFrame({"k": ic, "i": inv.row}).drop_duplicates()
	m = inf.merge(pf, on="k")
	return pd.DataFrame(
		{
			"i": m["i"].to_numpy(np.int64),
			"p": m["p"].to_numpy(np.int64),
			"key": np.asarray(uniques, dtype=object)[m["k"].to_numpy()],
			"raw": m["raw"].to_numpy(dtype=object),
			"shared": size[m["k"].to_numpy()],
		}
	)


def _block_keys(key: str) -> list[str]:
	"""Blocking keys of a name key: the whole key, its words, and the first and last three letters of
	its words of four letters or more."""
	out = ["=" + key]
	for w in key.split():
		out.append("w" + w)
		if len(w) >= 4:
			out.append("<" + w[:3])
			out.append(">" + w[-3:])
	return out


def _names(inv: _Keys, prof: _Keys, config: MatchConfig) -> pd.DataFrame:
	"""(i, p, similarity, invoice name, profile name, profiles with a similar name): the best similar
	name pair of every (invoice, profile), found within the token index's blocks."""
	empty = pd.DataFrame({"i": [], "p": [], "sim": [], "iname": [], "pname": [], "shared": []})
	if not len(inv.row) or not len(prof.row):
		return empty
	codes, uniques = pd.factorize(np.concatenate([inv.key, prof.key]))
	keys = np.asarray(uniques, dtype=object)
	ic, pc = codes[: len(inv.key)], codes[len(inv.key) :]
	# blocking keys of each distinct name (once per name)
	block_of, block_key = [], []
	for n in range(len(keys)):
		bk = _block_keys(keys[n])
		block_of.extend([n] * len(bk))
		block_key.extend(bk)
	bcodes, buniques = pd.factorize(pd.Series(block_key, dtype=object))
	bf = pd.DataFrame({"n": np.asarray(block_of, dtype=np.int64), "b": bcodes})
	exact_block = pd.Series(buniques, dtype=object).str.startswith("=").to_numpy(dtype=bool)
	in_prof = np.zeros(len(keys), dtype=bool)
	in_prof[pc] = True
	pb = bf[in_prof[bf["n"].to_numpy()]]
	size = np.bincount(pb["b"].to_numpy(), minlength=len(buniques))
	pb = pb[(size[pb["b"].to_numpy()] <= config.max_block) | exact_block[pb["b"].to_numpy()]]
	ib = bf[np.isin(bf["n"].to_numpy(), np.unique(ic))]
	pairs = ib.merge(pb, on="b", suffixes=("_i", "_p"))[["n_i", "n_p"]].drop_duplicates()
	if pairs.empty:
		return empty
	a, b = pairs["n_i"].to_numpy(np.int64), pairs["n_p"].to_numpy(np.int64)
	sim = np.where(
		a == b,
		100.0,
		process.cpdist(keys[a].tolist(), keys[b].tolist(), scorer=fuzz.ratio, workers=config.workers),
	)
	hit = sim >= config.name_threshold
	np_ = pd.DataFrame({"n_i": a[hit], "n_p": b[hit], "sim": sim[hit]})
	inv_f = pd.DataFrame({"i": inv.row, "n_i": ic, "iname": inv.raw})
	prof_f = pd.DataFrame({"p": prof.row, "n_p": pc, "pname": prof.raw})
	m = inv_f.merge(np_, on="n_i").merge(prof_f, on="n_p")
	if m.empty:
		return empty
	m = m.sort_values(["i", "p", "sim"], ascending=[True, True, False], kind="stable")
	m = m.drop_duplicates(["i", "p"])
	shared = m.groupby("i")["p"].transform("size").to_numpy(np.int64)
	m = m.assign(shared=shared)
	return m[m["shared"] <= config.max_group_size][["i", "p", "sim", "iname", "pname", "shared"]]


def _past_contacts(
	inv: dict[str, _Keys],
	hist: dict[str, _Keys],
	hist_profile: np.ndarray,
	hist_invoice: np.ndarray,
	hist_date: np.ndarray,
	inv_ids: np.ndarray,
	inv_date: np.ndarray,
	max_group: int,
) -> pd.DataFrame:
	"""(i, p, via, value, count, last invoice) of invoices whose e-mail or phone is on earlier invoices
	of a profile. Earlier: posted on or before the queued invoice (when both dates are known), and not
	the queued invoice itself."""
	found = []
	for via in ("email", "phone"):
		h, q = hist[via], inv[via]
		if not len(h.row) or not len(q.row):
			continue
		codes, uniques = pd.factorize(np.concatenate([q.key, h.key]))
		qc, hc = codes[: len(q.key)], codes[len(q.key) :]
		hp = hist_profile[h.row]
		# profiles per contact value: a value on many profiles' invoices identifies nobody
		distinct = pd.DataFrame({"k": hc, "p": hp}).drop_duplicates()
		size = np.bincount(distinct["k"].to_numpy(), minlength=len(uniques))
		hf = pd.DataFrame({"k": hc, "p": hp, "h": h.row})
		hf = hf[size[hc] <= max_group]
		m = pd.DataFrame({"k": qc, "i": q.row}).drop_duplicates().merge(hf, on="k")
		if m.empty:
			continue
		hrow, i = m["h"].to_numpy(np.int64), m["i"].to_numpy(np.int64)
		hd, idate = hist_date[hrow], inv_date[i]
		earlier = np.isnat(hd) | np.isnat(idate) | (hd <= idate)
		keep = earlier & (hist_invoice[hrow] != inv_ids[i])
		found.append(
			pd.DataFrame(
				{
					"i": i[keep],
					"p": m["p"].to_numpy(np.int64)[keep],
					"via": via,
					"value": np.asarray(uniques, dtype=object)[m["k"].to_numpy()][keep],
					"hinv": hist_invoice[hrow][keep],
					"hdate": hd[keep],
				}
			)
		)
	found = [f for f in found if len(f)]
	if not found:
		return pd.DataFrame({"i": [], "p": [], "via": [], "value": [], "count": [], "last": []})
	f = pd.concat(found, ignore_index=True)
	f = f.sort_values(["i", "p", "via", "hdate", "hinv"], na_position="first", kind="stable")
	g = f.groupby(["i", "p", "via"], sort=False)
	out = g.agg(value=("value", "last"), count=("hinv", "nunique"), last=("hinv", "last")).reset_index()
	return out


def _history_frame(history: pd.DataFrame | None, profile_ids: np.ndarray) -> pd.DataFrame | None:
	if history is None or len(history) == 0:
		return None
	require_columns(history, ("profile",), "history")
	pos = pd.Index(profile_ids).get_indexer(history["profile"].astype(str))
	h = history.reset_index(drop=True).assign(_p=pos)
	h = h[h["_p"] >= 0].reset_index(drop=True)
	if "invoice" not in h.columns:
		h = h.assign(invoice=[f"#{k}" for k in range(len(h))])
	return h.assign(invoice=h["invoice"].astype(str))


def suggest(
	invoices: pd.DataFrame,
	profiles: pd.DataFrame,
	history: pd.DataFrame | None = None,
	config: MatchConfig | None = None,
	dedupe: DedupeConfig | None = None,
	exclude: Iterable[tuple[Any, Any]] | None = None,
) -> pd.DataFrame:
	"""Ranked candidate profiles of every invoice, with score and evidence.

	Columns (:data:`SUGGESTION_COLUMNS`): ``invoice``, ``rank`` (1 = best), ``profile``, ``customer``
	(None when profiles has no ``customer`` column), ``score`` (0..1, 3 decimals), ``confident`` (only
	ever true on rank 1) and ``evidence`` (a tuple of :class:`Evidence`, strongest first, whose points
	add up to the score). Invoices in their input order, then by rank; equal scores are ranked by
	profile id, so the result never depends on the order of the profiles. An invoice without any
	suggestion has no row.

	``dedupe`` supplies the e-mail normalisation and the default phone region (the site passes its
	``dedupe`` settings so both matchers agree); its ``phone_prefilter`` is honoured.

	``exclude`` holds ``(invoice, profile)`` pairs a person dismissed: they are dropped before ranking,
	so they are never suggested, never the runner-up that makes a top suggestion unsure, and the
	next candidate moves up.
	"""
	config = config or MatchConfig()
	dedupe = dedupe or DedupeConfig()
	inv_ids = _check_ids(invoices, "invoice", "invoices")
	prof_ids = _check_ids(profiles, "profile", "profiles")
	invoices = invoices.reset_index(drop=True)
	profiles = profiles.reset_index(drop=True)
	hist = _history_frame(history, prof_ids)
	inv_date = _dates(invoices, "invoices")
	w = {k: round(v * _MILLI) for k, v in config.weights.items()}
	parts: list[pd.DataFrame] = []

	# exact identifiers
	inv_tax = _text_keys(invoices, "tax_id", normalise_tax_id)
	prof_tax = _text_keys(profiles, "tax_id", normalise_tax_id)
	m = _exact(inv_tax, prof_tax, config.max_group_size)
	parts.append(_evidence(m["i"], m["p"], "same_tax_id", w["same_tax_id"], a=m["key"]))
	inv_email, prof_email = _email_keys(invoices, dedupe), _email_keys(profiles, dedupe)
	m = _exact(inv_email, prof_email, config.max_group_size)
	parts.append(_evidence(m["i"], m["p"], "same_email", w["same_email"], a=m["key"]))
	phone_frames = [invoices, profiles] + ([hist] if hist is not None else [])
	phones = _phone_keys(phone_frames, dedupe)
	m = _exact(phones[0], phones[1], config.max_group_size)
	parts.append(_evidence(m["i"], m["p"], "same_phone", w["same_phone"], a=m["key"]))
	m = _exact(
		_text_keys(invoices, "address", normalise_address),
		_text_keys(profiles, "address", normalise_address),
		config.max_group_size,
	)
	if len(m):
		shared = m.groupby("i")["p"].transform("nunique").to_numpy(np.int64)
		m = m.assign(shared=shared).sort_values(["i", "p"], kind="stable").drop_duplicates(["i", "p"])
		parts.append(
			_evidence(
				m["i"],
				m["p"],
				"same_address",
				np.round(w["same_address"] / m["shared"].to_numpy()).astype(np.int64),
				a=m["raw"],
				d=m["shared"],
			)
		)

	# names
	inv_names = _text_keys(invoices, "name", name_key)
	ignored = {name_key(n) for n in config.ignore_names} - {None}
	if ignored:
		keep = ~np.isin(inv_names.key, list(ignored))
		inv_names = _Keys(inv_names.row[keep], inv_names.key[keep], inv_names.raw[keep])
	m = _names(inv_names, _text_keys(profiles, "name", name_key), config)
	if len(m):
		t = config.name_threshold
		strength = 1.0 if t >= 100 else 0.5 + 0.5 * (m["sim"].to_numpy() - t) / (100 - t)
		milli = np.round(w["similar_name"] * strength / m["shared"].to_numpy()).astype(np.int64)
		parts.append(
			_evidence(
				m["i"],
				m["p"],
				"similar_name",
				milli,
				a=m["iname"],
				b=m["pname"],
				c=np.round(m["sim"].to_numpy()).astype(np.int64),
				d=m["shared"],
			)
		)

	# earlier invoices of a profile from the same contact
	if hist is not None:
		hist_phone = phones[2]
		hk = {"email": _email_keys(hist, dedupe), "phone": hist_phone}
		ik = {"email": inv_email, "phone": phones[0]}
		pc = _past_contacts(
			ik,
			hk,
			hist["_p"].to_numpy(np.int64),
			hist["invoice"].to_numpy(dtype=object),
			_dates(hist, "history"),
			inv_ids,
			inv_date,
			config.max_group_size,
		)
		if len(pc):
			direct = {
				"email": parts[1][["i", "p"]],
				"phone": parts[2][["i", "p"]],
			}
			keep = []
			for via, d in direct.items():
				sel = pc[pc["via"] == via]
				known = sel.merge(d.drop_duplicates().assign(_d=True), on=["i", "p"], how="left")["_d"]
				keep.append(sel[known.isna().to_numpy()])
			pc = pd.concat(keep, ignore_index=True)
			pc = pc.sort_values(
				["i", "p", "count", "via"], ascending=[True, True, False, True], kind="stable"
			)
			pc = pc.drop_duplicates(["i", "p"])
			parts.append(
				_evidence(
					pc["i"],
					pc["p"],
					"past_contact",
					w["past_contact"],
					a=pc["via"],
					b=pc["value"],
					c=pc["count"].astype(np.int64),
					d=pc["last"],
				)
			)

	parts = [p for p in parts if len(p)]
	if not parts:
		return _empty()
	ev = pd.concat(parts, ignore_index=True)

	# a penalty for candidates whose tax ids differ
	if w["different_tax_id"] and len(inv_tax.row) and len(prof_tax.row):
		pairs = ev[["i", "p"]].drop_duplicates()
		first_inv = pd.DataFrame({"i": inv_tax.row, "it": inv_tax.key}).drop_duplicates("i")
		first_prof = pd.DataFrame({"p": prof_tax.row, "pt": prof_tax.key}).drop_duplicates("p")
		both = pairs.merge(first_inv, on="i").merge(first_prof, on="p")
		same = ev.loc[ev["code"] == "same_tax_id", ["i", "p"]].assign(_s=True)
		both = both.merge(same, on=["i", "p"], how="left")
		both = both[both["_s"].isna().to_numpy()]
		if len(both):
			ev = pd.concat(
				[
					ev,
					_evidence(
						both["i"],
						both["p"],
						"different_tax_id",
						w["different_tax_id"],
						a=both["it"],
						b=both["pt"],
					),
				],
				ignore_index=True,
			)

	# one item per (pair, code): the strongest
	ev = ev[ev["milli"].to_numpy() != 0]
	if ev.empty:
		return _empty()
	ev = ev.sort_values(["i", "p", "code", "milli"], ascending=[True, True, True, False], kind="stable")
	ev = ev.drop_duplicates(["i", "p", "code"])
	if exclude is not None:
		ev = _drop_pairs(ev, exclude, inv_ids, prof_ids)
		if ev.empty:
			return _empty()
	return _rank(ev, inv_ids, prof_ids, profiles, config)


def _drop_pairs(
	ev: pd.DataFrame, exclude: Iterable[tuple[Any, Any]], inv_ids: np.ndarray, prof_ids: np.ndarray
) -> pd.DataFrame:
	"""The evidence without the excluded (invoice, profile) pairs; unknown ids are ignored."""
	inv_pos = {v: k for k, v in enumerate(inv_ids.tolist())}
	prof_pos = {v: k for k, v in enumerate(prof_ids.tolist())}
	drop = {(inv_pos[i], prof_pos[p]) for i, p in exclude if i in inv_pos and p in prof_pos}
	if not drop:
		return ev
	gone = pd.DataFrame(sorted(drop), columns=["i", "p"]).assign(_x=True)
	marked = ev.merge(gone, on=["i", "p"], how="left")["_x"]
	return ev[marked.isna().to_numpy()]


def _rank(
	ev: pd.DataFrame, inv_ids: np.ndarray, prof_ids: np.ndarray, profiles: pd.DataFrame, config: MatchConfig
) -> pd.DataFrame:
	pairs = ev.groupby(["i", "p"], sort=False)["milli"].sum().rename("raw").reset_index()
	pairs["score"] = np.clip(pairs["raw"].to_numpy(), 0, _MILLI)
	pairs = pairs[pairs["score"] > 0]
	if pairs.empty:
		return _empty()
	id_order = np.empty(len(prof_ids), dtype=np.int64)
	id_order[np.argsort(prof_ids.astype(str), kind="stable")] = np.arange(len(prof_ids))
	pairs = pairs.assign(pid=id_order[pairs["p"].to_numpy()])
	pairs = pairs.sort_values(["i", "score", "pid"], ascending=[True, False, True], kind="stable")
	pairs["rank"] = pairs.groupby("i").cumcount().to_numpy() + 1
	second = pairs[pairs["rank"] == 2].set_index("i")["score"]
	runner_up = second.reindex(pairs["i"]).fillna(0).to_numpy()
	margin = round(config.confident_margin * _MILLI)
	pairs["confident"] = (
		(pairs["rank"].to_numpy() == 1)
		& (pairs["score"].to_numpy() >= round(config.confident_threshold * _MILLI))
		& (pairs["score"].to_numpy() - runner_up >= margin)
	)
	pairs = pairs[
		(pairs["score"].to_numpy() >= round(config.suggest_threshold * _MILLI))
		& (pairs["rank"].to_numpy() <= config.max_suggestions)
	]
	if pairs.empty:
		return _empty()
	chosen = ev.merge(pairs[["i", "p"]], on=["i", "p"])
	evidence = _explain(chosen)
	keys = list(zip(pairs["i"].tolist(), pairs["p"].tolist(), strict=True))
	p = pairs["p"].to_numpy(np.int64)
	customer = (
		profiles["customer"].to_numpy(dtype=object)[p]
		if "customer" in profiles.columns
		else np.full(len(p), None, dtype=object)
	)
	out = pd.DataFrame(
		{
			"invoice": inv_ids[pairs["i"].to_numpy(np.int64)],
			"rank": pairs["rank"].to_numpy(np.int64),
			"profile": prof_ids[p],
			"customer": pd.Series(customer, dtype=object).where(pd.notna(customer), None).to_numpy(),
			"score": pairs["score"].to_numpy() / _MILLI,
			"confident": pairs["confident"].to_numpy(dtype=bool),
			"evidence": pd.Series([evidence[k] for k in keys], dtype=object).to_numpy(),
		}
	)
	return out.reset_index(drop=True)


_CODE_ORDER = {c: k for k, c in enumerate(EVIDENCE_CODES)}


def _params(code: str, a: Any, b: Any, c: Any, d: Any) -> dict:
	if code == "same_tax_id":
		return {"tax_id": a}
	if code == "same_email":
		return {"email": a}
	if code == "same_phone":
		return {"phone": a}
	if code == "past_contact":
		return {"via": a, "value": b, "count": int(c), "last_invoice": d}
	if code == "similar_name":
		return {"invoice_name": str(a), "profile_name": str(b), "similarity": int(c), "shared_by": int(d)}
	if code == "same_address":
		return {"address": str(a), "shared_by": int(d)}
	return {"invoice_tax_id": a, "profile_tax_id": b}


def _explain(chosen: pd.DataFrame) -> dict[tuple[int, int], tuple[Evidence, ...]]:
	"""Evidence of the kept suggestions: strongest first (penalties last); when the points exceed 1 the
	weakest items are cut so the points add up to the score."""
	out: dict[tuple[int, int], list] = {}
	for i, p, code, milli, a, b, c, d in chosen[["i", "p", "code", "milli", "a", "b", "c", "d"]].itertuples(
		index=False, name=None
	):
		out.setdefault((i, p), []).append((code, int(milli), a, b, c, d))
	result = {}
	for key, items in out.items():
		items.sort(key=lambda t: (t[1] < 0, -abs(t[1]), _CODE_ORDER[t[0]]))
		milli = [t[1] for t in items]
		total = sum(milli)
		if total > _MILLI:  # cut the weakest positive items first
			excess = total - _MILLI
			for k in range(len(milli) - 1, -1, -1):
				if milli[k] <= 0:
					continue
				cut = min(excess, milli[k])
				milli[k] -= cut
				excess -= cut
				if not excess:
					break
		result[key] = tuple(
			Evidence(t[0], _params(t[0], *t[2:]), m / _MILLI) for t, m in zip(items, milli, strict=True)
		)
	return result


def _empty() -> pd.DataFrame:
	return pd.DataFrame(
		{
			"invoice": pd.Series([], dtype=object),
			"rank": pd.Series([], dtype=np.int64),
			"profile": pd.Series([], dtype=object),
			"customer": pd.Series([], dtype=object),
			"score": pd.Series([], dtype=float),
			"confident": pd.Series([], dtype=bool),
			"evidence": pd.Series([], dtype=object),
		}
	)

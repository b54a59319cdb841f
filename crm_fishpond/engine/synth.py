"""A realistic synthetic pond, for the demo, the tests and the scale benchmark.

:func:`generate_pond` builds the four input frames of :class:`~.pipeline.PondInputs` from one seed:

* **profiles** — people with names, companies (several contacts per company), e-mail addresses and
  phone numbers in the formats people really type (international, national, E.164) for twelve
  countries, lead sources, territories and BANT-style fit answers (budget, authority, need, timeline,
  industry, employees). About 2% are near-duplicates of another profile: the same person typed again
  with a different case, a typo, another legal form of the company name ("Ltd" / "Limited"), the
  phone number in another format or a personal mailbox — what :mod:`.dedupe` has to find.
* **transactions** — a BG/NBD process: a latent quality drives conversion; each customer makes a
  first purchase some weeks after entering the pond, then repeat purchases at a gamma-distributed
  Poisson rate until they drop out (after each repeat purchase with a beta-distributed probability).
  Spend per customer is lognormal around a lognormal customer mean (the Gamma-Gamma assumption,
  spend independent of frequency). About 3% of the rows are credit notes (negative, ``is_return``)
  against an earlier invoice. Prospects who never bought have no rows.
* **interactions** and **events** — e-mails, calls, meetings, visits, chats and notes; web/app
  behaviour events. Their density decays backwards from each profile's last active moment, so lapsed
  customers and cold prospects go quiet while warm ones have recent activity.

Everything is vectorised numpy: strings are assembled from small vocabularies by index or rendered
from digit matrices, never by a Python loop over profiles. One million profiles and ten million
transactions take a few tens of seconds on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .pipeline import PondInputs

DEFAULT_AS_OF = pd.Timestamp("2025-06-30")
"""The fixed default "today" of synthetic ponds, so a seed always gives the same frames."""

_DAY_NS = 86_400 * 10**9
_NEVER = np.iinfo(np.int64).min
_MAX_DAILY_RATE = 0.5  # nobody reorders more often than every other day on average

INTERACTION_TYPES = ("email", "call", "meeting", "visit", "chat", "note")
_INTERACTION_P = (0.44, 0.2, 0.1, 0.05, 0.13, 0.08)

EVENT_TYPES = (
	"page_view",
	"pricing_view",
	"email_open",
	"email_click",
	"download",
	"webinar",
	"form_submit",
	"demo_request",
	"trial_signup",
)
_EVENT_P = (0.52, 0.08, 0.16, 0.07, 0.05, 0.03, 0.05, 0.02, 0.02)

SOURCES = (
	"Website",
	"Reference",
	"Advertisement",
	"Cold Calling",
	"Exhibition",
	"Mass Mailing",
	"Campaign",
	"Walk In",
	"Existing Customer",
	"Partner",
)
_SOURCE_P = (0.26, 0.12, 0.1, 0.1, 0.08, 0.1, 0.1, 0.04, 0.03, 0.07)
# conversion lift of each source (log-odds), in the order of SOURCES
_SOURCE_LIFT = (0.0, 0.8, -0.2, -0.6, 0.3, -0.5, -0.1, 0.4, 1.0, 0.6)

INDUSTRIES = (
	"Manufacturing",
	"Retail",
	"Wholesale",
	"Healthcare",
	"Education",
	"Construction",
	"Logistics",
	"Software",
	"Financial Services",
	"Hospitality",
	"Agriculture",
	"Energy",
)
AUTHORITY = ("Decision Maker", "Influencer", "User")
NEED = ("Critical", "High", "Medium", "Low")
TIMELINE = ("Immediate", "1-3 Months", "3-6 Months", "6-12 Months", "Over 12 Months")


@dataclass(frozen=True)
class _Country:
	code: str
	share: float
	territory: str
	tld: str
	legal: tuple[str, ...]  # legal forms
	legal_alt: tuple[str, ...]  # the same forms spelled another way (near-duplicates)
	names: str  # name pool
	prefixes: tuple[str, ...]  # leading digits of the national number (equal lengths)
	n_digits: int  # digits of the national significant number
	international: str  # "#" = next digit of the national number
	national: str
	cc: str


# Mobile numbering plans that libphonenumber accepts as valid (checked in tests/test_synth.py).
_COUNTRIES = (
	_Country("US", 0.24, "North America", "com", ("Inc.", "LLC", "Corp."), ("Incorporated", "L.L.C.", "Corporation"), "en",
		("212", "415", "312", "617", "206", "512", "305", "404", "303", "702", "646", "213"), 10,
		"+1 ###-###-####", "(###) ###-####", "1"),
	_Country("GB", 0.12, "Europe", "co.uk", ("Ltd", "PLC", "LLP"), ("Limited", "P.L.C.", "L.L.P."), "en",
		("7712", "7824", "7400", "7500", "7825", "7723", "7960"), 10,
		"+44 #### ######", "0#### ######", "44"),
	_Country("DE", 0.1, "Europe", "de", ("GmbH", "AG", "KG"), ("G.m.b.H.", "Aktiengesellschaft", "K.G."), "de",
		("151", "152", "157", "159", "176"), 11, "+49 ### ########", "0### ########", "49"),
	_Country("FR", 0.06, "Europe", "fr", ("SAS", "SARL", "SA"), ("S.A.S.", "S.A.R.L.", "S.A."), "fr",
		("61", "62", "64", "65", "66", "67", "68"), 9, "+33 # ## ## ## ##", "0# ## ## ## ##", "33"),
	_Country("NL", 0.05, "Europe", "nl", ("B.V.", "N.V."), ("BV", "NV"), "nl",
		("61", "62", "63", "64", "65"), 9, "+31 # ########", "0# ########", "31"),
	_Country("CN", 0.12, "Asia Pacific", "cn", ("Co., Ltd.", "Ltd."), ("Company Limited", "Limited"), "zh",
		("138", "139", "135", "136", "137", "150", "151", "186", "187", "188"), 11,
		"+86 ### #### ####", "### #### ####", "86"),
	_Country("IN", 0.08, "Asia Pacific", "in", ("Pvt Ltd", "Ltd"), ("Private Limited", "Limited"), "in",
		("98", "99", "97", "96", "93", "91", "90", "88", "70", "81"), 10, "+91 ##### #####", "0##### #####", "91"),
	_Country("AU", 0.05, "Asia Pacific", "com.au", ("Pty Ltd",), ("Proprietary Limited",), "en",
		("40", "41", "42", "43"), 9, "+61 ### ### ###", "0### ### ###", "61"),
	_Country("SG", 0.04, "Asia Pacific", "com.sg", ("Pte Ltd",), ("Private Limited",), "zh",
		("81", "82", "83", "84", "85", "86", "87", "88", "91", "92", "93", "94", "95", "96", "97", "98"), 8, "+65 #### ####", "#### ####", "65"),
	_Country("JP", 0.05, "Asia Pacific", "co.jp", ("K.K.", "G.K."), ("Kabushiki Kaisha", "Godo Kaisha"), "ja",
		("90", "80", "70"), 10, "+81 ##-####-####", "0##-####-####", "81"),
	_Country("BR", 0.05, "Latin America", "com.br", ("Ltda", "S.A."), ("Ltda.", "SA"), "pt",
		("119", "219", "319", "419", "619"), 11, "+55 ## #####-####", "(##) #####-####", "55"),
	_Country("AE", 0.04, "Middle East", "ae", ("LLC", "FZE"), ("L.L.C.", "F.Z.E."), "ar",
		("50", "52", "55", "56", "58"), 9, "+971 ## ### ####", "0## ### ####", "971"),
)  # fmt: skip

_NAMES = {
	"en": (
		"James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Susan Richard Jessica "
		"Thomas Sarah Daniel Karen Matthew Emily Anthony Olivia Mark Sophie Paul Hannah Andrew Grace Oliver Chloe",
		"Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson "
		"Thompson White Harris Clarke Lewis Walker Hall Allen Young King Wright Scott Green Baker Adams Turner",
	),
	"de": (
		"Lukas Anna Leon Lena Felix Marie Jonas Laura Paul Julia Maximilian Sophie Tim Katharina Jan Sarah "
		"Stefan Sabine Andreas Claudia Markus Petra Tobias Nina",
		"Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Koch Bauer Richter Klein "
		"Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange",
	),
	"fr": (
		"Jean Marie Pierre Camille Louis Léa Antoine Manon Nicolas Chloé Julien Emma Thomas Inès Hugo Sarah "
		"François Céline Mathieu Amélie",
		"Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel "
		"Garcia David Bertrand Roux Vincent Fournier",
	),
	"nl": (
		"Daan Emma Sem Julia Lucas Sophie Levi Tess Finn Anna Bram Lotte Ruben Fleur Thijs Sanne",
		"de Jong Jansen de Vries van den Berg van Dijk Bakker Visser Smit Meijer de Boer Mulder de Groot Bos "
		"Vos Peters Hendriks",
	),
	"zh": (
		"Wei Fang Jing Min Lei Yan Jun Li Hao Xin Yong Hui Qiang Mei Jie Ying Tao Ling Chen Xiu",
		"Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo",
	),
	"in": (
		"Aarav Priya Vivaan Ananya Aditya Diya Arjun Isha Rohan Kavya Rahul Neha Amit Pooja Vikram Sneha "
		"Sanjay Anjali Karan Meera",
		"Sharma Verma Gupta Patel Singh Kumar Reddy Iyer Nair Joshi Mehta Shah Rao Das Chopra Malhotra Bose "
		"Kapoor Agarwal Menon",
	),
	"ja": (
		"Haruto Yui Sota Hina Yuto Aoi Riku Mio Hiroshi Yuki Takeshi Akiko Kenji Naoko Daiki Sakura",
		"Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada Sasaki "
		"Yamaguchi Matsumoto Inoue",
	),
	"pt": (
		"Miguel Alice Arthur Sophia Heitor Helena Bernardo Valentina Davi Laura Gabriel Isabella Lucas "
		"Manuela Pedro Júlia Rafael Beatriz",
		"Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro Martins "
		"Carvalho Almeida Lopes Soares Fernandes",
	),
	"ar": (
		"Mohammed Fatima Ahmed Aisha Omar Mariam Ali Noor Hassan Layla Khalid Sara Yousef Huda Tariq Amal",
		"Al Mansouri Al Hashimi Al Nuaimi Haddad Khoury Nasser Saleh Hamdan Farouk Rahman Aziz Karim Qasim "
		"Al Falasi Al Suwaidi Mansour",
	),
}
_FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com")

_COMPANY_A = (
	"Northwind Blue Silver Golden Red Green Pacific Atlantic Summit Pioneer Apex Vertex Crescent Harbor Maple "
	"Cedar Oak Pine Granite Iron Copper Bright Clear Swift True Prime Nova Stellar Polar Coastal Delta "
	"Eagle Falcon Lion Tiger Orion Atlas Titan Zenith Horizon Meridian Sterling Royal Imperial United "
	"Global Allied Central Western Eastern Northern Southern Metro Urban Rural Alpine Lakeside Riverside "
	"Highland Sunrise Evergreen Keystone Liberty Heritage Frontier Landmark Cornerstone Beacon Lighthouse "
	"Anchor Compass Vanguard Paragon Pinnacle Quantum Fusion Vector Matrix Nexus Cobalt Indigo Amber Jade "
	"Ruby Onyx Saffron Willow Aspen Birch Sequoia Redwood Juniper Magnolia Lotus Orchid Sakura Phoenix "
	"Dragon Kestrel Osprey Heron Condor Raven Lynx Otter Bison Mustang Stallion Bluebird"
).split()
_COMPANY_B = (
	"Logistics Foods Textiles Plastics Metals Pharma Medical Dental Optics Robotics Motors Auto Marine "
	"Aviation Energy Solar Power Water Chemicals Paints Papers Packaging Printing Furniture Interiors "
	"Ceramics Glass Steel Tools Machinery Electronics Devices Sensors Networks Software Data Cloud Analytics "
	"Security Consulting Advisory Capital Finance Insurance Realty Estates Builders Construction Engineering "
	"Design Media Studios Apparel Footwear Cosmetics Beverages Coffee Bakery Dairy Farms Seeds Garden "
	"Pet Sports Outdoor Travel Hotels Events Education Learning Health Wellness Care Labs Biotech Freight "
	"Shipping Trading Imports Supply Distribution Retail Wholesale Brands Goods"
).split()
_COMPANY_C = (
	"",
	"Group",
	"Systems",
	"Solutions",
	"Partners",
	"Industries",
	"Holdings",
	"International",
	"Services",
	"Technologies",
	"Works",
	"Company",
	"Enterprises",
	"Associates",
	"Co-op",
	"Direct",
)


def generate_pond(
	n_profiles: int = 20_000,
	n_transactions: int = 200_000,
	seed: int = 0,
	as_of: pd.Timestamp | str = DEFAULT_AS_OF,
	*,
	n_interactions: int | None = None,
	n_events: int | None = None,
	duplicate_share: float = 0.02,
	return_share: float = 0.03,
	history_days: int = 4 * 365,
) -> PondInputs:
	"""A synthetic pond of ``n_profiles`` profiles and exactly ``n_transactions`` transaction rows.

	``as_of`` is "today": nothing happens after it. ``n_interactions`` defaults to 3 per profile and
	``n_events`` to 6 per profile. ``duplicate_share`` of the profiles are near-duplicates of another
	profile, ``return_share`` of the transactions are credit notes, and profiles entered the pond during
	the ``history_days`` before ``as_of``. The same arguments always return equal frames.
	"""
	if n_profiles < 1:
		raise ValueError("n_profiles must be at least 1")
	if n_transactions < 0:
		raise ValueError("n_transactions must not be negative")
	if not 0 <= duplicate_share < 0.5:
		raise ValueError("duplicate_share must be in [0, 0.5)")
	if not 0 <= return_share < 0.5:
		raise ValueError("return_share must be in [0, 0.5)")
	as_of = pd.Timestamp(as_of).normalize()
	rng = np.random.default_rng(seed)
	n_interactions = 3 * n_profiles if n_interactions is None else n_interactions
	n_events = 6 * n_profiles if n_events is None else n_events

	people = _people(rng, n_profiles, as_of, history_days, duplicate_share)
	transactions, customer_of, last_buy = _transactions(rng, people, n_transactions, as_of, return_share)
	profiles = people.frame
	profiles["customer"] = customer_of
	last_active = _last_active(rng, people, last_buy, as_of)
	interactions = _activity(
		rng, people, last_active, n_interactions, INTERACTION_TYPES, _INTERACTION_P, (20.0, 120.0), as_of
	)
	direction = np.where(rng.random(len(interactions)) < 0.62, "outbound", "inbound").astype(object)
	direction[interactions["type"].to_numpy() == "note"] = None
	interactions["direction"] = direction
	events = _activity(rng, people, last_active, n_events, EVENT_TYPES, _EVENT_P, (7.0, 60.0), as_of)
	return PondInputs(profiles=profiles, transactions=transactions, interactions=interactions, events=events)


# --- profiles --------------------------------------------------------------------------------------


@dataclass
class _People:
	frame: pd.DataFrame  # the profiles frame being built
	created_ns: np.ndarray  # int64 ns
	quality: np.ndarray  # latent lead quality ~ N(0, 1)
	source_idx: np.ndarray


def _people(
	rng: np.random.Generator, n: int, as_of: pd.Timestamp, history_days: int, duplicate_share: float
) -> _People:
	as_of_ns = as_of.value
	# the pond grows: more profiles entered recently than long ago
	age_days = history_days * (1.0 - np.sqrt(rng.random(n)))
	created_ns = as_of_ns - (age_days * 86_400).astype(np.int64) * 10**9  # whole seconds
	order = np.argsort(created_ns, kind="stable")  # profile names follow creation order
	created_ns = created_ns[order]
	quality = rng.standard_normal(n)

	country_p = np.array([c.share for c in _COUNTRIES])
	country_idx = rng.choice(len(_COUNTRIES), size=n, p=country_p / country_p.sum())
	source_idx = rng.choice(len(SOURCES), size=n, p=np.array(_SOURCE_P) / np.sum(_SOURCE_P))

	# companies: 80% of profiles are business contacts; big companies have several contacts
	is_b2b = rng.random(n) < 0.8
	n_companies = max(1, int(n * 0.8 / 1.7))
	company_idx = np.minimum((n_companies * rng.random(n) ** 1.3).astype(np.int64), n_companies - 1)
	company_country = rng.choice(len(_COUNTRIES), size=n_companies, p=country_p / country_p.sum())
	# a contact mostly sits in the company's country
	country_idx = np.where(is_b2b & (rng.random(n) < 0.9), company_country[company_idx], country_idx)
	company_legal = rng.integers(0, 1 << 30, size=n_companies)  # which legal form, per company

	first_idx = rng.integers(0, 1 << 30, size=n)  # reduced modulo each pool's size
	last_idx = rng.integers(0, 1 << 30, size=n)
	phone_digits = np.empty((n, 11), dtype=np.uint8)
	phone_digits[:] = ord("0") + rng.integers(0, 10, size=(n, 11), dtype=np.uint8)
	phone_digits[:, 0] = ord("2") + rng.integers(0, 8, size=n, dtype=np.uint8)  # no leading 0/1
	phone_format = rng.choice(3, size=n, p=(0.6, 0.3, 0.1))  # international, national, E.164
	email_pattern = rng.integers(0, 4, size=n_companies)

	# near-duplicates copy an earlier profile's identity, then vary how it was typed
	n_dup = round(n * duplicate_share) if n > 1 else 0
	dup = np.sort(rng.choice(np.arange(1, n), size=n_dup, replace=False)) if n_dup else np.empty(0, np.int64)
	src = (rng.random(n_dup) * dup).astype(np.int64)  # an earlier profile
	ident = np.arange(n)  # the original profile each row is a copy of (itself for originals)
	ident[dup] = src
	while not np.array_equal(ident, ident[ident]):  # a copy of a copy points at the original
		ident = ident[ident]
	src = ident[dup]
	for arr in (country_idx, company_idx, first_idx, last_idx, is_b2b, quality):
		arr[dup] = arr[src]
	phone_digits[dup] = phone_digits[src]
	variant = np.zeros(n, dtype=np.int8)
	variant[dup] = 1 + rng.integers(0, 4, size=n_dup)  # 1 case, 2 typo, 3 legal form, 4 personal mailbox
	phone_format[dup] = (phone_format[src] + rng.integers(1, 3, size=n_dup)) % 3

	person = np.empty(n, dtype=object)
	email_local = np.empty(n, dtype=object)
	email_domain = np.empty(n, dtype=object)
	phone = np.empty(n, dtype=object)
	company = np.full(n, None, dtype=object)
	for ci, c in enumerate(_COUNTRIES):
		rows = np.flatnonzero(country_idx == ci)
		if not len(rows):
			continue
		first_pool, last_pool = (np.array(s.split(), dtype=object) for s in _NAMES[c.names])
		if c.names in ("nl", "ar"):  # multi-word surnames are written joined in the pool
			last_pool = np.array(_join_particles(_NAMES[c.names][1]), dtype=object)
		fi = first_idx[rows] % len(first_pool)
		li = last_idx[rows] % len(last_pool)
		first, last = first_pool[fi], last_pool[li]
		v = variant[rows]
		last_typo = np.array([s[:2] + s[3:] if len(s) > 4 else s + s[-1] for s in last_pool], dtype=object)
		last_shown = np.where(v == 2, last_typo[li], last)
		name = first + " " + last_shown
		if c.names in ("zh", "ja"):  # family name first, as it is usually written
			name = np.where(rng.random(len(rows)) < 0.5, last_shown + " " + first, name)
		person[rows] = name

		# company name: prefix + core (+ qualifier) + legal form, unique per company index
		comp = company_idx[rows]
		b2b = is_b2b[rows]
		a, b, q = len(_COMPANY_A), len(_COMPANY_B), len(_COMPANY_C)
		round_, code = np.divmod(comp, a * b * q)
		code = (code * 7919 + 13) % (a * b * q)  # a bijection: neighbouring companies get unrelated names
		legal_i = company_legal[comp] % len(c.legal)
		legal = np.where(
			v == 3, np.array(c.legal_alt, dtype=object)[legal_i], np.array(c.legal, dtype=object)[legal_i]
		)
		base = (
			np.array(_COMPANY_A, dtype=object)[code % a]
			+ " "
			+ np.array(_COMPANY_B, dtype=object)[(code // a) % b]
		)
		qual = np.array(_COMPANY_C, dtype=object)[(code // (a * b)) % q]
		base = np.where(qual != "", base + " " + qual, base)
		base = np.where(round_ > 0, base + " " + (round_ + 1).astype(str).astype(object), base)
		company[rows[b2b]] = (base + " " + legal)[b2b]

		# e-mail: company domain for business contacts, a free mailbox otherwise (and for variant 4)
		domain = (
			_lower(np.array(_COMPANY_A, dtype=object))[code % a]
			+ _lower(np.array(_COMPANY_B, dtype=object))[(code // a) % b]
			+ "."
			+ c.tld
		)
		lf, ll = _ascii_lower(first), _ascii_lower(last)
		pattern = email_pattern[comp]
		local = np.select(
			[pattern == 0, pattern == 1, pattern == 2],
			[lf + "." + ll, _first_char(lf) + ll, lf + "_" + ll],
			default=lf,
		)
		# a personal mailbox: unique per person (variant 4: the copy uses another one)
		box = np.where(v == 4, rows, ident[rows]) + 11
		business = b2b & (v != 4)
		email_local[rows] = np.where(business, local, lf + "." + ll + _itoa(box))
		email_domain[rows] = np.where(
			business, domain, np.array(_FREE_MAIL, dtype=object)[box % len(_FREE_MAIL)]
		)

		# phone: prefix + subscriber digits, rendered in the chosen format
		digits = np.empty((len(rows), c.n_digits), dtype=np.uint8)
		plen = len(c.prefixes[0])
		prefixes = np.frombuffer("".join(c.prefixes).encode(), dtype=np.uint8).reshape(-1, plen)
		digits[:, :plen] = prefixes[last_idx[rows] % len(c.prefixes)]
		digits[:, plen:] = phone_digits[rows, : c.n_digits - plen]
		fmt = phone_format[rows]
		phone[rows] = np.select(
			[fmt == 0, fmt == 1],
			[_render(c.international, digits), _render(c.national, digits)],
			default=_render("+" + c.cc + "#" * c.n_digits, digits),
		)

	# two colleagues with the same name get john.smith2@...; copies keep the original's address
	original = variant == 0
	clash = _occurrence(email_local[original] + "@" + email_domain[original])
	rows = np.flatnonzero(original)[clash > 0]
	email_local[rows] = email_local[rows] + _itoa(clash[clash > 0] + 1)
	copies = np.flatnonzero((variant > 0) & (variant != 4))
	email_local[copies] = email_local[ident[copies]]
	email_domain[copies] = email_domain[ident[copies]]
	email = email_local + "@" + email_domain
	email[variant == 1] = _upper_first(email[variant == 1])
	# variant 1 (case): the whole name typed in capitals
	case_rows = np.flatnonzero(variant == 1)
	if len(case_rows):
		person[case_rows] = pd.Series(person[case_rows], dtype=object).str.upper().to_numpy(dtype=object)
	# not everybody leaves every detail
	email[rng.random(n) < 0.05] = None
	phone[rng.random(n) < 0.15] = None

	codes = np.array([c.code for c in _COUNTRIES], dtype=object)
	territories = np.array([c.territory for c in _COUNTRIES], dtype=object)
	profile_ids = "FPL-" + _itoa(np.arange(1, n + 1), width=max(7, len(str(n))))

	frame = pd.DataFrame(
		{
			"profile": profile_ids,
			"created": created_ns.astype("datetime64[ns]"),
			"source": np.array(SOURCES, dtype=object)[source_idx],
			"territory": territories[country_idx],
			"country": codes[country_idx],
			"person_name": person,
			"company_name": company,
			"email": email,
			"phone": phone,
		}
	)
	frame = frame.assign(**_fit_answers(rng, quality, is_b2b, company_idx, n_companies))
	return _People(frame=frame, created_ns=created_ns, quality=quality, source_idx=source_idx)


def _fit_answers(
	rng: np.random.Generator,
	quality: np.ndarray,
	is_b2b: np.ndarray,
	company_idx: np.ndarray,
	n_companies: int,
) -> dict[str, np.ndarray]:
	"""BANT answers and firmographics, correlated with the latent quality, often left blank."""
	n = len(quality)
	size = np.exp(rng.normal(3.2, 1.5, size=n_companies))  # employees, heavy-tailed
	employees = np.where(is_b2b, np.maximum(1, np.round(size[company_idx])), 1.0)
	budget = np.round(np.exp(7.5 + 0.35 * np.log(employees) + 0.6 * quality + rng.normal(0, 0.8, n)), -2)
	noise = quality + rng.normal(0, 1.0, n)

	def grade(labels: tuple[str, ...], cuts: tuple[float, ...], blank: float) -> np.ndarray:
		out = np.array(labels, dtype=object)[len(cuts) - np.searchsorted(np.array(cuts), noise)]
		out[rng.random(n) < blank] = None
		return out

	industry = np.array(INDUSTRIES, dtype=object)[(company_idx * 7 + 3) % len(INDUSTRIES)]
	industry[rng.random(n) < 0.15] = None
	return {
		"budget": np.where(rng.random(n) < 0.35, np.nan, budget),
		"authority": grade(AUTHORITY, (-0.3, 0.9), 0.3),
		"need": grade(NEED, (-0.8, 0.3, 1.3), 0.25),
		"timeline": grade(TIMELINE, (-1.0, -0.2, 0.6, 1.4), 0.35),
		"industry": industry,
		"employees": np.where(rng.random(n) < 0.2, np.nan, employees),
	}


# --- transactions ----------------------------------------------------------------------------------


def _transactions(
	rng: np.random.Generator, people: _People, n_rows: int, as_of: pd.Timestamp, return_share: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
	"""The transactions frame, each profile's customer id (or None) and last purchase (ns, or _NEVER)."""
	n = len(people.quality)
	as_of_ns = as_of.value
	profile_ids = people.frame["profile"].to_numpy(dtype=object)
	n_returns = round(n_rows * return_share) if n_rows >= 20 else 0
	n_purchases = n_rows - n_returns

	# who converts, and when (a few weeks after entering the pond)
	logit = -0.35 + 1.1 * people.quality + np.array(_SOURCE_LIFT)[people.source_idx]
	converts = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
	first_ns = people.created_ns + (rng.exponential(40.0, n) * _DAY_NS).astype(np.int64)
	converts &= first_ns < as_of_ns - _DAY_NS
	cust = np.flatnonzero(converts)
	if len(cust) > n_purchases:  # fewer purchases asked for than buyers: keep the earliest buyers
		cust = np.sort(cust[np.argsort(first_ns[cust], kind="stable")[:n_purchases]])
	n_cust = len(cust)
	customer_of = np.full(n, None, dtype=object)
	if n_cust == 0:
		empty = pd.DataFrame(
			{
				"profile": pd.Series(dtype=object),
				"date": pd.Series(dtype="datetime64[ns]"),
				"amount": pd.Series(dtype=float),
				"voucher_type": pd.Series(dtype=object),
				"is_return": pd.Series(dtype=bool),
			}
		)
		return empty, customer_of, np.full(n, _NEVER, dtype=np.int64)
	customer_of[cust] = "CUST-" + _itoa(np.arange(1, n_cust + 1), width=max(6, len(str(n_cust))))

	# BG/NBD: purchase rate lambda ~ Gamma(r, alpha) per day, dropout p ~ Beta(a, b) after each purchase.
	# As in MBG/NBD a customer may also drop out right after the first purchase (the one-off buyers).
	q = people.quality[cust]
	rate0 = rng.gamma(0.75, 1.0, n_cust) * np.exp(0.35 * q)
	rate0 = np.minimum(rate0, np.quantile(rate0, 0.99))
	dropout = rng.beta(0.6, 5.0, n_cust)
	lifetime = rng.geometric(np.clip(dropout, 1e-6, 1.0)) - 1  # repeat purchases before dropping out
	window = (as_of_ns - first_ns[cust]) / _DAY_NS  # days in which repeats can happen
	needed = n_purchases - n_cust
	max_rate = _MAX_DAILY_RATE
	if np.minimum(0.9 * max_rate * window, lifetime).sum() < needed:
		# more rows asked for than such customers could buy: lift the limits rather than fail
		max_rate, lifetime = np.inf, np.full(n_cust, 1 << 40)
	scale = _calibrate_rate(rng, rate0, max_rate, window, lifetime, needed)
	for _ in range(200):
		arrivals = rng.poisson(np.minimum(scale * rate0, max_rate) * window)
		repeats = np.minimum(arrivals, lifetime)
		if repeats.sum() >= needed:
			break
		scale *= 1.1
	else:  # pragma: no cover - the limits above make this unreachable
		raise RuntimeError("could not generate enough repeat purchases")
	# drop surplus repeats uniformly so the row count is exact
	surplus = int(repeats.sum()) - needed
	if surplus:
		drop = rng.choice(int(repeats.sum()), size=surplus, replace=False)
		owner = np.repeat(np.arange(n_cust), repeats)
		dropped = np.bincount(owner[drop], minlength=n_cust)
		repeats = repeats - dropped  # a thinned Poisson process: fewer arrivals, same window
		arrivals = arrivals - dropped

	# repeat times: the first `repeats` of `arrivals` uniform order statistics on the window, drawn
	# exactly with exponential spacings (cumsum(E) / (sum of arrivals+1 exponentials))
	owner = np.repeat(np.arange(n_cust), repeats)
	spacing = rng.exponential(1.0, len(owner))
	cum = np.cumsum(spacing)
	starts = np.cumsum(repeats) - repeats
	group_total = np.add.reduceat(spacing, starts[repeats > 0]) if len(owner) else np.empty(0)
	before = np.zeros(n_cust)
	before[repeats > 0] = cum[starts[repeats > 0]] - spacing[starts[repeats > 0]]
	within = cum - before[owner]
	total = np.zeros(n_cust)
	total[repeats > 0] = group_total
	rest = rng.gamma(np.maximum(arrivals - repeats, 0) + 1.0)  # remaining spacings of the N+1
	frac = within / (total + rest)[owner]
	repeat_ns = first_ns[cust][owner] + (frac * window[owner] * _DAY_NS).astype(np.int64)

	# rows grouped by customer in time order: customer i's first purchase, then its repeats
	first_pos = starts + np.arange(n_cust)
	repeat_pos = np.arange(len(owner)) + owner + 1
	buyer = np.empty(n_cust + len(owner), dtype=np.int64)
	when = np.empty(n_cust + len(owner), dtype=np.int64)
	buyer[first_pos], buyer[repeat_pos] = np.arange(n_cust), owner
	when[first_pos], when[repeat_pos] = first_ns[cust], repeat_ns
	last_buy = np.full(n, _NEVER, dtype=np.int64)
	last_buy[cust] = when[first_pos + repeats]

	# spend: lognormal customer mean, lognormal variation around it
	mean_spend = np.exp(rng.normal(6.6 + 0.3 * q, 0.9))
	amount = np.round(mean_spend[buyer] * rng.lognormal(-0.125, 0.5, len(buyer)), 2)
	amount = np.maximum(amount, 1.0)

	# credit notes against earlier invoices: full or partial, a few days later
	if n_returns:
		orig = rng.choice(len(buyer), size=n_returns, replace=False)
		part = np.where(rng.random(n_returns) < 0.5, 1.0, rng.uniform(0.1, 0.9, n_returns))
		ret_when = np.minimum(
			when[orig] + (rng.exponential(12.0, n_returns) * _DAY_NS).astype(np.int64), as_of_ns
		)
		buyer = np.concatenate([buyer, buyer[orig]])
		amount = np.concatenate([amount, -np.round(amount[orig] * part, 2)])
		when = np.concatenate([when, ret_when])
	is_return = np.zeros(len(buyer), dtype=bool)
	is_return[len(buyer) - n_returns :] = True

	day = (np.minimum(when, as_of_ns) // _DAY_NS) * _DAY_NS  # posting dates
	frame = pd.DataFrame(
		{
			"profile": profile_ids[cust][buyer],
			"date": day.astype("datetime64[ns]"),
			"amount": amount,
			"voucher_type": "Sales Invoice",
			"is_return": is_return,
		}
	)
	return frame, customer_of, last_buy


def _calibrate_rate(
	rng: np.random.Generator,
	rate0: np.ndarray,
	max_rate: float,
	window: np.ndarray,
	lifetime: np.ndarray,
	needed: int,
) -> float:
	"""Scale of the purchase rates at which the number of repeat purchases is ~1% over ``needed``."""
	if needed <= 0:
		return 0.0
	target = needed * 1.01
	state = rng.bit_generator.state

	def count(scale: float) -> float:
		probe = np.random.Generator(type(rng.bit_generator)())
		probe.bit_generator.state = state  # common random numbers: a smooth, monotone count
		return float(np.minimum(probe.poisson(np.minimum(scale * rate0, max_rate) * window), lifetime).sum())

	lo, hi = 1e-6, 1.0
	while count(hi) < target and hi < 1e6:
		lo, hi = hi, hi * 4
	for _ in range(30):
		mid = np.sqrt(lo * hi)
		if count(mid) < target:
			lo = mid
		else:
			hi = mid
		if hi / lo < 1.002:
			break
	return hi


# --- interactions and events -----------------------------------------------------------------------


def _last_active(
	rng: np.random.Generator, people: _People, last_buy: np.ndarray, as_of: pd.Timestamp
) -> np.ndarray:
	"""When each profile was last active: near the last purchase for buyers, recent or long ago for prospects."""
	n = len(people.quality)
	as_of_ns = as_of.value
	created = people.created_ns
	warm = rng.random(n) < 1.0 / (1.0 + np.exp(-(people.quality - 0.2)))
	cold_end = created + (rng.exponential(60.0, n) * _DAY_NS).astype(np.int64)
	last = np.where(warm, as_of_ns - (rng.exponential(10.0, n) * _DAY_NS).astype(np.int64), cold_end)
	bought = last_buy != _NEVER
	after_buy = np.where(bought, last_buy, 0) + (rng.exponential(20.0, n) * _DAY_NS).astype(np.int64)
	last = np.where(bought, np.where(warm, np.maximum(last, after_buy), after_buy), last)
	return np.clip(last, created, as_of_ns)


def _activity(
	rng: np.random.Generator,
	people: _People,
	last_active: np.ndarray,
	n_rows: int,
	types: tuple[str, ...],
	p: tuple[float, ...],
	decay_days: tuple[float, float],
	as_of: pd.Timestamp,
) -> pd.DataFrame:
	"""``n_rows`` dated activities spread over profiles by propensity, decaying back from last activity."""
	n = len(people.quality)
	profile_ids = people.frame["profile"].to_numpy(dtype=object)
	if n_rows <= 0:
		return pd.DataFrame(
			{
				"profile": pd.Series(dtype=object),
				"time": pd.Series(dtype="datetime64[ns]"),
				"type": pd.Series(dtype=object),
			}
		)
	propensity = np.exp(0.6 * people.quality + rng.normal(0, 1.0, n))
	propensity /= propensity.sum()
	who = np.sort(rng.choice(n, size=n_rows, p=propensity))
	scale = rng.uniform(*decay_days, size=n)
	back = (rng.exponential(1.0, n_rows) * scale[who] * _DAY_NS).astype(np.int64)
	time = np.clip(last_active[who] - back, people.created_ns[who], as_of.value)
	# working hours, local-ish: a time of day between 08:00 and 19:00
	time = (time // _DAY_NS) * _DAY_NS + rng.integers(8 * 3600, 19 * 3600, n_rows) * 10**9
	time = np.clip(time, people.created_ns[who], as_of.value - 1)
	kind = rng.choice(len(types), size=n_rows, p=np.array(p) / np.sum(p))
	return pd.DataFrame(
		{
			"profile": profile_ids[who],  # grouped by profile (``who`` is sorted), not by time
			"time": time.astype("datetime64[ns]"),
			"type": np.array(types, dtype=object)[kind],
		}
	)


# --- vectorised string helpers ---------------------------------------------------------------------


def _itoa(values: np.ndarray, width: int = 0) -> np.ndarray:
	"""Decimal strings of non-negative integers (zero-padded to ``width``), as an object array."""
	values = np.asarray(values, dtype=np.int64)
	digits = max(width, len(str(int(values.max()))) if len(values) else 1)
	powers = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
	mat = ((values[:, None] // powers) % 10 + ord("0")).astype(np.uint8)
	out = mat.view(f"S{digits}").ravel().astype(f"U{digits}").astype(object)
	if not width:  # strip leading zeros
		out = pd.Series(out, dtype=object).str.lstrip("0").replace("", "0").to_numpy(dtype=object)
	return out


def _occurrence(values: np.ndarray) -> np.ndarray:
	"""For each value, how many equal values come before it (0 for the first occurrence)."""
	codes = pd.factorize(values)[0]
	order = np.argsort(codes, kind="stable")
	sorted_codes = codes[order]
	start = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
	run_start = np.maximum.accumulate(np.where(start, np.arange(len(codes)), 0))
	out = np.empty(len(codes), dtype=np.int64)
	out[order] = np.arange(len(codes)) - run_start
	return out


def _render(template: str, digits: np.ndarray) -> np.ndarray:
	"""Render a phone template ("+44 #### ######") with one row of ASCII digits per number."""
	out = np.empty((len(digits), len(template)), dtype=np.uint8)
	k = 0
	for j, ch in enumerate(template):
		if ch == "#":
			out[:, j] = digits[:, k]
			k += 1
		else:
			out[:, j] = ord(ch)
	assert k == digits.shape[1], template
	return out.view(f"S{len(template)}").ravel().astype(f"U{len(template)}").astype(object)


def _lower(a: np.ndarray) -> np.ndarray:
	return np.array([s.lower() for s in a], dtype=object)  # small vocabularies only


def _ascii_lower(a: np.ndarray) -> np.ndarray:
	"""Lower-case ASCII e-mail form of names drawn from a small pool (ü -> ue, é -> e, spaces dropped)."""
	uniq, inv = np.unique(a.astype(str), return_inverse=True)
	table = str.maketrans(
		{"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ç": "c", "ú": "u", " ": ""}
	)
	clean = np.array([s.lower().translate(table) for s in uniq], dtype=object)
	return clean[inv.ravel()]


def _first_char(a: np.ndarray) -> np.ndarray:
	uniq, inv = np.unique(a.astype(str), return_inverse=True)
	return np.array([s[:1] for s in uniq], dtype=object)[inv.ravel()]


def _upper_first(a: np.ndarray) -> np.ndarray:
	return pd.Series(a, dtype=object).str.capitalize().to_numpy(dtype=object)


def _join_particles(names: str) -> list[str]:
	"""Split a surname pool where particles ("de", "van den", "Al") belong to the next word."""
	out: list[str] = []
	pending: list[str] = []
	for word in names.split():
		if word in ("de", "van", "den", "der", "Al"):
			pending.append(word)
			continue
		out.append(" ".join([*pending, word]))
		pending = []
	return out

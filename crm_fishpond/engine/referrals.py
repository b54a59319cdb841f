"""Referral rewards decided from ERPNext's facts alone: who is rewarded, with what, and what to post.

The adapters (next) read ERPNext's rows into the dataclasses below, call :func:`plan` and apply its
actions; nothing here touches a database, and every decision is a pure function of its inputs:

* :func:`screen_referrals` accepts or refuses each referral (self-referral, circular referral, a
  referee who was already a customer, customer group and territory, one referee counted once, the
  first valid referral of a referee wins; a manager's override bypasses the fraud rules).
* :func:`expected_rewards` says what every reward *should* be now: its state (Pending, Qualified,
  Posted, Reversed, Refused, Cancelled) with the reason, the qualifying invoice, the reward earned and
  kept after returns, and the debt when redeemed points or a used coupon cannot be taken back. It
  reads the referee's Sales Invoices (payment, returns, amendments, cancellations, in company
  currency), the review period and ``now``, the caps, and what ERPNext's ledgers already hold.
* :func:`diff` turns expected against stored into the few actions that make them equal (save a
  reward row with a state-change log line, post or reverse Loyalty Points, create or disable a
  coupon); :func:`reconcile` lists the same gaps as differences a person can read. Both come from one
  comparison, so "reconciliation is empty" means "applying would write nothing", and applying the
  actions then planning again gives no action: replaying any event changes nothing.

Reward state is never accumulated from events: a cancelled payment, a return, an amendment or a
replayed event simply changes the facts, and the next plan moves the ledgers to what the facts say.

Every reason is a :class:`Reason`: a ``code`` (a key of :data:`MESSAGES`, whose English text is the
template) and ``params``, so the site words it in the user's language, as ``RuleError`` does.
See docs/referrals.md.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any, ClassVar

import phonenumbers

from .dedupe import DedupeConfig
from .dedupe import normalise_email as _dedupe_email
from .errors import EngineConfigError

# states of a reward (the Referral Reward's Select options)
PENDING = "Pending"
QUALIFIED = "Qualified"
POSTED = "Posted"
REVERSED = "Reversed"
REFUSED = "Refused"
CANCELLED = "Cancelled"
STATES = (PENDING, QUALIFIED, POSTED, REVERSED, REFUSED, CANCELLED)

# who a reward is for
REFERRER = "Referrer"
REFEREE = "Referee"

# kinds of reward (RewardRule.kind) and the ledger each one is paid through
FIXED_POINTS = "points"
AMOUNT_AS_POINTS = "amount_as_points"
PERCENT_AS_POINTS = "percent_as_points"
COUPON = "coupon"
REWARD_KINDS = (FIXED_POINTS, AMOUNT_AS_POINTS, PERCENT_AS_POINTS, COUPON)
LOYALTY_POINTS = "Loyalty Points"
COUPON_CODE = "Coupon Code"

# what a return does to a reward (Programme.clawback)
PROPORTIONAL = "proportional"
FULL = "full"

# outcomes of screening a referral
ACCEPTED = "accepted"
REFUSED_OUTCOME = "refused"
CANCELLED_OUTCOME = "cancelled"

PAID_TOLERANCE = 0.005
"""An invoice whose outstanding amount is at most this is fully paid (ERPNext rounds to cents)."""

MESSAGES = {
	# screening a referral
	"accepted": "the referral is valid",
	"override": "accepted by a manager: {note}",
	"referral_cancelled": "the referral was cancelled",
	"no_programme": "no referral programme of {company} was running on {date}",
	"self_referral": "the referrer and the referee have the same {via}",
	"already_customer": "the referee has been a customer since {since}, before the referral on {referred_on}",
	"customer_group": "the referee's customer group {customer_group} is not in the programme",
	"territory": "the referee's territory {territory} is not in the programme",
	"circular": "the referee {referee} referred the referrer {referrer} before (directly or through others)",
	"duplicate_referee": "the referee was already referred in {winner}",
	# a reward's state
	"awaiting_invoice": "waiting for a paid invoice of the referee",
	"awaiting_payment": "invoice {invoice} is not fully paid yet ({outstanding} outstanding)",
	"below_minimum": "invoice {invoice} is for {amount}, below the programme's minimum of {minimum}",
	"returned": "invoice {invoice} was returned ({credit_notes}): {amount} of {gross} remains",
	"invoice_cancelled": "invoice {invoice} was cancelled",
	"window_closed": "no qualifying invoice within {days} days of the referral",
	"awaiting_review": "invoice {invoice} was paid on {paid_on}; the reward posts on {post_on}",
	"awaiting_customer": "invoice {invoice} qualifies, but the {beneficiary} has no Customer to reward",
	"posted": "invoice {invoice} was paid on {paid_on} and the review period ended on {post_on}",
	"reduced": "invoice {invoice} was partly returned ({credit_notes}): the reward keeps {kept} of {earned}",
	"cap_month": "the referrer already has {cap} rewards in {month}",
	"cap_lifetime": "the referrer already has {cap} rewards",
	"no_reward_rule": "the programme gives the {beneficiary} no reward",
	"nothing_to_reward": "invoice {invoice} for {amount} earns no reward once rounded",
	# checks of a programme (on save)
	"programme_needs": "{label} is required",
	"programme_number": "{label} must be a number of at least {minimum}, got {value}",
	"programme_positive": "{label} must be a number above 0, got {value}",
	"programme_percent": "{label} is a percent: above 0 and at most 100, got {value}",
	"programme_whole": "{label} must be a whole number of at least {minimum}, got {value}",
	"programme_choice": "{label} must be one of {options}, got {value}",
	"programme_dates": "the programme ends on {valid_upto}, before it starts on {valid_from}",
	"programme_overlap": "programmes {first} and {second} of {company} both run on {date}",
}
"""English text of every reason and check code (the site translates the same codes itself)."""


@dataclass(frozen=True)
class Reason:
	"""Why: ``code`` is a key of :data:`MESSAGES`, ``params`` fill its template (plain values only:
	strings, numbers, ISO dates)."""

	code: str
	params: Mapping[str, Any] = field(default_factory=dict)

	@property
	def text(self) -> str:
		return MESSAGES[self.code].format(**self.params)


def _reason(code: str, **params: Any) -> Reason:
	return Reason(code, {k: _plain(v) for k, v in params.items()})


def _plain(v: Any) -> Any:
	if isinstance(v, date):
		return v.isoformat()
	if isinstance(v, tuple | list):
		return ", ".join(str(x) for x in v)
	return v


class ProgrammeError(EngineConfigError):
	"""A programme the engine cannot run; ``problems`` holds every :class:`Reason`."""

	def __init__(self, problems: Sequence[Reason]):
		super().__init__("; ".join(p.text for p in problems), field=problems[0].params.get("field"))
		self.problems = list(problems)


# --------------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class RewardRule:
	"""One reward: ``kind`` is a fixed number of points (``value`` points), a fixed amount paid as
	points (``value`` in company currency, divided by the programme's ``conversion_factor``), a
	percent of the qualifying invoice paid as points, or a coupon worth ``value`` in company currency."""

	kind: str
	value: float

	@property
	def channel(self) -> str:
		return COUPON_CODE if self.kind == COUPON else LOYALTY_POINTS


@dataclass(frozen=True)
class Programme:
	"""A Referral Programme of one company (several may follow each other, never overlap).

	``customer_groups`` and ``territories`` are the eligible ones *with their descendants* (the
	adapter expands ERPNext's trees); empty means all. ``invoices`` and ``within_days``: the first N
	paid invoices of the referee posted within M days of the referral (None: no limit) each earn the
	referrer a reward; the referee's welcome reward comes with the first. ``review_days``: a reward
	posts this many days after its invoice was fully paid. Caps count the referrer's rewards by the
	month their invoice was paid. ``clawback``: a return reduces the reward in proportion, or (``full``)
	any return takes the whole reward back.
	"""

	name: str
	company: str
	valid_from: date
	valid_upto: date | None = None
	referrer_reward: RewardRule | None = RewardRule(FIXED_POINTS, 100)
	referee_reward: RewardRule | None = None
	loyalty_program: str | None = None
	conversion_factor: float = 1.0
	minimum_amount: float = 0.0
	invoices: int = 1
	within_days: int | None = None
	review_days: int = 0
	cap_per_month: int | None = None
	cap_lifetime: int | None = None
	customer_groups: frozenset[str] = frozenset()
	territories: frozenset[str] = frozenset()
	clawback: str = PROPORTIONAL
	coupon_valid_days: int | None = None

	def runs_on(self, day: date) -> bool:
		return self.valid_from <= day and (self.valid_upto is None or day <= self.valid_upto)

	def rule(self, beneficiary: str) -> RewardRule | None:
		return self.referrer_reward if beneficiary == REFERRER else self.referee_reward


@dataclass(frozen=True)
class Identity:
	"""One side of a referral as ERPNext knows it: the profile, its Customer, contact details for the
	fraud rules (compared normalised: e-mail without dots and +tags, phone in E.164 parsed in
	``region``, an ISO alpha-2 code; tax id and address without case and punctuation), and the
	Customer's group, territory and the date it first became a customer (the earlier of the Customer's
	creation and its first submitted invoice)."""

	profile: str
	customer: str | None = None
	emails: tuple[str, ...] = ()
	phones: tuple[str, ...] = ()
	tax_ids: tuple[str, ...] = ()
	addresses: tuple[str, ...] = ()
	region: str | None = None
	customer_group: str | None = None
	territory: str | None = None
	customer_since: date | None = None


@dataclass(frozen=True)
class Referral:
	"""A referral of ``referee`` by ``referrer`` recorded on ``created_on`` for ``company``.
	``override``: a manager's reason for accepting it against the fraud rules (None: no override).
	``cancelled``: withdrawn by a manager (its rewards are cancelled or reversed)."""

	name: str
	referrer: Identity
	referee: Identity
	company: str
	created_on: date
	code: str | None = None
	override: str | None = None
	cancelled: bool = False


@dataclass(frozen=True)
class Invoice:
	"""A Sales Invoice as ERPNext holds it now. Amounts that are compared are in company currency
	(``base_grand_total``, negative on a return); ``outstanding`` may be in the party's currency (it
	is only compared with zero). ``paid_on``: the date its outstanding amount reached zero, whatever
	paid it (Payment Entry, Journal Entry, POS payment, an allocated credit). ``docstatus`` 1 is
	submitted, 2 cancelled (drafts are not read)."""

	name: str
	customer: str
	posting_date: date
	base_grand_total: float
	outstanding: float = 0.0
	docstatus: int = 1
	company: str | None = None
	is_return: bool = False
	return_against: str | None = None
	amended_from: str | None = None
	paid_on: date | None = None

	@property
	def paid(self) -> bool:
		return self.docstatus == 1 and self.outstanding <= PAID_TOLERANCE


@dataclass(frozen=True, order=True)
class RewardKey:
	"""One reward: for the referrer, the ``slot``-th qualifying invoice (1..N); for the referee, 1."""

	referral: str
	beneficiary: str
	slot: int = 1


@dataclass(frozen=True)
class Coupon:
	"""A Gift Card Coupon Code issued for a reward, worth ``value`` (company currency). ``used``:
	redeemed on an invoice; ``disabled``: switched off by a claw-back; ``expired``: past its date unused."""

	name: str
	value: float
	used: bool = False
	disabled: bool = False
	expired: bool = False

	@property
	def active(self) -> bool:
		return not (self.used or self.disabled or self.expired)


@dataclass(frozen=True)
class Ledger:
	"""What ERPNext's ledgers hold for one reward. ``points_posted``: the sum of the reward's positive
	Loyalty Point Entries; ``points_reversed``: of its negative ones (as a positive number);
	``points_redeemed``: points of its entries the customer redeemed on invoices (ERPNext's redemption
	entries whose ``redeem_against`` is one of them). ``coupons``: the coupons issued for it."""

	points_posted: int = 0
	points_reversed: int = 0
	points_redeemed: int = 0
	coupons: tuple[Coupon, ...] = ()

	@property
	def points_held(self) -> int:
		return self.points_posted - self.points_reversed

	@property
	def delivered(self) -> bool:
		"""Something was ever given for this reward."""
		return self.points_posted > 0 or bool(self.coupons)


EMPTY_LEDGER = Ledger()

RECORD_FIELDS = (
	"state",
	"reason",
	"programme",
	"customer",
	"channel",
	"invoice",
	"credit_notes",
	"paid_on",
	"post_on",
	"earned",
	"kept",
	"debt_points",
	"debt_amount",
)
"""The fields of a stored reward row that :func:`diff` keeps equal to the expected ones."""


@dataclass(frozen=True)
class StoredReward:
	"""A reward row as the site stores it (the Referral Reward): the fields of :data:`RECORD_FIELDS`."""

	key: RewardKey
	state: str = PENDING
	reason: Reason | None = None
	programme: str | None = None
	customer: str | None = None
	channel: str | None = None
	invoice: str | None = None
	credit_notes: tuple[str, ...] = ()
	paid_on: date | None = None
	post_on: date | None = None
	earned: float = 0
	kept: float = 0
	debt_points: int = 0
	debt_amount: float = 0.0


# --------------------------------------------------------------------------------------------------
# outputs


@dataclass(frozen=True)
class Decision:
	"""The screening of one referral: ``outcome`` is accepted, refused or cancelled; ``reason`` names
	the rule (for a refusal, ``reason.code`` is the rule); ``overridden``: a manager's override let it
	through (it is also exempt from the caps)."""

	referral: str
	outcome: str
	reason: Reason
	programme: str | None = None
	overridden: bool = False

	@property
	def accepted(self) -> bool:
		return self.outcome == ACCEPTED


@dataclass(frozen=True)
class ExpectedReward:
	"""What one reward should be now. ``earned``: the full reward (points, or the coupon's value);
	``kept``: what the beneficiary keeps after returns, once Posted (0 in every other state).
	``points_target``: the net points the reward's Loyalty Point Entries should hold (``kept``, or the
	points already redeemed when more than that); ``coupon_target``: the value of the one unused coupon
	that should be active; ``debt_points`` and ``debt_amount`` (company currency): what was redeemed
	or used beyond what the reward keeps."""

	key: RewardKey
	referrer: str
	referee: str
	state: str
	reason: Reason
	programme: str | None = None
	customer: str | None = None
	channel: str | None = None
	invoice: str | None = None
	credit_notes: tuple[str, ...] = ()
	paid_on: date | None = None
	post_on: date | None = None
	earned: float = 0
	kept: float = 0
	points_target: int = 0
	coupon_target: float = 0.0
	debt_points: int = 0
	debt_amount: float = 0.0
	loyalty_program: str | None = None
	coupon_valid_days: int | None = None

	def record(self) -> dict[str, Any]:
		return {f: getattr(self, f) for f in RECORD_FIELDS}


@dataclass(frozen=True)
class StateChange:
	"""One line of a reward's log: from ``old`` (None for a new reward) to ``new``, and why."""

	old: str | None
	new: str
	reason: Reason


@dataclass(frozen=True)
class SaveReward:
	"""Insert (``new``) or update the reward row with ``fields`` (only the changed ones on an update);
	``log`` is the state-change line to append when the state or its reason changed."""

	kind: ClassVar[str] = "save_reward"
	key: RewardKey
	fields: Mapping[str, Any]
	new: bool = False
	log: StateChange | None = None


@dataclass(frozen=True)
class PostPoints:
	"""A positive Loyalty Point Entry of ``points`` for ``customer`` (tagged with the reward)."""

	kind: ClassVar[str] = "post_points"
	key: RewardKey
	customer: str | None
	points: int
	loyalty_program: str | None
	on: date
	reason: Reason


@dataclass(frozen=True)
class ReversePoints:
	"""A negative Loyalty Point Entry of ``points`` (given as a positive number) against the reward's
	entries; never more than the reward's points the customer has not redeemed."""

	kind: ClassVar[str] = "reverse_points"
	key: RewardKey
	customer: str | None
	points: int
	loyalty_program: str | None
	on: date
	reason: Reason


@dataclass(frozen=True)
class CreateCoupon:
	"""A Gift Card Coupon Code worth ``value`` for ``customer``, usable once, valid until
	``valid_upto`` (None: no end)."""

	kind: ClassVar[str] = "create_coupon"
	key: RewardKey
	customer: str | None
	value: float
	on: date
	valid_upto: date | None
	reason: Reason


@dataclass(frozen=True)
class DisableCoupon:
	"""Switch off an unused coupon of the reward (its value is taken back or replaced)."""

	kind: ClassVar[str] = "disable_coupon"
	key: RewardKey
	coupon: str
	on: date
	reason: Reason


Action = SaveReward | PostPoints | ReversePoints | CreateCoupon | DisableCoupon


@dataclass(frozen=True)
class Difference:
	"""One gap between a reward and ERPNext's facts: ``field`` is a stored field (see
	:data:`RECORD_FIELDS`; ``record`` when the row is missing), ``points`` (the net points of its
	Loyalty Point Entries) or ``coupon`` (the values of its active coupons). ``have``: what the row or
	the ledger holds; ``want``: what the invoices, payments and ledgers say it should be."""

	key: RewardKey
	field: str
	have: Any
	want: Any


@dataclass(frozen=True)
class Plan:
	decisions: tuple[Decision, ...]
	rewards: tuple[ExpectedReward, ...]
	actions: tuple[Action, ...]
	differences: tuple[Difference, ...]


# --------------------------------------------------------------------------------------------------
# programmes


_LABELS = {
	"name": "Programme Name",
	"company": "Company",
	"valid_from": "Valid From",
	"kind": "Reward Type",
	"value": "Reward Value",
	"conversion_factor": "Conversion Factor",
	"minimum_amount": "Minimum Paid Amount",
	"invoices": "Qualifying Invoices",
	"within_days": "Within Days",
	"review_days": "Review Period (Days)",
	"cap_per_month": "Cap per Month",
	"cap_lifetime": "Lifetime Cap",
	"clawback": "Claw-back",
	"coupon_valid_days": "Coupon Valid (Days)",
	"loyalty_program": "Loyalty Program",
}


def check_programme(p: Programme) -> list[Reason]:
	"""Every problem of one programme (empty: the engine can run it). For the form's validate."""
	out: list[Reason] = []

	def problem(code: str, key: str, **params: Any) -> None:
		out.append(_reason(code, field=key, label=_LABELS.get(key.split(".")[-1], key), **params))

	for key in ("name", "company"):
		if not getattr(p, key):
			problem("programme_needs", key)
	if not isinstance(p.valid_from, date):
		problem("programme_needs", "valid_from")
	elif p.valid_upto is not None and p.valid_upto < p.valid_from:
		out.append(
			_reason("programme_dates", field="valid_upto", valid_from=p.valid_from, valid_upto=p.valid_upto)
		)
	uses_points = False
	for side in ("referrer_reward", "referee_reward"):
		rule = getattr(p, side)
		if rule is None:
			if side == "referrer_reward":
				problem("programme_needs", f"{side}.kind")
			continue
		if rule.kind not in REWARD_KINDS:
			problem("programme_choice", f"{side}.kind", options=", ".join(REWARD_KINDS), value=rule.kind)
			continue
		uses_points |= rule.kind != COUPON
		if rule.kind == FIXED_POINTS and (not isinstance(rule.value, int) or isinstance(rule.value, bool)):
			if not (isinstance(rule.value, float) and rule.value.is_integer() and rule.value >= 1):
				problem("programme_whole", f"{side}.value", minimum=1, value=rule.value)
				continue
		if not _number_at_least(rule.value, 0) or rule.value <= 0:
			problem("programme_positive", f"{side}.value", value=rule.value)
		elif rule.kind == PERCENT_AS_POINTS and rule.value > 100:
			problem("programme_percent", f"{side}.value", value=rule.value)
	if uses_points and not p.loyalty_program:
		problem("programme_needs", "loyalty_program")
	if not _number_at_least(p.conversion_factor, 0) or p.conversion_factor <= 0:
		problem("programme_positive", "conversion_factor", value=p.conversion_factor)
	if not _number_at_least(p.minimum_amount, 0):
		problem("programme_number", "minimum_amount", minimum=0, value=p.minimum_amount)
	for key, minimum, optional in (
		("invoices", 1, False),
		("within_days", 1, True),
		("review_days", 0, False),
		("cap_per_month", 1, True),
		("cap_lifetime", 1, True),
		("coupon_valid_days", 1, True),
	):
		value = getattr(p, key)
		if value is None and optional:
			continue
		if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
			problem("programme_whole", key, minimum=minimum, value=value)
	if p.clawback not in (PROPORTIONAL, FULL):
		problem("programme_choice", "clawback", options=f"{PROPORTIONAL}, {FULL}", value=p.clawback)
	return out


def _number_at_least(value: Any, minimum: float) -> bool:
	return (
		isinstance(value, int | float) and not isinstance(value, bool) and value == value and value >= minimum
	)


def check_programmes(programmes: Iterable[Programme]) -> list[Reason]:
	"""Problems of each programme, then every two programmes of one company that overlap in time."""
	progs = list(programmes)
	out = [r for p in progs for r in check_programme(p)]
	by_company: dict[str, list[Programme]] = defaultdict(list)
	for p in progs:
		if isinstance(p.valid_from, date):
			by_company[p.company].append(p)
	for company, ps in sorted(by_company.items()):
		ps.sort(key=lambda p: (p.valid_from, p.name))
		for i, a in enumerate(ps):
			for b in ps[i + 1 :]:
				if a.valid_upto is None or b.valid_from <= a.valid_upto:
					out.append(
						_reason(
							"programme_overlap",
							field="valid_from",
							first=a.name,
							second=b.name,
							company=company,
							date=b.valid_from,
						)
					)
	return out


def programme_for(programmes: Iterable[Programme], company: str, day: date) -> Programme | None:
	"""The programme of ``company`` running on ``day`` (the latest started, should two overlap)."""
	running = [p for p in programmes if p.company == company and p.runs_on(day)]
	return max(running, key=lambda p: (p.valid_from, p.name)) if running else None


# --------------------------------------------------------------------------------------------------
# identities


_EMAIL_CONFIG = DedupeConfig(strip_plus_tags=True, ignore_mailboxes=())
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise_email(value: Any) -> str | None:
	"""Lower case, trimmed, without +tags, Gmail without dots (``A.B+x@gmail.com`` is ``ab@gmail.com``)."""
	return _dedupe_email(value, _EMAIL_CONFIG)


def normalise_phone(value: Any, region: str | None = None) -> str | None:
	"""The E.164 digits of a valid number parsed in ``region`` (ISO alpha-2), else its digits when
	there are at least seven; None when neither."""
	if value is None:
		return None
	raw = str(value).strip()
	if not raw:
		return None
	region = (region or "").upper() or None
	if region not in phonenumbers.SUPPORTED_REGIONS:
		region = None
	try:
		number = phonenumbers.parse(raw, region)
		if phonenumbers.is_valid_number(number):
			return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")
	except phonenumbers.NumberParseException:
		pass
	digits = re.sub(r"\D", "", raw)
	return digits if len(digits) >= 7 else None


def normalise_tax_id(value: Any) -> str | None:
	"""Letters and digits only, upper case (``de 123-456 789`` is ``DE123456789``); None if shorter than 4."""
	if not isinstance(value, str):
		return None
	v = _NOT_WORD.sub("", unicodedata.normalize("NFKC", value)).upper()
	return v if len(v) >= 4 else None


def normalise_address(value: Any) -> str | None:
	"""Case, punctuation and spacing removed (``12, Main St.`` is ``12 main st``); None if under 6 characters."""
	if not isinstance(value, str):
		return None
	v = " ".join(_NOT_WORD.sub(" ", unicodedata.normalize("NFKC", value).casefold()).split())
	return v if len(v) >= 6 else None


def identity_keys(identity: Identity) -> dict[str, set[str]]:
	"""The normalised values of an identity the fraud rules compare, by kind."""
	keys = {
		"profile": {identity.profile} if identity.profile else set(),
		"customer": {identity.customer} if identity.customer else set(),
		"email": {e for e in (normalise_email(v) for v in identity.emails) if e},
		"phone": {p for p in (normalise_phone(v, identity.region) for v in identity.phones) if p},
		"tax_id": {t for t in (normalise_tax_id(v) for v in identity.tax_ids) if t},
		"address": {a for a in (normalise_address(v) for v in identity.addresses) if a},
	}
	return keys


SELF_REFERRAL_KEYS = ("profile", "customer", "email", "phone", "tax_id", "address")
"""What makes a referrer and a referee one person (first match is the reason)."""

SAME_REFEREE_KEYS = ("profile", "customer", "email", "phone", "tax_id")
"""What makes two referees one person (a shared address is not enough: families refer each other)."""


# --------------------------------------------------------------------------------------------------
# screening referrals


def screen_referrals(
	referrals: Iterable[Referral], programmes: Programme | Iterable[Programme]
) -> list[Decision]:
	"""Accept or refuse every referral, in the order given.

	Pass every referral (old and new): the rules look at the others. Rules, in order: the company
	runs a programme on the referral's date; not a self-referral (same profile, Customer, e-mail,
	phone, tax id or address); the referee was not a customer before the referral; the referee's
	customer group and territory are eligible; not circular (the referee referred the referrer before,
	directly or through others); the referee was not referred already (one referee counts once, the
	first valid referral wins: later ones are refused, naming the winner). A manager's override
	bypasses every rule but the programme and the one-referee rule, and an overridden referral is
	screened first, so it wins its referee. Cancelled referrals take part in nothing.
	"""
	progs = _programmes(programmes)
	items = list(referrals)
	decisions: dict[str, Decision] = {}
	order = sorted(
		(r for r in items if not r.cancelled), key=lambda r: (r.override is None, r.created_on, r.name)
	)
	parent: dict[str, str] = {}  # accepted referee profile -> its referrer profile
	claimed: dict[tuple[str, str], str] = {}  # (kind, value) of an accepted referee -> referral name
	keys_cache: dict[Identity, dict[str, set[str]]] = {}

	def keys(identity: Identity) -> dict[str, set[str]]:
		if identity not in keys_cache:
			keys_cache[identity] = identity_keys(identity)
		return keys_cache[identity]

	for r in order:
		programme = programme_for(progs, r.company, r.created_on)
		if programme is None:
			decisions[r.name] = Decision(
				r.name, REFUSED_OUTCOME, _reason("no_programme", company=r.company, date=r.created_on)
			)
			continue
		refusal = _rule_refusal(r, programme, keys(r.referrer), keys(r.referee), parent)
		if refusal is not None and r.override is None:
			decisions[r.name] = Decision(r.name, REFUSED_OUTCOME, refusal, programme.name)
			continue
		referee_keys = keys(r.referee)
		winner = next(
			(
				claimed[(k, v)]
				for k in SAME_REFEREE_KEYS
				for v in sorted(referee_keys[k])
				if (k, v) in claimed
			),
			None,
		)
		if winner is not None:
			decisions[r.name] = Decision(
				r.name, REFUSED_OUTCOME, _reason("duplicate_referee", winner=winner), programme.name
			)
			continue
		if r.override is not None:
			reason = _reason("override", note=r.override, rule=refusal.code if refusal else "")
		else:
			reason = _reason("accepted")
		decisions[r.name] = Decision(
			r.name, ACCEPTED, reason, programme.name, overridden=r.override is not None
		)
		parent.setdefault(r.referee.profile, r.referrer.profile)
		for k in SAME_REFEREE_KEYS:
			for v in referee_keys[k]:
				claimed.setdefault((k, v), r.name)
	out = []
	for r in items:
		if r.cancelled:
			programme = programme_for(progs, r.company, r.created_on)
			out.append(
				Decision(
					r.name, CANCELLED_OUTCOME, _reason("referral_cancelled"), programme and programme.name
				)
			)
		else:
			out.append(decisions[r.name])
	return out


def _rule_refusal(
	r: Referral,
	programme: Programme,
	referrer_keys: dict[str, set[str]],
	referee_keys: dict[str, set[str]],
	parent: Mapping[str, str],
) -> Reason | None:
	"""The first fraud or eligibility rule ``r`` breaks (None: none)."""
	for k in SELF_REFERRAL_KEYS:
		if referrer_keys[k] & referee_keys[k]:
			return _reason("self_referral", via=k)
	since = r.referee.customer_since
	if since is not None and since < r.created_on:
		return _reason("already_customer", since=since, referred_on=r.created_on)
	group, territory = r.referee.customer_group, r.referee.territory
	if programme.customer_groups and group is not None and group not in programme.customer_groups:
		return _reason("customer_group", customer_group=group)
	if programme.territories and territory is not None and territory not in programme.territories:
		return _reason("territory", territory=territory)
	seen = set()
	node = r.referrer.profile
	while node in parent and node not in seen:
		seen.add(node)
		node = parent[node]
		if node == r.referee.profile:
			return _reason("circular", referee=r.referee.profile, referrer=r.referrer.profile)
	return None


def _programmes(programmes: Programme | Iterable[Programme]) -> list[Programme]:
	return [programmes] if isinstance(programmes, Programme) else list(programmes)


# --------------------------------------------------------------------------------------------------
# invoices


@dataclass(eq=False)
class _Chain:
	"""An invoice and its amendments, with the credit notes against any of them."""

	root: Invoice
	current: Invoice  # the submitted version, else the last cancelled one
	returns: list[Invoice]

	@property
	def submitted(self) -> bool:
		return self.current.docstatus == 1

	@property
	def gross(self) -> Fraction:
		return _exact(self.current.base_grand_total)

	@property
	def returned(self) -> Fraction:
		return sum((-_exact(r.base_grand_total) for r in self.returns), Fraction(0))

	@property
	def net(self) -> Fraction:
		return self.gross - self.returned

	@property
	def paid_on(self) -> date:
		return self.current.paid_on or self.current.posting_date

	@property
	def credit_notes(self) -> tuple[str, ...]:
		return tuple(sorted(r.name for r in self.returns))

	@property
	def order(self) -> tuple:
		return (self.paid_on, self.root.posting_date, self.root.name)


def _exact(x: float) -> Fraction:
	return Fraction(str(round(float(x or 0), 6)))


def _money(x: Fraction | float) -> float:
	"""Rounded half up to cents."""
	exact = x if isinstance(x, Fraction) else _exact(x)
	return _half_up(exact * 100) / 100


class _Invoices:
	"""The invoices as chains: by customer, and by the name of any of their versions."""

	def __init__(self, invoices: Iterable[Invoice]):
		rows = list(invoices)
		docs = [i for i in rows if not i.is_return and i.docstatus in (1, 2)]
		by_name = {i.name: i for i in docs}
		children: dict[str, list[Invoice]] = defaultdict(list)
		for i in docs:
			if i.amended_from in by_name:
				children[i.amended_from].append(i)
		self.by_version: dict[str, _Chain] = {}
		self.by_customer: dict[str, list[_Chain]] = defaultdict(list)
		for i in sorted(docs, key=lambda i: i.name):
			if i.amended_from in by_name:
				continue
			versions, frontier = [i], [i]
			while frontier:
				later = sorted(children.get(frontier.pop().name, []), key=lambda d: d.name)
				versions.extend(later)
				frontier.extend(later)
			submitted = [v for v in versions if v.docstatus == 1]
			chain = _Chain(i, submitted[-1] if submitted else versions[-1], [])
			for v in versions:
				self.by_version[v.name] = chain
			self.by_customer[chain.current.customer].append(chain)
		for r in rows:
			if r.is_return and r.docstatus == 1 and r.return_against in self.by_version:
				self.by_version[r.return_against].returns.append(r)

	def chain_of(self, stored: StoredReward | None) -> _Chain | None:
		"""The chain of the invoice a stored reward names (amendments are followed)."""
		return self.by_version.get(stored.invoice) if stored is not None and stored.invoice else None


def _chain_refusal(c: _Chain, p: Programme) -> Reason | None:
	"""Why chain ``c`` does not qualify under ``p`` (None: it qualifies)."""
	inv = c.current
	if not c.submitted:
		return _reason("invoice_cancelled", invoice=inv.name)
	if not inv.paid:
		return _reason("awaiting_payment", invoice=inv.name, outstanding=round(inv.outstanding, 2))
	minimum = _exact(p.minimum_amount)
	if c.returns and (p.clawback == FULL or c.net < minimum or c.net <= 0):
		return _reason(
			"returned",
			invoice=inv.name,
			credit_notes=c.credit_notes,
			amount=_money(c.net),
			gross=_money(c.gross),
		)
	if c.net < minimum or c.net <= 0:
		return _reason("below_minimum", invoice=inv.name, amount=_money(c.net), minimum=p.minimum_amount)
	return None


# --------------------------------------------------------------------------------------------------
# expected rewards


def earned_value(rule: RewardRule, gross: float, conversion_factor: float = 1.0) -> float:
	"""The full reward of an invoice of ``gross`` (company currency): whole points, or a coupon value."""
	if rule.kind == FIXED_POINTS:
		return int(rule.value)
	if rule.kind == AMOUNT_AS_POINTS:
		return int(_exact(rule.value) / _exact(conversion_factor))
	if rule.kind == PERCENT_AS_POINTS:
		return int(_exact(gross) * _exact(rule.value) / 100 / _exact(conversion_factor))
	return _money(_exact(rule.value))


def kept_value(rule: RewardRule, earned: float, net: float, gross: float) -> float:
	"""What is kept of ``earned`` when only ``net`` of ``gross`` stays sold: in proportion, rounded
	half up (whole points; cents for a coupon). A full return keeps nothing, no return keeps all."""
	g = _exact(gross)
	if g <= 0:
		return 0 if rule.kind != COUPON else 0.0
	share = min(max(_exact(net) / g, Fraction(0)), Fraction(1))
	if rule.kind == COUPON:
		cents = _exact(earned) * 100 * share
		return float(_half_up(cents)) / 100
	return _half_up(Fraction(int(earned)) * share)


def _half_up(x: Fraction) -> int:
	return math.floor(x + Fraction(1, 2))


@dataclass
class _Slot:
	referral: Referral
	decision: Decision
	programme: Programme
	key: RewardKey
	chain: _Chain | None = None
	refusal: Reason | None = None  # a cap


def expected_rewards(
	referrals: Iterable[Referral],
	invoices: Iterable[Invoice],
	programmes: Programme | Iterable[Programme],
	now: date,
	*,
	ledgers: Mapping[RewardKey, Ledger] | None = None,
	stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None = None,
	decisions: Iterable[Decision] | None = None,
) -> list[ExpectedReward]:
	"""Every reward as ERPNext's facts say it should be on ``now``, ordered by key.

	Rewards: for each referral, the referrer's slot 1 and the referee's welcome reward (when the
	programme has one), a further referrer slot per further qualifying invoice (up to the programme's
	N), and every reward already ``stored`` (so one that stopped qualifying is reversed or cancelled).

	A referee's invoice chain (an invoice and its amendments) qualifies when its current version is
	submitted, was posted between the referral and the end of the window, is fully paid, and keeps at
	least the minimum amount after its returns (in ``full`` claw-back, no return at all). Qualifying
	chains fill the slots in the order they were paid. A filled slot is Qualified until the review
	period after payment ends, then Posted; the caps refuse the referrer's rewards beyond them (by the
	month of payment). An empty slot is Pending, Cancelled once nothing can fill it, or Reversed when
	the ledgers hold something for it; a refused referral's rewards are Refused.
	"""
	progs = {p.name: p for p in _programmes(programmes)}
	problems = check_programmes(progs.values())
	if problems:
		raise ProgrammeError(problems)
	ledgers = ledgers or {}
	stored_map = _stored_map(stored)
	items = list(referrals)
	decided = {
		d.referral: d
		for d in (decisions if decisions is not None else screen_referrals(items, list(progs.values())))
	}
	inv = _Invoices(invoices)

	slots: list[_Slot] = []
	for r in items:
		d = decided[r.name]
		p = progs.get(d.programme) if d.programme else None
		if p is None:
			p = _fallback_programme(r)
		wanted = {RewardKey(r.name, REFERRER, 1)}
		if p.referee_reward is not None:
			wanted.add(RewardKey(r.name, REFEREE, 1))
		qualifying: list[_Chain] = []
		if d.accepted:
			qualifying = [c for c in _candidates(r, p, inv) if _chain_refusal(c, p) is None]
			qualifying.sort(key=lambda c: c.order)
			qualifying = qualifying[: p.invoices]
			wanted.update(RewardKey(r.name, REFERRER, k) for k in range(1, len(qualifying) + 1))
		wanted.update(k for k in stored_map if k.referral == r.name)
		for key in sorted(wanted):
			slot = _Slot(r, d, p, key)
			if d.accepted and key.slot <= len(qualifying) and (key.beneficiary == REFERRER or key.slot == 1):
				slot.chain = qualifying[key.slot - 1]
			slots.append(slot)
	_apply_caps(slots)
	return [_expected(s, inv, ledgers.get(s.key, EMPTY_LEDGER), stored_map.get(s.key), now) for s in slots]


def _stored_map(stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None) -> dict:
	if stored is None:
		return {}
	if isinstance(stored, Mapping):
		return dict(stored)
	return {s.key: s for s in stored}


def _fallback_programme(r: Referral) -> Programme:
	"""A programme-less referral (refused for that) still gets rows; a rule-less stand-in gives them."""
	return Programme(name="", company=r.company, valid_from=r.created_on, referrer_reward=None)


def _candidates(r: Referral, p: Programme, inv: _Invoices) -> list[_Chain]:
	"""The referee's invoice chains of the programme's company posted in the referral's window."""
	if not r.referee.customer:
		return []
	end = r.created_on + timedelta(days=p.within_days) if p.within_days else None
	out = []
	for c in inv.by_customer.get(r.referee.customer, []):
		if c.root.company not in (None, p.company):
			continue
		posted = c.root.posting_date
		if posted < r.created_on or (end is not None and posted > end):
			continue
		out.append(c)
	out.sort(key=lambda c: (c.root.posting_date, c.root.name))
	return out


def _apply_caps(slots: list[_Slot]) -> None:
	"""Refuse the referrer's filled slots beyond the programme's caps, in the order they were paid;
	overridden referrals are never refused but still count."""
	groups: dict[tuple[str, str], list[_Slot]] = defaultdict(list)
	for s in slots:
		if s.key.beneficiary == REFERRER and s.chain is not None:
			groups[(s.referral.referrer.profile, s.programme.name)].append(s)
	for group in groups.values():
		p = group[0].programme
		if not (p.cap_per_month or p.cap_lifetime):
			continue
		group.sort(key=lambda s: (s.chain.paid_on, s.referral.created_on, s.referral.name, s.key.slot))
		lifetime = 0
		months: dict[str, int] = defaultdict(int)
		for s in group:
			month = s.chain.paid_on.strftime("%Y-%m")
			if not s.decision.overridden:
				if p.cap_lifetime and lifetime >= p.cap_lifetime:
					s.refusal = _reason("cap_lifetime", cap=p.cap_lifetime)
					continue
				if p.cap_per_month and months[month] >= p.cap_per_month:
					s.refusal = _reason("cap_month", cap=p.cap_per_month, month=month)
					continue
			lifetime += 1
			months[month] += 1


def _expected(
	s: _Slot, inv: _Invoices, ledger: Ledger, stored: StoredReward | None, now: date
) -> ExpectedReward:
	r, p, key = s.referral, s.programme, s.key
	beneficiary = r.referrer if key.beneficiary == REFERRER else r.referee
	rule = p.rule(key.beneficiary)
	base = {
		"key": key,
		"referrer": r.referrer.profile,
		"referee": r.referee.profile,
		"programme": p.name or None,
		"customer": beneficiary.customer,
		"channel": rule.channel if rule else None,
		"loyalty_program": p.loyalty_program,
		"coupon_valid_days": p.coupon_valid_days,
	}
	kept = 0
	earned: float = 0
	c = s.chain
	if s.decision.outcome == REFUSED_OUTCOME:
		state, reason = REFUSED, s.decision.reason
		facts = _chain_facts(inv.chain_of(stored), p)
	elif s.decision.outcome == CANCELLED_OUTCOME:
		state, reason = CANCELLED, s.decision.reason
		facts = _chain_facts(inv.chain_of(stored), p)
	elif rule is None:
		state, reason = CANCELLED, _reason("no_reward_rule", beneficiary=key.beneficiary.lower())
		facts = _chain_facts(inv.chain_of(stored), p)
	elif c is None:
		state, reason, facts = _empty_slot(s, inv, stored, now)
	elif s.refusal is not None:
		state, reason = REFUSED, s.refusal
		facts = _chain_facts(c, p)
	else:
		facts = _chain_facts(c, p)
		earned = earned_value(rule, float(c.gross), p.conversion_factor)
		share = kept_value(rule, earned, float(c.net), float(c.gross))
		post_on = c.paid_on + timedelta(days=p.review_days)
		name = c.current.name
		if not earned or not share:
			state, reason = CANCELLED, _reason("nothing_to_reward", invoice=name, amount=_money(c.net))
		elif not beneficiary.customer:
			state = QUALIFIED
			reason = _reason("awaiting_customer", invoice=name, beneficiary=key.beneficiary.lower())
		elif now < post_on:
			state, reason = (
				QUALIFIED,
				_reason("awaiting_review", invoice=name, paid_on=c.paid_on, post_on=post_on),
			)
		else:
			state, kept = POSTED, share
			if c.returns:
				reason = _reason(
					"reduced", invoice=name, credit_notes=c.credit_notes, kept=share, earned=earned
				)
			else:
				reason = _reason("posted", invoice=name, paid_on=c.paid_on, post_on=post_on)
	if state in (PENDING, CANCELLED) and ledger.delivered:
		state = REVERSED
	points_kept = int(kept) if rule and rule.channel == LOYALTY_POINTS else 0
	coupon_kept = _exact(kept) if rule and rule.channel == COUPON_CODE else Fraction(0)
	used = sum((_exact(cp.value) for cp in ledger.coupons if cp.used), Fraction(0))
	lapsed = sum((_exact(cp.value) for cp in ledger.coupons if cp.expired and not cp.used), Fraction(0))
	debt_points = max(0, ledger.points_redeemed - points_kept)
	debt_coupon = max(Fraction(0), used - coupon_kept)
	return ExpectedReward(
		**base,
		state=state,
		reason=reason,
		earned=earned,
		kept=kept,
		points_target=max(points_kept, ledger.points_redeemed),
		coupon_target=_money(max(Fraction(0), coupon_kept - used - lapsed)),
		debt_points=debt_points,
		debt_amount=_money(debt_coupon + debt_points * _exact(p.conversion_factor)),
		**facts,
	)


def _chain_facts(c: _Chain | None, p: Programme) -> dict[str, Any]:
	if c is None:
		return {"invoice": None, "credit_notes": (), "paid_on": None, "post_on": None}
	paid = c.submitted and c.current.paid
	return {
		"invoice": c.current.name,
		"credit_notes": c.credit_notes,
		"paid_on": c.paid_on if paid else None,
		"post_on": c.paid_on + timedelta(days=p.review_days) if paid else None,
	}


def _empty_slot(
	s: _Slot, inv: _Invoices, stored: StoredReward | None, now: date
) -> tuple[str, Reason, dict[str, Any]]:
	"""State, reason and invoice facts of a slot that no qualifying invoice fills: Pending while an
	invoice may still fill it, else Cancelled. The reason is about the invoice the reward named, while
	that invoice still does not qualify (returned, cancelled, unpaid...), else about the referee's
	first unpaid invoice, else the wait for one."""
	r, p = s.referral, s.programme
	candidates = _candidates(r, p, inv)
	unpaid = [c for c in candidates if c.submitted and not c.current.paid]
	mine = inv.chain_of(stored)
	why = _chain_refusal(mine, p) if mine is not None and mine in candidates else None
	named = why is not None
	if not named:  # nothing named yet, or the named invoice now fills another slot
		refused = [c for c in candidates if _chain_refusal(c, p) is not None]
		mine = unpaid[0] if unpaid else (refused[0] if refused else None)
		why = _chain_refusal(mine, p) if mine is not None else _reason("awaiting_invoice")
	window_open = p.within_days is None or now <= r.created_on + timedelta(days=p.within_days)
	in_range = s.key.slot <= (p.invoices if s.key.beneficiary == REFERRER else 1)
	if in_range and (window_open or unpaid):
		return PENDING, why, _chain_facts(mine, p)
	if in_range and not named:
		why, mine = _reason("window_closed", days=p.within_days), None
	return CANCELLED, why, _chain_facts(mine, p)


# --------------------------------------------------------------------------------------------------
# differences and actions


def _compare(
	e: ExpectedReward, stored: StoredReward | None, ledger: Ledger, now: date
) -> tuple[list[Difference], list[Action]]:
	diffs: list[Difference] = []
	actions: list[Action] = []
	key = e.key
	want = e.record()
	if stored is None:
		diffs.append(Difference(key, "record", None, want))
		changed = dict(want)
	else:
		changed = {}
		for f in RECORD_FIELDS:
			have = getattr(stored, f)
			if not _same(have, want[f]):
				diffs.append(Difference(key, f, have, want[f]))
				changed[f] = want[f]
	# Loyalty Points: the reward's entries hold the kept points, or what was redeemed if more
	held = ledger.points_held
	if held != e.points_target:
		diffs.append(Difference(key, "points", held, e.points_target))
		delta = e.points_target - held
		kind = PostPoints if delta > 0 else ReversePoints
		actions.append(kind(key, e.customer, abs(delta), e.loyalty_program, now, e.reason))
	# coupons: exactly one active coupon worth what is left to give, or none
	active = sorted((c for c in ledger.coupons if c.active), key=lambda c: c.name)
	want_coupons = (e.coupon_target,) if e.coupon_target > PAID_TOLERANCE else ()
	have_coupons = tuple(round(c.value, 2) for c in active)
	if not (
		len(have_coupons) == len(want_coupons)
		and all(_same(a, b) for a, b in zip(have_coupons, want_coupons, strict=True))
	):
		diffs.append(Difference(key, "coupon", have_coupons, want_coupons))
		actions.extend(DisableCoupon(key, c.name, now, e.reason) for c in active)
		if want_coupons:
			valid_upto = now + timedelta(days=e.coupon_valid_days) if e.coupon_valid_days else None
			actions.append(CreateCoupon(key, e.customer, e.coupon_target, now, valid_upto, e.reason))
	if changed:
		log = None
		if stored is None or stored.state != e.state or _code(stored.reason) != e.reason.code:
			log = StateChange(stored.state if stored else None, e.state, e.reason)
		actions.insert(0, SaveReward(key, changed, new=stored is None, log=log))
	return diffs, actions


def _code(reason: Reason | None) -> str | None:
	return reason.code if reason else None


def _same(a: Any, b: Any) -> bool:
	if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
		return abs(float(a) - float(b)) <= PAID_TOLERANCE
	if isinstance(a, list):
		a = tuple(a)
	if isinstance(b, list):
		b = tuple(b)
	return a == b


def _compare_all(
	expected: Iterable[ExpectedReward],
	stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None,
	ledgers: Mapping[RewardKey, Ledger] | None,
	now: date,
) -> tuple[list[Difference], list[Action]]:
	stored_map = _stored_map(stored)
	ledgers = ledgers or {}
	diffs: list[Difference] = []
	actions: list[Action] = []
	for e in expected:
		d, a = _compare(e, stored_map.get(e.key), ledgers.get(e.key, EMPTY_LEDGER), now)
		diffs.extend(d)
		actions.extend(a)
	return diffs, actions


def diff(
	expected: Iterable[ExpectedReward],
	stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None,
	ledgers: Mapping[RewardKey, Ledger] | None,
	now: date,
) -> list[Action]:
	"""The actions that make the stored rows and ERPNext's ledgers what ``expected`` says, reward by
	reward: the row first (with its log line when the state or its reason changed), then the ledger
	postings. Nothing for a reward that already matches, so applying the actions and planning again
	gives none. ``now`` dates the postings."""
	return _compare_all(expected, stored, ledgers, now)[1]


def reconcile(
	expected: Iterable[ExpectedReward],
	stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None,
	ledgers: Mapping[RewardKey, Ledger] | None,
) -> list[Difference]:
	"""Every difference between the rewards (rows and ledgers) and what ERPNext's facts say, reward by
	reward; empty exactly when :func:`diff` has nothing to do."""
	return _compare_all(expected, stored, ledgers, date.min)[0]


def plan(
	programmes: Programme | Iterable[Programme],
	referrals: Iterable[Referral],
	invoices: Iterable[Invoice],
	now: date,
	*,
	ledgers: Mapping[RewardKey, Ledger] | None = None,
	stored: Mapping[RewardKey, StoredReward] | Iterable[StoredReward] | None = None,
) -> Plan:
	"""Everything in one call: screen the referrals, compute the expected rewards on ``now``, and list
	the actions that make the rows and ledgers match them (and the same gaps as differences).

	Pass every referral of the company (or of the site), the referees' Sales Invoices and credit
	notes (submitted and cancelled), what ERPNext's ledgers hold per reward, and the stored rows."""
	progs = _programmes(programmes)
	items = list(referrals)
	stored_map = _stored_map(stored)
	decisions = screen_referrals(items, progs)
	rewards = expected_rewards(
		items, invoices, progs, now, ledgers=ledgers, stored=stored_map, decisions=decisions
	)
	diffs, actions = _compare_all(rewards, stored_map, ledgers, now)
	return Plan(tuple(decisions), tuple(rewards), tuple(actions), tuple(diffs))

"""What the demo will create, decided up front from one seed (pure Python: no frappe).

:func:`build_plan` asks :func:`crm_fishpond.engine.synth.generate_pond` for a pond (people with names,
companies, e-mails, phones, BANT answers; BG/NBD purchases with credit notes; interactions and
behaviour events) and turns it into :class:`Person` plans that the site side only has to replay:

* each buying company (or private buyer) becomes one **account**: one Customer, whose first contact
  is the earliest buyer; colleagues who bought too add their purchases to the account and stay Leads
  (another contact at a customer, as in a real CRM). ``customers`` accounts are kept, and about 0.8
  prospects per account who never bought;
* each purchase becomes a **Sales Invoice** of one to three catalogue lines at list price (sometimes
  discounted); about 40% come from a **Sales Order** placed days before, and a recent purchase may
  still be an open order;
* each synthetic credit note becomes a full or partial **return** of the latest earlier invoice;
* invoices are **paid** (most), **partly paid** or **unpaid**, more often unpaid when recent;
* a few accounts in the countries of ``foreign_currency`` are billed in that currency.

The same arguments always give the same plan, so a resumed run creates exactly what the first would
have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from crm_fishpond.engine.synth import generate_pond

PROSPECTS_PER_CUSTOMER = 0.8
PURCHASES_PER_CUSTOMER_YEAR = 1.1  # ~3 invoices per account over two years (heavy-tailed)
VIA_ORDER_SHARE = 0.4
OPEN_ORDER_DAYS = 21  # a purchase this recent may still be an open Sales Order
OPEN_ORDER_SHARE = 0.5
FOREIGN_SHARE = 0.06  # at most this share of accounts is billed in the foreign currency
WARM_DAYS = 45  # activity this recent makes a prospect warm (reps claim the warmest)

PAID, PART, UNPAID = "paid", "part", "unpaid"


@dataclass(frozen=True)
class CatalogueItem:
	code: str
	name: str
	group: str  # "Products" or "Services" (the site's own group of that name, or a leaf)
	price: float  # list price in USD; the site scales it to the company currency


CATALOGUE = (
	CatalogueItem("FPDEMO-PUMP-S", "Circulation Pump S", "Products", 240.0),
	CatalogueItem("FPDEMO-PUMP-L", "Circulation Pump L", "Products", 690.0),
	CatalogueItem("FPDEMO-FILTER", "Filter Cartridge, Pack of 6", "Products", 85.0),
	CatalogueItem("FPDEMO-SENSOR", "Water Quality Sensor", "Products", 320.0),
	CatalogueItem("FPDEMO-CONTROLLER", "Smart Pond Controller", "Products", 540.0),
	CatalogueItem("FPDEMO-VALVE", "Valve Kit", "Products", 45.0),
	CatalogueItem("FPDEMO-AERATOR", "Aerator 200", "Products", 410.0),
	CatalogueItem("FPDEMO-INSTALL", "Installation Day", "Services", 650.0),
	CatalogueItem("FPDEMO-SUPPORT", "Support Plan, 12 Months", "Services", 1200.0),
	CatalogueItem("FPDEMO-TRAINING", "Operator Training", "Services", 450.0),
	CatalogueItem("FPDEMO-MAINTENANCE", "Maintenance Visit", "Services", 180.0),
)

# the countries whose accounts may be billed in a currency (synth country codes)
CURRENCY_COUNTRIES = {
	"EUR": ("DE", "FR", "NL"),
	"GBP": ("GB",),
	"USD": ("US",),
	"INR": ("IN",),
	"CNY": ("CN",),
	"JPY": ("JP",),
	"AUD": ("AU",),
	"SGD": ("SG",),
	"BRL": ("BR",),
	"AED": ("AE",),
}

# synth industries -> ERPNext's default Industry Types (None: none fits)
INDUSTRY_TYPES = {
	"Manufacturing": "Manufacturing",
	"Retail": "Retail & Wholesale",
	"Wholesale": "Retail & Wholesale",
	"Healthcare": "Health Care",
	"Education": "Education",
	"Construction": "Real Estate",
	"Logistics": "Transportation",
	"Software": "Software",
	"Financial Services": "Financial Services",
	"Hospitality": "Entertainment & Leisure",
	"Agriculture": "Agriculture",
	"Energy": "Energy",
}

JOB_TITLES = {
	"Decision Maker": ("Managing Director", "Head of Operations", "Owner", "Chief Operating Officer"),
	"Influencer": ("Operations Manager", "Procurement Lead", "Facility Manager", "Project Manager"),
	"User": ("Technician", "Facility Engineer", "Maintenance Lead", "Site Supervisor"),
}

INTERACTION_SUBJECTS = {
	"email": ("Quote follow-up", "Product information", "Order confirmation", "Renewal reminder"),
	"call": ("Discovery call", "Follow-up call", "Support call", "Pricing questions"),
	"meeting": ("Product demo", "Quarterly review", "Site planning meeting"),
	"visit": ("Site visit", "Installation check"),
	"chat": ("Website chat", "Chat about delivery"),
	"note": ("Account note", "Call notes"),
}


@dataclass(frozen=True)
class Line:
	item: int  # index into CATALOGUE
	qty: int
	price: float  # list price in USD (the site scales it)
	discount: float  # fraction off the list price


@dataclass
class Invoice:
	date: date
	lines: tuple[Line, ...]
	order_date: date | None = None  # placed as a Sales Order first
	payment: str = UNPAID  # PAID, PART or UNPAID
	pay_date: date | None = None
	pay_share: float = 1.0  # of the outstanding amount, for PART
	return_date: date | None = None
	return_qty: tuple[int, ...] | None = None  # units returned per line (None: no return)

	@property
	def amount(self) -> float:
		return sum(line.qty * line.price * (1 - line.discount) for line in self.lines)


@dataclass
class Order:
	date: date
	lines: tuple[Line, ...]


@dataclass
class Person:
	key: int  # position in the plan: the resume cursor counts these
	first_name: str
	last_name: str
	company_name: str | None
	email: str | None
	mobile_no: str | None
	country: str  # ISO code
	territory: str
	source: str
	industry: str | None  # synth industry (see INDUSTRY_TYPES)
	employees: int | None
	job_title: str | None
	budget: str | None  # the profile's BANT answers, in the form's words
	authority: str | None
	need: str | None
	timeline: str | None
	created: datetime
	customer_name: str | None = None  # set for the account's first contact
	customer_group: str | None = None  # "Commercial", "Individual", "Government", "Non Profit"
	foreign: bool = False  # billed in the foreign currency
	account: int | None = None  # key of the account's first contact, for a colleague at a customer
	invoices: list[Invoice] = field(default_factory=list)
	open_orders: list[Order] = field(default_factory=list)
	interactions: list[tuple[datetime, str, str | None, str]] = field(default_factory=list)
	events: list[tuple[datetime, str]] = field(default_factory=list)
	feedback: list[tuple[datetime, str, int, str | None]] = field(
		default_factory=list
	)  # when, type, score, comment
	warmth: int = 0  # interactions and events in the last WARM_DAYS days

	@property
	def full_name(self) -> str:
		return f"{self.first_name} {self.last_name}".strip()

	@property
	def is_customer(self) -> bool:
		return self.customer_name is not None


@dataclass
class Plan:
	people: list[Person]
	as_of: date
	start: date  # the earliest date anything happens

	@property
	def customers(self) -> list[Person]:
		return [p for p in self.people if p.is_customer]

	def counts(self) -> dict[str, int]:
		invoices = [i for p in self.people for i in p.invoices]
		return {
			"people": len(self.people),
			"customers": len(self.customers),
			"invoices": len(invoices),
			"orders": sum(1 for i in invoices if i.order_date) + sum(len(p.open_orders) for p in self.people),
			"open_orders": sum(len(p.open_orders) for p in self.people),
			"returns": sum(1 for i in invoices if i.return_qty),
			"paid": sum(1 for i in invoices if i.payment == PAID),
			"part_paid": sum(1 for i in invoices if i.payment == PART),
			"unpaid": sum(1 for i in invoices if i.payment == UNPAID),
			"foreign_customers": sum(1 for p in self.people if p.foreign),
			"interactions": sum(len(p.interactions) for p in self.people),
			"events": sum(len(p.events) for p in self.people),
			"feedback": sum(len(p.feedback) for p in self.people),
		}


def build_plan(
	customers: int = 300,
	years: int = 2,
	seed: int = 0,
	as_of: date | None = None,
	foreign_currency: str | None = None,
) -> Plan:
	"""The plan of ``customers`` accounts over ``years`` years up to ``as_of`` (default today)."""
	if customers < 1:
		raise ValueError("customers must be at least 1")
	if years < 1:
		raise ValueError("years must be at least 1")
	as_of = as_of or date.today()
	history_days = 365 * years
	rng = np.random.default_rng([seed, 7])  # the plan's own stream, beside the synth's
	# about 45% of a synthetic pond buys: size the pond so that enough accounts come out of it
	n_profiles = math.ceil(customers * 2.4) + 8
	for _attempt in range(8):
		pond = generate_pond(
			n_profiles=n_profiles,
			n_transactions=max(1, round(n_profiles * 0.45 * PURCHASES_PER_CUSTOMER_YEAR * years)),
			seed=seed,
			as_of=pd.Timestamp(as_of),
			history_days=history_days,
		)
		accounts = _accounts(pond.profiles, pond.transactions)
		if len(accounts) >= customers:
			break
		n_profiles = math.ceil(n_profiles * 1.2 * customers / max(1, len(accounts)))
	else:  # pragma: no cover - the pond grows until it has enough buyers
		raise RuntimeError("could not generate enough customers")

	profiles = pond.profiles.reset_index(drop=True)
	chosen = sorted(rng.choice(sorted(accounts), size=customers, replace=False).tolist())
	colleagues = {i for a in chosen for i in accounts[a][1:]}
	buyers = {i for members in accounts.values() for i in members}
	prospects = [i for i in range(len(profiles)) if i not in buyers]
	n_prospects = min(len(prospects), round(customers * PROSPECTS_PER_CUSTOMER))
	kept_prospects = (
		set(rng.choice(prospects, size=n_prospects, replace=False).tolist()) if prospects else set()
	)
	keep = sorted(set(chosen) | colleagues | kept_prospects)  # creation order (synth sorts by it)

	people: dict[int, Person] = {}
	seen_emails: set[str] = set()
	for row in keep:
		person = _person(rng, profiles.iloc[row], len(people))
		if person.email:
			if person.email.lower() in seen_emails:
				person.email = None  # ERPNext keeps one Lead per e-mail: a near-duplicate keeps its phone
			else:
				seen_emails.add(person.email.lower())
		people[row] = person

	_name_customers(rng, people, chosen, profiles)
	for account in chosen:
		for colleague in accounts[account][1:]:
			people[colleague].account = people[account].key
	by_profile = {profiles.at[row, "profile"]: row for row in keep}
	_purchases(rng, people, accounts, chosen, profiles, pond.transactions, as_of)
	_foreign(np.random.default_rng([seed, 11]), people, chosen, foreign_currency)
	_activity(rng, people, by_profile, pond.interactions, pond.events, as_of)
	_feedback(np.random.default_rng([seed, 13]), people, chosen, as_of)

	plan_people = [people[row] for row in keep]
	start = min(
		[as_of]
		+ [p.created.date() for p in plan_people]
		+ [d for p in plan_people for i in p.invoices for d in (i.date, i.order_date) if d]
	)
	return Plan(people=plan_people, as_of=as_of, start=start)


# --- people --------------------------------------------------------------------------------------


def _accounts(profiles: pd.DataFrame, transactions: pd.DataFrame) -> dict[int, list[int]]:
	"""First contact -> every buyer of the same account (a company, or a private buyer alone)."""
	bought = set(transactions.loc[~transactions["is_return"], "profile"])
	accounts: dict[int, list[int]] = {}
	by_company: dict[str, int] = {}
	for row, (profile, company) in enumerate(zip(profiles["profile"], profiles["company_name"], strict=True)):
		if profile not in bought:
			continue
		if company is None or (isinstance(company, float) and math.isnan(company)):
			accounts[row] = [row]
			continue
		key = str(company).lower()
		if key in by_company:
			accounts[by_company[key]].append(row)
		else:
			by_company[key] = row
			accounts[row] = [row]
	return accounts


def _text(value) -> str | None:
	if value is None or (isinstance(value, float) and math.isnan(value)):
		return None
	value = str(value).strip()
	return value or None


def _budget(value) -> str | None:
	if value is None or (isinstance(value, float) and math.isnan(value)):
		return None
	if value >= 15000:
		return "Approved"
	if value >= 6000:
		return "Allocated"
	if value >= 2500:
		return "Planned"
	return "Exploring"


def _person(rng: np.random.Generator, row: pd.Series, key: int) -> Person:
	name = str(row["person_name"])
	first, _, last = name.partition(" ")
	authority = _text(row["authority"])
	company = _text(row["company_name"])
	employees = row["employees"]
	titles = JOB_TITLES.get(authority or "")
	return Person(
		key=key,
		first_name=first,
		last_name=last,
		company_name=company,
		email=_text(row["email"]),
		mobile_no=_text(row["phone"]),
		country=str(row["country"]),
		territory=str(row["territory"]),
		source=str(row["source"]),
		industry=_text(row["industry"]) if company else None,
		employees=None if pd.isna(employees) else int(employees),
		job_title=titles[int(rng.integers(len(titles)))] if titles and company else None,
		budget=_budget(row["budget"]),
		authority=authority,
		need=_text(row["need"]),
		timeline=_text(row["timeline"]),
		created=pd.Timestamp(row["created"]).to_pydatetime().replace(microsecond=0),
	)


def _name_customers(rng, people: dict[int, Person], chosen: list[int], profiles: pd.DataFrame) -> None:
	taken: set[str] = set()
	for row in chosen:
		person = people[row]
		base = person.company_name or person.full_name
		name, n = base, 1
		while name.lower() in taken:  # two private buyers called James Smith: as ERPNext names them
			name = f"{base} - {n}"
			n += 1
		taken.add(name.lower())
		person.customer_name = name
		if not person.company_name:
			person.customer_group = "Individual"
		elif person.industry == "Education":
			person.customer_group = "Non Profit"
		elif rng.random() < 0.06:
			person.customer_group = "Government"
		else:
			person.customer_group = "Commercial"


# --- purchases -----------------------------------------------------------------------------------


def _lines(rng: np.random.Generator, amount: float) -> tuple[Line, ...]:
	"""One to three catalogue lines at list price that add up to about ``amount`` (USD)."""
	k = 1 + min(2, int(rng.poisson(0.5)))
	shares = rng.dirichlet(np.ones(k)) * amount if k > 1 else np.array([amount])
	prices = np.array([c.price for c in CATALOGUE])
	used: set[int] = set()
	lines = []
	for share in shares:
		options = [i for i in range(len(CATALOGUE)) if prices[i] <= share and i not in used]
		if not options:
			options = [i for i in np.argsort(prices)[:3] if i not in used] or [int(np.argmin(prices))]
		item = int(options[int(rng.integers(len(options)))])
		used.add(item)
		qty = max(1, round(share / prices[item]))
		discount = float(rng.choice([0.0, 0.0, 0.0, 0.0, 0.05, 0.1]))
		lines.append(Line(item=item, qty=int(qty), price=float(prices[item]), discount=discount))
	return tuple(lines)


def _day(value) -> date:
	return pd.Timestamp(value).date()


def _purchases(rng, people, accounts, chosen, profiles, transactions, as_of: date) -> None:
	profile_row = {p: i for i, p in enumerate(profiles["profile"])}
	tx = transactions.assign(row=transactions["profile"].map(profile_row))
	account_of = {member: a for a in chosen for member in accounts[a]}
	tx = tx[tx["row"].isin(account_of.keys())].copy()
	tx["account"] = tx["row"].map(account_of)
	tx = tx.sort_values(["account", "date", "is_return"], kind="stable")
	for account, rows in tx.groupby("account", sort=True):
		person = people[account]
		created = person.created.date()
		purchases = rows[~rows["is_return"]]
		for when, amount in zip(purchases["date"], purchases["amount"], strict=True):
			day = max(_day(when), created)
			lines = _lines(rng, float(amount))
			if (as_of - day).days <= OPEN_ORDER_DAYS and rng.random() < OPEN_ORDER_SHARE:
				person.open_orders.append(Order(date=day, lines=lines))
				continue
			invoice = Invoice(date=day, lines=lines)
			if rng.random() < VIA_ORDER_SHARE:
				order_day = day - timedelta(days=int(rng.integers(1, 11)))
				if order_day >= created:
					invoice.order_date = order_day
			person.invoices.append(invoice)
		if not person.invoices and person.open_orders:
			# a customer has bought at least once: its first open order was invoiced after all
			order = person.open_orders.pop(0)
			person.invoices.append(Invoice(date=order.date, lines=order.lines))
		for when, amount in zip(
			rows.loc[rows["is_return"], "date"], rows.loc[rows["is_return"], "amount"], strict=True
		):
			_plan_return(person, _day(when), -float(amount), as_of)
		for invoice in person.invoices:
			_plan_payment(rng, invoice, as_of)


def _plan_return(person: Person, day: date, amount: float, as_of: date) -> None:
	"""A credit note of ``amount`` against the latest earlier invoice that has none yet."""
	candidates = [i for i in person.invoices if i.date <= day and i.return_qty is None]
	if not candidates:
		return
	invoice = candidates[-1]
	total_qty = sum(line.qty for line in invoice.lines)
	share = min(1.0, amount / invoice.amount) if invoice.amount else 1.0
	units = max(1, round(share * total_qty))
	returned = []
	for line in invoice.lines:
		take = min(line.qty, units)
		returned.append(take)
		units -= take
	invoice.return_qty = tuple(returned)
	invoice.return_date = min(max(day, invoice.date), as_of)


def _plan_payment(rng: np.random.Generator, invoice: Invoice, as_of: date) -> None:
	age = (as_of - invoice.date).days
	roll = rng.random()
	if age < 30:
		status = PAID if roll < 0.35 else PART if roll < 0.45 else UNPAID
	else:
		status = PAID if roll < 0.86 else PART if roll < 0.93 else UNPAID
	if status == UNPAID or (
		invoice.return_qty and sum(invoice.return_qty) >= sum(li.qty for li in invoice.lines)
	):
		invoice.payment = UNPAID  # nothing left to pay after a full credit note
		return
	delay = int(rng.gamma(2.0, 9.0)) + 1
	pay_date = invoice.date + timedelta(days=delay)
	if invoice.return_date:
		pay_date = max(pay_date, invoice.return_date)
	if pay_date > as_of:
		if age < 3:
			invoice.payment = UNPAID
			return
		pay_date = as_of
	invoice.payment = status
	invoice.pay_date = pay_date
	invoice.pay_share = round(float(rng.uniform(0.3, 0.7)), 2) if status == PART else 1.0


def _foreign(rng, people: dict[int, Person], chosen: list[int], currency: str | None) -> None:
	if not currency:
		return
	countries = CURRENCY_COUNTRIES.get(currency, ())
	cap = max(1, math.floor(len(chosen) * FOREIGN_SHARE))
	candidates = [a for a in chosen if people[a].country in countries and people[a].invoices]
	picked = [a for a in candidates if rng.random() < 0.5][:cap]
	if not picked:  # the setup allows it: show at least one
		picked = (candidates or [a for a in chosen if people[a].invoices])[:1]
	for a in picked:
		people[a].foreign = True


# --- activity ------------------------------------------------------------------------------------


def _activity(rng, people, by_profile, interactions, events, as_of: date) -> None:
	warm_from = datetime.combine(as_of, datetime.min.time()) - timedelta(days=WARM_DAYS)
	rows = interactions[interactions["profile"].isin(by_profile.keys())]
	for profile, when, kind, direction in zip(
		rows["profile"], rows["time"], rows["type"], rows["direction"], strict=True
	):
		person = people[by_profile[profile]]
		moment = pd.Timestamp(when).to_pydatetime().replace(microsecond=0)
		subjects = INTERACTION_SUBJECTS[kind]
		subject = subjects[int(rng.integers(len(subjects)))]
		person.interactions.append((moment, kind, _text(direction), subject))
		person.warmth += moment >= warm_from
	rows = events[events["profile"].isin(by_profile.keys())]
	for profile, when, kind in zip(rows["profile"], rows["time"], rows["type"], strict=True):
		person = people[by_profile[profile]]
		moment = pd.Timestamp(when).to_pydatetime().replace(microsecond=0)
		person.events.append((moment, kind))
		person.warmth += moment >= warm_from
	for person in people.values():
		person.interactions.sort()
		person.events.sort()


# --- feedback ------------------------------------------------------------------------------------

FEEDBACK_SHARE = 0.3  # of paid invoices, answered with an NPS survey a few days after payment
CSAT_SHARE = 0.2  # of invoices that came from an order, answered with a CSAT survey after delivery
NPS_COMMENTS = {
	"Promoter": ("Great service, fast delivery", "Always reliable", None),
	"Passive": ("Good, but the prices went up", None),
	"Detractor": (
		"The delivery came late",
		"Hard to reach anyone on the phone",
		"Part of the order was wrong",
	),
}


def _feedback(rng: np.random.Generator, people: dict[int, Person], chosen: list[int], as_of: date) -> None:
	"""Survey answers of the accounts' first contacts, from their own stream (the rest of the plan
	draws the same numbers with or without them): an NPS answer after some paid invoices, lower after a
	return; a CSAT answer after some delivered orders."""
	for key in chosen:
		person = people[key]
		for invoice in person.invoices:
			if invoice.payment == PAID and invoice.pay_date and rng.random() < FEEDBACK_SHARE:
				day = invoice.pay_date + timedelta(days=3 + int(rng.integers(5)))
				if day <= as_of:
					weights = (
						[6, 6, 6, 6, 5, 5, 4, 3, 2, 1, 1]
						if invoice.return_qty
						else [1, 1, 1, 1, 2, 2, 3, 6, 9, 12, 12]
					)
					score = int(rng.choice(11, p=np.array(weights) / sum(weights)))
					kind = "Promoter" if score >= 9 else "Passive" if score >= 7 else "Detractor"
					comments = NPS_COMMENTS[kind]
					comment = comments[int(rng.integers(len(comments)))]
					person.feedback.append((_at(rng, day), "NPS", score, comment))
			if invoice.order_date and rng.random() < CSAT_SHARE:
				day = invoice.date + timedelta(days=1 + int(rng.integers(3)))
				if day <= as_of:
					score = int(rng.choice([1, 2, 3, 4, 5], p=[0.05, 0.07, 0.18, 0.35, 0.35]))
					person.feedback.append((_at(rng, day), "CSAT", score, None))
		person.feedback.sort()


def _at(rng: np.random.Generator, day: date) -> datetime:
	return datetime.combine(day, datetime.min.time()) + timedelta(hours=9 + int(rng.integers(9)))

"""What the demo's documents need: fiscal years, territories, lead sources, items, a receivable account
in another currency, reps and pools. Each is looked up first and created only when missing; what is
created is written to the ledger (:mod:`.state`) so that clearing removes it and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import frappe
from frappe import _
from frappe.utils import add_years, getdate
from frappe.utils.nestedset import get_root_of

from crm_fishpond.demo import state as ledger
from crm_fishpond.demo.plan import CATALOGUE, INDUSTRY_TYPES, Plan

# approximate US dollars per unit: list prices are scaled to the company's currency, and one
# currency other than the company's is billed at a fixed rate
USD_PER_UNIT = {
	"USD": 1.0,
	"EUR": 1.08,
	"GBP": 1.27,
	"CHF": 1.13,
	"INR": 0.012,
	"CNY": 0.14,
	"JPY": 0.0067,
	"AUD": 0.66,
	"SGD": 0.74,
	"AED": 0.27,
	"BRL": 0.18,
}
FOREIGN_CHOICES = ("EUR", "USD", "GBP")

REP_DOMAIN = "demo.crm-fishpond.invalid"
REPS = (("Maya", "Lindqvist"), ("Tom", "Okafor"), ("Lena", "Fischer"), ("Arjun", "Mehta"))
# pool -> (territories, members: (rep index, is pool manager))
POOLS = {
	"Demo Americas": (("North America", "Latin America"), ((0, True), (3, False))),
	"Demo EMEA": (("Europe", "Middle East"), ((1, True), (3, False))),
	"Demo Asia Pacific": (("Asia Pacific",), ((2, True), (3, False))),
}
POOL_SETTINGS = {
	"enabled": 1,
	"visibility": "Members See and Claim",
	"max_claimed_per_user": 60,
	"max_claims_per_day": 0,
	"count_converted": 0,
	"claim_cooldown_days": 14,
	"lost_handling": "Release to Pool",
	"recycle_enabled": 1,
	"recycle_no_followup_days": 30,
	"recycle_no_order_days": 120,
	"recycle_warn_days": 5,
	"exempt_locked": 1,
	"exempt_open_sales_order": 1,
	"exempt_unpaid_invoice": 1,
}


class DemoError(Exception):
	"""The site cannot take the demo as it is (no company, a demo with other parameters...)."""


@dataclass
class Context:
	"""Everything the records need, looked up (or made) once per run."""

	company: str
	currency: str
	scale: float  # company-currency units per US dollar of list price
	cost_center: str | None
	receivable: str
	bank_account: str
	bank_is_bank: bool
	mode_of_payment: str | None
	foreign: str | None = None
	foreign_rate: float = 1.0  # company-currency units per foreign unit
	foreign_receivable: str | None = None
	items: list[str] = field(default_factory=list)  # item codes, in CATALOGUE order
	territories: dict[str, str] = field(default_factory=dict)
	sources: dict[str, str] = field(default_factory=dict)
	industries: dict[str, str | None] = field(default_factory=dict)
	countries: dict[str, str | None] = field(default_factory=dict)
	groups: dict[str, str] = field(default_factory=dict)
	customers: dict[str, str] = field(default_factory=dict)  # planned customer name -> Customer
	account_names: dict[int, str] = field(default_factory=dict)  # account's person key -> planned name
	reps: list[str] = field(default_factory=list)
	pools: dict[str, str] = field(default_factory=dict)  # territory -> pool
	rep_of_territory: dict[str, str] = field(default_factory=dict)

	def account_customer(self, person) -> str | None:
		"""The Customer of a colleague's account (made earlier in this run or a previous one)."""
		name = self.account_names.get(person.account)
		return self.customers.get(name) if name else None


def demo_company() -> str:
	"""The company the demo books into: the default company, else the only one."""
	company = frappe.defaults.get_global_default("company")
	if company and frappe.db.exists("Company", company):
		return company
	companies = frappe.get_all("Company", pluck="name", order_by="creation", limit=2)
	if not companies:
		raise DemoError(
			_(
				"This site has no Company. Complete ERPNext's setup wizard first (on a test site: bench --site {0} execute crm_fishpond.tests.utils.before_tests), then run the demo again."
			).format(frappe.local.site)
		)
	return companies[0]


def foreign_currency(company_currency: str) -> str | None:
	"""The one other currency the demo bills in, when rates for both currencies are known."""
	if company_currency not in USD_PER_UNIT:
		return None
	return next((c for c in FOREIGN_CHOICES if c != company_currency), None)


def prepare(plan: Plan, state: dict, echo) -> Context:
	"""Look up or create every master record the plan needs (idempotent)."""
	company = state["company"]
	values = frappe.get_cached_value(
		"Company",
		company,
		[
			"default_currency",
			"cost_center",
			"default_receivable_account",
			"default_bank_account",
			"default_cash_account",
		],
		as_dict=True,
	)
	if not values.default_receivable_account:
		raise DemoError(_("Company {0} has no Default Receivable Account.").format(company))
	bank = values.default_bank_account or values.default_cash_account or _any_bank_or_cash(company)
	if not bank:
		raise DemoError(
			_("Company {0} has no bank or cash account to receive payments into.").format(company)
		)
	bank_is_bank = frappe.get_cached_value("Account", bank, "account_type") == "Bank"
	mode = "Wire Transfer" if bank_is_bank else "Cash"
	ctx = Context(
		company=company,
		currency=values.default_currency,
		scale=1.0 / USD_PER_UNIT.get(values.default_currency, 1.0),
		cost_center=values.cost_center,
		receivable=values.default_receivable_account,
		bank_account=bank,
		bank_is_bank=bank_is_bank,
		mode_of_payment=mode if frappe.db.exists("Mode of Payment", mode) else None,
	)
	ensure_fiscal_years(state, plan.start, plan.as_of)
	ctx.territories = {t: ensure_territory(state, t) for t in sorted({p.territory for p in plan.people})}
	ctx.sources = {s: ensure_lead_source(state, s) for s in sorted({p.source for p in plan.people})}
	ctx.industries = {
		name: industry if industry and frappe.db.exists("Industry Type", industry) else None
		for name, industry in INDUSTRY_TYPES.items()
	}
	ctx.countries = {
		code: frappe.db.get_value("Country", {"code": code.lower()})
		for code in sorted({p.country for p in plan.people})
	}
	ctx.groups = {
		g: customer_group(g) for g in sorted({p.customer_group for p in plan.people if p.customer_group})
	}
	ctx.items = [ensure_item(state, item, ctx.scale) for item in CATALOGUE]
	ctx.account_names = {p.key: p.customer_name for p in plan.people if p.customer_name}
	ctx.customers = existing_customers()
	if state["params"].get("foreign"):
		setup_foreign_currency(state, ctx, state["params"]["foreign"], plan.start, echo)
	ctx.reps = [ensure_rep(state, first, last) for first, last in REPS]
	for pool, (territories, members) in POOLS.items():
		name = ensure_pool(state, pool, company, [(ctx.reps[i], manager) for i, manager in members])
		for territory in territories:
			ctx.pools[territory] = name
			ctx.rep_of_territory[territory] = ctx.reps[members[0][0]]
	return ctx


def _any_bank_or_cash(company: str) -> str | None:
	return frappe.db.get_value(
		"Account",
		{"company": company, "is_group": 0, "account_type": ("in", ["Bank", "Cash"]), "disabled": 0},
		"name",
		order_by="account_type desc, name",
	)


# --- accounting calendar -------------------------------------------------------------------------


def ensure_fiscal_years(state: dict, start: date, end: date) -> list[str]:
	"""Fiscal years covering ``start``..``end``, shaped like the site's latest one."""
	made = []
	latest = frappe.get_all(
		"Fiscal Year",
		fields=["name", "year_start_date", "year_end_date"],
		order_by="year_start_date desc",
		limit=1,
	)
	if not latest:
		raise DemoError(_("This site has no Fiscal Year. Complete ERPNext's setup wizard first."))
	ref_start, ref_end = getdate(latest[0].year_start_date), getdate(latest[0].year_end_date)
	companies = frappe.get_all("Fiscal Year Company", filters={"parent": latest[0].name}, pluck="company")
	for shift in range(-30, 30):
		year_start, year_end = getdate(add_years(ref_start, shift)), getdate(add_years(ref_end, shift))
		if year_end < start or year_start > end or _fiscal_year_covering(year_start):
			continue
		name = (
			str(year_start.year) if year_start.year == year_end.year else f"{year_start.year}-{year_end.year}"
		)
		if frappe.db.exists("Fiscal Year", name):
			continue
		doc = frappe.get_doc(
			{
				"doctype": "Fiscal Year",
				"year": name,
				"year_start_date": year_start,
				"year_end_date": year_end,
				"companies": [{"company": c} for c in companies],
			}
		).insert(ignore_permissions=True)
		ledger.created(state, "Fiscal Year", doc.name)
		made.append(doc.name)
	return made


def _fiscal_year_covering(day: date) -> str | None:
	return frappe.db.get_value(
		"Fiscal Year", {"year_start_date": ("<=", day), "year_end_date": (">=", day), "disabled": 0}
	)


# --- parties' masters ----------------------------------------------------------------------------


def ensure_territory(state: dict, name: str) -> str:
	if frappe.db.exists("Territory", name):
		return name
	frappe.get_doc(
		{
			"doctype": "Territory",
			"territory_name": name,
			"parent_territory": get_root_of("Territory"),
			"is_group": 0,
		}
	).insert(ignore_permissions=True)
	ledger.created(state, "Territory", name)
	return name


def ensure_lead_source(state: dict, name: str) -> str:
	if frappe.db.exists("Lead Source", name):
		return name
	frappe.get_doc({"doctype": "Lead Source", "source_name": name}).insert(ignore_permissions=True)
	ledger.created(state, "Lead Source", name)
	return name


def customer_group(name: str) -> str:
	"""The site's customer group of that name, else its default one (the demo makes none)."""
	if frappe.db.get_value("Customer Group", name, "is_group") == 0:
		return name
	default = frappe.db.get_single_value("Selling Settings", "customer_group")
	if default and frappe.db.get_value("Customer Group", default, "is_group") == 0:
		return default
	leaf = frappe.db.get_value("Customer Group", {"is_group": 0}, "name", order_by="lft")
	if not leaf:
		raise DemoError(_("This site has no Customer Group to put customers in."))
	return leaf


def ensure_item(state: dict, item, scale: float) -> str:
	if frappe.db.exists("Item", item.code):
		return item.code
	group = item.group if frappe.db.get_value("Item Group", item.group, "is_group") == 0 else None
	group = group or frappe.db.get_value("Item Group", {"is_group": 0}, "name", order_by="lft")
	uom = next((u for u in ("Nos", "Unit") if frappe.db.exists("UOM", u)), None) or frappe.db.get_value(
		"UOM", {"enabled": 1}, "name"
	)
	frappe.get_doc(
		{
			"doctype": "Item",
			"item_code": item.code,
			"item_name": item.name,
			"description": item.name,
			"item_group": group,
			"stock_uom": uom,
			"is_stock_item": 0,
			"is_sales_item": 1,
			"include_item_in_manufacturing": 0,
		}
	).insert(ignore_permissions=True)
	ledger.created(state, "Item", item.code)
	return item.code


def existing_customers() -> dict[str, str]:
	"""Planned customer name -> Customer, for the demo customers a previous run made."""
	found: dict[str, str] = {}
	for name, customer_name in frappe.get_all(
		"Customer",
		filters={"lead_name": ("like", ledger.series_prefix("Lead") + "%")},
		fields=["name", "customer_name"],
		as_list=True,
	):
		found[customer_name] = name
		base, dash, suffix = customer_name.rpartition(" - ")
		if dash and suffix.isdigit():  # renamed because the site had a customer of that name
			found.setdefault(base, name)
	return found


# --- another currency ----------------------------------------------------------------------------


def setup_foreign_currency(state: dict, ctx: Context, currency: str, start: date, echo) -> None:
	"""A receivable account in ``currency`` and one exchange rate before the first invoice. When the
	company's chart does not allow it, the demo bills everything in the company's currency."""
	savepoint = "fishpond_demo_currency"
	frappe.db.savepoint(savepoint)
	try:
		if not frappe.db.get_value("Currency", currency, "enabled"):
			if not frappe.db.exists("Currency", currency):
				raise DemoError(_("Currency {0} does not exist.").format(currency))
			frappe.db.set_value("Currency", currency, "enabled", 1)
			state["settings"].setdefault("enabled_currencies", []).append(currency)
		ctx.foreign_receivable = _foreign_receivable(state, ctx, currency)
		rate = USD_PER_UNIT[currency] / USD_PER_UNIT[ctx.currency]
		filters = {"from_currency": currency, "to_currency": ctx.currency, "date": ("<=", start)}
		if not frappe.db.exists("Currency Exchange", filters):
			doc = frappe.get_doc(
				{
					"doctype": "Currency Exchange",
					"date": start - timedelta(days=1),
					"from_currency": currency,
					"to_currency": ctx.currency,
					"exchange_rate": round(rate, 6),
					"for_buying": 1,
					"for_selling": 1,
				}
			).insert(ignore_permissions=True)
			ledger.created(state, "Currency Exchange", doc.name)
		ctx.foreign = currency
		ctx.foreign_rate = round(rate, 6)
	except Exception as error:
		frappe.db.rollback(save_point=savepoint)
		echo(_("Billing only in {0}: {1}").format(ctx.currency, error))


def _foreign_receivable(state: dict, ctx: Context, currency: str) -> str:
	existing = frappe.db.get_value(
		"Account",
		{"company": ctx.company, "account_type": "Receivable", "account_currency": currency, "is_group": 0},
	)
	if existing:
		return existing
	parent = frappe.db.get_value("Account", ctx.receivable, "parent_account")
	doc = frappe.get_doc(
		{
			"doctype": "Account",
			"account_name": _("Debtors {0}").format(currency),
			"parent_account": parent,
			"company": ctx.company,
			"account_type": "Receivable",
			"account_currency": currency,
		}
	).insert(ignore_permissions=True)
	ledger.created(state, "Account", doc.name)
	return doc.name


# --- reps and pools ------------------------------------------------------------------------------


def rep_email(first: str, last: str) -> str:
	return f"{first}.{last}@{REP_DOMAIN}".lower()


def ensure_rep(state: dict, first: str, last: str) -> str:
	"""A sales rep: a System User with the Fishpond User role (and Sales User, to open ERPNext's
	customers and orders). No password is set: an Administrator opens Desk as a rep with the User
	form's *Impersonate*, or sets a password there."""
	email = rep_email(first, last)
	roles = ["Fishpond User"] + (["Sales User"] if frappe.db.exists("Role", "Sales User") else [])
	if frappe.db.exists("User", email):
		doc = frappe.get_doc("User", email)
		missing = [r for r in roles if r not in {row.role for row in doc.roles}]
		if missing:
			doc.add_roles(*missing)
		return email
	frappe.get_doc(
		{
			"doctype": "User",
			"email": email,
			"first_name": first,
			"last_name": last,
			"user_type": "System User",
			"send_welcome_email": 0,
			"roles": [{"role": r} for r in roles],
		}
	).insert(ignore_permissions=True)
	ledger.created(state, "User", email)
	return email


def ensure_pool(state: dict, name: str, company: str, members: list[tuple[str, bool]]) -> str:
	if not frappe.db.exists("Fishpond", name):
		frappe.get_doc(
			{
				"doctype": "Fishpond",
				"pool_name": name,
				"company": company,
				"description": _("Demo pool: the leads of its region, worked by its reps."),
				**POOL_SETTINGS,
				"members": [
					{"member_type": "User", "user": user, "is_pool_manager": int(manager)}
					for user, manager in members
				],
			}
		).insert(ignore_permissions=True)
		ledger.created(state, "Fishpond", name)
	return name

"""Walk-in sales at a till, so the accountant's link queue shows POS Invoices (docs/accountants.md).

A POS Profile, *Fishpond Demo Till*, sells to a walk-in customer (a generic customer: the queue reads
the POS Profiles' customers when Fishpond Settings lists none, and the demo adds it to a list that is
there). One POS session is closed: a POS Closing Entry consolidates its POS Invoices into a Sales
Invoice on the walk-in customer. Some of them carry what a cashier types for a regular who is not
asked to be a customer: a demo customer's mobile in another format, their e-mail in capitals. Others
name nobody. A second session stays open, with two sales POS closing has not consolidated yet.

Everything is sold today (a till sells now), through ERPNext's own documents: POS Opening Entry, POS
Invoice under the ``FPDEMO-POS-`` series, POS Closing Entry (and the POS Invoice Merge Log and
consolidated Sales Invoice it makes). ERPNext's POS closing commits its own transaction; a test must
not, so in tests the demo merges the session through a POS Invoice Merge Log, as the closing does.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import frappe
from frappe import _
from frappe.utils import flt, now_datetime, nowdate, nowtime

from crm_fishpond.demo import state
from crm_fishpond.demo.masters import Context
from crm_fishpond.demo.plan import CATALOGUE

WALK_IN = "Walk-in Customer (Fishpond Demo)"
TILL = "Fishpond Demo Till"
MODE = "Cash"
SHOPPERS = 6  # regulars who leave their mobile or e-mail at the till
STRANGERS = 2  # sales that name nobody
OPEN_SALES = 2  # sold in the session still open


def open_till(ledger: dict, ctx: Context, echo: Callable) -> None:
	"""Make the till and its sales (once: the ledger says how far it got)."""
	done = ledger.setdefault("till", {})
	if not done.get("closed"):
		walk_in = ensure_walk_in(ledger, ctx)
		till = ensure_pos_profile(ledger, ctx, walk_in)
		ensure_generic(ledger, walk_in)
		regulars = _regulars(ledger["params"]["seed"])
		session = open_session(ledger, ctx, till)
		sales = [sale(ctx, till, walk_in, typed, i) for i, typed in enumerate(_typed(regulars[:SHOPPERS]))]
		sales += [sale(ctx, till, walk_in, {}, SHOPPERS + i) for i in range(STRANGERS)]
		close_session(ledger, ctx, session, sales, walk_in)
		done.update(closed=True, sold=len(sales))
		state.save(ledger)
		_commit()
		echo(_("Till: {0} walk-in sales consolidated by a POS closing").format(len(sales)))
	if not done.get("open"):
		walk_in, till = WALK_IN, TILL
		session = open_session(ledger, ctx, till)
		regulars = _regulars(ledger["params"]["seed"])[SHOPPERS : SHOPPERS + OPEN_SALES]
		for i, typed in enumerate(_typed(regulars)):
			sale(ctx, till, walk_in, typed, SHOPPERS + STRANGERS + i)
		done.update(open=True, open_sales=len(regulars))
		state.save(ledger)
		_commit()
		echo(_("Till: {0} sales in a POS session still open").format(len(regulars)))
	state.add_counts(ledger, {"POS Invoice": done.get("sold", 0) + done.get("open_sales", 0)})


# --- masters -------------------------------------------------------------------------------------


def ensure_walk_in(ledger: dict, ctx: Context) -> str:
	if not frappe.db.exists("Customer", WALK_IN):
		group = frappe.db.get_single_value("Selling Settings", "customer_group") or frappe.db.get_value(
			"Customer Group", {"is_group": 0}, "name"
		)
		territory = frappe.db.get_single_value("Selling Settings", "territory") or frappe.db.get_value(
			"Territory", {"is_group": 0}, "name"
		)
		frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": WALK_IN,
				"customer_type": "Individual",
				"customer_group": group,
				"territory": territory,
			}
		).insert(ignore_permissions=True)
		state.created(ledger, "Customer", WALK_IN)
	return WALK_IN


def ensure_pos_profile(ledger: dict, ctx: Context, walk_in: str) -> str:
	cash = frappe.get_cached_value("Company", ctx.company, "default_cash_account") or ctx.bank_account
	mode = frappe.get_doc("Mode of Payment", MODE)
	if not any(a.company == ctx.company for a in mode.accounts):
		mode.append("accounts", {"company": ctx.company, "default_account": cash})
		mode.save(ignore_permissions=True)
		ledger["settings"]["mode_of_payment_account"] = [MODE, ctx.company]
	if frappe.db.exists("POS Profile", TILL):
		return TILL
	company = frappe.get_cached_value(
		"Company",
		ctx.company,
		["default_income_account", "default_expense_account", "write_off_account", "round_off_account"],
		as_dict=True,
	)
	frappe.get_doc(
		{
			"doctype": "POS Profile",
			"name": TILL,
			"company": ctx.company,
			"customer": walk_in,
			"currency": ctx.currency,
			"cost_center": ctx.cost_center,
			"income_account": company.default_income_account,
			"expense_account": company.default_expense_account,
			"write_off_account": company.write_off_account or company.round_off_account,
			"write_off_cost_center": ctx.cost_center,
			"warehouse": frappe.db.get_value("Warehouse", {"company": ctx.company, "is_group": 0}),
			"selling_price_list": frappe.db.get_value("Price List", {"selling": 1, "enabled": 1}),
			"payments": [{"mode_of_payment": MODE, "default": 1}],
		}
	).insert(ignore_permissions=True)
	state.created(ledger, "POS Profile", TILL)
	return TILL


def ensure_generic(ledger: dict, walk_in: str) -> None:
	"""The walk-in customer is a generic customer: by its POS Profile, or added to the settings' list
	when the site keeps one."""
	settings = frappe.get_single("Fishpond Settings")
	listed = [row.customer for row in settings.get("generic_customers") or []]
	if listed and walk_in not in listed:
		settings.append("generic_customers", {"customer": walk_in})
		settings.save(ignore_permissions=True)
		ledger["settings"]["generic_customer"] = walk_in


# --- sales ---------------------------------------------------------------------------------------


def _regulars(seed: int) -> list[frappe._dict]:
	"""Demo customers a cashier can name: with an e-mail, or a mobile in international form (a number
	in national form may be read in another country by the till), in a seeded order."""
	customer = frappe.qb.DocType("Customer")
	lead = frappe.qb.DocType("Lead")
	rows = (
		frappe.qb.from_(customer)
		.join(lead)
		.on(lead.name == customer.lead_name)
		.select(customer.name, lead.email_id, lead.mobile_no, lead.phone)
		.where(customer.lead_name.like(state.series_prefix("Lead") + "%"))
		.orderby(customer.name)
	).run(as_dict=True)
	for r in rows:
		r.phone = next((p for p in (r.mobile_no, r.phone) if p and p.strip().startswith("+")), None)
	rows = [r for r in rows if r.email_id or r.phone]
	random.Random(f"till:{seed}").shuffle(rows)
	return rows


def _typed(regulars: list[frappe._dict]) -> list[dict]:
	"""What the cashier typed for each regular: the mobile as it was said, the e-mail in capitals, or
	both."""
	out = []
	for i, r in enumerate(regulars):
		said = r.phone.replace(" ", "-") if r.phone else None
		if (i % 3 == 0 and said) or not r.email_id:
			out.append({"contact_mobile": said})
		elif i % 3 == 1 or not said:
			out.append({"contact_email": r.email_id.upper()})
		else:
			out.append({"contact_email": r.email_id, "contact_mobile": said})
	return out


def open_session(ledger: dict, ctx: Context, till: str) -> str:
	found = frappe.db.get_value(
		"POS Opening Entry", {"pos_profile": till, "status": "Open", "docstatus": 1}, "name"
	)
	if found:
		return found
	entry = frappe.get_doc(
		{
			"doctype": "POS Opening Entry",
			"pos_profile": till,
			"user": frappe.session.user,
			"company": ctx.company,
			"period_start_date": now_datetime(),
			"posting_date": nowdate(),
			"balance_details": [{"mode_of_payment": MODE, "opening_amount": 0}],
		}
	)
	entry.insert(ignore_permissions=True)
	entry.submit()
	state.created(ledger, "POS Opening Entry", entry.name)
	return entry.name


def sale(ctx: Context, till: str, walk_in: str, typed: dict, n: int) -> str:
	"""One walk-in sale, paid in cash at the till."""
	item = random.Random(f"sale:{n}").randrange(len(ctx.items))
	rate = flt(CATALOGUE[item].price * ctx.scale, 2)
	doc = frappe.get_doc(
		{
			"doctype": "POS Invoice",
			"naming_series": state.SERIES["POS Invoice"],
			"company": ctx.company,
			"customer": walk_in,
			"pos_profile": till,
			"is_pos": 1,
			"currency": ctx.currency,
			"items": [{"item_code": ctx.items[item], "qty": 1, "rate": rate}],
			"payments": [{"mode_of_payment": MODE, "amount": rate, "default": 1}],
			**typed,
		}
	)
	doc.insert(ignore_permissions=True)
	doc.submit()
	return doc.name


def close_session(ledger: dict, ctx: Context, session: str, sales: list[str], walk_in: str) -> None:
	"""POS closing: the session's sales consolidated into a Sales Invoice on the walk-in customer."""
	if frappe.flags.in_test:
		log = frappe.get_doc(
			{
				"doctype": "POS Invoice Merge Log",
				"company": ctx.company,
				"customer": walk_in,
				"posting_date": nowdate(),
				"posting_time": nowtime(),
				"pos_invoices": [
					{
						"pos_invoice": name,
						"customer": walk_in,
						"posting_date": nowdate(),
						"grand_total": frappe.db.get_value("POS Invoice", name, "grand_total"),
					}
					for name in sales
				],
			}
		)
		log.insert(ignore_permissions=True)
		log.submit()
		return
	from erpnext.accounts.doctype.pos_closing_entry.pos_closing_entry import (
		make_closing_entry_from_opening,
	)

	opening = frappe.get_doc("POS Opening Entry", session)
	closing = make_closing_entry_from_opening(opening)
	for row in closing.payment_reconciliation:
		row.closing_amount = row.expected_amount
	closing.insert(ignore_permissions=True)
	state.created(ledger, "POS Closing Entry", closing.name)
	state.save(ledger)
	closing.submit()  # ERPNext consolidates and commits


# --- what the clear removes ----------------------------------------------------------------------


def pos_invoices() -> list[str]:
	return state.names("POS Invoice")


def merge_logs(invoices: list[str]) -> list[str]:
	if not invoices:
		return []
	return frappe.get_all(
		"POS Invoice Reference",
		filters={"parenttype": "POS Invoice Merge Log", "pos_invoice": ("in", invoices)},
		pluck="parent",
		distinct=True,
	)


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a session of the till is one unit of work

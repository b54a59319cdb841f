"""Get-or-create factories for integration tests, on the company ERPNext's before_tests sets up."""

from __future__ import annotations

import frappe
from frappe.utils import add_days, nowdate

from crm_fishpond.tests.utils import make_item


def company() -> str:
	return frappe.defaults.get_global_default("company") or frappe.db.get_value("Company", {}, "name")


def company_currency() -> str:
	return frappe.get_cached_value("Company", company(), "default_currency")


def receivable_account(currency: str) -> str:
	"""The company's receivable account in `currency`, created when it is not the company currency."""
	comp = company()
	default = frappe.get_cached_value("Company", comp, "default_receivable_account")
	if currency == company_currency():
		return default
	abbr = frappe.get_cached_value("Company", comp, "abbr")
	name = f"Debtors {currency} - {abbr}"
	if not frappe.db.exists("Account", name):
		parent = frappe.db.get_value("Account", default, "parent_account")
		frappe.get_doc(
			{
				"doctype": "Account",
				"account_name": f"Debtors {currency}",
				"parent_account": parent,
				"company": comp,
				"account_type": "Receivable",
				"account_currency": currency,
			}
		).insert(ignore_permissions=True)
	return name


def customer(name: str, currency: str | None = None, **values) -> str:
	if frappe.db.exists("Customer", name):
		return name
	currency = currency or company_currency()
	doc = frappe.get_doc(
		{
			"doctype": "Customer",
			"customer_name": name,
			"customer_type": "Company",
			"customer_group": frappe.db.get_value("Customer Group", {"is_group": 0}, "name"),
			"territory": frappe.db.get_value("Territory", {"is_group": 0}, "name"),
			"default_currency": currency,
			"accounts": [{"company": company(), "account": receivable_account(currency)}],
			**values,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


def ensure_exchange_rate(currency: str, rate: float) -> None:
	if currency == company_currency():
		return
	if not frappe.db.exists(
		"Currency Exchange", {"from_currency": currency, "to_currency": company_currency()}
	):
		frappe.get_doc(
			{
				"doctype": "Currency Exchange",
				"date": add_days(nowdate(), -3650),
				"from_currency": currency,
				"to_currency": company_currency(),
				"exchange_rate": rate,
				"for_buying": 1,
				"for_selling": 1,
			}
		).insert(ignore_permissions=True)
	frappe.db.set_value("Currency", currency, "enabled", 1)


def sales_invoice(
	cust: str,
	rate: float = 100,
	qty: float = 1,
	currency: str | None = None,
	conversion_rate: float = 1,
	posting_date: str | None = None,
	submit: bool = True,
	item_code: str | None = None,
):
	currency = currency or company_currency()
	ensure_exchange_rate(currency, conversion_rate)
	doc = frappe.get_doc(
		{
			"doctype": "Sales Invoice",
			"company": company(),
			"customer": cust,
			"currency": currency,
			"conversion_rate": conversion_rate,
			"debit_to": receivable_account(currency),
			"posting_date": posting_date or nowdate(),
			"set_posting_time": 1,
			"due_date": add_days(posting_date or nowdate(), 30),
			"items": [{"item_code": item_code or make_item(), "qty": qty, "rate": rate}],
		}
	)
	doc.insert(ignore_permissions=True)
	if submit:
		doc.submit()
	return doc


def sales_order(
	cust: str,
	rate: float = 100,
	qty: float = 1,
	currency: str | None = None,
	conversion_rate: float = 1,
	transaction_date: str | None = None,
	submit: bool = True,
):
	currency = currency or company_currency()
	ensure_exchange_rate(currency, conversion_rate)
	date = transaction_date or nowdate()
	doc = frappe.get_doc(
		{
			"doctype": "Sales Order",
			"company": company(),
			"customer": cust,
			"currency": currency,
			"conversion_rate": conversion_rate,
			"transaction_date": date,
			"delivery_date": add_days(date, 7),
			"items": [
				{"item_code": make_item(), "qty": qty, "rate": rate, "delivery_date": add_days(date, 7)}
			],
		}
	)
	doc.insert(ignore_permissions=True)
	if submit:
		doc.submit()
	return doc


def amend(doc):
	"""Cancel and amend a submitted voucher the way Desk does; returns the submitted amendment."""
	doc.reload()
	if doc.docstatus == 1:
		doc.cancel()
	amended = frappe.copy_doc(doc)
	amended.amended_from = doc.name
	amended.docstatus = 0
	for item in amended.items:
		item.rate = (item.rate or 0) + 10
	amended.insert(ignore_permissions=True)
	amended.submit()
	return amended


def credit_note(invoice_name: str):
	from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

	ret = make_sales_return(invoice_name)
	ret.insert(ignore_permissions=True)
	ret.submit()
	return ret


def lead(first_name: str, **values) -> str:
	existing = frappe.db.get_value("Lead", {"first_name": first_name})
	if existing:
		return existing
	return (
		frappe.get_doc({"doctype": "Lead", "first_name": first_name, **values})
		.insert(ignore_permissions=True)
		.name
	)


def reward_row(referrer: str, referee: str, status: str = "Pending") -> str:
	"""A Referral Reward row as the referral run stores it (with its Fishpond Referral), for tests
	about who sees rewards, not about the programme's rules (crm_fishpond/tests/test_referrals.py)."""
	referral = frappe.get_doc(
		{
			"doctype": "Fishpond Referral",
			"referrer": referrer,
			"referee": referee,
			"company": company(),
			"referred_on": nowdate(),
			"source": "Rep",
		}
	)
	referral.flags.ignore_permissions = True
	referral.insert()
	reward = frappe.get_doc(
		{
			"doctype": "Referral Reward",
			"referral": referral.name,
			"beneficiary": "Referrer",
			"slot": 1,
			"referrer": referrer,
			"referee": referee,
			"reward_type": "Coupon Code",
			"status": status,
		}
	)
	reward.flags.ignore_permissions = True
	reward.insert()
	return reward.name

"""Integration-test helpers for referrals: programmes, loyalty programs, referrers and referees with
Customers, payments, redemptions and coupon use, all through ERPNext's own documents."""

from __future__ import annotations

import frappe
from frappe.utils import add_days, flt, nowdate

from crm_fishpond.referrals import capture, codes, sync
from crm_fishpond.sync import profiles as P
from crm_fishpond.tests import factories as f

LOYALTY = "_FP Referral Loyalty"


def loyalty_program(expiry_days: int = 365, factor: float = 1.0) -> str:
	company = f.company()
	if frappe.db.exists("Loyalty Program", LOYALTY):
		return LOYALTY
	abbr = frappe.get_cached_value("Company", company, "abbr")
	account = f"_FP Referral Rewards - {abbr}"
	if not frappe.db.exists("Account", account):
		parent = frappe.db.get_value(
			"Account",
			{"company": company, "root_type": "Expense", "is_group": 1},
			"name",
			order_by="lft desc",
		)
		frappe.get_doc(
			{
				"doctype": "Account",
				"account_name": "_FP Referral Rewards",
				"parent_account": parent,
				"company": company,
				"account_type": "Expense Account",
			}
		).insert(ignore_permissions=True)
	frappe.get_doc(
		{
			"doctype": "Loyalty Program",
			"loyalty_program_name": LOYALTY,
			"loyalty_program_type": "Single Tier Program",
			"auto_opt_in": 0,
			"from_date": add_days(nowdate(), -3650),
			"conversion_factor": factor,
			"expiry_duration": expiry_days,
			"company": company,
			"cost_center": frappe.get_cached_value("Company", company, "cost_center"),
			"expense_account": account,
			"collection_rules": [{"tier_name": "_FP Tier", "collection_factor": 1000000, "min_spent": 0}],
		}
	).insert(ignore_permissions=True)
	return LOYALTY


def programme(name: str = "_FP Referral Programme", **values) -> str:
	"""The company's one programme (replaced, with its referrals and rewards left alone)."""
	company = f.company()
	for other in frappe.get_all("Referral Programme", filters={"company": company}, pluck="name"):
		frappe.delete_doc("Referral Programme", other, ignore_permissions=True, force=True)
	doc = frappe.get_doc(
		{
			"doctype": "Referral Programme",
			"programme_name": name,
			"company": company,
			"valid_from": add_days(nowdate(), -365),
			"referrer_reward_type": "Points",
			"referrer_reward_value": 100,
			"loyalty_program": loyalty_program(),
			"qualifying_invoices": 1,
			"review_days": 14,
			"clawback": "Proportional",
			**values,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


def customer_profile(name: str, **customer_values) -> tuple[str, str]:
	"""A Customer and its profile: (customer, profile)."""
	cust = f.customer(name, **customer_values)
	return cust, P.ensure_profile_for_customer(cust)


def prospect(name: str, **values) -> str:
	"""A profile with no Customer (an ERPNext Lead's)."""
	lead = f.lead(name, **values)
	return P.profile_for(lead=lead) or P.ensure_profile_for_lead(lead)


def refer(referrer: str, referee: str, **kw) -> str:
	return capture.capture(referee, referrer=referrer, **kw)


def code_of(profile: str) -> str:
	return codes.ensure_code(profile)


def pay(invoice: str, amount: float | None = None, posting_date: str | None = None):
	"""A Payment Entry for the invoice (all of it, or ``amount`` in the invoice's currency)."""
	from erpnext.accounts.doctype.payment_entry.payment_entry import get_payment_entry

	pe = get_payment_entry("Sales Invoice", invoice)
	pe.reference_no = frappe.generate_hash(length=8)
	pe.reference_date = posting_date or nowdate()
	if posting_date:
		pe.posting_date = posting_date
	if amount is not None:
		ratio = flt(amount) / flt(pe.references[0].allocated_amount)
		pe.references[0].allocated_amount = flt(amount)
		pe.paid_amount = flt(pe.paid_amount * ratio, 2)
		pe.received_amount = flt(pe.received_amount * ratio, 2)
		pe.base_paid_amount = flt(pe.base_paid_amount * ratio, 2)
		pe.base_received_amount = flt(pe.base_received_amount * ratio, 2)
	pe.insert(ignore_permissions=True)
	pe.submit()
	return pe


def redeem(customer: str, points: int, rate: float = 500):
	"""The customer spends ``points`` on a new invoice of their own (ERPNext's redemption)."""
	program = frappe.db.get_value("Customer", customer, "loyalty_program")
	company = f.company()
	si = frappe.get_doc(
		{
			"doctype": "Sales Invoice",
			"company": company,
			"customer": customer,
			"debit_to": f.receivable_account(f.company_currency()),
			"posting_date": nowdate(),
			"due_date": add_days(nowdate(), 30),
			"items": [{"item_code": f.make_item(), "qty": 1, "rate": rate}],
			"redeem_loyalty_points": 1,
			"loyalty_program": program,
			"loyalty_points": points,
			"loyalty_redemption_account": frappe.db.get_value("Loyalty Program", program, "expense_account"),
			"loyalty_redemption_cost_center": frappe.get_cached_value("Company", company, "cost_center"),
		}
	)
	si.insert(ignore_permissions=True)
	si.submit()
	return si


def use_coupon(customer: str, coupon: str, rate: float = 500):
	"""The customer spends a coupon on a new Sales Order (ERPNext applies coupons on Sales Orders,
	Quotations and POS Invoices, and counts the use when the order is submitted)."""
	so = frappe.get_doc(
		{
			"doctype": "Sales Order",
			"company": f.company(),
			"customer": customer,
			"transaction_date": nowdate(),
			"delivery_date": add_days(nowdate(), 7),
			"coupon_code": coupon,
			"items": [
				{"item_code": f.make_item(), "qty": 1, "rate": rate, "delivery_date": add_days(nowdate(), 7)}
			],
		}
	)
	so.insert(ignore_permissions=True)
	so.submit()
	return so


def rewards(referral: str) -> dict[str, frappe._dict]:
	rows = frappe.get_all("Referral Reward", filters={"referral": referral}, fields=["*"], order_by="name")
	return {r.name: r for r in rows}


def reward(referral: str, beneficiary: str = "Referrer", slot: int = 1) -> frappe._dict | None:
	from crm_fishpond.referrals.store import reward_name

	name = reward_name(referral, beneficiary, slot)
	return frappe.db.get_value("Referral Reward", name, "*", as_dict=True)


def points_of(reward_name: str) -> int:
	return int(
		sum(
			frappe.get_all(
				"Loyalty Point Entry",
				filters={"fishpond_referral_reward": reward_name},
				pluck="loyalty_points",
			)
		)
	)


def run(today=None) -> dict:
	return sync.sync_company(f.company(), today=today)


def reconcile(today=None) -> list[dict]:
	return sync.reconcile(f.company(), today=today)

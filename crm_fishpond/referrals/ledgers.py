"""Rewards on ERPNext's own ledgers: Loyalty Point Entries and Gift Card Coupon Codes.

Every row made here carries ``fishpond_referral_reward`` (a custom field), which is how a reward finds
its ledger rows again and shows them under Connections.

* Points: a positive Loyalty Point Entry for the beneficiary's Customer under its Loyalty Program (the
  programme's, which the Customer joins when it has none), ``invoice_type`` "Sales Invoice" so that
  ERPNext redeems it on a Sales Invoice, ``purchase_amount`` 0 so that a reward never lifts a tier, and
  the program's expiry. ``invoice`` stays empty: ERPNext deletes every entry pointing at an invoice
  when that invoice is cancelled or returned, so the referee's return would silently delete the
  referrer's points (docs/referrals.md).
* Reversal: negative entries with ``redeem_against`` one of the reward's positive entries, never more
  than that entry has unredeemed.
* Redemptions: ERPNext's ``redeem_against`` does not say which points a customer spent. Its
  ``apply_loyalty_points`` subtracts the (negative) sum of earlier redemptions from an entry's points,
  so an entry already spent, or taken back by a reversal, looks *more* available and takes the next
  redemption again. :func:`redeemed_from` therefore replays the customer's entries in the order they
  were made and spends each redemption from what was really left, earliest expiry first (the pure
  replay is crm_fishpond/engine/loyalty.py).
* Coupons: a Gift Card Coupon Code (ERPNext makes it single-use and ties it to the customer) over a
  ``coupon_code_based`` Pricing Rule giving the value off the invoice; one rule per company and value,
  reused. Withdrawing an unused coupon ends its validity yesterday and flags it ``fishpond_withdrawn``.
"""

from __future__ import annotations

from datetime import date

import frappe
from frappe import _
from frappe.utils import add_days, flt, getdate

from crm_fishpond.engine import referrals as R
from crm_fishpond.engine.loyalty import PointEntry, replay

NO_EXPIRY_DAYS = 36500  # a Loyalty Program without an expiry duration: points that do not expire


def customer_program(customer: str, programme_program: str | None) -> str | None:
	"""The Loyalty Program a Customer's points go to: its own, else the programme's (which it joins)."""
	own = frappe.db.get_value("Customer", customer, "loyalty_program")
	if own:
		return own
	if programme_program:
		frappe.db.set_value("Customer", customer, "loyalty_program", programme_program)
	return programme_program


def post_points(reward: str, customer: str, points: int, program: str, company: str, on: date) -> str:
	duration = frappe.db.get_value("Loyalty Program", program, "expiry_duration") or NO_EXPIRY_DAYS
	doc = frappe.get_doc(
		{
			"doctype": "Loyalty Point Entry",
			"loyalty_program": program,
			"loyalty_program_tier": _tier(customer, program, company),
			"customer": customer,
			"company": company,
			"loyalty_points": int(points),
			"purchase_amount": 0,
			"posting_date": on,
			"expiry_date": add_days(on, int(duration)),
			"invoice_type": "Sales Invoice",
			"fishpond_referral_reward": reward,
		}
	)
	doc.flags.ignore_permissions = True
	doc.insert()
	return doc.name


def _tier(customer: str, program: str, company: str) -> str | None:
	from erpnext.accounts.doctype.loyalty_program.loyalty_program import (
		get_loyalty_program_details_with_points,
	)

	try:
		return get_loyalty_program_details_with_points(customer, program, company=company, silent=True).get(
			"tier_name"
		)
	except Exception:
		frappe.clear_messages()
		return None


def reverse_points(reward: str, entries: list, points: int, on: date) -> list[str]:
	"""Take ``points`` back from the reward's positive entries, latest first, each at most what is left
	unredeemed on it (ERPNext's redemptions and our earlier reversals both point at it)."""
	positive = [e for e in entries if int(e.loyalty_points or 0) > 0]
	if not positive:
		return []
	free_points = unspent(customer_entries({e.customer for e in positive}))
	made, left = [], int(points)
	for e in reversed(positive):
		if left <= 0:
			break
		free = free_points.get(e.name, 0)
		take = min(free, left)
		if take <= 0:
			continue
		doc = frappe.get_doc(
			{
				"doctype": "Loyalty Point Entry",
				"loyalty_program": e.loyalty_program,
				"customer": e.customer,
				"company": frappe.db.get_value("Loyalty Point Entry", e.name, "company"),
				"loyalty_points": -take,
				"purchase_amount": 0,
				"posting_date": on,
				"expiry_date": e.expiry_date,
				"redeem_against": e.name,
				"invoice_type": "Sales Invoice",
				"fishpond_referral_reward": reward,
			}
		)
		doc.flags.ignore_permissions = True
		doc.insert()
		made.append(doc.name)
		left -= take
	if left > 0:
		frappe.throw(
			_("Reward {0}: {1} points could not be taken back, the customer has redeemed them.").format(
				reward, left
			)
		)
	return made


ENTRY_FIELDS = (
	"name",
	"customer",
	"loyalty_program",
	"company",
	"loyalty_points",
	"posting_date",
	"expiry_date",
	"redeem_against",
	"fishpond_referral_reward",
	"creation",
)


def customer_entries(customers) -> list:
	"""Every Loyalty Point Entry of ``customers``, in the order they were made."""
	customers = sorted({c for c in customers if c})
	if not customers:
		return []
	return frappe.get_all(
		"Loyalty Point Entry",
		filters={"customer": ("in", customers)},
		fields=list(ENTRY_FIELDS),
		order_by="creation asc, name asc",
	)


def _point_entries(rows: list) -> list[PointEntry]:
	return [
		PointEntry(
			name=r.name,
			customer=r.customer,
			points=int(r.loyalty_points or 0),
			program=r.loyalty_program,
			company=r.company,
			posting_date=getdate(r.posting_date) if r.posting_date else None,
			expiry_date=getdate(r.expiry_date) if r.expiry_date else None,
			redeem_against=r.redeem_against,
			ours=bool(r.fishpond_referral_reward),
		)
		for r in rows
	]


def unspent(rows: list) -> dict[str, int]:
	"""Positive entry -> the points still on it (not redeemed, not taken back); see engine/loyalty.py."""
	return replay(_point_entries(rows)).unspent()


def redeemed_from(rows: list) -> dict[str, int]:
	"""Positive entry -> the points the customer's redemptions spent from it; see engine/loyalty.py."""
	return replay(_point_entries(rows)).spent


def coupon_rule(company: str, value: float) -> str:
	"""The company's coupon-based Pricing Rule giving ``value`` off an invoice (made once, reused)."""
	value = flt(value, 2)
	title = _("Referral reward {0}").format(frappe.format_value(value, {"fieldtype": "Currency"}))
	existing = frappe.db.get_value(
		"Pricing Rule",
		{
			"company": company,
			"coupon_code_based": 1,
			"apply_on": "Transaction",
			"rate_or_discount": "Discount Amount",
			"discount_amount": value,
			"disable": 0,
			"fishpond_referral_rule": 1,
		},
		"name",
	)
	if existing:
		return existing
	doc = frappe.get_doc(
		{
			"doctype": "Pricing Rule",
			"title": title,
			"company": company,
			"apply_on": "Transaction",
			"price_or_product_discount": "Price",
			"selling": 1,
			"applicable_for": "",
			"coupon_code_based": 1,
			"rate_or_discount": "Discount Amount",
			"discount_amount": value,
			"currency": frappe.get_cached_value("Company", company, "default_currency"),
			"fishpond_referral_rule": 1,
		}
	)
	doc.flags.ignore_permissions = True
	doc.insert()
	return doc.name


def create_coupon(reward: str, customer: str, value: float, company: str, on: date, valid_upto) -> str:
	count = frappe.db.count("Coupon Code", {"fishpond_referral_reward": reward})
	doc = frappe.get_doc(
		{
			"doctype": "Coupon Code",
			"coupon_name": f"{reward}-{count + 1}",
			"coupon_type": "Gift Card",
			"customer": customer,
			"pricing_rule": coupon_rule(company, value),
			"valid_from": on,
			"valid_upto": valid_upto,
			"maximum_use": 1,
			"description": _("Referral reward {0}").format(reward),
			"fishpond_referral_reward": reward,
		}
	)
	doc.flags.ignore_permissions = True
	doc.insert()
	return doc.name


def withdraw_coupon(coupon: str, on: date) -> None:
	"""An unused coupon taken back: it ends yesterday (ERPNext then refuses it) and is flagged."""
	frappe.db.set_value("Coupon Code", coupon, {"valid_upto": add_days(on, -1), "fishpond_withdrawn": 1})


def apply_action(action, reward: str, company: str, entries: list) -> list[str]:
	"""Apply one ledger action of the engine's plan; returns the names of the rows it made."""
	if isinstance(action, R.PostPoints):
		program = customer_program(action.customer, action.loyalty_program)
		if not program:
			frappe.throw(_("Reward {0}: choose the Loyalty Program the points go to.").format(reward))
		return [post_points(reward, action.customer, action.points, program, company, action.on)]
	if isinstance(action, R.ReversePoints):
		return reverse_points(reward, entries, action.points, action.on)
	if isinstance(action, R.CreateCoupon):
		return [create_coupon(reward, action.customer, action.value, company, action.on, action.valid_upto)]
	if isinstance(action, R.DisableCoupon):
		withdraw_coupon(action.coupon, action.on)
		return [action.coupon]
	raise TypeError(action)  # pragma: no cover

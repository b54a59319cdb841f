"""doc_events that feed referrals (crm_fishpond.referrals): thin, no planning here.

* A Referral Code on a Lead, Sales Order or Sales Invoice is checked on validate and recorded as a
  referral on insert (Lead) or submit (orders and invoices).
* Anything that can change whether a referee's invoice is paid, returned or cancelled, or what a
  referrer redeemed, enqueues the company's referral run: every Payment Ledger Entry posted against a
  Sales Invoice (invoices, POS payments, Payment Entries, Journal Entries, allocated credit notes and
  advances all post one) and the cancellation of a Sales Invoice, Payment Entry or Journal Entry.
  Only customers in a referral are looked at, with one indexed read each.
* A new Customer gets its referral code, and a referrer or referee becoming a customer re-plans
  (a held reward can now be paid).
"""

from __future__ import annotations

import frappe

from crm_fishpond.referrals import capture as C
from crm_fishpond.sync import profiles as P


def check_code_field(doc, method=None):
	"""validate of Lead, Sales Order and Sales Invoice: a Referral Code must be one we know."""
	C.check_code_field(doc)


def return_outside_a_later_loyalty_program(doc, method=None):
	"""validate of Sales Invoice: a credit note against an invoice made before its customer joined a
	Loyalty Program stays out of the program, as the invoice is. A referral reward in points enrols the
	customer; ERPNext would otherwise copy the program onto the credit note and then, on submit,
	rebuild the original invoice's loyalty entries with no program and refuse the return."""
	if not (doc.get("is_return") and doc.get("return_against") and doc.get("loyalty_program")):
		return
	if not frappe.db.get_value("Sales Invoice", doc.return_against, "loyalty_program"):
		doc.loyalty_program = None


def lead_after_insert(doc, method=None):
	if doc.get("fishpond_referral_code"):
		_capture_lead(doc)


def lead_on_update(doc, method=None):
	if (
		not doc.flags.in_insert
		and doc.get("fishpond_referral_code")
		and doc.has_value_changed("fishpond_referral_code")
	):
		_capture_lead(doc)


def _capture_lead(doc) -> None:
	profile = P.profile_for(lead=doc.name) or P.ensure_profile_for_lead(doc)
	C.capture(
		profile,
		code=doc.fishpond_referral_code,
		source="Referral Link" if doc.flags.fishpond_capture else "Lead",
		source_doctype="Lead",
		source_name=doc.name,
		company=doc.get("company"),
	)


def order_on_submit(doc, method=None):
	"""Sales Order and Sales Invoice: the customer named a referrer."""
	if not doc.get("fishpond_referral_code") or doc.get("is_return"):
		return
	profile = P.ensure_profile_for_customer(doc.customer)
	C.capture(
		profile,
		code=doc.fishpond_referral_code,
		source=doc.doctype,
		source_doctype=doc.doctype,
		source_name=doc.name,
		company=doc.company,
		referred_on=doc.get("posting_date") or doc.get("transaction_date"),
	)


def ledger_on_submit(doc, method=None):
	"""Payment Ledger Entry: an invoice's outstanding amount moved."""
	if doc.party_type == "Customer" and doc.against_voucher_type == "Sales Invoice":
		touch([doc.party], doc.company)


def voucher_on_cancel(doc, method=None):
	"""Sales Invoice, Payment Entry, Journal Entry cancelled: payments were unlinked."""
	if doc.doctype == "Sales Invoice":
		customers = [doc.customer]
	elif doc.doctype == "Payment Entry":
		customers = [doc.party] if doc.party_type == "Customer" else []
	else:
		customers = [r.party for r in doc.get("accounts") or () if r.party_type == "Customer" and r.party]
	touch(customers, doc.company)


def customer_after_insert(doc, method=None):
	profile = P.profile_for(customer=doc.name)
	if not profile:
		return
	from crm_fishpond.referrals.codes import ensure_code

	ensure_code(profile)
	touch([doc.name], None)


def touch(customers, company: str | None) -> None:
	"""Enqueue the referral run of every company in which one of ``customers`` is in a referral."""
	customers = sorted({c for c in customers if c})
	if not customers or not frappe.db.exists("Fishpond Referral", {}):
		return
	profiles = frappe.get_all("Fishpond Lead", filters={"customer": ("in", customers)}, pluck="name")
	if not profiles:
		return
	ref = frappe.qb.DocType("Fishpond Referral")
	query = (
		frappe.qb.from_(ref)
		.select(ref.company)
		.distinct()
		.where(ref.referee.isin(profiles) | ref.referrer.isin(profiles))
	)
	if company:
		query = query.where(ref.company == company)
	from crm_fishpond.referrals.sync import enqueue_company

	for comp in query.run(pluck=True):
		enqueue_company(comp)

"""ERPNext's rows as the engine's inputs: referrals with both sides' identities, the referees' Sales
Invoices with the day each was fully paid (and the POS Invoices attributed to them, paid at the till),
and what the ledgers hold for every reward.

Set-based: one query per table for the whole company, explicit columns, no per-row reads."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import frappe
from frappe.query_builder.functions import Min
from frappe.utils import getdate

from crm_fishpond.engine import referrals as R
from crm_fishpond.referrals import store
from crm_fishpond.referrals.ledgers import customer_entries, redeemed_from
from crm_fishpond.sync import pos

REFERRAL_FIELDS = (
	"name",
	"referrer",
	"referee",
	"company",
	"referred_on",
	"referral_code",
	"override_reason",
	"cancelled",
	"status",
	"rule",
	"programme",
	"creation",
)


@dataclass
class Inputs:
	company: str
	programmes: dict  # name -> (Programme, row)
	referral_rows: list
	referrals: list[R.Referral]
	identities: dict[str, R.Identity]
	invoices: list[R.Invoice]
	stored: dict
	ledgers: dict
	entries: dict = field(default_factory=dict)  # reward name -> its Loyalty Point Entries
	pos_invoices: set = field(default_factory=set)  # names among ``invoices`` that are POS Invoices


def load(company: str, programmes: dict) -> Inputs:
	rows = frappe.get_all(
		"Fishpond Referral",
		filters={"company": company},
		fields=list(REFERRAL_FIELDS),
		order_by="referred_on asc, creation asc, name asc",
	)
	profiles = sorted({r.referrer for r in rows} | {r.referee for r in rows})
	identities = load_identities(profiles)
	referrals = [
		R.Referral(
			name=r.name,
			referrer=identities[r.referrer],
			referee=identities[r.referee],
			company=r.company,
			created_on=getdate(r.referred_on),
			code=r.referral_code,
			override=r.override_reason or None,
			cancelled=bool(r.cancelled),
		)
		for r in rows
		if r.referrer in identities and r.referee in identities
	]
	referee_customers = sorted(
		{
			identities[r.referee].customer
			for r in rows
			if identities.get(r.referee) and identities[r.referee].customer
		}
	)
	invoices = load_invoices(referee_customers, company)
	at_till = load_pos_invoices(referee_customers, company)
	stored = store.load([r.name for r in rows])
	ledgers, entries = load_ledgers([store.key_name(k) for k in stored], stored)
	return Inputs(
		company,
		programmes,
		rows,
		referrals,
		identities,
		invoices + at_till,
		stored,
		ledgers,
		entries,
		{i.name for i in at_till},
	)


# --------------------------------------------------------------------------------------------------
# identities


def load_identities(profiles: list[str]) -> dict[str, R.Identity]:
	if not profiles:
		return {}
	lead = frappe.qb.DocType("Fishpond Lead")
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.customer, lead.lead, lead.email_id, lead.phone, lead.mobile_no, lead.country)
		.where(lead.name.isin(profiles))
		.run(as_dict=True)
	)
	customers = sorted({r.customer for r in rows if r.customer})
	leads = sorted({r.lead for r in rows if r.lead})
	cust = {}
	if customers:
		c = frappe.qb.DocType("Customer")
		for row in (
			frappe.qb.from_(c)
			.select(c.name, c.tax_id, c.customer_group, c.territory, c.creation, c.email_id, c.mobile_no)
			.where(c.name.isin(customers))
			.run(as_dict=True)
		):
			cust[row.name] = row
	first_invoice = {}
	if customers:
		si = frappe.qb.DocType("Sales Invoice")
		first_invoice = dict(
			frappe.qb.from_(si)
			.select(si.customer, Min(si.posting_date))
			.where(si.customer.isin(customers) & (si.docstatus == 1))
			.groupby(si.customer)
			.run()
		)
	lead_rows = {}
	if leads:
		ld = frappe.qb.DocType("Lead")
		for row in (
			frappe.qb.from_(ld)
			.select(ld.name, ld.email_id, ld.phone, ld.mobile_no)
			.where(ld.name.isin(leads))
			.run(as_dict=True)
		):
			lead_rows[row.name] = row
	contacts = _contact_details([("Customer", c) for c in customers] + [("Lead", x) for x in leads])
	addresses = _addresses([("Customer", c) for c in customers] + [("Lead", x) for x in leads])
	countries = _country_codes({r.country for r in rows if r.country})

	out = {}
	for r in rows:
		c = cust.get(r.customer) if r.customer else None
		ld = lead_rows.get(r.lead) if r.lead else None
		parties = [p for p in (("Customer", r.customer), ("Lead", r.lead)) if p[1]]
		emails = {r.email_id, c and c.email_id, ld and ld.email_id}
		phones = {r.phone, r.mobile_no, c and c.mobile_no, ld and ld.phone, ld and ld.mobile_no}
		for party in parties:
			emails |= contacts[party]["emails"]
			phones |= contacts[party]["phones"]
		since = None
		if c:
			dates = [getdate(c.creation)]
			if first_invoice.get(r.customer):
				dates.append(getdate(first_invoice[r.customer]))
			since = min(dates)
		out[r.name] = R.Identity(
			profile=r.name,
			customer=r.customer or None,
			emails=tuple(sorted(e for e in emails if e)),
			phones=tuple(sorted(p for p in phones if p)),
			tax_ids=(c.tax_id,) if c and c.tax_id else (),
			addresses=tuple(sorted({a for party in parties for a in addresses[party]})),
			region=countries.get(r.country),
			customer_group=c.customer_group if c else None,
			territory=c.territory if c else None,
			customer_since=since,
		)
	return out


def _contact_details(parties: list[tuple[str, str]]) -> dict:
	out = defaultdict(lambda: {"emails": set(), "phones": set()})
	if not parties:
		return out
	dl = frappe.qb.DocType("Dynamic Link")
	ce = frappe.qb.DocType("Contact Email")
	cp = frappe.qb.DocType("Contact Phone")
	names = [p[1] for p in parties]
	links = (
		frappe.qb.from_(dl)
		.select(dl.parent, dl.link_doctype, dl.link_name)
		.where(
			(dl.parenttype == "Contact")
			& dl.link_doctype.isin(["Customer", "Lead"])
			& dl.link_name.isin(names)
		)
		.run(as_dict=True)
	)
	by_contact = defaultdict(set)
	for link in links:
		by_contact[link.parent].add((link.link_doctype, link.link_name))
	if not by_contact:
		return out
	contacts = sorted(by_contact)
	for row in (
		frappe.qb.from_(ce).select(ce.parent, ce.email_id).where(ce.parent.isin(contacts)).run(as_dict=True)
	):
		for party in by_contact[row.parent]:
			out[party]["emails"].add(row.email_id)
	for row in (
		frappe.qb.from_(cp).select(cp.parent, cp.phone).where(cp.parent.isin(contacts)).run(as_dict=True)
	):
		for party in by_contact[row.parent]:
			out[party]["phones"].add(row.phone)
	return out


def _addresses(parties: list[tuple[str, str]]) -> dict:
	out = defaultdict(set)
	if not parties:
		return out
	dl = frappe.qb.DocType("Dynamic Link")
	ad = frappe.qb.DocType("Address")
	rows = (
		frappe.qb.from_(dl)
		.join(ad)
		.on(ad.name == dl.parent)
		.select(dl.link_doctype, dl.link_name, ad.address_line1, ad.address_line2, ad.city, ad.pincode)
		.where(
			(dl.parenttype == "Address")
			& dl.link_doctype.isin(["Customer", "Lead"])
			& dl.link_name.isin([p[1] for p in parties])
			& (ad.disabled == 0)
		)
		.run(as_dict=True)
	)
	for row in rows:
		text = " ".join(x for x in (row.address_line1, row.address_line2, row.city, row.pincode) if x)
		if text:
			out[(row.link_doctype, row.link_name)].add(text)
	return out


def _country_codes(countries: set[str]) -> dict[str, str]:
	if not countries:
		return {}
	rows = frappe.get_all("Country", filters={"name": ("in", sorted(countries))}, fields=["name", "code"])
	return {r.name: (r.code or "").upper() or None for r in rows}


# --------------------------------------------------------------------------------------------------
# invoices


def load_invoices(customers: list[str], company: str) -> list[R.Invoice]:
	"""Submitted and cancelled Sales Invoices (and credit notes) of ``customers`` in ``company``, each
	with the day its outstanding amount last reached zero."""
	if not customers:
		return []
	si = frappe.qb.DocType("Sales Invoice")
	query = frappe.qb.from_(si).select(
		si.name,
		si.customer,
		si.posting_date,
		si.base_grand_total,
		si.outstanding_amount,
		si.docstatus,
		si.company,
		si.is_return,
		si.return_against,
		si.amended_from,
	)
	query = query.where((si.company == company) & si.docstatus.isin([1, 2]))
	rows = query.where(si.customer.isin(customers)).run(as_dict=True)
	# an accountant's attribution decides whose business an invoice is (crm_fishpond.accounting): an
	# invoice attributed to one of these customers' profiles counts as theirs, with its credit notes;
	# one of theirs attributed to another profile does not
	owner = attributed_customers(customers, [r.name for r in rows], company)
	known = {r.name for r in rows}
	extra = sorted(v for v in owner if v not in known)
	if extra:
		rows += query.where(si.name.isin(extra) | si.return_against.isin(extra)).run(as_dict=True)
	wanted, kept = set(customers), []
	for r in rows:
		attributed = owner.get(r.name, owner.get(r.return_against or "", r.customer))
		if attributed in wanted:
			r.customer = attributed
			kept.append(r)
	rows = list({r.name: r for r in kept}.values())
	paid_on, owed = paid_dates([r.name for r in rows if r.docstatus == 1 and not r.is_return])
	return [
		R.Invoice(
			name=r.name,
			customer=r.customer,
			posting_date=getdate(r.posting_date),
			base_grand_total=float(r.base_grand_total or 0),
			# the ledger's figure: a caller that posts ledger rows first and updates the invoice's
			# outstanding amount afterwards (Payment Reconciliation) is read right in between too
			outstanding=owed.get(r.name, float(r.outstanding_amount or 0)),
			docstatus=int(r.docstatus),
			company=r.company,
			is_return=bool(r.is_return),
			return_against=r.return_against or None,
			amended_from=r.amended_from or None,
			paid_on=paid_on.get(r.name),
		)
		for r in rows
	]


def load_pos_invoices(customers: list[str], company: str) -> list[R.Invoice]:
	"""POS Invoices an accountant attributed to ``customers``' profiles, with their POS returns, once
	POS closing has booked them in a consolidated Sales Invoice (crm_fishpond.sync.pos). A POS Invoice
	is paid at the till: it counts as paid on its own date unless it owes something itself. Its
	docstatus is that of the invoice holding it now: a cancelled POS closing cancels it here."""
	if not customers:
		return []
	att = frappe.qb.DocType("Fishpond Invoice Attribution")
	lead = frappe.qb.DocType("Fishpond Lead")
	owner = dict(
		(
			frappe.qb.from_(att)
			.join(lead)
			.on(lead.name == att.to_profile)
			.select(att.voucher_no, lead.customer)
			.where(att.docstatus == 1)
			.where(att.voucher_type == pos.POS)
			.where(att.company == company)
			.where(lead.customer.isin(customers))
		).run()
	)
	if not owner:
		return []
	p = frappe.qb.DocType(pos.POS)
	rows = (
		frappe.qb.from_(p)
		.select(
			p.name,
			p.posting_date,
			p.base_grand_total,
			p.outstanding_amount,
			p.company,
			p.is_return,
			p.return_against,
		)
		.where(
			p.name.isin(sorted(owner))
			| (p.return_against.isin(sorted(owner)) & (p.is_return == 1) & (p.docstatus == 1))
		)
	).run(as_dict=True)
	home = pos.homes([r.name for r in rows])
	out = []
	for r in rows:
		if r.name not in home:
			continue  # still in an open POS session: not booked yet
		outstanding = 0.0 if r.is_return else max(float(r.outstanding_amount or 0), 0.0)
		out.append(
			R.Invoice(
				name=r.name,
				customer=owner.get(r.name) or owner.get(r.return_against or ""),
				posting_date=getdate(r.posting_date),
				base_grand_total=float(r.base_grand_total or 0),
				outstanding=outstanding,
				docstatus=home[r.name][1],
				company=r.company,
				is_return=bool(r.is_return),
				return_against=r.return_against or None,
				paid_on=getdate(r.posting_date) if outstanding <= R.PAID_TOLERANCE else None,
			)
		)
	return out


def attributed_customers(customers: list[str], invoices: list[str], company: str) -> dict[str, str | None]:
	"""invoice -> the Customer of the profile it is attributed to (None: a profile without one), for
	attributions in force that either point to one of ``customers``' profiles or take one of
	``invoices`` away from its customer."""
	att = frappe.qb.DocType("Fishpond Invoice Attribution")
	lead = frappe.qb.DocType("Fishpond Lead")
	condition = lead.customer.isin(customers)
	if invoices:
		condition = condition | att.voucher_no.isin(invoices)
	rows = (
		frappe.qb.from_(att)
		.left_join(lead)
		.on(lead.name == att.to_profile)
		.select(att.voucher_no, lead.customer)
		.where(att.docstatus == 1)
		.where(att.voucher_type == "Sales Invoice")
		.where(att.company == company)
		.where(condition)
	).run()
	return {voucher: customer or None for voucher, customer in rows}


def paid_dates(invoices: list[str]) -> tuple[dict[str, object], dict[str, float]]:
	"""The day each invoice was fully paid, and what it still owes, from its Payment Ledger Entries
	(whatever paid it: a Payment Entry, a Journal Entry, a POS payment, an allocated credit note or
	advance): walking its live rows in posting order, the day the running outstanding last fell to
	zero, and the sum of its rows (in the receivable account's currency, as ERPNext's own outstanding
	amount is computed)."""
	if not invoices:
		return {}, {}
	ple = frappe.qb.DocType("Payment Ledger Entry")
	rows = (
		frappe.qb.from_(ple)
		.select(ple.against_voucher_no, ple.posting_date, ple.amount_in_account_currency)
		.where(
			(ple.against_voucher_type == "Sales Invoice")
			& ple.against_voucher_no.isin(invoices)
			& (ple.delinked == 0)
		)
		.orderby(ple.against_voucher_no)
		.orderby(ple.posting_date)
		.orderby(ple.creation)
		.run(as_dict=True)
	)
	out: dict[str, object] = {}
	running: dict[str, float] = defaultdict(float)
	for row in rows:
		inv = row.against_voucher_no
		before = running[inv]
		running[inv] = before + float(row.amount_in_account_currency or 0)
		if running[inv] <= R.PAID_TOLERANCE and before > R.PAID_TOLERANCE:
			out[inv] = getdate(row.posting_date)
		elif running[inv] > R.PAID_TOLERANCE:
			out.pop(inv, None)
	paid = {inv: day for inv, day in out.items() if running[inv] <= R.PAID_TOLERANCE}
	return paid, dict(running)


# --------------------------------------------------------------------------------------------------
# ledgers


def load_ledgers(reward_names: list[str], stored: dict) -> tuple[dict, dict]:
	"""What ERPNext holds per reward: its Loyalty Point Entries (posted, reversed, and the points the
	customer redeemed from them) and its Gift Card Coupon Codes."""
	if not reward_names:
		return {}, {}
	keys = {store.key_name(k): k for k in stored}
	lpe = frappe.qb.DocType("Loyalty Point Entry")
	ours = (
		frappe.qb.from_(lpe)
		.select(
			lpe.name,
			lpe.fishpond_referral_reward,
			lpe.loyalty_points,
			lpe.customer,
			lpe.loyalty_program,
			lpe.expiry_date,
			lpe.redeem_against,
		)
		.where(lpe.fishpond_referral_reward.isin(reward_names))
		.orderby(lpe.creation)
		.run(as_dict=True)
	)
	entries = defaultdict(list)
	posted, reversed_, redeemed = defaultdict(int), defaultdict(int), defaultdict(int)
	owner = {}
	for e in ours:
		entries[e.fishpond_referral_reward].append(e)
		points = int(e.loyalty_points or 0)
		if points > 0:
			posted[e.fishpond_referral_reward] += points
			owner[e.name] = e.fishpond_referral_reward
		else:
			reversed_[e.fishpond_referral_reward] += -points
	if owner:
		# which points a customer spent comes from replaying their entries, not from ERPNext's
		# redeem_against (crm_fishpond.referrals.ledgers)
		spent = redeemed_from(customer_entries({e.customer for e in ours}))
		for entry, points in spent.items():
			if entry in owner:
				redeemed[owner[entry]] += points
	coupons = defaultdict(list)
	cc = frappe.qb.DocType("Coupon Code")
	pr = frappe.qb.DocType("Pricing Rule")
	today = getdate()
	found = (
		frappe.qb.from_(cc)
		.left_join(pr)
		.on(pr.name == cc.pricing_rule)
		.select(
			cc.name,
			cc.fishpond_referral_reward,
			cc.used,
			cc.valid_upto,
			cc.fishpond_withdrawn,
			pr.discount_amount,
		)
		.where(cc.fishpond_referral_reward.isin(reward_names))
		.orderby(cc.name)
		.run(as_dict=True)
	)
	for c in found:
		# ERPNext counts a coupon's uses on Sales Orders and POS Invoices (Sales Invoices have none)
		used = int(c.used or 0) >= 1
		withdrawn = bool(c.fishpond_withdrawn)
		expired = bool(c.valid_upto and getdate(c.valid_upto) < today and not used and not withdrawn)
		coupons[c.fishpond_referral_reward].append(
			R.Coupon(c.name, float(c.discount_amount or 0), used=used, disabled=withdrawn, expired=expired)
		)
	ledgers = {}
	for name in set(posted) | set(reversed_) | set(coupons):
		if name in keys:
			ledgers[keys[name]] = R.Ledger(
				posted[name], reversed_[name], redeemed[name], tuple(coupons[name])
			)
	return ledgers, dict(entries)

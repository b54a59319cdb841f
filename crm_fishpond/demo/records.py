"""One planned person's records, made through ERPNext's and the pond's own API.

A person becomes a **Lead** (ERPNext makes its **Contact** with the e-mail and phone) and so a
profile. A buyer's Lead becomes a **Customer** (``make_customer``, which joins the Lead's profile),
with **Sales Orders** (``skip_delivery_note``: the catalogue is non-stock), **Sales Invoices** (from
the order with ``make_sales_invoice``, or direct), **credit notes** (``make_return_doc``) and
**Payment Entries** (``get_payment_entry``), each submitted on its historical date. Interactions are
Fishpond Interaction documents; behaviour events go through the ingest API
(:func:`crm_fishpond.sync.ingest.ingest`) as a tracker would send them.

Parties are inserted the way Data Import inserts them (``frappe.flags.in_import``): ERPNext then does
not look every new e-mail address up on gravatar.com, one HTTP request per Lead and Contact.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta

import frappe
from erpnext.accounts.doctype.payment_entry.payment_entry import get_payment_entry
from erpnext.controllers.sales_and_purchase_return import make_return_doc
from erpnext.crm.doctype.lead.lead import make_customer
from erpnext.selling.doctype.sales_order.sales_order import make_sales_invoice
from frappe.utils import flt

from crm_fishpond.demo.masters import Context
from crm_fishpond.demo.plan import PAID, PART, Invoice, Line, Order, Person
from crm_fishpond.demo.state import INGEST_KEY, PREFIX, SERIES
from crm_fishpond.sync import ingest
from crm_fishpond.sync.profiles import ensure_profile_for_customer, ensure_profile_for_lead

DUE_DAYS = 30
EMPLOYEE_BANDS = ((10, "1-10"), (50, "11-50"), (200, "51-200"), (500, "201-500"), (1000, "501-1000"))
CALL_MINUTES = {"Call": 15, "Meeting": 45, "Visit": 90}


@contextmanager
def importing() -> Iterator[None]:
	previous = frappe.flags.in_import
	frappe.flags.in_import = True
	try:
		yield
	finally:
		frappe.flags.in_import = previous


def create_person(person: Person, ctx: Context) -> tuple[str, Counter]:
	"""Create the person's Lead, Contact, Customer, documents and interactions; returns the profile
	and what was made. The caller commits (one batch of people is one transaction)."""
	made: Counter = Counter()
	lead = make_lead(person, ctx)
	made["Lead"] += 1
	made["Contact"] += frappe.db.count(
		"Dynamic Link", {"link_doctype": "Lead", "link_name": lead.name, "parenttype": "Contact"}
	)
	profile = ensure_profile_for_lead(lead.name)
	customer = None
	if person.is_customer:
		customer = make_customer_from(lead, person, ctx)
		made["Customer"] += 1
		profile = ensure_profile_for_customer(customer)
		made.update(make_documents(person, customer, ctx))
	elif person.account is not None:
		link_colleague(lead, person, ctx)
	_profile_answers(profile, person)
	_backdate(person, lead.name, customer)
	made["Fishpond Interaction"] += make_interactions(person, profile, ctx)
	made["Fishpond Feedback"] += make_feedback(person, profile)
	return profile, made


# --- parties -------------------------------------------------------------------------------------


def employee_band(employees: int | None) -> str | None:
	if not employees:
		return None
	return next((band for limit, band in EMPLOYEE_BANDS if employees <= limit), "1000+")


def make_lead(person: Person, ctx: Context):
	lead = frappe.new_doc("Lead")
	lead.update(
		{
			"naming_series": SERIES["Lead"],
			"first_name": person.first_name,
			"last_name": person.last_name or None,
			"company_name": person.company_name,
			"email_id": person.email,
			"mobile_no": person.mobile_no,
			"source": ctx.sources.get(person.source),
			"territory": ctx.territories.get(person.territory),
			"country": ctx.countries.get(person.country),
			"industry": ctx.industries.get(person.industry) if person.industry else None,
			"job_title": person.job_title,
			"no_of_employees": employee_band(person.employees) if person.company_name else None,
			"company": ctx.company,
		}
	)
	savepoint = "fishpond_demo_lead"
	frappe.db.savepoint(savepoint)
	try:
		with importing():
			lead.insert(ignore_permissions=True)
	except frappe.DuplicateEntryError:
		# a Lead of the site already has this e-mail (ERPNext keeps them unique): keep the phone
		frappe.db.rollback(save_point=savepoint)
		lead.email_id = None
		lead.name = None
		with importing():
			lead.insert(ignore_permissions=True)
	_ensure_contact(lead)
	return lead


def _ensure_contact(lead) -> None:
	"""ERPNext makes the Lead's Contact when *CRM Settings → Auto Creation of Contact* is on (the
	default); otherwise the demo makes it, as a person would."""
	if frappe.db.exists(
		"Dynamic Link", {"link_doctype": "Lead", "link_name": lead.name, "parenttype": "Contact"}
	):
		return
	if not (lead.email_id or lead.mobile_no):
		return
	contact = frappe.new_doc("Contact")
	contact.update(
		{"first_name": lead.first_name, "last_name": lead.last_name, "company_name": lead.company_name}
	)
	if lead.email_id:
		contact.add_email(lead.email_id, is_primary=True)
	if lead.mobile_no:
		contact.add_phone(lead.mobile_no, is_primary_mobile_no=True)
	contact.append("links", {"link_doctype": "Lead", "link_name": lead.name})
	with importing():
		contact.insert(ignore_permissions=True)


def make_customer_from(lead, person: Person, ctx: Context) -> str:
	customer = make_customer(lead.name)
	customer.customer_name = _free_customer_name(person.customer_name)
	customer.customer_group = ctx.groups.get(person.customer_group) or customer.customer_group
	customer.territory = ctx.territories.get(person.territory)
	if customer.meta.has_field("industry") and person.industry:
		customer.industry = ctx.industries.get(person.industry)
	if person.foreign and ctx.foreign:
		customer.default_currency = ctx.foreign
		customer.append("accounts", {"company": ctx.company, "account": ctx.foreign_receivable})
	with importing():  # the name is made unique above; the Lead's Contact is linked on insert
		customer.insert(ignore_permissions=True)
	ctx.customers[person.customer_name] = customer.name
	return customer.name


def _free_customer_name(name: str) -> str:
	"""The planned name, with " - n" added if a Customer of the site already has it."""
	candidate, n = name, 1
	while frappe.db.exists("Customer", candidate):
		candidate = f"{name} - {n}"
		n += 1
	return candidate


def link_colleague(lead, person: Person, ctx: Context) -> None:
	"""A colleague at a customer: their Contact is also one of the customer's contacts."""
	customer = ctx.account_customer(person)
	if not customer:
		return
	for contact in frappe.get_all(
		"Dynamic Link",
		filters={"link_doctype": "Lead", "link_name": lead.name, "parenttype": "Contact"},
		pluck="parent",
	):
		doc = frappe.get_doc("Contact", contact)
		doc.append("links", {"link_doctype": "Customer", "link_name": customer})
		with importing():
			doc.save(ignore_permissions=True)


def _profile_answers(profile: str, person: Person) -> None:
	"""The qualification answers a rep would have filled in (a plain update: the full rescore reads
	them)."""
	answers = {
		"budget": person.budget,
		"authority": person.authority,
		"need": person.need,
		"timeline": person.timeline,
	}
	answers = {k: v for k, v in answers.items() if v}
	if answers:
		frappe.db.set_value("Fishpond Lead", profile, answers, update_modified=False)


def _backdate(person: Person, lead: str, customer: str | None) -> None:
	"""Date the Lead, its Contact and profile when the person entered the pond, and the Customer at
	its first order, so tenure, acquisition and time-based reports read as a real history."""
	created = person.created
	frappe.db.set_value("Lead", lead, "creation", created, update_modified=False)
	frappe.db.set_value("Fishpond Lead", {"lead": lead}, "creation", created, update_modified=False)
	for contact in frappe.get_all(
		"Dynamic Link",
		filters={"link_doctype": "Lead", "link_name": lead, "parenttype": "Contact"},
		pluck="parent",
	):
		frappe.db.set_value("Contact", contact, "creation", created, update_modified=False)
	if customer:
		first = min([i.order_date or i.date for i in person.invoices] + [o.date for o in person.open_orders])
		frappe.db.set_value(
			"Customer", customer, "creation", max(created, _at(first, 9)), update_modified=False
		)


def _at(day: date, hour: int) -> datetime:
	return datetime.combine(day, time(hour))


# --- documents -----------------------------------------------------------------------------------


def make_documents(person: Person, customer: str, ctx: Context) -> Counter:
	made: Counter = Counter()
	foreign = bool(person.foreign and ctx.foreign)
	for invoice in person.invoices:
		name = make_invoice(invoice, customer, ctx, foreign)
		made["Sales Invoice"] += 1
		made["Sales Order"] += bool(invoice.order_date)
		made["foreign"] += foreign
		if invoice.return_qty:
			make_credit_note(name, invoice)
			made["Credit Note"] += 1
		if invoice.payment in (PAID, PART):
			made["Payment Entry"] += make_payment(name, invoice, ctx)
	for order in person.open_orders:
		make_order(order.date, order.lines, customer, ctx, foreign)
		made["Sales Order"] += 1
		made["open"] += 1
	return made


def _currency(ctx: Context, foreign: bool) -> tuple[str, float]:
	return (ctx.foreign, ctx.foreign_rate) if foreign else (ctx.currency, 1.0)


def _item_rows(
	lines: tuple[Line, ...], ctx: Context, rate: float, delivery: date | None = None
) -> list[dict]:
	rows = []
	for line in lines:
		list_price = flt(line.price * ctx.scale / rate, 2)
		row = {
			"item_code": ctx.items[line.item],
			"qty": line.qty,
			"price_list_rate": list_price,
			"discount_percentage": line.discount * 100,
			"rate": flt(list_price * (1 - line.discount), 2),
		}
		if delivery:
			row["delivery_date"] = delivery
		rows.append(row)
	return rows


def make_order(day: date, lines: tuple[Line, ...], customer: str, ctx: Context, foreign: bool):
	currency, rate = _currency(ctx, foreign)
	delivery = day + timedelta(days=7)
	order = frappe.get_doc(
		{
			"doctype": "Sales Order",
			"naming_series": SERIES["Sales Order"],
			"company": ctx.company,
			"customer": customer,
			"order_type": "Sales",
			"transaction_date": day,
			"delivery_date": delivery,
			"skip_delivery_note": 1,
			"currency": currency,
			"conversion_rate": rate,
			"items": _item_rows(lines, ctx, rate, delivery),
		}
	)
	order.insert(ignore_permissions=True)
	order.submit()
	return order


def make_invoice(invoice: Invoice, customer: str, ctx: Context, foreign: bool) -> str:
	currency, rate = _currency(ctx, foreign)
	if invoice.order_date:
		order = make_order(invoice.order_date, invoice.lines, customer, ctx, foreign)
		doc = make_sales_invoice(order.name, ignore_permissions=True)
		doc.set("payment_schedule", [])
	else:
		doc = frappe.get_doc(
			{
				"doctype": "Sales Invoice",
				"company": ctx.company,
				"customer": customer,
				"currency": currency,
				"conversion_rate": rate,
				"items": _item_rows(invoice.lines, ctx, rate),
			}
		)
	doc.update(
		{
			"naming_series": SERIES["Sales Invoice"],
			"set_posting_time": 1,
			"posting_date": invoice.date,
			"posting_time": "10:00:00",
			"due_date": invoice.date + timedelta(days=DUE_DAYS),
		}
	)
	doc.insert(ignore_permissions=True)
	doc.submit()
	return doc.name


def make_credit_note(invoice_name: str, invoice: Invoice) -> str:
	"""A full or partial return: ``invoice.return_qty`` units of each line come back."""
	doc = make_return_doc("Sales Invoice", invoice_name)
	rows = []
	for row, qty in zip(doc.items, invoice.return_qty or (), strict=False):
		if qty:
			row.qty = -qty
			rows.append(row)
	doc.set("items", rows)
	doc.update(
		{
			"naming_series": SERIES["Credit Note"],
			"set_posting_time": 1,
			"posting_date": invoice.return_date,
			"posting_time": "11:00:00",
			"due_date": invoice.return_date,
			# the credit reduces what the customer still owes on the invoice
			"update_outstanding_for_self": 0,
		}
	)
	doc.insert(ignore_permissions=True)
	doc.submit()
	return doc.name


def make_payment(invoice_name: str, invoice: Invoice, ctx: Context) -> int:
	outstanding = flt(frappe.db.get_value("Sales Invoice", invoice_name, "outstanding_amount"))
	if outstanding <= 0:
		return 0
	amount = None if invoice.payment == PAID else flt(outstanding * invoice.pay_share, 2)
	entry = get_payment_entry(
		"Sales Invoice",
		invoice_name,
		party_amount=amount,
		bank_account=ctx.bank_account,
		ignore_permissions=True,
	)
	entry.update(
		{
			"naming_series": SERIES["Payment Entry"],
			"posting_date": invoice.pay_date,
			"reference_date": invoice.pay_date,
			"reference_no": f"REM-{invoice_name.removeprefix(PREFIX)}",
			"mode_of_payment": ctx.mode_of_payment,
		}
	)
	entry.insert(ignore_permissions=True)
	entry.submit()
	return 1


# --- pond activity -------------------------------------------------------------------------------


def make_feedback(person: Person, profile: str) -> int:
	"""The person's survey answers, as a rep logs one (the demo sends no e-mail)."""
	for moment, kind, score, comment in person.feedback:
		frappe.get_doc(
			{
				"doctype": "Fishpond Feedback",
				"fishpond_lead": profile,
				"survey_type": kind,
				"score": score,
				"comment": comment,
				"answered_on": moment,
			}
		).insert(ignore_permissions=True)
	return len(person.feedback)


def make_interactions(person: Person, profile: str, ctx: Context) -> int:
	rep = ctx.rep_of_territory.get(person.territory)
	for moment, kind, direction, subject in person.interactions:
		kind = kind.capitalize()
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": profile,
				"interaction_type": kind,
				"direction": direction.capitalize() if direction else None,
				"interaction_time": moment,
				"user": rep,
				"subject": subject,
				"duration_minutes": CALL_MINUTES.get(kind),
			}
		).insert(ignore_permissions=True)
	return len(person.interactions)


EVENT_URLS = {
	"page_view": "/products",
	"pricing_view": "/pricing",
	"download": "/resources/pond-care-guide.pdf",
	"webinar": "/webinars/water-quality",
	"form_submit": "/contact",
	"demo_request": "/demo",
	"trial_signup": "/app/signup",
}


def send_events(batch: list[tuple[str, Person]], key: str) -> int:
	"""The batch's behaviour events through the ingest API, at most ingest.MAX_ROWS per call; each
	call has its own idempotency key, so a replayed batch writes nothing twice."""
	rows = [
		{
			"profile": profile,
			"event_type": kind,
			"event_time": moment.isoformat(),
			"channel": "App" if kind == "trial_signup" else "Web",
			"url": EVENT_URLS.get(kind),
		}
		for profile, person in batch
		for moment, kind in person.events
	]
	accepted = 0
	for part, start in enumerate(range(0, len(rows), ingest.MAX_ROWS)):
		result = ingest.ingest(
			rows[start : start + ingest.MAX_ROWS], f"{INGEST_KEY}{key}:{part}", frappe.session.user
		)
		accepted += result["accepted"]
	return accepted

"""The link queue: invoices whose customer is not the real one, with the profiles they probably belong to.

`refresh()` (a background job: nightly, and *Refresh Queue* on the list) reads set-based:

* **Generic Customer**: submitted Sales Invoices and POS Invoices (not credit notes or POS returns:
  those follow their invoice) of a generic customer (crm_fishpond.accounting.config.generic_customers)
  that name someone: a contact e-mail or mobile, a tax id, an address, or a customer name typed over
  the generic one. A consolidated Sales Invoice (POS closing) is queued through its POS Invoices, one
  entry each, never as a whole: ERPNext copies onto it only the last POS Invoice's details. A POS
  Invoice still in an open POS session is queued too (``consolidated_invoice`` empty);
* **Likely Duplicate**: invoices of a Customer whose profile is in an Open duplicate pair with another
  Customer's profile (the newer Customer's invoices; the older one is ``duplicate_of``);
* **No Profile**: invoices of a Customer without a profile (none after sync; shown if any exist).

It writes only the differences as *Fishpond Invoice Link* rows named after the invoice: new ones are
inserted Open, Open ones that no longer qualify are deleted, Attributed and Dismissed ones are never
touched (they are the record of a decision) but for the Sales Invoice a POS Invoice was consolidated
into since. Then it computes the suggestions of every Open row with
the engine's matcher (`crm_fishpond.engine.invoice_match.suggest`), leaving out the pairs a person
dismissed, and rewrites the suggestion rows of the entries whose suggestions changed.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict

import frappe
import pandas as pd
from frappe.query_builder import functions as fn
from frappe.utils import now_datetime
from redis import Redis

from crm_fishpond import jobs
from crm_fishpond.accounting import config, messages
from crm_fishpond.bulk import CHILD_COLUMNS, DOC_COLUMNS
from crm_fishpond.engine.invoice_match import suggest
from crm_fishpond.scoring.config import engine_setup
from crm_fishpond.sync.transactions import transaction_name

QUEUE = "Fishpond Invoice Link"
SUGGESTION = "Fishpond Invoice Suggestion"
LEAD = "Fishpond Lead"
OPEN, ATTRIBUTED, DISMISSED = "Open", "Attributed", "Dismissed"
GENERIC, DUPLICATE, NO_PROFILE = "Generic Customer", "Likely Duplicate", "No Profile"
JOB_ID = "crm_fishpond:invoice_queue"
WAITING = "fishpond:invoice_queue_waiting"
MAX_ROUNDS = 3
CHUNK = 1000

DETAIL_FIELDS = ("customer_name", "contact_email", "contact_mobile", "tax_id", "address")
QUEUE_FIELDS = (
	"voucher_type",
	"voucher_no",
	"company",
	"posting_date",
	"customer",
	"base_grand_total",
	"reason",
	"duplicate_of",
	"consolidated_invoice",
	*DETAIL_FIELDS,
)
TAGS = re.compile(r"<[^>]+>")


def queue_name(voucher_no: str, voucher_type: str = "Sales Invoice") -> str:
	"""``SI-<invoice>`` for a Sales Invoice, ``POS-<invoice>`` for a POS Invoice."""
	return transaction_name(voucher_type, voucher_no)


def enqueue_refresh() -> None:
	"""Ask for a refresh. A mark is set once the caller's transaction has committed and the job is
	enqueued (deduplicated): a refresh already running sees the mark when it ends and runs again, so
	an invoice submitted while it read is never left out."""
	if jobs.runs_inline():
		frappe.cache.set_value(WAITING, 1)
	else:
		frappe.db.after_commit.add(lambda: frappe.cache.set_value(WAITING, 1))
	jobs.enqueue("crm_fishpond.accounting.queue.run", job_id=JOB_ID, queue="long", timeout=3600)


def scheduled_refresh() -> None:
	enqueue_refresh()


def run() -> None:
	"""The job: refresh while a refresh is asked for (at least once)."""
	for round_ in range(MAX_ROUNDS):
		# rq's Redis.delete says whether the mark was there (Frappe's wrapper returns nothing)
		if not Redis.delete(frappe.cache, frappe.cache.make_key(WAITING)) and round_:
			break
		refresh()
		if not jobs.runs_inline():
			frappe.db.commit()  # nosemgrep: each round's writes stand before the next round reads


# --------------------------------------------------------------------------------------------------
# what belongs in the queue


def _invoice_query(si):
	"""Submitted invoices (Sales Invoice or POS Invoice: ``si``), not returns, with what they say."""
	return (
		frappe.qb.from_(si)
		.select(
			si.name.as_("voucher_no"),
			si.customer,
			si.customer_name,
			si.company,
			si.posting_date,
			si.base_grand_total,
			si.contact_email,
			si.contact_mobile,
			si.tax_id,
			si.customer_address,
			si.address_display,
		)
		.where(si.docstatus == 1)
		.where(si.is_return == 0)
	)


def _address_text(html: str | None) -> str | None:
	if not html:
		return None
	text = TAGS.sub("\n", html)
	lines = [line.strip(" ,") for line in text.splitlines() if line.strip(" ,")]
	return ", ".join(lines) or None


def _entry(
	row,
	reason: str,
	duplicate_of: str | None = None,
	own: dict | None = None,
	voucher_type: str = "Sales Invoice",
) -> dict:
	"""One queue row. ``own``: the generic customer's own name, contact, e-mail, mobile, tax id and
	address, which ERPNext fills into its invoices and which identify nobody."""
	own = own or {}

	def typed(value, *owns):
		value = (value or "").strip()
		if not value or any(value.casefold() == (o or "").strip().casefold() for o in owns if o):
			return None
		return value

	same_address = own.get("address") and row.get("customer_address") == own.get("address")
	return {
		"voucher_type": voucher_type,
		"voucher_no": row.voucher_no,
		"company": row.company,
		"posting_date": row.posting_date,
		"customer": row.customer,
		"base_grand_total": row.base_grand_total,
		"reason": reason,
		"duplicate_of": duplicate_of,
		"consolidated_invoice": row.get("consolidated_invoice") or None,
		"customer_name": typed(row.customer_name, own.get("customer_name"), own.get("name")),
		"contact_email": typed(row.contact_email, own.get("email_id")),
		"contact_mobile": typed(row.contact_mobile, own.get("mobile_no")),
		"tax_id": typed(row.tax_id, own.get("tax_id")),
		"address": None if same_address else _address_text(row.address_display),
	}


def generic_entries(generic: list[str]) -> list[dict]:
	if not generic:
		return []
	c = frappe.qb.DocType("Customer")
	owns = {
		r.name: r
		for r in (
			frappe.qb.from_(c)
			.select(
				c.name,
				c.customer_name,
				c.email_id,
				c.mobile_no,
				c.tax_id,
				c.customer_primary_address.as_("address"),
			)
			.where(c.name.isin(generic))
		).run(as_dict=True)
	}
	si = frappe.qb.DocType("Sales Invoice")
	# a consolidated invoice carries its last POS Invoice's details: its POS Invoices are queued instead
	invoices = _invoice_query(si).where(si.customer.isin(generic)).where(si.is_consolidated == 0)
	pos = frappe.qb.DocType("POS Invoice")
	pos_invoices = _invoice_query(pos).select(pos.consolidated_invoice).where(pos.customer.isin(generic))
	out = []
	for voucher_type, query in (("Sales Invoice", invoices), ("POS Invoice", pos_invoices)):
		for row in query.run(as_dict=True):
			entry = _entry(row, GENERIC, own=owns.get(row.customer), voucher_type=voucher_type)
			if any(entry[f] for f in DETAIL_FIELDS):
				out.append(entry)
	return out


def duplicate_pairs() -> list[tuple[str, str, str, str, float, str]]:
	"""(newer customer, its profile, older customer, its profile, score, evidence) of Open pairs whose
	two profiles both have a Customer."""
	cand = frappe.qb.DocType("Fishpond Duplicate Candidate")
	a, b = frappe.qb.DocType(LEAD).as_("a"), frappe.qb.DocType(LEAD).as_("b")
	ca, cb = frappe.qb.DocType("Customer").as_("ca"), frappe.qb.DocType("Customer").as_("cb")
	rows = (
		frappe.qb.from_(cand)
		.join(a)
		.on(a.name == cand.profile_a)
		.join(b)
		.on(b.name == cand.profile_b)
		.join(ca)
		.on(ca.name == a.customer)
		.join(cb)
		.on(cb.name == b.customer)
		.select(a.customer, a.name, ca.creation, b.customer, b.name, cb.creation, cand.score, cand.evidence)
		.where(cand.status == "Open")
	).run()
	out = []
	for cust_a, prof_a, made_a, cust_b, prof_b, made_b, score, evidence in rows:
		if (made_a, cust_a) > (made_b, cust_b):
			out.append((cust_a, prof_a, cust_b, prof_b, float(score or 0), evidence or ""))
		else:
			out.append((cust_b, prof_b, cust_a, prof_a, float(score or 0), evidence or ""))
	return out


def duplicate_entries(pairs) -> list[dict]:
	if not pairs:
		return []
	older = {}
	for newer, _p, old, _op, _s, _e in pairs:
		older.setdefault(newer, old)  # a customer in several pairs: its best-known twin first
	si = frappe.qb.DocType("Sales Invoice")
	out = []
	customers = sorted(older)
	for start in range(0, len(customers), CHUNK):
		rows = _invoice_query(si).where(si.customer.isin(customers[start : start + CHUNK])).run(as_dict=True)
		out += [_entry(row, DUPLICATE, duplicate_of=older[row.customer]) for row in rows]
	return out


def unprofiled_entries(generic: list[str]) -> list[dict]:
	si = frappe.qb.DocType("Sales Invoice")
	lead = frappe.qb.DocType(LEAD)
	query = (
		_invoice_query(si)
		.left_join(lead)
		.on(lead.customer == si.customer)
		.where(lead.name.isnull())
		.where(si.customer.isnotnull())
	)
	if generic:
		query = query.where(si.customer.notin(generic))
	return [_entry(row, NO_PROFILE) for row in query.run(as_dict=True)]


# --------------------------------------------------------------------------------------------------
# refresh


def refresh() -> dict:
	"""Rebuild the queue's Open rows and their suggestions (see the module docstring)."""
	generic = config.generic_customers()
	pairs = duplicate_pairs()
	wanted: dict[str, dict] = {}
	# one row per invoice; the first reason wins
	for entry in generic_entries(generic) + duplicate_entries(pairs) + unprofiled_entries(generic):
		wanted.setdefault(queue_name(entry["voucher_no"], entry["voucher_type"]), entry)
	counts = _store_entries(wanted)
	counts.update(compute_suggestions(pairs=pairs, generic=generic))
	return counts


def _stored() -> dict[str, dict]:
	q = frappe.qb.DocType(QUEUE)
	rows = (frappe.qb.from_(q).select(q.name, q.status, *[q[f] for f in QUEUE_FIELDS])).run(as_dict=True)
	return {r.name: r for r in rows}


def _same(a, b) -> bool:
	if a in (None, "") and b in (None, ""):
		return True
	if isinstance(a, int | float) or isinstance(b, int | float):
		return round(float(a or 0), 6) == round(float(b or 0), 6)
	return str(a) == str(b)


def _store_entries(wanted: dict[str, dict]) -> dict:
	stored = _stored()
	now, user = now_datetime(), frappe.session.user
	new = [name for name in wanted if name not in stored]
	changed = {
		name: {f: wanted[name][f] for f in QUEUE_FIELDS if not _same(stored[name].get(f), wanted[name][f])}
		for name in wanted
		if name in stored and stored[name].status == OPEN
	}
	# a decided entry is a record and stays as it is, except where POS closing put its POS Invoice
	for name in wanted:
		row = stored.get(name)
		if (
			row
			and row.status != OPEN
			and not _same(row.consolidated_invoice, wanted[name]["consolidated_invoice"])
		):
			changed[name] = {"consolidated_invoice": wanted[name]["consolidated_invoice"]}
	changed = {k: v for k, v in changed.items() if v}
	gone = [name for name, row in stored.items() if row.status == OPEN and name not in wanted]
	fields = [*DOC_COLUMNS, "status", *QUEUE_FIELDS]
	rows = [(name, now, now, user, user, 0, OPEN, *[wanted[name][f] for f in QUEUE_FIELDS]) for name in new]
	for start in range(0, len(rows), CHUNK):
		frappe.db.bulk_insert(QUEUE, fields, rows[start : start + CHUNK])
	if changed:
		frappe.db.bulk_update(QUEUE, changed, chunk_size=200)
	q = frappe.qb.DocType(QUEUE)
	for start in range(0, len(gone), CHUNK):
		# locked and read again: an entry an accountant decided meanwhile is a record, never removed
		names = (
			frappe.qb.from_(q)
			.select(q.name)
			.where(q.name.isin(gone[start : start + CHUNK]))
			.where(q.status == OPEN)
			.for_update()
		).run(pluck=True)
		if not names:
			continue
		frappe.db.delete(SUGGESTION, {"parenttype": QUEUE, "parent": ("in", names)})
		frappe.db.delete("Fishpond Invoice Dismissal", {"parenttype": QUEUE, "parent": ("in", names)})
		frappe.db.delete(QUEUE, {"name": ("in", names)})
	return {"queued": len(new), "updated": len(changed), "removed": len(gone)}


# --------------------------------------------------------------------------------------------------
# suggestions


def _country_codes() -> dict[str, str]:
	country = frappe.qb.DocType("Country")
	rows = (frappe.qb.from_(country).select(country.name, country.code).where(country.code.isnotnull())).run()
	return {name: (code or "").upper() or None for name, code in rows}


def _linked(doctype: str, chunk: list[str], linked: str, source: str, *columns) -> list[tuple]:
	"""(party, *columns) for the records of ``linked`` (Address, Contact) whose Dynamic Links name one
	of ``chunk`` (parties of ``doctype``). The columns are read from ``source``: the record itself, or
	a child table of it (Contact Email, Contact Phone)."""
	link = frappe.qb.DocType("Dynamic Link")
	table = frappe.qb.DocType(source)
	key = table.name if source == linked else table.parent
	return (
		frappe.qb.from_(link)
		.join(table)
		.on(key == link.parent)
		.select(link.link_name, *[table[c] for c in columns])
		.where(link.parenttype == linked)
		.where(link.link_doctype == doctype)
		.where(link.link_name.isin(chunk))
	).run()


def _party_details(doctype: str, parties: list[str]) -> tuple[dict, dict, dict]:
	"""Addresses, e-mails and phones of the Contacts and Addresses linked to ``parties``."""
	addresses: dict[str, list[str]] = defaultdict(list)
	emails: dict[str, list[str]] = defaultdict(list)
	phones: dict[str, list[str]] = defaultdict(list)
	for start in range(0, len(parties), CHUNK):
		chunk = parties[start : start + CHUNK]
		for party, *parts in _linked(
			doctype, chunk, "Address", "Address", "address_line1", "address_line2", "city", "pincode"
		):
			addresses[party].append(", ".join(p for p in parts if p))
		for party, email in _linked(doctype, chunk, "Contact", "Contact Email", "email_id"):
			emails[party].append(email)
		for party, phone in _linked(doctype, chunk, "Contact", "Contact Phone", "phone"):
			phones[party].append(phone)
	return addresses, emails, phones


def _values(*groups) -> list:
	seen = []
	for group in groups:
		for value in group if isinstance(group, list | tuple) else [group]:
			if value and value not in seen:
				seen.append(value)
	return seen


def load_profiles(exclude_customers: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
	"""Every profile's identifiers as the matcher reads them, and profile -> name."""
	lead = frappe.qb.DocType(LEAD)
	cust = frappe.qb.DocType("Customer")
	query = (
		frappe.qb.from_(lead)
		.left_join(cust)
		.on(cust.name == lead.customer)
		.select(
			lead.name,
			lead.customer,
			lead.lead,
			lead.lead_name,
			lead.company_name,
			lead.email_id,
			lead.phone,
			lead.mobile_no,
			lead.country,
			cust.customer_name,
			cust.tax_id,
			cust.email_id.as_("customer_email"),
			cust.mobile_no.as_("customer_mobile"),
		)
	)
	if exclude_customers:
		query = query.where(lead.customer.isnull() | lead.customer.notin(exclude_customers))
	rows = query.run(as_dict=True)
	codes = _country_codes()
	customers = sorted({r.customer for r in rows if r.customer})
	leads = sorted({r.lead for r in rows if r.lead})
	c_addr, c_mail, c_phone = _party_details("Customer", customers)
	l_addr, l_mail, l_phone = _party_details("Lead", leads)
	records = []
	for r in rows:
		records.append(
			{
				"profile": r.name,
				"customer": r.customer,
				"name": _values(r.lead_name, r.company_name, r.customer_name),
				"email": _values(
					r.email_id, r.customer_email, c_mail.get(r.customer, []), l_mail.get(r.lead, [])
				),
				"phone": _values(
					r.phone,
					r.mobile_no,
					r.customer_mobile,
					c_phone.get(r.customer, []),
					l_phone.get(r.lead, []),
				),
				"tax_id": r.tax_id,
				"address": _values(c_addr.get(r.customer, []), l_addr.get(r.lead, [])),
				"region": codes.get(r.country),
			}
		)
	columns = ["profile", "customer", "name", "email", "phone", "tax_id", "address", "region"]
	return pd.DataFrame(records, columns=columns), {r.name: r.lead_name for r in rows}


def load_history(profile_of_customer: dict[str, str], company_regions: dict[str, str]) -> pd.DataFrame:
	"""The contact details on invoices that already belong to a profile: its customer's Sales and POS
	Invoices and the invoices attributed to it."""
	records = []
	customers = sorted(profile_of_customer)
	att = frappe.qb.DocType("Fishpond Invoice Attribution")
	for doctype in ("Sales Invoice", "POS Invoice"):
		si = frappe.qb.DocType(doctype)
		for start in range(0, len(customers), CHUNK):
			for name, customer, date, email, mobile, company in (
				frappe.qb.from_(si)
				.select(
					si.name, si.customer, si.posting_date, si.contact_email, si.contact_mobile, si.company
				)
				.where(si.docstatus == 1)
				.where(si.customer.isin(customers[start : start + CHUNK]))
				.where((fn.Coalesce(si.contact_email, "") != "") | (fn.Coalesce(si.contact_mobile, "") != ""))
			).run():
				records.append((profile_of_customer[customer], name, date, email, mobile, company))
		for profile, name, date, email, mobile, company in (
			frappe.qb.from_(att)
			.join(si)
			.on(si.name == att.voucher_no)
			.select(att.to_profile, si.name, si.posting_date, si.contact_email, si.contact_mobile, si.company)
			.where(att.docstatus == 1)
			.where(att.voucher_type == doctype)
		).run():
			records.append((profile, name, date, email, mobile, company))
	return pd.DataFrame(
		[
			{
				"profile": p,
				"invoice": n,
				"posting_date": d,
				"email": e or None,
				"phone": m or None,
				"region": company_regions.get(c),
			}
			for p, n, d, e, m, c in records
		],
		columns=["profile", "invoice", "posting_date", "email", "phone", "region"],
	)


def _company_regions() -> dict[str, str]:
	company = frappe.qb.DocType("Company")
	codes = _country_codes()
	return {
		name: codes.get(country)
		for name, country in frappe.qb.from_(company).select(company.name, company.country).run()
	}


def _open_entries() -> list[dict]:
	q = frappe.qb.DocType(QUEUE)
	return (
		frappe.qb.from_(q)
		.select(
			q.name,
			q.voucher_no,
			q.company,
			q.posting_date,
			q.customer,
			q.reason,
			q.duplicate_of,
			*[q[f] for f in DETAIL_FIELDS],
		)
		.where(q.status == OPEN)
	).run(as_dict=True)


def _dismissed(names: list[str]) -> set[tuple[str, str]]:
	d = frappe.qb.DocType("Fishpond Invoice Dismissal")
	out = set()
	for start in range(0, len(names), CHUNK):
		out |= {
			(parent, profile)
			for parent, profile in (
				frappe.qb.from_(d)
				.select(d.parent, d.profile)
				.where(d.parenttype == QUEUE)
				.where(d.parent.isin(names[start : start + CHUNK]))
			).run()
		}
	return out


def compute_suggestions(pairs=None, generic: list[str] | None = None, names: list[str] | None = None) -> dict:
	"""Suggestions of the Open queue rows (or of ``names``), written where they changed."""
	generic = config.generic_customers() if generic is None else generic
	pairs = duplicate_pairs() if pairs is None else pairs
	entries = _open_entries()
	if names is not None:
		entries = [e for e in entries if e.name in set(names)]
	if not entries:
		return {"suggested": 0}
	regions = _company_regions()
	profiles, names_of = load_profiles(generic)
	profile_of_customer = {c: p for p, c in zip(profiles["profile"], profiles["customer"], strict=True) if c}
	history = load_history(profile_of_customer, regions)
	invoices = pd.DataFrame(
		[
			{
				"invoice": e.name,
				"name": e.customer_name,
				"email": e.contact_email,
				"phone": e.contact_mobile,
				"tax_id": e.tax_id,
				"address": e.address,
				"region": regions.get(e.company),
				"posting_date": e.posting_date,
			}
			for e in entries
		]
	)
	# an invoice's own customer is not a suggestion for it, and dismissed pairs never return
	exclude = _dismissed([e.name for e in entries])
	exclude |= {
		(e.name, profile_of_customer[e.customer]) for e in entries if e.customer in profile_of_customer
	}
	setup = engine_setup()
	found = suggest(
		invoices, profiles, history, config=config.match_config(), dedupe=setup.config.dedupe, exclude=exclude
	)
	by_entry: dict[str, list[dict]] = defaultdict(list)
	for row in found.itertuples(index=False):
		evidence = [e.to_dict() for e in row.evidence]
		by_entry[row.invoice].append(
			{
				"profile": row.profile,
				"lead_name": names_of.get(row.profile),
				"customer": row.customer,
				"score": round(float(row.score), 3),
				"confident": int(bool(row.confident)),
				"evidence_data": json.dumps(evidence, sort_keys=True, default=str),
				"evidence": messages.evidence_text(evidence),
			}
		)
	_add_duplicate_suggestions(entries, pairs, names_of, by_entry, exclude)
	return _store_suggestions(entries, by_entry)


def _add_duplicate_suggestions(entries, pairs, names_of, by_entry, exclude) -> None:
	"""A likely duplicate's invoice: the twin Customer's profile, with the duplicate pair's score."""
	twin = {
		newer: (old_profile, old, score, evidence) for newer, _p, old, old_profile, score, evidence in pairs
	}
	for e in entries:
		if e.reason != DUPLICATE or e.customer not in twin:
			continue
		profile, customer, score, evidence = twin[e.customer]
		if (e.name, profile) in exclude or any(s["profile"] == profile for s in by_entry[e.name]):
			continue
		items = [{"code": "duplicate_customer", "params": {"reason": evidence}, "points": score}]
		by_entry[e.name].insert(
			0,
			{
				"profile": profile,
				"lead_name": names_of.get(profile),
				"customer": customer,
				"score": round(score, 3),
				"confident": 0,
				"evidence_data": json.dumps(items, sort_keys=True),
				"evidence": messages.evidence_text(items),
			},
		)
		by_entry[e.name].sort(key=lambda s: (-s["score"], s["profile"]))


SUGGESTION_FIELDS = ("profile", "lead_name", "customer", "score", "confident", "evidence", "evidence_data")


def _stored_suggestions(names: list[str]) -> dict[str, list[tuple]]:
	s = frappe.qb.DocType(SUGGESTION)
	out: dict[str, list[tuple]] = defaultdict(list)
	for start in range(0, len(names), CHUNK):
		for row in (
			frappe.qb.from_(s)
			.select(s.parent, s.profile, s.score, s.confident)
			.where(s.parenttype == QUEUE)
			.where(s.parent.isin(names[start : start + CHUNK]))
			.orderby(s.parent)
			.orderby(s.idx)
		).run():
			out[row[0]].append((row[1], round(float(row[2] or 0), 3), int(row[3] or 0)))
	return out


def _store_suggestions(entries, by_entry) -> dict:
	names = [e.name for e in entries]
	stored = _stored_suggestions(names)
	changed = [
		n
		for n in names
		if stored.get(n, []) != [(s["profile"], s["score"], s["confident"]) for s in by_entry.get(n, [])]
	]
	now, user = now_datetime(), frappe.session.user
	for start in range(0, len(changed), CHUNK):
		frappe.db.delete(SUGGESTION, {"parenttype": QUEUE, "parent": ("in", changed[start : start + CHUNK])})
	rows = [
		(
			frappe.generate_hash(length=12),
			now,
			now,
			user,
			user,
			0,
			n,
			QUEUE,
			"suggestions",
			idx,
			*tuple(s[f] for f in SUGGESTION_FIELDS),
		)
		for n in changed
		for idx, s in enumerate(by_entry.get(n, []), start=1)
	]
	for start in range(0, len(rows), 5000):
		frappe.db.bulk_insert(SUGGESTION, [*CHILD_COLUMNS, *SUGGESTION_FIELDS], rows[start : start + 5000])
	tops = {}
	for n in changed:
		top = (by_entry.get(n) or [None])[0]
		tops[n] = {
			"top_profile": top["profile"] if top else None,
			"top_name": top["lead_name"] if top else None,
			"top_score": top["score"] if top else 0,
			"confident": top["confident"] if top else 0,
			"suggested_on": now,
		}
	if tops:
		frappe.db.bulk_update(QUEUE, tops, chunk_size=200)
	return {"suggested": sum(1 for n in names if by_entry.get(n)), "suggestions_changed": len(changed)}

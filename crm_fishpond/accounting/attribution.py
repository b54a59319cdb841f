"""Actions on the link queue: attribute an invoice to a profile (and undo it), create a Customer from an
invoice, dismiss a suggestion or the whole invoice.

An attribution is a submitted *Fishpond Invoice Attribution*: submitting it moves the invoice's row in
the pond's history (and its credit notes' rows) to the profile, cancelling it moves them back. A POS
Invoice's attribution splits its share (and its POS returns') out of the consolidated Sales Invoice's
row into a row of its own on the profile; before POS closing it waits, and takes effect when POS
closing consolidates the POS Invoice (crm_fishpond.sync.pos). ERPNext's invoice is untouched: a
submitted invoice's customer cannot change, and the ledger stays on the booked customer. The two
profiles are rescored, the referral programme looks at the company again, and the profile's timeline
says who attributed what and why. Undoing is refused once the invoice's period is closed (a Period
Closing Voucher or an Accounting Period closed for Sales Invoices, or POS Invoices for a POS Invoice).
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime

from crm_fishpond import jobs
from crm_fishpond.accounting import queue
from crm_fishpond.referrals import sync as referral_runs
from crm_fishpond.sync import pos
from crm_fishpond.sync.profiles import ensure_profile_for_customer, profile_for
from crm_fishpond.sync.transactions import sync_voucher, transaction_name

QUEUE = "Fishpond Invoice Link"
ATTRIBUTION = "Fishpond Invoice Attribution"
LEAD = "Fishpond Lead"
ACCOUNTS_ROLES = ("Accounts User", "Accounts Manager", "System Manager")


def check_accountant() -> None:
	if not set(ACCOUNTS_ROLES) & set(frappe.get_roles()):
		frappe.throw(
			_("Only Accounts Users and Accounts Managers work the link queue."), frappe.PermissionError
		)


def _reason(reason: str | None) -> str:
	reason = (reason or "").strip()
	if not reason:
		frappe.throw(_("Give a reason: it is kept in the audit log."), title=_("Reason missing"))
	if len(reason) > 1000:
		frappe.throw(_("The reason is too long (at most 1,000 characters)."))
	return reason


# --------------------------------------------------------------------------------------------------
# the period


def period_closed(company: str, posting_date, voucher_type: str = "Sales Invoice") -> bool:
	"""Whether ``posting_date`` lies in a closed period of ``company`` for Sales Invoices (and, for a
	POS Invoice, for POS Invoices)."""
	closed_types = ["Sales Invoice"] if voucher_type == "Sales Invoice" else ["Sales Invoice", voucher_type]
	date = getdate(posting_date)
	pcv = frappe.qb.DocType("Period Closing Voucher")
	closed_until = (
		frappe.qb.from_(pcv)
		.select(pcv.period_end_date)
		.where(pcv.company == company)
		.where(pcv.docstatus == 1)
		.where(pcv.period_end_date >= date)
		.limit(1)
	).run()
	if closed_until:
		return True
	ap = frappe.qb.DocType("Accounting Period")
	cd = frappe.qb.DocType("Closed Document")
	return bool(
		(
			frappe.qb.from_(ap)
			.join(cd)
			.on(cd.parent == ap.name)
			.select(ap.name)
			.where(ap.company == company)
			.where(ap.start_date <= date)
			.where(ap.end_date >= date)
			.where(cd.document_type.isin(closed_types))
			.where(cd.closed == 1)
			.limit(1)
		).run()
	)


# --------------------------------------------------------------------------------------------------
# applying an attribution (called by the Fishpond Invoice Attribution controller)


def vouchers_of(voucher_no: str) -> list[str]:
	"""The invoice and its submitted or cancelled credit notes (none when it was deleted)."""
	if not frappe.db.exists("Sales Invoice", voucher_no):
		return []
	returns = frappe.get_all(
		"Sales Invoice",
		filters={"return_against": voucher_no, "docstatus": ("in", [1, 2])},
		pluck="name",
		order_by="name asc",
	)
	return [voucher_no, *returns]


def current_profile(voucher_no: str, voucher_type: str = "Sales Invoice") -> str | None:
	"""The profile whose history holds the invoice now."""
	if voucher_type == pos.POS:
		return _pos_profile(voucher_no)
	return frappe.db.get_value(
		"Fishpond Transaction", transaction_name("Sales Invoice", voucher_no), "fishpond_lead"
	)


def _pos_profile(voucher_no: str) -> str | None:
	"""A POS Invoice's: its own row's, else the row's of the invoice that consolidated it, else (still in
	an open POS session) its customer's profile."""
	own = frappe.db.get_value("Fishpond Transaction", transaction_name(pos.POS, voucher_no), "fishpond_lead")
	if own:
		return own
	home = pos.homes([voucher_no]).get(voucher_no)
	if home:
		return frappe.db.get_value(
			"Fishpond Transaction", transaction_name("Sales Invoice", home[0]), "fishpond_lead"
		)
	return profile_for(customer=frappe.db.get_value(pos.POS, voucher_no, "customer"))


def resync(voucher_no: str, voucher_type: str = "Sales Invoice") -> list[str]:
	"""Rewrite the pond rows of the invoice and its credit notes (the sync reads the attributions); a
	POS Invoice's are those of the invoices that consolidated it and its returns (none before POS
	closing). Returns the profiles of the invoice's rows, its own first."""
	if voucher_type == pos.POS:
		for name in pos.invoices_holding(voucher_no):
			sync_voucher(frappe.get_doc("Sales Invoice", name))
		return [current_profile(voucher_no, voucher_type)]
	profiles = []
	for name in vouchers_of(voucher_no):
		profile, _outcome = sync_voucher(frappe.get_doc("Sales Invoice", name))
		profiles.append(profile)
	return profiles


def after_change(doc, before: str | None, after: str | None, message: str) -> None:
	"""The queue entry, the rescore of both profiles, the referral programme and the timeline."""
	jobs.mark_dirty([p for p in (before, after) if p])
	referral_runs.enqueue_company(doc.company)
	for profile in {before, after} - {None}:
		frappe.get_doc(LEAD, profile).add_comment("Info", message)


# --------------------------------------------------------------------------------------------------
# the actions


def _entry(link: str, for_update: bool = True):
	entry = frappe.get_doc(QUEUE, link, for_update=for_update)
	return entry


def _check_open(entry) -> None:
	if entry.status != "Open":
		frappe.throw(
			_("{0} is already {1}.").format(frappe.bold(entry.voucher_no), _(entry.status)),
			title=_("Not in the queue any more"),
		)


def attribute(link: str, profile: str, reason: str, action: str = "Attribute", created_customer=None) -> str:
	"""Attribute the queued invoice to ``profile``; returns the attribution's name."""
	check_accountant()
	reason = _reason(reason)
	entry = _entry(link)
	_check_open(entry)
	if not frappe.db.exists(LEAD, profile):
		frappe.throw(_("Profile {0} does not exist.").format(frappe.bold(profile)))
	doc = frappe.get_doc(
		{
			"doctype": ATTRIBUTION,
			"voucher_type": entry.voucher_type,
			"voucher_no": entry.voucher_no,
			"invoice_link": entry.name,
			"to_profile": profile,
			"action": action,
			"created_customer": created_customer,
			"reason": reason,
		}
	)
	doc.insert()
	doc.submit()
	return doc.name


def attribute_confident(links: list[str], reason: str) -> dict:
	"""Bulk: attribute each Open entry to its confident top suggestion. The others are skipped, each
	with why; one that fails (its invoice was cancelled meanwhile) is rolled back alone."""
	check_accountant()
	reason = _reason(reason)
	rows = {
		r.name: r
		for r in frappe.get_all(
			QUEUE,
			filters={"name": ("in", links or [""])},
			fields=["name", "status", "confident", "top_profile"],
		)
	}
	done, skipped = [], []
	for link in links:
		row = rows.get(link)
		if not row or row.status != "Open" or not row.confident or not row.top_profile:
			skipped.append({"link": link, "reason": _("not open or not confident")})
			continue
		frappe.db.savepoint("fishpond_attribute")
		try:
			done.append(attribute(link, row.top_profile, reason))
		except frappe.ValidationError as e:
			frappe.db.rollback(save_point="fishpond_attribute")
			frappe.clear_last_message()
			skipped.append({"link": link, "reason": str(e)})
	return {"attributed": done, "skipped": skipped}


def attribute_confident_job(links: list[str], reason: str) -> dict:
	"""The background form of :func:`attribute_confident` (run as the user who asked), telling them
	how it went."""
	result = attribute_confident(links, reason)
	frappe.publish_realtime(
		"msgprint",
		_("{0} attributed, {1} skipped (not open or not confident).").format(
			len(result["attributed"]), len(result["skipped"])
		),
		user=frappe.session.user,
		after_commit=True,
	)
	return result


def undo(attribution: str, reason: str) -> None:
	"""Cancel an attribution: the invoice goes back to its customer's profile and the queue."""
	check_accountant()
	reason = _reason(reason)
	doc = frappe.get_doc(ATTRIBUTION, attribution, for_update=True)
	if doc.docstatus != 1:
		frappe.throw(_("Only an attribution in force can be undone."))
	doc.undo_reason = reason
	doc.cancel()


def dismiss(link: str, profile: str, reason: str) -> None:
	"""The invoice is not this profile's: the pair is never suggested again."""
	check_accountant()
	reason = _reason(reason)
	entry = _entry(link)
	_check_open(entry)
	if any(d.profile == profile for d in entry.dismissals):
		return
	entry.append(
		"dismissals",
		{
			"profile": profile,
			"lead_name": frappe.db.get_value(LEAD, profile, "lead_name"),
			"reason": reason,
			"dismissed_by": frappe.session.user,
			"dismissed_on": now_datetime(),
		},
	)
	entry.set("suggestions", [s for s in entry.suggestions if s.profile != profile])
	for idx, s in enumerate(entry.suggestions, start=1):
		s.idx = idx
	top = entry.suggestions[0] if entry.suggestions else None
	entry.top_profile = top.profile if top else None
	entry.top_name = top.lead_name if top else None
	entry.top_score = top.score if top else 0
	entry.confident = 0  # the runner-up changed: the next refresh decides again
	entry.flags.ignore_permissions = True
	entry.save()
	jobs.enqueue(
		"crm_fishpond.accounting.queue.compute_suggestions",
		job_id=f"{queue.JOB_ID}:{entry.name}",
		queue="long",
		names=[entry.name],
	)


def dismiss_invoice(link: str, reason: str) -> None:
	"""Nobody can be told from this invoice: it leaves the queue for good."""
	check_accountant()
	reason = _reason(reason)
	entry = _entry(link)
	_check_open(entry)
	entry.db_set(
		{"status": "Dismissed", "dismiss_reason": reason, "decided_by": frappe.session.user}, notify=True
	)
	entry.add_comment("Info", _("Dismissed: {0}").format(reason))


def reopen(link: str, reason: str) -> None:
	"""A dismissed invoice back in the queue (the next refresh suggests again)."""
	check_accountant()
	reason = _reason(reason)
	entry = _entry(link)
	if entry.status != "Dismissed":
		frappe.throw(_("Only a dismissed invoice can be reopened."))
	entry.db_set({"status": "Open", "dismiss_reason": None, "decided_by": frappe.session.user}, notify=True)
	entry.add_comment("Info", _("Reopened: {0}").format(reason))


def create_customer(
	link: str, reason: str, customer_name: str | None = None, customer_type: str | None = None
) -> dict:
	"""A new Customer (and so a profile) from the invoice's details, and the invoice attributed to it."""
	check_accountant()
	reason = _reason(reason)
	entry = _entry(link)
	_check_open(entry)
	if not frappe.has_permission("Customer", "create"):
		frappe.throw(_("You may not create Customers."), frappe.PermissionError)
	name = (customer_name or entry.customer_name or "").strip()
	if not name:
		frappe.throw(_("Give the new Customer's name: the invoice does not name anyone."))
	booked = frappe.db.get_value(
		"Customer", entry.customer, ["customer_group", "territory", "default_currency"], as_dict=True
	)
	customer = frappe.get_doc(
		{
			"doctype": "Customer",
			"customer_name": name,
			"customer_type": customer_type or ("Company" if entry.tax_id else "Individual"),
			"customer_group": (booked and booked.customer_group)
			or frappe.db.get_single_value("Selling Settings", "customer_group"),
			"territory": (booked and booked.territory)
			or frappe.db.get_single_value("Selling Settings", "territory"),
			"tax_id": entry.tax_id,
			"email_id": entry.contact_email,
			"mobile_no": entry.contact_mobile,
		}
	)
	customer.insert()
	profile = ensure_profile_for_customer(customer.name)
	attribution = attribute(link, profile, reason, action="Create Customer", created_customer=customer.name)
	return {"customer": customer.name, "profile": profile, "attribution": attribution}

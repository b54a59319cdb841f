"""Remove exactly what the demo made, the way ERPNext lets a person remove it.

Submitted documents are cancelled, then deleted, dependants first: the till (its POS Closing
Entries cancelled, which cancels their consolidated invoices, then those, the POS Invoices and the
POS sessions), Payment Entries, credit notes, Sales Invoices, Sales Orders. ERPNext deletes a
transaction's ledger entries (GL Entry, Payment Ledger Entry) with it only while *Accounts Settings →
Delete Accounting and Stock Ledger Entries on deletion of Transaction* is on, and refuses otherwise
(the entries link to it): the clear turns that setting on for its own run and puts it back as it was. Then go the demo's profiles with their pond records, its
Customers and Leads (ERPNext removes their Contacts), and the shared records the ledger says it
created. A record something else now depends on (an invoice a person made for a demo customer, say)
is kept, and the summary says which and why.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import frappe
from frappe import _

from crm_fishpond.demo import masters, state, till
from crm_fishpond.scoring import runner
from crm_fishpond.sync.profiles import profile_for

CHUNK = 50
LEDGER_SETTING = "delete_linked_ledger_entries"
# pond records of a profile, by the field that names it
POND_ROWS = (
	("Fishpond Interaction", "fishpond_lead"),
	("Fishpond Behaviour Event", "fishpond_lead"),
	("Fishpond Claim Log", "profile"),
	("Fishpond Duplicate Candidate", "profile_a"),
	("Fishpond Duplicate Candidate", "profile_b"),
	("Fishpond Duplicate Candidate", "merged_into"),
)
# records a person may have made on a demo profile: deleted as documents (their own rules apply)
POND_DOCUMENTS = (
	("Fishpond Transfer Request", "fishpond_lead"),
	("Referral Reward", "referrer"),
	("Referral Reward", "referee"),
	("Fishpond Referral", "referrer"),
	("Fishpond Referral", "referee"),
	("Fishpond Plan Enrolment", "fishpond_lead"),
	("Fishpond Feedback", "fishpond_lead"),
	("Fishpond Survey Invitation", "fishpond_lead"),
)
# shared records the ledger lists, in the order they can go
CREATED_ORDER = (
	"Fishpond",
	"User",
	"Item",
	"Currency Exchange",
	"Account",
	"Lead Source",
	"Territory",
	"Fiscal Year",
)


def clear_demo(echo: Callable = print, rescore: bool = True) -> dict:
	"""Remove the demo; returns ``{"removed": {doctype: n}, "kept": {"Doctype name": reason}}``."""
	started = time.monotonic()
	ledger = state.load() or state.new({}, masters.demo_company())
	removed: Counter = Counter()
	kept: dict[str, str] = {}
	previous = frappe.db.get_single_value("Accounts Settings", LEDGER_SETTING)
	ledger["settings"].setdefault(LEDGER_SETTING, previous)
	if not previous:
		state.save(ledger)  # a clear that stops part-way puts the setting back next time
		frappe.db.set_single_value("Accounts Settings", LEDGER_SETTING, 1)
	flags = {"mute_emails": frappe.flags.mute_emails}
	frappe.flags.mute_emails = True
	try:
		profiles = state.profiles()
		contacts = _party_contacts()
		removed.update(_clear_till(ledger, kept, echo))
		for doctype, kind in (
			("Payment Entry", None),
			("Sales Invoice", "Credit Note"),
			("Sales Invoice", None),
			("Sales Order", None),
		):
			label = _(kind or doctype)
			names = state.names(doctype, kind)
			if names:
				echo(_("Cancelling and deleting {0} {1}").format(len(names), label))
			removed[kind or doctype] += _cancel_and_delete(doctype, names, kept)
		removed.update(_clear_profiles(profiles, kept))
		for doctype, names in (("Customer", state.customers()), ("Lead", state.leads())):
			removed[doctype] += _delete_all(doctype, names, kept)
		# ERPNext deletes a Lead's or Customer's Contacts with it
		removed["Contact"] += sum(1 for c in contacts if not frappe.db.exists("Contact", c))
		removed["Fishpond Ingest Batch"] += _delete_rows(
			"Fishpond Ingest Batch", {"idempotency_key": ("like", state.INGEST_KEY + "%")}
		)
		removed.update(_clear_created(ledger, kept))
		for currency in ledger["settings"].get("enabled_currencies", []):
			frappe.db.set_value("Currency", currency, "enabled", 0)
	finally:
		frappe.flags.mute_emails = flags["mute_emails"]
		if not ledger["settings"].get(LEDGER_SETTING):
			frappe.db.set_single_value("Accounts Settings", LEDGER_SETTING, 0)
	if kept:
		ledger["phase"] = "cleared with records kept"
		ledger["kept"] = kept
		state.save(ledger)
	else:
		state.delete()
	_commit()
	if rescore and frappe.db.count("Fishpond Lead"):
		# the remaining profiles' scores and the population models still counted the demo
		runner.start_full_rescore(reason=_("the demo was cleared"))
	return {
		"removed": {k: v for k, v in removed.items() if v},
		"kept": kept,
		"seconds": round(time.monotonic() - started, 1),
	}


def _clear_till(ledger: dict, kept: dict, echo: Callable) -> Counter:
	"""The till, the way ERPNext undoes POS: its POS Closing Entries cancelled (which cancels their
	merge logs and consolidated invoices; a test's demo merged without a closing entry, so its merge
	logs are cancelled directly), then deleted with the merge logs, the consolidated invoices, the POS
	Invoices and the POS sessions; then the POS Profile, and the walk-in customer with its profile."""
	removed: Counter = Counter()
	created = ledger.get("created", {})
	invoices = till.pos_invoices()
	logs = till.merge_logs(invoices)
	if invoices:
		echo(_("Cancelling and deleting {0} {1}").format(len(invoices), _("POS Invoice")))
	closings = [n for n in created.get("POS Closing Entry", []) if frappe.db.exists("POS Closing Entry", n)]
	consolidated = set()
	for log in logs:
		doc = frappe.get_doc("POS Invoice Merge Log", log)
		consolidated |= {n for n in (doc.consolidated_invoice, doc.consolidated_credit_note) if n}
	_commit()  # ERPNext's cancelling of a POS closing commits (or rolls back) the transaction itself
	for name in closings:
		doc = frappe.get_doc("POS Closing Entry", name)
		if doc.docstatus != 1:
			continue
		try:
			doc.flags.ignore_permissions = True
			doc.cancel()
		except frappe.ValidationError as error:
			frappe.db.rollback()
			kept[f"POS Closing Entry {name}"] = _reason(error)
	# the merge logs name their closing entry: they go first
	removed["POS Invoice Merge Log"] += _cancel_and_delete("POS Invoice Merge Log", logs, kept)
	removed["POS Closing Entry"] += _cancel_and_delete("POS Closing Entry", closings, kept)
	removed["consolidated Sales Invoice"] += _cancel_and_delete(
		"Sales Invoice", sorted(n for n in consolidated if frappe.db.exists("Sales Invoice", n)), kept
	)
	removed["POS Invoice"] += _cancel_and_delete("POS Invoice", invoices, kept)
	sessions = [n for n in created.get("POS Opening Entry", []) if frappe.db.exists("POS Opening Entry", n)]
	removed["POS Opening Entry"] += _cancel_and_delete("POS Opening Entry", sessions, kept)
	generic = ledger["settings"].get("generic_customer")
	if generic:
		settings = frappe.get_single("Fishpond Settings")
		settings.set("generic_customers", [r for r in settings.generic_customers if r.customer != generic])
		settings.save(ignore_permissions=True)
	mode_account = ledger["settings"].get("mode_of_payment_account")
	if mode_account:
		mode = frappe.get_doc("Mode of Payment", mode_account[0])
		mode.set("accounts", [a for a in mode.accounts if a.company != mode_account[1]])
		mode.save(ignore_permissions=True)
	removed["POS Profile"] += _delete_all(
		"POS Profile", [n for n in created.get("POS Profile", []) if frappe.db.exists("POS Profile", n)], kept
	)
	walk_in = [n for n in created.get("Customer", []) if frappe.db.exists("Customer", n)]
	profiles = [p for p in (profile_for(customer=c) for c in walk_in) if p]
	if profiles:
		removed.update(_clear_profiles(profiles, kept))
	removed["walk-in Customer"] += _delete_all("Customer", walk_in, kept)
	return removed


def _cancel_and_delete(doctype: str, names: list[str], kept: dict) -> int:
	done = 0
	for start in range(0, len(names), CHUNK):
		for name in names[start : start + CHUNK]:
			savepoint = "fishpond_demo_clear"
			frappe.db.savepoint(savepoint)
			try:
				doc = frappe.get_doc(doctype, name)
				if doc.docstatus == 1:
					doc.flags.ignore_permissions = True
					doc.cancel()
				frappe.delete_doc(doctype, name, ignore_permissions=True)
				done += 1
			except (frappe.LinkExistsError, frappe.ValidationError) as error:
				frappe.db.rollback(save_point=savepoint)
				kept[f"{doctype} {name}"] = _reason(error)
		_commit()
	return done


def _delete_all(doctype: str, names: list[str], kept: dict) -> int:
	done = 0
	for start in range(0, len(names), CHUNK):
		for name in names[start : start + CHUNK]:
			if _delete(doctype, name, kept):
				done += 1
		_commit()
	return done


def _delete(doctype: str, name: str, kept: dict) -> bool:
	savepoint = "fishpond_demo_clear"
	frappe.db.savepoint(savepoint)
	try:
		frappe.delete_doc(doctype, name, ignore_permissions=True)
	except (frappe.LinkExistsError, frappe.ValidationError) as error:
		frappe.db.rollback(save_point=savepoint)
		kept[f"{doctype} {name}"] = _reason(error)
		return False
	return True


def _party_contacts() -> list[str]:
	link = frappe.qb.DocType("Dynamic Link")
	rows = (
		frappe.qb.from_(link)
		.select(link.parent)
		.distinct()
		.where(link.parenttype == "Contact")
		.where(link.link_doctype == "Lead")
		.where(link.link_name.like(state.series_prefix("Lead") + "%"))
		.run()
	)
	return [r[0] for r in rows]


def _reason(error: Exception) -> str:
	return frappe.utils.strip_html(str(error))[:300]


def _delete_rows(doctype: str, filters: dict) -> int:
	count = frappe.db.count(doctype, filters)
	if count:
		frappe.db.delete(doctype, filters)
	return count


def _clear_profiles(profiles: list[str], kept: dict) -> Counter:
	"""The demo's profiles with their pond records (the derived rows in bulk, documents a person may
	have made one by one)."""
	removed: Counter = Counter()
	for start in range(0, len(profiles), 500):
		chunk = profiles[start : start + 500]
		for doctype, field in POND_DOCUMENTS:
			for name in frappe.get_all(doctype, filters={field: ("in", chunk)}, pluck="name"):
				removed[doctype] += _delete(doctype, name, kept)
		for doctype, field in POND_ROWS:
			removed[doctype] += _delete_rows(doctype, {field: ("in", chunk)})
		transactions = frappe.get_all(
			"Fishpond Transaction", filters={"fishpond_lead": ("in", chunk)}, pluck="name"
		)
		if transactions:  # left by vouchers the clear had to keep
			removed["Fishpond Transaction"] += len(transactions)
			frappe.db.delete("Fishpond Transaction Item", {"parent": ("in", transactions)})
			frappe.db.delete("Fishpond Transaction", {"name": ("in", transactions)})
		_commit()
	removed["Fishpond Lead"] += _delete_all("Fishpond Lead", profiles, kept)
	return removed


def _clear_created(ledger: dict, kept: dict) -> Counter:
	removed: Counter = Counter()
	created = ledger.get("created", {})
	runs = created.get("Fishpond Run", [])
	if runs:
		for fit in frappe.get_all(
			"Fishpond Model Fit", filters={"run": ("in", runs)}, pluck="name", order_by="creation desc"
		):
			removed["Fishpond Model Fit"] += _delete("Fishpond Model Fit", fit, kept)
		removed["Fishpond Run"] += _delete_all(
			"Fishpond Run", [r for r in runs if frappe.db.exists("Fishpond Run", r)], kept
		)
	for doctype in CREATED_ORDER:
		names = [n for n in created.get(doctype, []) if frappe.db.exists(doctype, n)]
		if doctype == "User":
			for user in names:
				# Frappe made a Contact for each rep; deleting the user only unlinks it
				for contact in frappe.get_all("Contact", filters={"user": user}, pluck="name"):
					removed["Contact"] += _delete("Contact", contact, kept)
		removed[doctype] += _delete_all(doctype, names, kept)
	return removed


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk of the clear is one unit of work

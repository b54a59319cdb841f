"""doc_events for Sales Order and Sales Invoice: write one transaction row, mark the profile dirty.
A consolidated Sales Invoice also writes the rows of its attributed POS Invoices (crm_fishpond.sync.pos).

Nothing heavy runs here: the row is built from the document in memory and upserted by its
deterministic name (so a replayed event changes nothing); scoring happens in a deduplicated job
after commit.
"""

import frappe

from crm_fishpond import jobs
from crm_fishpond.sync import pos
from crm_fishpond.sync.transactions import sync_voucher


def _enabled(doctype: str) -> bool:
	settings = frappe.get_cached_doc("Fishpond Settings")
	field = "sync_sales_orders" if doctype == "Sales Order" else "sync_sales_invoices"
	return bool(settings.get(field))


def _sync(doc, submitted: bool = False) -> None:
	if not _enabled(doc.doctype):
		return
	profile, _outcome = sync_voucher(doc, submitted)
	profiles = [profile]
	if doc.doctype == "Sales Invoice" and doc.get("is_return") and doc.get("return_against"):
		# a credit note that does not keep its own outstanding lowers (or, cancelled, restores) the
		# outstanding of the invoice it returns: that invoice's row follows
		original, _outcome = sync_voucher(frappe.get_doc("Sales Invoice", doc.return_against))
		profiles.append(original)
	jobs.mark_dirty(profiles)
	if doc.doctype == "Sales Invoice" and doc.get("is_consolidated"):
		held = sorted({d.pos_invoice for d in doc.get("items") or [] if d.get("pos_invoice")})
		if held and pos.attributed_in(held):
			# POS closing booked (or, cancelled, unbooked) a POS Invoice attributed to a profile: a
			# referee's purchase at the till counts from here (crm_fishpond.referrals)
			from crm_fishpond.referrals.sync import enqueue_company

			enqueue_company(doc.company)


def on_submit(doc, method=None):
	_sync(doc, submitted=True)


def on_cancel(doc, method=None):
	_sync(doc)


def on_update_after_submit(doc, method=None):
	_sync(doc)


def on_trash(doc, method=None):
	"""A cancelled voucher being deleted takes its pond row with it, so deleting works as in ERPNext."""
	from crm_fishpond.sync.transactions import transaction_name

	name = transaction_name(doc.doctype, doc.name)
	if doc.doctype == "Sales Invoice" and frappe.db.exists("Fishpond Invoice Link", name):
		# the accountant's queue entry is derived from the invoice: it goes with it
		for child in ("Fishpond Invoice Suggestion", "Fishpond Invoice Dismissal"):
			frappe.db.delete(child, {"parent": name, "parenttype": "Fishpond Invoice Link"})
		frappe.db.delete("Fishpond Invoice Link", name)
	profiles = []
	if doc.doctype == "Sales Invoice" and doc.get("is_consolidated"):
		# the rows of its attributed POS Invoices are shares of it: they go with it
		profiles += pos.delete_rows(sorted(pos.stored_pos_rows([doc.name])))
	profile = frappe.db.get_value("Fishpond Transaction", name, "fishpond_lead")
	if profile is None and not frappe.db.exists("Fishpond Transaction", name):
		jobs.mark_dirty(profiles)
		return
	frappe.db.delete("Fishpond Transaction Item", {"parent": name, "parenttype": "Fishpond Transaction"})
	frappe.db.delete("Fishpond Transaction", name)
	jobs.mark_dirty([profile, *profiles])


def on_payment_change(doc, method=None):
	"""Payment Entry / Journal Entry submit or cancel: refresh the outstanding amount of paid invoices."""
	if not _enabled("Sales Invoice"):
		return
	invoices = {
		ref.reference_name
		for ref in doc.get("references") or doc.get("accounts") or []
		if "Sales Invoice" in (ref.get("reference_doctype"), ref.get("reference_type"))
	}
	profiles = []
	for name in sorted(invoices):
		invoice = frappe.get_doc("Sales Invoice", name)
		profile, _outcome = sync_voucher(invoice)
		profiles.append(profile)
	jobs.mark_dirty(profiles)


def pos_on_trash(doc, method=None):
	"""A POS Invoice being deleted (a draft, or one cancelled in its POS session) takes its queue entry
	with it, as a Sales Invoice does. (ERPNext deletes one that POS closing ever consolidated only once
	that consolidated invoice is gone, and its rows went with it.)"""
	from crm_fishpond.sync.transactions import transaction_name

	name = transaction_name("POS Invoice", doc.name)
	if frappe.db.exists("Fishpond Invoice Link", name):
		for child in ("Fishpond Invoice Suggestion", "Fishpond Invoice Dismissal"):
			frappe.db.delete(child, {"parent": name, "parenttype": "Fishpond Invoice Link"})
		frappe.db.delete("Fishpond Invoice Link", name)
	if frappe.db.exists("Fishpond Transaction", name):
		jobs.mark_dirty(pos.delete_rows([name]))

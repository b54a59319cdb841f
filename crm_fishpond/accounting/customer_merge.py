"""Merge two duplicate Customers through ERPNext's own rename-with-merge, and keep one profile each.

`preview()` lists what would move (invoices, orders, payments, ledger entries, contacts, addresses,
the profile) and why ERPNext would refuse (the two have ledger entries in different currencies for a
company; the user may not write both Customers). `merge()` needs an Accounts Manager and a reason, and
calls ``frappe.rename_doc(..., merge=True)``, so ERPNext moves the ledger and every link itself.

Whoever merges Customers (this desk, or *Rename* with *Merge with existing* on the Customer form), the
two profiles become one: `before_rename` lets the merged Customer's profile go of its Customer (each
Customer has at most one profile), and `after_rename` folds that profile into the surviving
Customer's, with its history, interactions, tags and claim log (crm_fishpond.duplicates.merge_into).
"""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond import duplicates
from crm_fishpond.accounting import queue
from crm_fishpond.accounting.attribution import _reason
from crm_fishpond.sync.profiles import profile_for

# what ERPNext's merge moves, counted for the confirmation: (doctype, party field, label)
MOVES = (
	("Sales Invoice", "customer"),
	("Sales Order", "customer"),
	("Delivery Note", "customer"),
	("Quotation", "party_name"),
	("Payment Entry", "party"),
	("GL Entry", "party"),
	("Payment Ledger Entry", "party"),
)
FLAG = "fishpond_customer_merge"


def _refusal(source: str, target: str) -> str | None:
	if not source or not target or source == target:
		return _("Choose two different Customers.")
	for name in (source, target):
		if not frappe.db.exists("Customer", name):
			return _("Customer {0} does not exist.").format(frappe.bold(name))
	if "Accounts Manager" not in frappe.get_roles() and "System Manager" not in frappe.get_roles():
		return _("Only an Accounts Manager can merge Customers.")
	for name in (source, target):
		if not frappe.has_permission("Customer", "write", name):
			return _("You may not change Customer {0}.").format(frappe.bold(name))
	from erpnext.accounts.party import validate_party_currency_before_merging

	try:
		validate_party_currency_before_merging("Customer", source, target)
	except frappe.ValidationError as e:
		frappe.clear_last_message()
		return str(e)
	return None


def preview(source: str, target: str) -> dict:
	"""What merging ``source`` into ``target`` moves, and the refusal if ERPNext would refuse."""
	moves = []
	for doctype, field in MOVES:
		filters = {field: source}
		if doctype in ("Payment Entry", "GL Entry", "Payment Ledger Entry"):
			filters["party_type"] = "Customer"
		count = frappe.db.count(doctype, filters)
		if count:
			moves.append({"doctype": doctype, "label": _(doctype), "count": count})
	for linked in ("Contact", "Address"):
		count = frappe.db.count(
			"Dynamic Link", {"parenttype": linked, "link_doctype": "Customer", "link_name": source}
		)
		if count:
			moves.append({"doctype": linked, "label": _(linked), "count": count})
	profiles = {"source": profile_for(customer=source), "target": profile_for(customer=target)}
	return {"moves": moves, "profiles": profiles, "refusal": _refusal(source, target)}


def merge(source: str, target: str, reason: str) -> dict:
	"""Merge Customer ``source`` into ``target`` with ERPNext's rename-with-merge."""
	reason = _reason(reason)
	refusal = _refusal(source, target)
	if refusal:
		frappe.throw(refusal, title=_("Customers not merged"))
	frappe.rename_doc("Customer", source, target, merge=True, show_alert=False)
	frappe.get_doc("Customer", target).add_comment(
		"Info", _("Customer {0} merged into this one by {1}: {2}").format(source, frappe.session.user, reason)
	)
	queue.enqueue_refresh()
	return {"customer": target, "profile": profile_for(customer=target)}


# --------------------------------------------------------------------------------------------------
# Customer rename hooks (crm_fishpond.events.party)


def merged_profile(customer: str) -> str | None:
	"""The profile of a Customer about to be merged away: linked by its ``customer`` field, or (when an
	earlier call let go of it already) named by the Customer's own ``fishpond_lead`` field."""
	profile = profile_for(customer=customer)
	if profile:
		return profile
	linked = frappe.db.get_value("Customer", customer, "fishpond_lead")
	held = (
		frappe.db.get_value("Fishpond Lead", linked, ["name", "customer"], as_dict=True) if linked else None
	)
	return linked if held and not held.customer else None


def before_rename(old: str, new: str, merge: bool) -> None:
	"""Idempotent: Desk's Rename dialog calls it once in the request (to validate) and again in the
	job that renames, so the second call finds the profile the first let go of (``merged_profile``);
	a rename that never runs leaves it to ``ensure_profile_for_customer`` to link it back."""
	if not merge:
		return  # a plain rename: Frappe moves the profile's link with the Customer
	gone, keep = merged_profile(old), profile_for(customer=new)
	if gone and keep and gone != keep:
		# each Customer has one profile (a unique index): the merged one lets go before the links move
		frappe.db.set_value("Fishpond Lead", gone, "customer", None, update_modified=False)
		frappe.flags.setdefault(FLAG, {})[(old, new)] = (keep, gone)


def after_rename(old: str, new: str, merge: bool) -> None:
	pair = (frappe.flags.get(FLAG) or {}).pop((old, new), None)
	if merge and pair:
		keep, gone = pair
		duplicates.merge_into(keep, gone)

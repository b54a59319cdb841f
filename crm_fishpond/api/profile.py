"""The profile summary (crm_fishpond.profile.summary) for the Customer and Lead forms."""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.profile.summary import profile_summary

LINKED = {"Customer": "customer", "Lead": "lead"}


@frappe.whitelist(methods=["GET"])
def summary(doctype: str, name: str) -> dict | None:
	"""The summary of the profile linked to this Customer or Lead, for someone who may read both."""
	if doctype not in LINKED:
		frappe.throw(_("Only a Customer or a Lead has a Fishpond profile summary."))
	if not frappe.has_permission(doctype, "read", doc=name):
		frappe.throw(_("You may not read {0} {1}.").format(_(doctype), name), frappe.PermissionError)
	profile = frappe.db.get_value("Fishpond Lead", {LINKED[doctype]: name}, "name")
	if not profile:
		return None
	doc = frappe.get_doc("Fishpond Lead", profile)
	if not doc.has_permission("read"):
		return None
	return profile_summary(doc)

"""Whitelisted sync APIs: start a backfill, read the reconciliation."""

import frappe
from frappe import _

MANAGER_ROLES = ("Fishpond Manager", "System Manager")


def _require_manager():
	if not set(MANAGER_ROLES) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager can do this."), frappe.PermissionError)


@frappe.whitelist(methods=["POST"])
def start_backfill() -> str:
	"""Start (or return the active) transaction-history backfill; returns the Fishpond Run name."""
	_require_manager()
	from crm_fishpond.sync.backfill import start_backfill as start

	return start(triggered_by=frappe.session.user, reason=_("started from Desk"))


@frappe.whitelist()
def reconciliation_summary() -> dict:
	"""Counts of differences between the pond's history and ERPNext's tables."""
	if not frappe.has_permission("Fishpond Transaction", "read"):
		frappe.throw(_("Not permitted to read the transaction history."), frappe.PermissionError)
	from crm_fishpond.sync.reconcile import reconcile

	result = reconcile()
	return {
		"differences": result["differences"],
		"customers_checked": result["customers_checked"],
		"vouchers": result["vouchers"][:100],
		"customers": result["customers"][:100],
	}

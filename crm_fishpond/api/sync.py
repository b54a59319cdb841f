"""Whitelisted sync APIs: start a backfill, read the reconciliation, repair what it reports."""

import frappe
from frappe import _
from frappe.utils import cint

MANAGER_ROLES = ("Fishpond Manager", "System Manager")
RECONCILER_ROLES = (*MANAGER_ROLES, "Accounts Manager", "Accounts User")


def _require_manager():
	if not set(MANAGER_ROLES) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager can do this."), frappe.PermissionError)


@frappe.whitelist(methods=["POST"])
def start_backfill() -> str:
	"""Start (or return the active) transaction-history backfill; returns the Fishpond Run name."""
	_require_manager()
	from crm_fishpond.sync.backfill import start_backfill as start

	return start(triggered_by=frappe.session.user, reason=_("started from Desk"))


@frappe.whitelist(methods=["GET", "POST"])
def reconciliation_summary(refresh: int = 0) -> dict:
	"""The last reconciliation of the pond's history against ERPNext's tables (counts and the first
	differences), with ``checked_on``. It is an accountant's and manager's tool: the differences name
	every customer. Reading never re-reads the vouchers; ``refresh=1`` (or no summary yet) queues the
	background job that does, and ``refresh_queued`` says so."""
	if not set(RECONCILER_ROLES) & set(frappe.get_roles()):
		frappe.throw(
			_("Only Fishpond Managers and accountants may read the reconciliation."), frappe.PermissionError
		)
	request = getattr(frappe.local, "request", None)
	if cint(refresh) and request is not None and request.method != "POST":
		frappe.throw(_("Start a new reconciliation with a POST request."), frappe.PermissionError)
	from crm_fishpond.sync import reconcile_summary

	queued = bool(cint(refresh)) or reconcile_summary.last_summary() is None
	if queued:
		reconcile_summary.request_refresh()
	summary = reconcile_summary.last_summary() or {"differences": None, "checked_on": None}
	return {**summary, "refresh_queued": queued}


@frappe.whitelist(methods=["POST"])
def repair_differences() -> None:
	"""Queue a repair: every voucher the reconciliation reports is re-synced from ERPNext."""
	_require_manager()
	from crm_fishpond import jobs

	jobs.enqueue(
		"crm_fishpond.sync.reconcile_summary.repair_and_refresh",
		job_id="crm_fishpond:reconcile_repair",
		queue="long",
		timeout=3600,
	)

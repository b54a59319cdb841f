"""Whitelisted scoring APIs: start a full rescore, read a run's progress, list the fitted models."""

from __future__ import annotations

import frappe
from frappe import _

MANAGER_ROLES = ("Fishpond Manager", "System Manager")


def _require_manager() -> None:
	if not set(MANAGER_ROLES) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager can start a rescore."), frappe.PermissionError)


@frappe.whitelist(methods=["POST"])
def start_rescore() -> str:
	"""Start (or return the active) full rescore; returns the Fishpond Run name."""
	_require_manager()
	from crm_fishpond.scoring.runner import start_full_rescore

	return start_full_rescore(triggered_by=frappe.session.user, reason=_("started from Desk"))


@frappe.whitelist()
def rescore_status(run: str | None = None) -> dict:
	"""Status, progress and counts of a rescore run (default: the active or latest one)."""
	if not frappe.has_permission("Fishpond Run", "read"):
		frappe.throw(_("Not permitted to read Fishpond Runs."), frappe.PermissionError)
	from crm_fishpond.scoring.models import latest_fit
	from crm_fishpond.scoring.runner import RUN_TYPE, run_status

	if run and frappe.db.get_value("Fishpond Run", run, "run_type") != RUN_TYPE:
		frappe.throw(_("{0} is not a rescore run.").format(run))
	status = run_status(run) or {}
	status["model_fit"] = latest_fit()
	return status

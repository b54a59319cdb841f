"""Whitelisted scoring APIs: start a full rescore, read a run's progress, list the fitted models."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import nowdate

MANAGER_ROLES = ("Fishpond Manager", "System Manager")


def _require_manager() -> None:
	if not set(MANAGER_ROLES) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager can start a rescore."), frappe.PermissionError)


@frappe.whitelist(methods=["POST"])
def start_rescore(resume: str | None = None) -> str:
	"""Start (or return the active) full rescore; returns the Fishpond Run name. ``resume``: a failed
	rescore run of today to carry on instead (with the models it fitted and its chunks not done)."""
	_require_manager()
	from crm_fishpond.scoring.runner import RUN_TYPE, enqueue_run, start_full_rescore
	from crm_fishpond.sync import runs

	if resume:
		values = frappe.db.get_value("Fishpond Run", resume, ["run_type", "status"], as_dict=True)
		if not values or values.run_type != RUN_TYPE:
			frappe.throw(_("{0} is not a rescore run.").format(resume))
		if values.status != "Failed":
			frappe.throw(_("Only a failed run can be resumed; {0} is {1}.").format(resume, _(values.status)))
		if runs.active_run(RUN_TYPE):
			frappe.throw(_("Another rescore is running: {0}.").format(runs.active_run(RUN_TYPE)))
		as_of = runs.get_cursor(resume).get("as_of")
		if as_of and as_of != nowdate():
			# its chunks would write scores as of that day over what later runs wrote
			frappe.throw(
				_("{0} scored the pond as of {1}; start a new rescore instead.").format(resume, as_of)
			)
		runs.save_progress(resume, status="Queued")
		runs.append_log(resume, _("Resumed by {0}").format(frappe.session.user))
		enqueue_run(resume)
		return resume
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

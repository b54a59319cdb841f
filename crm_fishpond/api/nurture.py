"""Follow-up plans: enrol by hand (one or many profiles), stop an enrolment, enrol a plan's crowd now.

A rep enrols and stops only profiles they may change (their own leads; a pool manager: the pool's);
Fishpond Managers and System Managers any. Writes are POST only."""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.nurture import crowd, steps
from crm_fishpond.nurture import enrol as enrolments
from crm_fishpond.nurture.plans import ENROLMENT, PLAN
from crm_fishpond.permissions import pond_scope

MAX_PROFILES = 10000


def _names(names: str | list) -> list[str]:
	values = frappe.parse_json(names) if isinstance(names, str) else names
	if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
		frappe.throw(_("Pass the profiles as a list of names."))
	if len(values) > MAX_PROFILES:
		frappe.throw(_("Enrol at most {0} profiles at a time.").format(MAX_PROFILES))
	return sorted(set(values))


def _writable(profiles: list[str]) -> tuple[list[str], list[str]]:
	"""(profiles the user may change, the others): the pond's write criterion on stored values."""
	scope = pond_scope()
	lead = frappe.qb.DocType("Fishpond Lead")
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.lead_owner, lead.fishpond)
		.where(lead.name.isin(profiles or [""]))
		.run()
	)
	ok = sorted(name for name, owner, pool in rows if scope.can_write(owner, pool))
	return ok, sorted(set(profiles) - set(ok))


@frappe.whitelist(methods=["POST"])
def enrol(plan: str, names: str | list) -> dict:
	"""Enrol profiles in a plan by hand. Returns ``enrolled``, ``already`` (active in the plan) and
	``refused`` (profiles the user may not change or that do not exist)."""
	if not frappe.has_permission(ENROLMENT, "create"):
		frappe.throw(_("Not permitted to enrol profiles in follow-up plans."), frappe.PermissionError)
	if not frappe.db.exists(PLAN, plan) or not frappe.has_permission(PLAN, "read", plan):
		frappe.throw(_("Follow-up plan {0} does not exist.").format(plan), frappe.DoesNotExistError)
	profiles = _names(names)
	ok, refused = _writable(profiles)
	enrolled = enrolments.enrol(plan, ok, enrolments.BY_HAND)
	return {"enrolled": enrolled, "already": sorted(set(ok) - set(enrolled)), "refused": refused}


@frappe.whitelist(methods=["POST"])
def stop(enrolment: str, note: str | None = None) -> dict:
	"""Stop an active enrolment by hand; its open reminders are cancelled."""
	row = frappe.db.get_value(ENROLMENT, enrolment, ["fishpond_lead", "status"], as_dict=True)
	if not row:
		frappe.throw(_("Enrolment {0} does not exist.").format(enrolment), frappe.DoesNotExistError)
	ok, _refused = _writable([row.fishpond_lead])
	if not ok or not frappe.has_permission(ENROLMENT, "read", enrolment):
		frappe.throw(
			_("Only the profile's owner or a manager may stop its follow-up."), frappe.PermissionError
		)
	if row.status != enrolments.ACTIVE:
		frappe.throw(_("This enrolment has already ended."))
	steps.stop_by_hand(enrolment, (note or "")[:1000] or None)
	return {"status": frappe.db.get_value(ENROLMENT, enrolment, "status")}


@frappe.whitelist(methods=["POST"])
def enrol_crowd_now(plan: str) -> dict:
	"""Look for the plan's crowd now (a background job) instead of after the next full rescore."""
	if not frappe.db.exists(PLAN, plan) or not frappe.has_permission(PLAN, "write", plan):
		frappe.throw(_("Only those who may edit the plan may enrol its crowd."), frappe.PermissionError)
	if not frappe.db.get_value(PLAN, plan, "enrol_automatically"):
		frappe.throw(_("This plan does not enrol a crowd: tick Enrol the Crowd Automatically first."))
	crowd.enqueue(plan)
	return {"queued": True}

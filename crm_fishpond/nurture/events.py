"""doc_events for follow-up plans: a logged interaction completes the open step it does, a reply
stops the plans that stop on replies, a closed reminder completes its step."""

from __future__ import annotations

import frappe

from crm_fishpond.engine import nurture as rules
from crm_fishpond.nurture import steps
from crm_fishpond.nurture.plans import ENROLMENT, ENROLMENT_STEP


def _has_active(profile: str | None) -> bool:
	return bool(profile) and bool(frappe.db.exists(ENROLMENT, {"fishpond_lead": profile, "status": "Active"}))


def interaction_after_insert(doc, method=None):
	"""Fishpond Interaction: complete the open steps it does, then look at the stop conditions."""
	if not _has_active(doc.fishpond_lead):
		return
	steps.complete_open_steps(doc.fishpond_lead, doc.interaction_type, doc.name, doc.interaction_time)
	if rules.is_reply(doc.interaction_type, doc.direction):
		steps.apply_stops(frappe.utils.now_datetime(), profiles=[doc.fishpond_lead])


def todo_on_update(doc, method=None):
	"""ToDo: closing a plan's reminder by hand completes its step."""
	if doc.reference_type != "Fishpond Lead" or doc.status != "Closed" or not doc.has_value_changed("status"):
		return
	row = frappe.db.get_value(ENROLMENT_STEP, {"todo": doc.name, "status": "Open"}, ["parent"], as_dict=True)
	if row:
		steps.complete_step(row.parent, todo_closed=True)

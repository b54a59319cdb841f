"""doc_events that tick off the *Fishpond CRM* onboarding steps when their work is done anywhere.

Frappe marks an Onboarding Step complete only from the onboarding widget in the browser: the widget
opens the form and, when that form saves, calls ``frappe.desk.desktop.update_onboarding_step``. An
admin who creates a pool from the Fishpond list, or presses *Rescore Now* in Fishpond Settings, would
still see the step open. These handlers mark the step complete when what it asks for happened,
however it happened; the steps the widget completes by itself ("Go to Page") need none.
"""

from __future__ import annotations

import frappe

ONBOARDING = "Fishpond CRM"
POOL_STEP = "Create a Pool and Add Reps"
STAGES_STEP = "Review the Lifecycle Stages"
TAG_RULE_STEP = "Add a Tag Rule"
RESCORE_STEP = "Run the First Rescore"
WORKSPACE_STEP = "Open the Fishpond CRM Workspace"
STEPS = (POOL_STEP, STAGES_STEP, TAG_RULE_STEP, RESCORE_STEP, WORKSPACE_STEP)


def complete_step(step: str) -> None:
	"""Mark a step complete, once. The step's modified stays the shipped one, so `bench migrate` keeps
	importing a changed step file (it skips a record whose modified is newer than its file)."""
	if frappe.db.get_value("Onboarding Step", step, "is_complete") == 0:
		frappe.db.set_value("Onboarding Step", step, "is_complete", 1, update_modified=False)


def pool_on_update(doc, method=None):
	"""A pool with a rep: a user member (the default pool ships with only the Fishpond User role)."""
	if any(row.member_type == "User" and row.user for row in doc.get("members") or ()):
		complete_step(POOL_STEP)


def tag_on_update(doc, method=None):
	if doc.tag_type == "Rule":
		complete_step(TAG_RULE_STEP)


def run_after_insert(doc, method=None):
	"""Any rescore run: from *Rescore Now*, the API or the nightly schedule; the pond gets scored."""
	if doc.run_type == "Rescore":
		complete_step(RESCORE_STEP)

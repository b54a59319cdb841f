"""Enrolments, written in bulk: by hand (a form, a list action) or for a plan's crowd.

An enrolment starts at step 1, due ``after_days`` after enrolment. While it is active its
``active_key`` (plan and profile) is set, and a unique index on it keeps one active enrolment per
plan and profile even when the crowd job and a rep enrol the same profile at once (the bulk insert
ignores the duplicate); an ended enrolment's key is cleared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import frappe
from frappe import _
from frappe.model.naming import getseries
from frappe.utils import get_datetime, now_datetime

from crm_fishpond.engine import nurture as rules
from crm_fishpond.nurture.plans import ENROLMENT, PLAN, load_steps

SERIES = "FPE-"
DIGITS = 5
CHUNK = 5000
BY_HAND = "By Hand"
CROWD = "Crowd"
ACTIVE = "Active"
COMPLETED = "Completed"
STOPPED = "Stopped"
WAITING = "Waiting"
OPEN = "Open"

FIELDS = (
	"name",
	"fishpond_lead",
	"lead_name",
	"plan",
	"status",
	"source",
	"enrolled_on",
	"current_step",
	"step_state",
	"next_due",
	"stage_at_enrolment",
	"active_key",
	"owner",
	"modified_by",
	"creation",
	"modified",
	"docstatus",
	"idx",
)


def active_key(plan: str, profile: str) -> str:
	return f"{plan}\n{profile}"[:140]


def start_values(plan: str, profile: str, stage: str | None, now: dt.datetime) -> dict:
	"""The fields an enrolment starts with (the form's insert and the bulk insert use the same)."""
	due = rules.first_due(now, load_steps(plan))
	return {
		"status": ACTIVE,
		"enrolled_on": now,
		"current_step": 1,
		"step_state": WAITING,
		"next_due": due,
		"stage_at_enrolment": stage or None,
		"active_key": active_key(plan, profile),
	}


def active_profiles(plan: str, profiles: Iterable[str] | None = None) -> set[str]:
	e = frappe.qb.DocType(ENROLMENT)
	query = frappe.qb.from_(e).select(e.fishpond_lead).where((e.plan == plan) & (e.status == ACTIVE))
	if profiles is None:
		return set(query.run(pluck=True))
	out: set[str] = set()
	names = sorted(set(profiles))
	for start in range(0, len(names), CHUNK):
		out |= set(query.where(e.fishpond_lead.isin(names[start : start + CHUNK])).run(pluck=True))
	return out


def enrol(plan: str, profiles: Iterable[str], source: str = BY_HAND, now=None) -> list[str]:
	"""Enrol the profiles not yet active in ``plan``; returns the profiles enrolled (sorted). One
	read of the profiles, one insert per CHUNK rows. The caller checks permissions."""
	now = get_datetime(now) if now else now_datetime()
	enabled = frappe.db.get_value(PLAN, plan, "enabled")
	if enabled is None:
		frappe.throw(_("Follow-up plan {0} does not exist.").format(plan), frappe.DoesNotExistError)
	if not enabled:
		frappe.throw(_("Follow-up plan {0} is disabled.").format(frappe.bold(plan)))
	wanted = sorted(set(p for p in profiles if p) - active_profiles(plan, profiles))
	if not wanted:
		return []
	steps = load_steps(plan)
	if not steps:
		frappe.throw(_("A follow-up plan needs at least one step."))
	due = rules.first_due(now, steps)
	lead = frappe.qb.DocType("Fishpond Lead")
	found: list[tuple] = []
	for start in range(0, len(wanted), CHUNK):
		found += (
			frappe.qb.from_(lead)
			.select(lead.name, lead.lead_name, lead.lifecycle_stage)
			.where(lead.name.isin(wanted[start : start + CHUNK]))
			.orderby(lead.name)
			.run()
		)
	if not found:
		return []
	names = reserve_names(len(found))
	user = frappe.session.user
	values = [
		(
			name,
			profile,
			lead_name,
			plan,
			ACTIVE,
			source,
			now,
			1,
			WAITING,
			due,
			stage or None,
			active_key(plan, profile),
			user,
			user,
			now,
			now,
			0,
			0,
		)
		for name, (profile, lead_name, stage) in zip(names, found, strict=True)
	]
	frappe.db.bulk_insert(ENROLMENT, FIELDS, values, ignore_duplicates=True, chunk_size=CHUNK)
	# a profile enrolled by a concurrent insert meanwhile was ignored: report only the rows kept
	e = frappe.qb.DocType(ENROLMENT)
	kept = set()
	for start in range(0, len(names), CHUNK):
		kept |= set(
			frappe.qb.from_(e)
			.select(e.fishpond_lead)
			.where(e.name.isin(names[start : start + CHUNK]))
			.run(pluck=True)
		)
	return sorted(kept)


def reserve_names(count: int) -> list[str]:
	"""``count`` consecutive names of the FPE-##### series, taken in one locked update."""
	first = int(getseries(SERIES, DIGITS))
	if count > 1:
		series = frappe.qb.DocType("Series")
		frappe.qb.update(series).set(series.current, series.current + (count - 1)).where(
			series.name == SERIES
		).run()
	return [f"{SERIES}{n:0{DIGITS}d}" for n in range(first, first + count)]

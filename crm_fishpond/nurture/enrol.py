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

LEAD = "Fishpond Lead"
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


def anchors_of(profile_row) -> dict:
	"""The dates a profile's occasions are anniversaries of (its birthday, its first purchase)."""
	return {
		rules.BIRTHDAY: profile_row.get("birthday"),
		rules.PURCHASE_ANNIVERSARY: profile_row.get("first_purchase"),
	}


def start_values(plan: str, profile: str, stage: str | None, now: dt.datetime) -> dict:
	"""The fields an enrolment starts with (the form's insert and the bulk insert use the same)."""
	steps = load_steps(plan)
	anchors = {}
	if rules.repeats(steps):
		anchors = anchors_of(
			frappe.db.get_value(LEAD, profile, ["birthday", "first_purchase"], as_dict=True) or {}
		)
	first = rules.start(now, steps, anchors)
	return {
		"status": ACTIVE,
		"enrolled_on": now,
		"current_step": first.step or 1,
		"step_state": WAITING,
		"next_due": first.due,
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
	# a plan of plain steps starts every profile alike; occasion steps are dated per profile
	same = rules.start(now, steps) if not rules.repeats(steps) else None
	lead = frappe.qb.DocType(LEAD)
	found: list[tuple] = []
	for start in range(0, len(wanted), CHUNK):
		found += (
			frappe.qb.from_(lead)
			.select(lead.name, lead.lead_name, lead.lifecycle_stage, lead.birthday, lead.first_purchase)
			.where(lead.name.isin(wanted[start : start + CHUNK]))
			.orderby(lead.name)
			.run()
		)
	if not found:
		return []
	names = reserve_names(len(found))
	user = frappe.session.user
	values = []
	for name, (profile, lead_name, stage, birthday, first_purchase) in zip(names, found, strict=True):
		first = same or rules.start(
			now, steps, anchors_of({"birthday": birthday, "first_purchase": first_purchase})
		)
		values.append(
			(
				name,
				profile,
				lead_name,
				plan,
				ACTIVE,
				source,
				now,
				first.step or 1,
				WAITING,
				first.due,
				stage or None,
				active_key(plan, profile),
				user,
				user,
				now,
				now,
				0,
				0,
			)
		)
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


def reserve_names(count: int, series: str = SERIES, digits: int = DIGITS) -> list[str]:
	"""``count`` consecutive names of a naming series (FPE-#####, or Event's EV#####), taken in one
	locked update of the Series row, as a document's insert takes one."""
	if count <= 0:
		return []
	first = int(getseries(series, digits))
	if count > 1:
		table = frappe.qb.DocType("Series")
		frappe.qb.update(table).set(table.current, table.current + (count - 1)).where(
			table.name == series
		).run()
	return [f"{series}{n:0{digits}d}" for n in range(first, first + count)]

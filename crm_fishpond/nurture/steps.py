"""Due steps become reminders and emails; stop conditions end enrolments; interactions complete steps.

``process_due`` (every five minutes, enqueued through crm_fishpond.jobs.enqueue) first stops the
enrolments whose stop condition holds, then issues every waiting step with ``next_due <= now``, however
late (a scheduler that was down catches up, nothing is skipped):

* Call, Visit, Task: a ToDo for the assignee on the profile (reference Fishpond Lead, dated the due
  day: overdue the day after), and for calls and visits a private calendar Event; the step stays Open
  until an interaction of its kind is logged on the profile (or the ToDo is closed).
* Email: the Email Template rendered for the profile, queued by ``frappe.sendmail`` with the profile as
  reference and Frappe's unsubscribe link; the step is done once queued.

Due steps are issued a chunk (500) at a time, set-based: the chunk's enrolments are locked (FOR UPDATE)
and read with their profiles, plans and steps in a few queries; steps already issued (by ``step_key``:
enrolment and step number, and an occasion's year) are passed over; the ToDo, Event, assignment Comment
and enrolment step rows are built in Python and written with ``frappe.db.bulk_insert``; the enrolments
move on in grouped UPDATEs and the profiles' ``_assign`` (Assigned To) is refreshed as ToDo.on_update
would. Emails still go one ``frappe.sendmail`` each (the queue, the unsubscribe link), rendered in the
recipient's language. When a chunk's bulk write fails it is rolled back and each enrolment is issued on
its own (``issue``: documents, a savepoint each), so one bad row costs its own step only. All of it is
in the transaction of the chunk: a step is issued once, an email queued once, even when two jobs run
together or a job is retried after a crash. Each assignee gets one notification per run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote

import frappe
import pandas as pd
from frappe import _
from frappe.model.naming import make_autoname
from frappe.query_builder import functions as fn
from frappe.utils import add_to_date, get_datetime, get_fullname, getdate, now_datetime

from crm_fishpond import jobs
from crm_fishpond.engine import nurture as rules
from crm_fishpond.feedback import invitations
from crm_fishpond.nurture.enrol import ACTIVE, COMPLETED, OPEN, STOPPED, WAITING, anchors_of, reserve_names
from crm_fishpond.nurture.plans import (
	ENROLMENT,
	ENROLMENT_STEP,
	PLAN,
	STOP_FLAGS,
	load_plan_steps,
	load_plan_subjects,
	load_steps,
	step_subject,
)
from crm_fishpond.profile.language import recipient_languages, rendered_in
from crm_fishpond.sync.transactions import PURCHASE_VOUCHERS

LEAD = "Fishpond Lead"
JOB = "crm_fishpond.nurture.steps.process_due"
JOB_ID = "crm_fishpond:nurture_due"
CHUNK = 500
EVENT_MINUTES = 30
# Event's naming series, read from its meta (Frappe 15: autoname "EV.#####")
EVENT_NAMING = re.compile(r"^([A-Za-z0-9_-]+)\.(#+)$")
CHUNK_SAVEPOINT = "fishpond_nurture_chunk"
EMAIL_SAVEPOINT = "fishpond_nurture_email"
BY_HAND = "By Hand"


def scheduled() -> None:
	"""Cron: process what is due in a background job (deduplicated)."""
	jobs.enqueue(JOB, job_id=JOB_ID, queue="long", timeout=1500)


def process_due(now: str | dt.datetime | None = None, set_based: bool = True) -> dict:
	"""Stop what must stop, then issue every step due up to ``now``, a chunk at a time (set-based;
	``set_based=False`` issues one enrolment at a time, the fallback path, kept for the benchmark's
	baseline), and tell each assignee once. Returns the counts."""
	now = get_datetime(now) if now else now_datetime()
	stopped = apply_stops(now)
	decided = apply_outcomes(now)
	due = due_enrolments(now)
	issued = 0
	assigned: dict[str, list] = {}
	for start in range(0, len(due), CHUNK):
		chunk = due[start : start + CHUNK]
		issued += issue_chunk(chunk, now) if set_based else sum(issue(name, now) for name in chunk)
		assigned_in(chunk, now, assigned)
		_commit()
	notified = notify_assignees(assigned)
	_commit()
	return {"stopped": stopped, "issued": issued, "due": len(due), "outcomes": decided, "notified": notified}


def due_enrolments(now: dt.datetime) -> list[str]:
	e = frappe.qb.DocType(ENROLMENT)
	return (
		frappe.qb.from_(e)
		.select(e.name)
		.where((e.status == ACTIVE) & (e.step_state == WAITING) & (e.next_due <= now))
		.orderby(e.next_due)
		.orderby(e.name)
		.run(pluck=True)
	)


# --------------------------------------------------------------------------------------------------
# stops


def record_first_stages(profiles: list[str] | None = None) -> None:
	"""An enrolment made before its profile had a stage (a new lead not rescored yet) takes the first
	stage the profile gets as its stage at enrolment: getting a first stage is no change of stage."""
	e = frappe.qb.DocType(ENROLMENT)
	lead = frappe.qb.DocType(LEAD)
	query = (
		frappe.qb.from_(e)
		.join(lead)
		.on(lead.name == e.fishpond_lead)
		.select(e.name, lead.lifecycle_stage)
		.where(
			(e.status == ACTIVE)
			& (e.stage_at_enrolment.isnull() | (e.stage_at_enrolment == ""))
			& lead.lifecycle_stage.isnotnull()
			& (lead.lifecycle_stage != "")
		)
	)
	if profiles is not None:
		query = query.where(e.fishpond_lead.isin(profiles or [""]))
	rows = query.run()
	by_stage: dict[str, list[str]] = {}
	for name, stage in rows:
		by_stage.setdefault(stage, []).append(name)
	for stage, names in by_stage.items():
		frappe.qb.update(e).set(e.stage_at_enrolment, stage).where(e.name.isin(names)).run()


def stop_facts(now: dt.datetime, profiles: list[str] | None = None) -> pd.DataFrame:
	"""One row per active enrolment (index: its name) with what the stop rules read, set-based."""
	record_first_stages(profiles)
	e = frappe.qb.DocType(ENROLMENT)
	lead = frappe.qb.DocType(LEAD)
	plan = frappe.qb.DocType(PLAN)
	query = (
		frappe.qb.from_(e)
		.join(lead)
		.on(lead.name == e.fishpond_lead)
		.join(plan)
		.on(plan.name == e.plan)
		.select(
			e.name,
			e.fishpond_lead,
			e.enrolled_on,
			e.stage_at_enrolment,
			lead.lifecycle_stage.as_("stage"),
			lead.email_id,
			*[plan[flag] for flag in STOP_FLAGS],
		)
		.where(e.status == ACTIVE)
	)
	if profiles is not None:
		query = query.where(e.fishpond_lead.isin(profiles or [""]))
	rows = query.run(as_dict=True)
	frame = pd.DataFrame.from_records(
		rows,
		columns=[
			"name",
			"fishpond_lead",
			"enrolled_on",
			"stage_at_enrolment",
			"stage",
			"email_id",
			*STOP_FLAGS,
		],
	)
	frame = frame.set_index("name", drop=False)
	if not len(frame):
		return frame
	frame["last_purchase"] = _latest(
		"Fishpond Transaction",
		"creation",
		lambda t: (t.docstatus_state == "Submitted") & (t.is_return == 0),
		profiles,
	)
	frame["last_reply"] = _latest(
		"Fishpond Interaction",
		"interaction_time",
		lambda i: (i.direction == "Inbound") & i.interaction_type.isin(sorted(rules.REPLY_TYPES)),
		profiles,
	)
	frame["last_release"] = _latest(
		"Fishpond Claim Log",
		"action_on",
		lambda c: c.action.isin(["Release", "Recycle"]),
		profiles,
		profile_field="profile",
	)
	frame["unsubscribed"] = _unsubscribed(frame)
	return frame


def _latest(doctype, when_field, condition, profiles, profile_field="fishpond_lead") -> pd.Series:
	"""Per active enrolment, the latest ``when_field`` of ``doctype`` rows of its profile since it
	was enrolled (one grouped query joined to the enrolments)."""
	e = frappe.qb.DocType(ENROLMENT)
	t = frappe.qb.DocType(doctype)
	query = (
		frappe.qb.from_(e)
		.join(t)
		.on(t[profile_field] == e.fishpond_lead)
		.select(e.name, fn.Max(t[when_field]))
		.where((e.status == ACTIVE) & (t[when_field] >= e.enrolled_on) & condition(t))
		.groupby(e.name)
	)
	if profiles is not None:
		query = query.where(e.fishpond_lead.isin(profiles or [""]))
	return pd.Series(dict(query.run()), dtype=object)


def _unsubscribed(frame: pd.DataFrame) -> pd.Series:
	"""An enrolment's profile unsubscribed from emails about it, or from all emails."""
	emails = sorted({e.strip().lower() for e in frame["email_id"].dropna() if e and e.strip()})
	out = pd.Series(False, index=frame.index)
	if not emails:
		return out
	u = frappe.qb.DocType("Email Unsubscribe")
	rows = (
		frappe.qb.from_(u)
		.select(u.email, u.reference_doctype, u.reference_name, u.global_unsubscribe)
		.where(u.email.isin(emails))
		.run(as_dict=True)
	)
	everywhere = {r.email.lower() for r in rows if r.global_unsubscribe}
	about = {(r.email.lower(), r.reference_name) for r in rows if r.reference_doctype == LEAD}
	for name, email, profile in zip(frame.index, frame["email_id"], frame["fishpond_lead"], strict=True):
		key = (email or "").strip().lower()
		out[name] = bool(key) and (key in everywhere or (key, profile) in about)
	return out


def apply_stops(now: dt.datetime, profiles: list[str] | None = None) -> int:
	"""Stop every active enrolment whose stop condition holds; returns how many stopped."""
	frame = stop_facts(now, profiles)
	if not len(frame):
		return 0
	reasons = rules.stop_reasons(frame)
	reasons = reasons[reasons != ""]
	for reason, group in reasons.groupby(reasons):
		end(list(group.index), STOPPED, now, reason=str(reason))
	return len(reasons)


def end(names: list[str], status: str, now: dt.datetime, reason: str | None = None, note: str | None = None):
	"""End enrolments (Stopped or Completed) in bulk: nothing more is issued, open reminders close."""
	if not names:
		return
	e = frappe.qb.DocType(ENROLMENT)
	frappe.qb.update(e).set(e.status, status).set(e.ended_on, now).set(e.stop_reason, reason).set(
		e.stop_note, note
	).set(e.step_state, None).set(e.next_due, None).set(e.assigned_to, None).set(e.active_key, None).set(
		e.modified, now
	).where(e.name.isin(names) & (e.status == ACTIVE)).run()
	s = frappe.qb.DocType(ENROLMENT_STEP)
	todos = (
		frappe.qb.from_(s)
		.select(s.todo)
		.where(s.parent.isin(names) & (s.parenttype == ENROLMENT) & (s.status == OPEN) & s.todo.isnotnull())
		.run(pluck=True)
	)
	frappe.qb.update(s).set(s.status, "Closed").where(
		s.parent.isin(names) & (s.parenttype == ENROLMENT) & (s.status == OPEN)
	).run()
	if todos:
		todo = frappe.qb.DocType("ToDo")
		frappe.qb.update(todo).set(todo.status, "Cancelled").set(todo.modified, now).where(
			todo.name.isin(todos) & (todo.status == "Open")
		).run()
		# the profiles' Assigned To drops the cancelled reminders (ToDo.update_in_reference, set-based)
		refresh_assign(
			frappe.qb.from_(todo).select(todo.reference_name).where(todo.name.isin(todos)).run(pluck=True)
		)


def stop_by_hand(name: str, note: str | None = None) -> None:
	end([name], STOPPED, now_datetime(), reason=BY_HAND, note=note)


# --------------------------------------------------------------------------------------------------
# issuing due steps: a chunk at once, set-based; one enrolment at a time when a chunk's write fails


@dataclass
class Due:
	"""One locked, due enrolment with what issuing its step needs."""

	row: frappe._dict
	step: rules.Step
	lead: frappe._dict
	steps: list[rules.Step]
	key: str
	year: int | None = None


@dataclass
class Plan:
	"""What a chunk decided: the steps to issue, and the enrolments that only move."""

	due: list[Due] = field(default_factory=list)
	complete: list[str] = field(default_factory=list)
	gone: list[str] = field(default_factory=list)
	moves: dict[str, rules.Next] = field(default_factory=dict)


def _lock(names: list[str]) -> list[frappe._dict]:
	e = frappe.qb.DocType(ENROLMENT)
	return (
		frappe.qb.from_(e)
		.select(
			e.name,
			e.fishpond_lead,
			e.plan,
			e.status,
			e.current_step,
			e.step_state,
			e.next_due,
			e.enrolled_on,
			e.coupon_code,
		)
		.where(e.name.isin(names or [""]))
		.orderby(e.name)
		.for_update()
		.run(as_dict=True)
	)


def _locked(name: str) -> frappe._dict | None:
	rows = _lock([name])
	return rows[0] if rows else None


def _step_key(enrolment: str, step_no: int, year: int | None = None) -> str:
	"""Unique per issued step: enrolment and step number, and in a plan that repeats every year the
	round's year (an occasion step: the occasion's year; a plain step: the year it falls due in, so the
	next round issues it again, once)."""
	return f"{enrolment}:{step_no}:{year}" if year else f"{enrolment}:{step_no}"


def _profiles(names) -> dict[str, frappe._dict]:
	lead = frappe.qb.DocType(LEAD)
	rows = (
		frappe.qb.from_(lead)
		.select(
			lead.name,
			lead.lead_name,
			lead.lead_owner,
			lead.email_id,
			lead.fishpond,
			lead.customer,
			lead.birthday,
			lead.first_purchase,
		)
		.where(lead.name.isin(sorted(set(names)) or [""]))
		.run(as_dict=True)
	)
	return {r.name: r for r in rows}


def _greeted_years(names: list[str]) -> dict[str, dict[int, int]]:
	"""Per enrolment, the last occasion year each of its occasion steps was issued for (from the keys)."""
	if not names:
		return {}
	s = frappe.qb.DocType(ENROLMENT_STEP)
	rows = (
		frappe.qb.from_(s)
		.select(s.parent, s.step_no, s.step_key)
		.where(s.parent.isin(names) & (s.parenttype == ENROLMENT) & s.step_key.like("%:%:%"))
		.run()
	)
	out: dict[str, dict[int, int]] = {}
	for parent, step_no, key in rows:
		year = int(key.rsplit(":", 1)[1])
		years = out.setdefault(parent, {})
		years[step_no] = max(year, years.get(step_no, 0))
	return out


def _decide(rows: list[frappe._dict], now: dt.datetime) -> Plan:
	"""What to do with each locked enrolment, in a few queries: issue its step (not one issued before),
	complete it (its plan lost the step), stop it (its profile is gone) or date it again (an occasion
	that moved, or was greeted this year already)."""
	plan = Plan()
	rows = [
		r
		for r in rows
		if r.status == ACTIVE and r.step_state == WAITING and r.next_due and get_datetime(r.next_due) <= now
	]
	if not rows:
		return plan
	plan_steps = load_plan_steps({r.plan for r in rows})
	profiles = _profiles(r.fishpond_lead for r in rows)
	years = _greeted_years([r.name for r in rows if rules.repeats(plan_steps.get(r.plan, []))])
	candidates: list[Due] = []
	for r in rows:
		steps = plan_steps.get(r.plan, [])
		step = next((s for s in steps if s.no == r.current_step), None)
		lead = profiles.get(r.fishpond_lead)
		if step is None:  # the plan lost its steps since: the enrolment is complete
			plan.complete.append(r.name)
			continue
		if lead is None:
			plan.gone.append(r.name)
			continue
		year = None
		if step.occasion:
			anchors = anchors_of(lead)
			if not rules.on_occasion(step, anchors, get_datetime(r.next_due)):
				# the birthday changed (or was never known): date the step again from now
				plan.moves[r.name] = rules.plan_next(steps, step.no, now, anchors, years.get(r.name))
				continue
			year = rules.occasion_year(get_datetime(r.next_due), step.days_before)
		# a plain step of a repeating plan comes back every round: its key holds the year it falls due in
		round_year = year or (get_datetime(r.next_due).year if rules.repeats(steps) else None)
		candidates.append(Due(r, step, lead, steps, _step_key(r.name, step.no, round_year), year))
	issued = _issued_keys([d.key for d in candidates])
	for d in candidates:
		if d.key not in issued:
			plan.due.append(d)
		elif d.year:
			# this year's occasion was greeted already (a retried job): on to the next one
			greeted = {**years.get(d.row.name, {}), d.step.no: d.year}
			plan.moves[d.row.name] = rules.after_done(d.steps, d.step.no, now, anchors_of(d.lead), greeted)
		# a plain step issued before is left as it is: never twice
	return plan


def _issued_keys(keys: list[str]) -> set[str]:
	if not keys:
		return set()
	s = frappe.qb.DocType(ENROLMENT_STEP)
	return set(frappe.qb.from_(s).select(s.step_key).where(s.step_key.isin(keys)).run(pluck=True))


def issue_chunk(names: list[str], now: dt.datetime) -> int:
	"""Issue the due steps of a chunk of enrolments set-based; returns how many were issued or moved
	the plan on. When the chunk's bulk write fails, it is rolled back and each enrolment is issued on
	its own (``issue``): one bad row costs its own step, not the chunk's."""
	frappe.db.savepoint(CHUNK_SAVEPOINT)
	try:
		return _issue_set(names, now)
	except Exception:
		frappe.db.rollback(save_point=CHUNK_SAVEPOINT)
		frappe.log_error(
			title=_("Follow-up steps of {0} enrolments are issued one by one").format(len(names)),
			reference_doctype=ENROLMENT,
			reference_name=names[0] if names else None,
		)
	return sum(issue(name, now) for name in names)


def _issue_set(names: list[str], now: dt.datetime) -> int:
	plan = _decide(_lock(names), now)
	if not (plan.due or plan.complete or plan.gone or plan.moves):
		return 0
	coupons = _coupons(plan.due, now)
	emails = [d for d in plan.due if d.step.action in rules.MESSAGE_ACTIONS]
	reminders = [d for d in plan.due if d.step.action not in rules.MESSAGE_ACTIONS]
	sent = _send_emails(emails, coupons)
	written = _write_reminders(reminders, now)
	step_rows = [_email_step_row(d, queue, now) for d, queue in sent] + [
		_reminder_step_row(d, user, todo, event, now) for d, user, todo, event in written
	]
	_insert_step_rows(step_rows)
	by_user: dict[str | None, list[str]] = {}
	for d, user, _todo, _event in written:
		by_user.setdefault(user, []).append(d.row.name)
	e = frappe.qb.DocType(ENROLMENT)
	for user, group in by_user.items():
		frappe.qb.update(e).set(e.step_state, OPEN).set(e.assigned_to, user).set(e.modified, now).where(
			e.name.isin(group)
		).run()
	years = _greeted_years([d.row.name for d, _queue in sent if d.year])
	for d, _queue in sent:
		greeted = {**years.get(d.row.name, {}), **({d.step.no: d.year} if d.year else {})}
		plan.moves[d.row.name] = rules.after_done(d.steps, d.step.no, now, anchors_of(d.lead), greeted)
	_apply_moves(plan.moves, now)
	end(plan.complete, COMPLETED, now)
	end(plan.gone, STOPPED, now, note=_("The profile was deleted."))
	refresh_assign([d.lead.name for d, *_rest in written])
	return len(sent) + len(written) + len(plan.complete) + len(plan.gone)


def _apply_moves(moves: dict[str, rules.Next], now: dt.datetime) -> None:
	"""Move enrolments on in bulk: to their next step and its due moment (one UPDATE per distinct
	pair), or complete."""
	complete = [name for name, nxt in moves.items() if nxt.complete]
	groups: dict[tuple[int, dt.datetime], list[str]] = {}
	for name, nxt in moves.items():
		if not nxt.complete:
			groups.setdefault((nxt.step, nxt.due), []).append(name)
	e = frappe.qb.DocType(ENROLMENT)
	for (step_no, due), group in groups.items():
		frappe.qb.update(e).set(e.current_step, step_no).set(e.step_state, WAITING).set(e.next_due, due).set(
			e.assigned_to, None
		).set(e.modified, now).where(e.name.isin(group) & (e.status == ACTIVE)).run()
	end(complete, COMPLETED, now)


def _coupons(due: list[Due], now: dt.datetime) -> dict[str, str]:
	"""Each enrolment's win-back coupon (made for those whose plan gives one and who have none yet:
	a Coupon Code document each, a handful a day); enrolment -> Coupon Code name."""
	out = {d.row.name: d.row.coupon_code for d in due if d.row.coupon_code}
	rules_of = _plan_values({d.row.plan for d in due}, "coupon_pricing_rule")
	for d in due:
		if d.row.name not in out and rules_of.get(d.row.plan) and d.lead.customer:
			coupon = ensure_coupon(d.row, now)
			if coupon:
				out[d.row.name] = coupon
	return out


def _plan_values(plans, fieldname: str) -> dict[str, object]:
	if not plans:
		return {}
	p = frappe.qb.DocType(PLAN)
	return dict(frappe.qb.from_(p).select(p.name, p[fieldname]).where(p.name.isin(sorted(plans))).run())


# ---- emails: through Frappe's queue, one frappe.sendmail each, read and rendered set-based


def _send_emails(emails: list[Due], coupons: dict[str, str]) -> list[tuple[Due, str | None]]:
	"""Queue each email step's message; a message that cannot be queued is rolled back alone, logged,
	and its step stays due (late, never skipped)."""
	if not emails:
		return []
	profiles = sorted({d.lead.name for d in emails})
	contexts = {
		r.name: r for r in frappe.get_all(LEAD, filters={"name": ("in", profiles)}, fields=["*"], limit=0)
	}
	languages = recipient_languages(profiles)
	codes = _coupon_codes(list(coupons.values()))
	sent = []
	for d in emails:
		context = frappe._dict(contexts.get(d.lead.name) or {}, doctype=LEAD)
		context.update(_occasion_context(d))
		coupon = coupons.get(d.row.name)
		context["coupon_code"] = codes.get(coupon) if coupon else None
		frappe.db.savepoint(EMAIL_SAVEPOINT)
		try:
			if d.step.action == rules.SURVEY:
				queue = send_step_survey(d)
			else:
				queue = send_step_email(
					d.step.email_template, d.lead, context=context, lang=languages.get(d.lead.name)
				)
		except Exception:
			frappe.db.rollback(save_point=EMAIL_SAVEPOINT)
			_log_step_error(d.step.no, d.row.name)
			continue
		sent.append((d, queue))
	return sent


def _coupon_codes(names: list[str]) -> dict[str, str]:
	if not names:
		return {}
	c = frappe.qb.DocType("Coupon Code")
	return dict(frappe.qb.from_(c).select(c.name, c.coupon_code).where(c.name.isin(names)).run())


def _occasion_context(d: Due) -> dict:
	"""What an occasion's email can show: ``occasion`` and ``years`` (since the birth or first purchase)."""
	if not d.step.occasion or not d.year:
		return {}
	anchor = anchors_of(d.lead).get(d.step.occasion)
	return {"occasion": d.step.occasion, "years": d.year - getdate(anchor).year if anchor else None}


def send_step_email(
	template: str,
	lead,
	coupon: str | None = None,
	context: dict | None = None,
	lang: str | None = None,
) -> str | None:
	"""Queue the template, rendered for the profile in its language (``recipient_languages``), through
	Frappe's email queue; the Email Queue's name, or None when the profile has no email address or
	unsubscribed (Frappe drops the recipient). ``context`` and ``lang`` are read here when not given."""
	if not (lead.email_id or "").strip():
		return None
	if context is None:
		context = frappe.get_doc(LEAD, lead.name).as_dict()
		# the enrolment's win-back coupon, as the customer types it at the till or in the cart
		context["coupon_code"] = frappe.db.get_value("Coupon Code", coupon, "coupon_code") if coupon else None
	if lang is None:
		lang = recipient_languages([lead.name]).get(lead.name)
	t = frappe.get_cached_doc("Email Template", template)
	with rendered_in(lang):
		# ``{{ _("...") }}`` in the template, and the unsubscribe line, in the recipient's language
		subject = frappe.render_template(t.subject or "", context)
		message = frappe.render_template(t.response_html if t.use_html else (t.response or ""), context)
		queued = frappe.sendmail(
			recipients=[lead.email_id.strip()],
			subject=subject,
			message=message,
			reference_doctype=LEAD,
			reference_name=lead.name,
			unsubscribe_message=_("Unsubscribe"),
			delayed=True,
		)
	return getattr(queued, "name", None)


def send_step_survey(d: Due) -> str | None:
	"""A survey step: the survey with its personal link, in the profile's language
	(crm_fishpond.feedback.invitations), recorded under the step's key, so a retried job never sends it
	twice. The Email Queue's name, or None when it was not sent (the quiet period, no address,
	unsubscribed, the survey disabled): the step is done either way."""
	out = invitations.invite(d.lead.name, d.step.survey, invitations.PLAN_STEP, key=d.key)
	return frappe.db.get_value(invitations.INVITATION, out["invitation"], "email_queue")


def _email_step_row(d: Due, queue: str | None, now: dt.datetime) -> dict:
	return {
		"parent": d.row.name,
		"step_no": d.step.no,
		"action": d.step.action,
		"status": "Sent" if queue else "Closed",
		"due_on": d.row.next_due,
		"issued_on": now,
		"completed_on": now,
		"email_queue": queue,
		"step_key": d.key,
	}


# ---- reminders: ToDo (+ Event for calls and visits) rows written in bulk


def _write_reminders(due: list[Due], now: dt.datetime) -> list[tuple[Due, str | None, str, str | None]]:
	"""Build every reminder's ToDo, Event and assignment Comment row (what the documents' inserts and
	ToDo.on_update would write) and insert them in bulk. Returns (due, assignee, ToDo, Event)."""
	if not due:
		return []
	stamp = now_datetime()
	session = frappe.session.user
	fallback = _plan_values({d.row.plan for d in due}, "fallback_user")
	subjects = load_plan_subjects({d.row.plan for d in due})
	roles = {d.step.assign_role for d in due if d.step.assign_to == rules.ROLE and d.step.assign_role}
	role_users = {role: _role_users(role) for role in roles}
	load = _open_load(sorted({u for users in role_users.values() for u in users}))
	todo_base = _defaults("ToDo")
	event_base = _defaults("Event")
	comment_base = _defaults("Comment")
	assigned_by = "Administrator"
	assigned_by_name = frappe.db.get_value("User", assigned_by, "full_name")
	todos, events, comments, out = [], [], [], []
	pending_events = []
	for d in due:
		users = role_users.get(d.step.assign_role, []) if d.step.assign_to == rules.ROLE else []
		user = rules.assignee(d.step, d.lead.lead_owner, users, load, fallback.get(d.row.plan))
		if user:
			load[user] = load.get(user, 0) + 1  # the next role step sees this one, as the documents did
		due_at = get_datetime(d.row.next_due)
		title, description = _reminder_texts(
			d.row.plan, d.step, d.lead, subjects.get((d.row.plan, d.step.no))
		)
		todo = make_autoname("hash", "ToDo")
		todos.append(
			{
				**todo_base,
				"name": todo,
				"owner": session,
				"modified_by": session,
				"creation": stamp,
				"modified": stamp,
				"status": "Open",
				"priority": "Medium",
				"date": getdate(due_at),
				"allocated_to": user,
				"description": description,
				"reference_type": LEAD,
				"reference_name": d.lead.name,
				"assigned_by": assigned_by,
				"assigned_by_full_name": assigned_by_name,
			}
		)
		comments.append(
			{
				**comment_base,
				"name": make_autoname("hash", "Comment"),
				"owner": session,
				"modified_by": session,
				"creation": stamp,
				"modified": stamp,
				"comment_type": "Assigned",
				"comment_email": session,
				"reference_doctype": LEAD,
				"reference_name": d.lead.name,
				"content": _assignment_text(assigned_by, user, description),
			}
		)
		if d.step.action in rules.CALENDAR_ACTIONS and user:
			starts = max(due_at, now)
			pending_events.append(
				{
					**event_base,
					# a private Event shows in its owner's calendar only: the assignee's
					"owner": user,
					"modified_by": session,
					"creation": stamp,
					"modified": stamp,
					"subject": title[:140],
					"event_type": "Private",
					"event_category": "Call" if d.step.action == rules.CALL else "Meeting",
					"starts_on": starts,
					"ends_on": add_to_date(starts, minutes=EVENT_MINUTES),
					"description": description + _profile_link(d.lead.name),
				}
			)
			out.append((d, user, todo, len(pending_events) - 1))
		else:
			out.append((d, user, todo, None))
	names = reserve_names(len(pending_events), *event_series()) if pending_events else []
	for name, event in zip(names, pending_events, strict=True):
		events.append({**event, "name": name})
	_bulk("ToDo", todos)
	_bulk("Event", events)
	_bulk("Comment", comments)
	return [(d, user, todo, names[i] if i is not None else None) for d, user, todo, i in out]


def _reminder_step_row(d: Due, user: str | None, todo: str, event: str | None, now: dt.datetime) -> dict:
	return {
		"parent": d.row.name,
		"step_no": d.step.no,
		"action": d.step.action,
		"status": OPEN,
		"due_on": get_datetime(d.row.next_due),
		"issued_on": now,
		"assigned_to": user,
		"todo": todo,
		"event": event,
		"step_key": d.key,
	}


def _defaults(doctype: str) -> dict:
	"""A new document's column values (its fields' defaults), as a document's insert starts from."""
	doc = frappe.new_doc(doctype)
	return {k: v for k, v in doc.get_valid_dict(convert_dates_to_str=True).items() if k != "name"}


def _bulk(doctype: str, rows: list[dict]) -> None:
	if not rows:
		return
	columns = sorted(set().union(*(row.keys() for row in rows)))
	frappe.db.bulk_insert(
		doctype, columns, [tuple(row.get(c) for c in columns) for row in rows], chunk_size=CHUNK
	)


def _insert_step_rows(rows: list[dict]) -> None:
	"""The enrolments' step rows, numbered after the rows each enrolment has; the unique ``step_key``
	makes a second insert of one fail (and the chunk fall back to one at a time)."""
	if not rows:
		return
	s = frappe.qb.DocType(ENROLMENT_STEP)
	parents = sorted({r["parent"] for r in rows})
	idx = dict(
		frappe.qb.from_(s)
		.select(s.parent, fn.Count(s.name))
		.where(s.parent.isin(parents) & (s.parenttype == ENROLMENT))
		.groupby(s.parent)
		.run()
	)
	stamp = now_datetime()
	user = frappe.session.user
	out = []
	for row in rows:
		idx[row["parent"]] = (idx.get(row["parent"]) or 0) + 1
		out.append(
			{
				"name": make_autoname("hash", ENROLMENT_STEP),
				"parenttype": ENROLMENT,
				"parentfield": "steps",
				"idx": idx[row["parent"]],
				"owner": user,
				"modified_by": user,
				"creation": stamp,
				"modified": stamp,
				"docstatus": 0,
				**row,
			}
		)
	_bulk(ENROLMENT_STEP, out)


def refresh_assign(profiles) -> None:
	"""Set the profiles' ``_assign`` (the form's *Assigned To*) from their open ToDos, as
	ToDo.update_in_reference does for one: one read, one UPDATE per distinct value."""
	names = sorted(set(filter(None, profiles)))
	if not names:
		return
	todo = frappe.qb.DocType("ToDo")
	assigned: dict[str, list[str]] = {name: [] for name in names}
	for start in range(0, len(names), CHUNK):
		rows = (
			frappe.qb.from_(todo)
			.select(todo.reference_name, todo.allocated_to)
			.where(
				(todo.reference_type == LEAD)
				& todo.reference_name.isin(names[start : start + CHUNK])
				& todo.status.notin(["Cancelled", "Closed"])
				& todo.allocated_to.isnotnull()
				& (todo.allocated_to != "")
			)
			.orderby(todo.creation)
			.orderby(todo.name)
			.run()
		)
		for profile, user in rows:
			assigned[profile].append(user)
	by_value: dict[str, list[str]] = {}
	for profile, users in assigned.items():
		by_value.setdefault(json.dumps(users) if users else "", []).append(profile)
	lead = frappe.qb.DocType(LEAD)
	for value, group in by_value.items():
		for start in range(0, len(group), CHUNK):
			frappe.qb.update(lead).set(lead._assign, value).where(
				lead.name.isin(group[start : start + CHUNK])
			).run()


def _assignment_text(assigned_by: str, user: str | None, description: str) -> str:
	"""The assignment Comment ToDo.validate writes on the profile's timeline. Comment.validate runs it
	through the HTML sanitizer; here every part is escaped as it is built (the names here, the
	description in ``_reminder_texts``), which is as safe and a third of a chunk's time cheaper."""
	by = frappe.utils.escape_html(get_fullname(assigned_by))
	if assigned_by == user:
		return _("{0} self assigned this task: {1}").format(by, description)
	return _("{0} assigned {1}: {2}").format(by, frappe.utils.escape_html(get_fullname(user)), description)


def _reminder_texts(plan: str, step: rules.Step, lead, subject: str | None) -> tuple[str, str]:
	title = _("{0} {1} (follow-up plan {2}, step {3})").format(
		_(step.action), lead.lead_name or lead.name, plan, step.no
	)
	description = f"<p>{frappe.utils.escape_html(title)}</p>"
	if subject:
		description += f"<p>{frappe.utils.escape_html(subject)}</p>"
	return title, description


def _log_step_error(step_no: int, name: str) -> None:
	frappe.log_error(
		title=_("Follow-up step {0} of {1} could not be issued").format(step_no, name),
		reference_doctype=ENROLMENT,
		reference_name=name,
	)


# ---- one enrolment at a time: documents with their own hooks (the fallback of a failed chunk)


def issue(name: str, now: dt.datetime) -> int:
	"""Issue the due step of one enrolment; 1 when something was issued or the plan moved on."""
	row = _locked(name)
	if not row:
		return 0
	plan = _decide([row], now)
	if plan.complete:
		end(plan.complete, COMPLETED, now)
		return 1
	if plan.gone:
		end(plan.gone, STOPPED, now, note=_("The profile was deleted."))
		return 1
	if plan.moves:
		_apply_moves(plan.moves, now)
		return 0
	if not plan.due:
		return 0  # not due, or issued before (a retried job): never twice
	d = plan.due[0]
	frappe.db.savepoint("fishpond_nurture_step")
	try:
		coupon = ensure_coupon(row, now)
		if d.step.action in rules.MESSAGE_ACTIONS:
			_issue_email(d, now, coupon)
		else:
			_issue_reminder(d, now)
	except Exception:
		# the step stays due and is tried again by the next run: late, never skipped
		frappe.db.rollback(save_point="fishpond_nurture_step")
		_log_step_error(d.step.no, name)
		return 0
	return 1


def _add_step_row(enrolment: str, values: dict) -> None:
	s = frappe.qb.DocType(ENROLMENT_STEP)
	idx = (
		frappe.qb.from_(s)
		.select(fn.Count(s.name))
		.where((s.parent == enrolment) & (s.parenttype == ENROLMENT))
		.run()[0][0]
	)
	doc = frappe.get_doc(
		{
			"doctype": ENROLMENT_STEP,
			"parent": enrolment,
			"parenttype": ENROLMENT,
			"parentfield": "steps",
			"idx": (idx or 0) + 1,
			**values,
		}
	)
	doc.db_insert()


def _issue_email(d: Due, now: dt.datetime, coupon: str | None = None) -> None:
	context = frappe.get_doc(LEAD, d.lead.name).as_dict()
	context.update(_occasion_context(d))
	context["coupon_code"] = frappe.db.get_value("Coupon Code", coupon, "coupon_code") if coupon else None
	if d.step.action == rules.SURVEY:
		queue = send_step_survey(d)
	else:
		queue = send_step_email(d.step.email_template, d.lead, context=context)
	row = _email_step_row(d, queue, now)
	_add_step_row(row.pop("parent"), row)
	_move_on(d.row, now, d.step.no, d.year)


def _issue_reminder(d: Due, now: dt.datetime) -> None:
	row, step, lead = d.row, d.step, d.lead
	role_users = _role_users(step.assign_role) if step.assign_to == rules.ROLE else []
	fallback = frappe.db.get_value(PLAN, row.plan, "fallback_user")
	user = rules.assignee(step, lead.lead_owner, role_users, _open_load(role_users), fallback)
	due = get_datetime(row.next_due)
	title, description = _reminder_texts(row.plan, step, lead, step_subject(row.plan, step.no))
	todo = frappe.get_doc(
		{
			"doctype": "ToDo",
			"status": "Open",
			"priority": "Medium",
			"date": getdate(due),
			"allocated_to": user,
			"description": description,
			"reference_type": LEAD,
			"reference_name": lead.name,
			"assigned_by": "Administrator",
		}
	).insert(ignore_permissions=True)
	event = None
	if step.action in rules.CALENDAR_ACTIONS and user:
		starts = max(due, now)
		ev = frappe.get_doc(
			{
				"doctype": "Event",
				"subject": title[:140],
				"event_type": "Private",
				"event_category": "Call" if step.action == rules.CALL else "Meeting",
				"starts_on": starts,
				"ends_on": add_to_date(starts, minutes=EVENT_MINUTES),
				# the profile is linked in the text, not as the Event's reference: a reference would stop
				# the profile from ever being deleted (Frappe checks Event links on delete, not ToDo's)
				"description": description + _profile_link(lead.name),
			}
		)
		ev.insert(ignore_permissions=True)
		# a private Event shows in its owner's calendar only: the assignee's, not the job's user
		frappe.db.set_value("Event", ev.name, "owner", user, update_modified=False)
		event = ev.name
	values = _reminder_step_row(d, user, todo.name, event, now)
	_add_step_row(values.pop("parent"), values)
	frappe.db.set_value(
		ENROLMENT, row.name, {"step_state": OPEN, "assigned_to": user, "modified": now}, update_modified=False
	)


def event_series() -> tuple[str, int]:
	"""Event's naming series as (prefix, digits), from its meta. Another kind of naming raises, and the
	chunk falls back to issuing each step as documents (``issue``), which Frappe names itself."""
	found = EVENT_NAMING.match(frappe.get_meta("Event").autoname or "")
	if not found:
		raise ValueError("Event is not named by a plain naming series")
	return found.group(1), len(found.group(2))


def _profile_link(profile: str) -> str:
	url = f"/app/fishpond-lead/{quote(profile)}"
	return f'<p><a href="{url}">{frappe.utils.escape_html(profile)}</a></p>'


def _role_users(role: str | None) -> list[str]:
	if not role:
		return []
	has = frappe.qb.DocType("Has Role")
	user = frappe.qb.DocType("User")
	return (
		frappe.qb.from_(has)
		.join(user)
		.on(user.name == has.parent)
		.select(user.name)
		.distinct()
		.where(
			(has.role == role)
			& (has.parenttype == "User")
			& (user.enabled == 1)
			& (user.user_type == "System User")
			& user.name.notin(["Administrator", "Guest"])
		)
		.run(pluck=True)
	)


def _open_load(users: list[str]) -> dict[str, int]:
	if not users:
		return {}
	todo = frappe.qb.DocType("ToDo")
	return dict(
		frappe.qb.from_(todo)
		.select(todo.allocated_to, fn.Count(todo.name))
		.where(todo.allocated_to.isin(users) & (todo.status == "Open"))
		.groupby(todo.allocated_to)
		.run()
	)


def _move_on(row, done_at: dt.datetime, step_no: int | None = None, year: int | None = None) -> None:
	"""The step is done: the next one waits for its day, or the plan is complete."""
	steps = load_steps(row.plan)
	step_no = step_no or row.current_step
	anchors: dict = {}
	years: dict[int, int] = {}
	if rules.repeats(steps):
		anchors = anchors_of(_profiles([row.fishpond_lead]).get(row.fishpond_lead) or {})
		years = _greeted_years([row.name]).get(row.name, {})
		if year:
			years[step_no] = max(year, years.get(step_no, 0))
	_apply_moves({row.name: rules.after_done(steps, step_no, done_at, anchors, years)}, done_at)


# --------------------------------------------------------------------------------------------------
# assignees hear once per run: one notification each, however many reminders they got


def assigned_in(names: list[str], now: dt.datetime, counts: dict[str, list] | None = None) -> dict[str, list]:
	"""Per user, [how many reminders, one of their ToDos] given by issuing ``names`` at ``now`` (either
	path), added to ``counts``."""
	s = frappe.qb.DocType(ENROLMENT_STEP)
	counts = {} if counts is None else counts
	for start in range(0, len(names), CHUNK):
		rows = (
			frappe.qb.from_(s)
			.select(s.assigned_to, fn.Count(s.name), fn.Min(s.todo))
			.where(
				s.parent.isin(names[start : start + CHUNK])
				& (s.parenttype == ENROLMENT)
				& (s.issued_on == now)
				& s.todo.isnotnull()
				& s.assigned_to.isnotnull()
			)
			.groupby(s.assigned_to)
			.run()
		)
		for user, count, todo in rows:
			entry = counts.setdefault(user, [0, todo])
			entry[0] += count
	return counts


def notify_assignees(counts: dict[str, list]) -> int:
	"""One Notification Log per assignee (in their language) saying how many follow-up reminders they
	were given, linking to their open ToDos; the assigning user itself, and disabled users, get none
	(as Frappe's assignment notification). Returns how many were queued."""
	from frappe.desk.doctype.notification_log.notification_log import enqueue_create_notification

	sent = 0
	for user, (count, todo) in sorted(counts.items()):
		if not user or user == frappe.session.user:
			continue
		profile = frappe.db.get_value("User", user, ["enabled", "language"], as_dict=True)
		if not profile or not profile.enabled:
			continue
		subject = _("{0} follow-up reminders were assigned to you", lang=profile.language).format(count)
		enqueue_create_notification(
			user,
			{
				"type": "Assignment",
				"subject": subject,
				"document_type": "ToDo",
				"document_name": todo,
				"from_user": frappe.session.user,
				"link": f"/app/todo?status=Open&allocated_to={quote(user)}",
			},
		)
		sent += 1
	return sent


# --------------------------------------------------------------------------------------------------
# win-back: a coupon for the customer, and whether they bought again in time


def ensure_coupon(row, now: dt.datetime) -> str | None:
	"""The enrolment's single-use Gift Card Coupon Code for the profile's customer over the plan's
	coupon Pricing Rule, made once (named after the enrolment); None when the plan gives no coupon or
	the profile is no customer yet."""
	existing = frappe.db.get_value(ENROLMENT, row.name, "coupon_code")
	if existing:
		return existing
	rule, days = frappe.db.get_value(PLAN, row.plan, ["coupon_pricing_rule", "coupon_valid_days"]) or (
		None,
		0,
	)
	customer = frappe.db.get_value(LEAD, row.fishpond_lead, "customer")
	if not rule or not customer:
		return None
	name = frappe.db.get_value("Coupon Code", {"coupon_name": row.name})
	if not name:
		doc = frappe.get_doc(
			{
				"doctype": "Coupon Code",
				"coupon_name": row.name,
				"coupon_type": "Gift Card",
				"customer": customer,
				"pricing_rule": rule,
				"valid_from": getdate(now),
				"valid_upto": frappe.utils.add_days(getdate(now), int(days or 30)),
				"maximum_use": 1,
				"description": _("Follow-up plan {0}").format(row.plan),
			}
		)
		doc.flags.ignore_permissions = True
		doc.insert()
		name = doc.name
	frappe.db.set_value(ENROLMENT, row.name, "coupon_code", name, update_modified=False)
	return name


def apply_outcomes(now: dt.datetime) -> int:
	"""Decide the outcome of the enrolments of plans that measure one (bought again within the
	window) and have none yet; returns how many were decided. Ended enrolments count too: a profile
	that bought stopped its plan, and that is the win."""
	e = frappe.qb.DocType(ENROLMENT)
	plan = frappe.qb.DocType(PLAN)
	t = frappe.qb.DocType("Fishpond Transaction")
	first = (
		frappe.qb.from_(t)
		.select(fn.Min(t.creation))
		.where(
			(t.fishpond_lead == e.fishpond_lead)
			& t.voucher_type.isin(PURCHASE_VOUCHERS)
			& (t.docstatus_state == "Submitted")
			& (t.is_return == 0)
			& (t.creation >= e.enrolled_on)
		)
	)
	rows = (
		frappe.qb.from_(e)
		.join(plan)
		.on(plan.name == e.plan)
		.select(
			e.name, e.enrolled_on, plan.outcome_window_days.as_("window_days"), first.as_("first_purchase")
		)
		.where((plan.outcome_window_days > 0) & ((e.outcome.isnull()) | (e.outcome == "")))
		.run(as_dict=True)
	)
	if not rows:
		return 0
	frame = pd.DataFrame.from_records(rows, columns=["name", "enrolled_on", "window_days", "first_purchase"])
	decided = rules.outcomes(frame.set_index("name"), now)
	decided = decided[decided != ""]
	for outcome, group in decided.groupby(decided):
		frappe.qb.update(e).set(e.outcome, str(outcome)).set(e.outcome_on, now).where(
			e.name.isin(list(group.index))
		).run()
	return len(decided)


# --------------------------------------------------------------------------------------------------
# completing a step


def complete_open_steps(profile: str, interaction_type: str | None, interaction: str | None, when) -> int:
	"""An interaction logged on ``profile`` completes the open steps it does (a call completes a call
	step, ...); each enrolment moves on. Returns the steps completed."""
	e = frappe.qb.DocType(ENROLMENT)
	s = frappe.qb.DocType(ENROLMENT_STEP)
	rows = (
		frappe.qb.from_(e)
		.join(s)
		.on((s.parent == e.name) & (s.parenttype == ENROLMENT) & (s.step_no == e.current_step))
		.select(e.name, s.name.as_("step_row"), s.action, s.issued_on)
		.where(
			(e.fishpond_lead == profile) & (e.status == ACTIVE) & (e.step_state == OPEN) & (s.status == OPEN)
		)
		.run(as_dict=True)
	)
	done = 0
	for r in rows:
		if rules.completes(r.action, interaction_type):
			done += complete_step(r.name, interaction=interaction, when=when)
	return done


def complete_step(name: str, interaction: str | None = None, when=None, todo_closed: bool = False) -> int:
	"""Complete the open step of one enrolment (locked) and move the plan on."""
	row = _locked(name)
	if not row or row.status != ACTIVE or row.step_state != OPEN:
		return 0
	s = frappe.qb.DocType(ENROLMENT_STEP)
	step_rows = (
		frappe.qb.from_(s)
		.select(s.name, s.todo, s.issued_on)
		.where(
			(s.parent == name)
			& (s.parenttype == ENROLMENT)
			& (s.step_no == row.current_step)
			& (s.status == OPEN)
		)
		.run(as_dict=True)
	)
	if not step_rows:
		return 0
	step_row = step_rows[0]
	now = now_datetime()
	# the next step counts from when this one was done, never from before it was issued
	done_at = max(get_datetime(when) if when else now, get_datetime(step_row.issued_on) or now)
	frappe.db.set_value(
		ENROLMENT_STEP,
		step_row.name,
		{"status": "Done", "completed_on": done_at, "interaction": interaction},
		update_modified=False,
	)
	if step_row.todo and not todo_closed:
		frappe.db.set_value("ToDo", step_row.todo, "status", "Closed")
		refresh_assign([row.fishpond_lead])
	_move_on(row, done_at)
	return 1


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a job commits per chunk

"""Due steps become reminders and emails; stop conditions end enrolments; interactions complete steps.

``process_due`` (every five minutes, enqueued through crm_fishpond.jobs.enqueue) first stops the
enrolments whose stop condition holds, then issues every waiting step with ``next_due <= now``, however
late (a scheduler that was down catches up, nothing is skipped):

* Call, Visit, Task: a ToDo for the assignee on the profile (reference Fishpond Lead, dated the due
  day: overdue the day after), and for calls and visits a private calendar Event; the step stays Open
  until an interaction of its kind is logged on the profile (or the ToDo is closed).
* Email: the Email Template rendered for the profile, queued by ``frappe.sendmail`` with the profile as
  reference and Frappe's unsubscribe link; the step is done once queued.

Each step is issued under a row lock on its enrolment and recorded as a row of the enrolment whose
``step_key`` (enrolment and step number) is unique, in the same transaction as its ToDo or its Email
Queue row: a step is issued once, an email queued once, even when two jobs run together or a job is
retried after a crash.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import frappe
import pandas as pd
from frappe import _
from frappe.query_builder import functions as fn
from frappe.utils import add_to_date, get_datetime, getdate, now_datetime

from crm_fishpond import jobs
from crm_fishpond.engine import nurture as rules
from crm_fishpond.nurture.enrol import ACTIVE, COMPLETED, OPEN, STOPPED, WAITING
from crm_fishpond.nurture.plans import ENROLMENT, ENROLMENT_STEP, PLAN, STOP_FLAGS, load_steps, step_subject

LEAD = "Fishpond Lead"
JOB = "crm_fishpond.nurture.steps.process_due"
JOB_ID = "crm_fishpond:nurture_due"
CHUNK = 500
EVENT_MINUTES = 30
BY_HAND = "By Hand"


def scheduled() -> None:
	"""Cron: process what is due in a background job (deduplicated)."""
	jobs.enqueue(JOB, job_id=JOB_ID, queue="long", timeout=1500)


def process_due(now: str | dt.datetime | None = None) -> dict:
	"""Stop what must stop, then issue every step due up to ``now``. Returns the counts."""
	now = get_datetime(now) if now else now_datetime()
	stopped = apply_stops(now)
	decided = apply_outcomes(now)
	due = due_enrolments(now)
	issued = 0
	for start in range(0, len(due), CHUNK):
		for name in due[start : start + CHUNK]:
			issued += issue(name, now)
		_commit()
	return {"stopped": stopped, "issued": issued, "due": len(due), "outcomes": decided}


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


def stop_by_hand(name: str, note: str | None = None) -> None:
	end([name], STOPPED, now_datetime(), reason=BY_HAND, note=note)


# --------------------------------------------------------------------------------------------------
# issuing a step


def _locked(name: str) -> dict | None:
	e = frappe.qb.DocType(ENROLMENT)
	rows = (
		frappe.qb.from_(e)
		.select(
			e.name, e.fishpond_lead, e.plan, e.status, e.current_step, e.step_state, e.next_due, e.enrolled_on
		)
		.where(e.name == name)
		.for_update()
		.run(as_dict=True)
	)
	return rows[0] if rows else None


def _step_key(enrolment: str, step_no: int) -> str:
	return f"{enrolment}:{step_no}"


def issue(name: str, now: dt.datetime) -> int:
	"""Issue the due step of one enrolment; 1 when something was issued or the plan moved on."""
	row = _locked(name)
	if not row or row.status != ACTIVE or row.step_state != WAITING or not row.next_due:
		return 0
	if get_datetime(row.next_due) > now:
		return 0
	steps = load_steps(row.plan)
	step = next((s for s in steps if s.no == row.current_step), None)
	if step is None:  # the plan lost its steps since: the enrolment is complete
		end([name], COMPLETED, now)
		return 1
	key = _step_key(name, step.no)
	if frappe.db.exists(ENROLMENT_STEP, {"step_key": key}):
		return 0  # issued before (a retried job): never twice
	lead = frappe.db.get_value(
		LEAD, row.fishpond_lead, ["name", "lead_name", "lead_owner", "email_id", "fishpond"], as_dict=True
	)
	if lead is None:
		end([name], STOPPED, now, note=_("The profile was deleted."))
		return 1
	frappe.db.savepoint("fishpond_nurture_step")
	try:
		coupon = ensure_coupon(row, now)
		if step.action == rules.EMAIL:
			_issue_email(row, step, lead, key, now, coupon)
		else:
			_issue_reminder(row, step, lead, key, now)
	except Exception:
		# the step stays due and is tried again by the next run: late, never skipped
		frappe.db.rollback(save_point="fishpond_nurture_step")
		frappe.log_error(
			title=_("Follow-up step {0} of {1} could not be issued").format(step.no, name),
			reference_doctype=ENROLMENT,
			reference_name=name,
		)
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


def _issue_email(row, step: rules.Step, lead, key: str, now: dt.datetime, coupon: str | None = None) -> None:
	queue = send_step_email(step.email_template, lead, coupon)
	_add_step_row(
		row.name,
		{
			"step_no": step.no,
			"action": step.action,
			"status": "Sent" if queue else "Closed",
			"due_on": row.next_due,
			"issued_on": now,
			"completed_on": now,
			"email_queue": queue,
			"step_key": key,
		},
	)
	_move_on(row, now)


def send_step_email(template: str, lead, coupon: str | None = None) -> str | None:
	"""Queue the template, rendered for the profile, through Frappe's email queue; the Email Queue's
	name, or None when the profile has no email address or unsubscribed (Frappe drops the recipient)."""
	if not (lead.email_id or "").strip():
		return None
	doc = frappe.get_doc(LEAD, lead.name)
	context = doc.as_dict()
	# the enrolment's win-back coupon, as the customer types it at the till or in the cart
	context["coupon_code"] = frappe.db.get_value("Coupon Code", coupon, "coupon_code") if coupon else None
	t = frappe.get_cached_doc("Email Template", template)
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


def _issue_reminder(row, step: rules.Step, lead, key: str, now: dt.datetime) -> None:
	role_users = _role_users(step.assign_role) if step.assign_to == rules.ROLE else []
	fallback = frappe.db.get_value(PLAN, row.plan, "fallback_user")
	user = rules.assignee(step, lead.lead_owner, role_users, _open_load(role_users), fallback)
	due = get_datetime(row.next_due)
	subject = step_subject(row.plan, step.no)
	what = _(step.action)
	title = _("{0} {1} (follow-up plan {2}, step {3})").format(
		what, lead.lead_name or lead.name, row.plan, step.no
	)
	description = f"<p>{frappe.utils.escape_html(title)}</p>"
	if subject:
		description += f"<p>{frappe.utils.escape_html(subject)}</p>"
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
	_add_step_row(
		row.name,
		{
			"step_no": step.no,
			"action": step.action,
			"status": OPEN,
			"due_on": due,
			"issued_on": now,
			"assigned_to": user,
			"todo": todo.name,
			"event": event,
			"step_key": key,
		},
	)
	frappe.db.set_value(
		ENROLMENT, row.name, {"step_state": OPEN, "assigned_to": user, "modified": now}, update_modified=False
	)


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


def _move_on(row, done_at: dt.datetime) -> None:
	"""The step is done: the next one waits for its day, or the plan is complete."""
	nxt = rules.after_done(load_steps(row.plan), row.current_step, done_at)
	if nxt.complete:
		end([row.name], COMPLETED, done_at)
		return
	frappe.db.set_value(
		ENROLMENT,
		row.name,
		{
			"current_step": nxt.step,
			"step_state": WAITING,
			"next_due": nxt.due,
			"assigned_to": None,
			"modified": done_at,
		},
		update_modified=False,
	)


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
			& (t.voucher_type == "Sales Invoice")
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
	_move_on(row, done_at)
	return 1


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a job commits per chunk

"""Follow-up plans: the pure decisions (who enters a plan, what stops it, what is due, when the next
step falls due, who does it). The adapters in ``crm_fishpond.nurture`` read the pond, call these and
write what they decide; nothing here touches a database or a clock of its own (``now`` is passed in).

A plan is a list of steps. Step *n* falls due ``after_days`` after the moment step *n-1* was done (the
first step: after enrolment). So a step done late moves the rest of the plan with it, and a step whose
moment passed while nothing ran (the scheduler was down) is simply due: everything with
``next_due <= now`` is processed, late, and nothing is skipped.

A step may instead be due on an **occasion** of the profile: its birthday or the anniversary of its
first purchase (optionally ``days_before`` it), at ``OCCASION_HOUR`` o'clock. A plan with an occasion step
repeats: after its last step it starts again from the first, so a greetings plan stays enrolled and
greets once a year per occasion. The occasion's year is part of the step's key, so nothing is sent
twice; a step whose occasion the profile lacks (no birthday) is passed over, and when no step of the
round can be dated the first one is looked at again ``RECHECK_DAYS`` later. A birthday on 29 February is
greeted on 28 February in years that have no 29th.

Stop conditions are checked before anything is issued, in this order (the first that holds is the
reason): unsubscribed, bought, replied, released (or recycled), changed stage.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CALL = "Call"
EMAIL = "Email"
VISIT = "Visit"
TASK = "Task"
SURVEY = "Survey"  # an NPS or CSAT survey (crm_fishpond.feedback), sent like an email
ACTIONS = (CALL, EMAIL, VISIT, TASK, SURVEY)
# actions that are a message sent at once: the step is done when it is queued, nobody is assigned
MESSAGE_ACTIONS = (EMAIL, SURVEY)
# actions a person does: a ToDo (and for calls and visits a calendar Event), done by an interaction
PERSON_ACTIONS = (CALL, VISIT, TASK)
CALENDAR_ACTIONS = (CALL, VISIT)

OWNER = "Owner Rep"
ROLE = "Role"
USER = "User"
ASSIGNEES = (OWNER, ROLE, USER)

UNSUBSCRIBED = "Unsubscribed"
BOUGHT = "Bought"
REPLIED = "Replied"
RELEASED = "Released"
STAGE_CHANGED = "Stage Changed"
# the order in which stop conditions are looked at: the first that holds is the reason
STOP_ORDER = (UNSUBSCRIBED, BOUGHT, REPLIED, RELEASED, STAGE_CHANGED)

# interaction types that complete a step of each action
COMPLETED_BY = {
	CALL: frozenset({"Call"}),
	VISIT: frozenset({"Visit", "Meeting"}),
	EMAIL: frozenset({"Email"}),
	TASK: frozenset({"Call", "Visit", "Meeting", "Email", "Chat", "Note"}),
	SURVEY: frozenset(),
}
# inbound interactions of these types are a reply
REPLY_TYPES = frozenset({"Email", "Chat"})

MAX_AFTER_DAYS = 3650

# occasions a step can be due on, and the profile's date each one is the anniversary of
BIRTHDAY = "Birthday"
PURCHASE_ANNIVERSARY = "First Purchase Anniversary"
OCCASIONS = (BIRTHDAY, PURCHASE_ANNIVERSARY)
MAX_DAYS_BEFORE = 60
# an occasion step falls due at this hour of its day (greetings do not go out at midnight)
OCCASION_HOUR = 9
# when no step of a repeating plan can be dated (no birthday, no purchase yet), look again this much later
RECHECK_DAYS = 1


@dataclass(frozen=True)
class Step:
	"""One step of a plan, as the adapter reads it from the plan's table (1-based ``no``)."""

	no: int
	after_days: int
	action: str
	email_template: str | None = None
	survey: str | None = None
	assign_to: str = OWNER
	assign_role: str | None = None
	assign_user: str | None = None
	occasion: str | None = None
	days_before: int = 0


@dataclass(frozen=True)
class StepProblem:
	"""Why a step cannot run: ``code`` for the adapter to translate, ``no`` the step (1-based)."""

	no: int
	code: str


def check_steps(steps: Sequence[Step]) -> list[StepProblem]:
	"""What is wrong with a plan's steps (empty: it can run). Codes: ``no_steps``, ``bad_days``,
	``bad_occasion``, ``bad_days_before``, ``bad_action``, ``needs_template``, ``needs_survey``, ``bad_assignee``,
	``needs_role``, ``needs_user``."""
	if not steps:
		return [StepProblem(0, "no_steps")]
	problems = []
	for step in steps:
		if step.after_days is None or not 0 <= int(step.after_days) <= MAX_AFTER_DAYS:
			problems.append(StepProblem(step.no, "bad_days"))
		if step.occasion and step.occasion not in OCCASIONS:
			problems.append(StepProblem(step.no, "bad_occasion"))
		elif step.occasion and not 0 <= int(step.days_before or 0) <= MAX_DAYS_BEFORE:
			problems.append(StepProblem(step.no, "bad_days_before"))
		if step.action not in ACTIONS:
			problems.append(StepProblem(step.no, "bad_action"))
		elif step.action == EMAIL and not step.email_template:
			problems.append(StepProblem(step.no, "needs_template"))
		elif step.action == SURVEY and not step.survey:
			problems.append(StepProblem(step.no, "needs_survey"))
		if step.action in MESSAGE_ACTIONS:
			continue  # a message is sent, nobody is assigned
		if step.assign_to not in ASSIGNEES:
			problems.append(StepProblem(step.no, "bad_assignee"))
		elif step.assign_to == ROLE and not step.assign_role:
			problems.append(StepProblem(step.no, "needs_role"))
		elif step.assign_to == USER and not step.assign_user:
			problems.append(StepProblem(step.no, "needs_user"))
	return problems


# --------------------------------------------------------------------------------------------------
# due dates


def due_after(start: dt.datetime, after_days: int) -> dt.datetime:
	"""The moment a step falls due: ``after_days`` whole days after ``start``."""
	return start + dt.timedelta(days=int(after_days or 0))


def first_due(enrolled_on: dt.datetime, steps: Sequence[Step]) -> dt.datetime | None:
	"""When the first step falls due (None for a plan without steps); a plan without occasion steps."""
	return due_after(enrolled_on, steps[0].after_days) if steps else None


@dataclass(frozen=True)
class Next:
	"""What follows a step done at ``done_at``: the next step and its due moment, or the plan is
	complete (``step`` None)."""

	step: int | None
	due: dt.datetime | None

	@property
	def complete(self) -> bool:
		return self.step is None


# --------------------------------------------------------------------------------------------------
# occasions: birthdays and first-purchase anniversaries


def repeats(steps: Sequence[Step]) -> bool:
	"""A plan with an occasion step starts again from its first step after its last."""
	return any(s.occasion for s in steps)


def occasion_on(anchor: dt.date, year: int) -> dt.date:
	"""The anniversary of ``anchor`` in ``year``; 29 February falls on 28 February in other years."""
	if anchor.month == 2 and anchor.day == 29 and not calendar.isleap(year):
		return dt.date(year, 2, 28)
	return anchor.replace(year=year)


def next_occasion(
	anchor: dt.date | None,
	on_or_after: dt.date,
	days_before: int = 0,
	after_year: int | None = None,
) -> tuple[dt.date, int] | None:
	"""The first day, on or after ``on_or_after``, that is ``days_before`` days before an anniversary of
	``anchor`` of a year after ``after_year`` (the last year already greeted; None: none yet), and that
	year: ``(day, year)``. None without an anchor. Never the anchor's own day (a birthday is greeted from
	the first one after birth, an anniversary from the first year after the first purchase)."""
	if anchor is None:
		return None
	anchor = _as_date(anchor)
	before = dt.timedelta(days=int(days_before or 0))
	year = max(anchor.year + 1, on_or_after.year - 1, (after_year or 0) + 1)
	while True:
		day = occasion_on(anchor, year) - before
		if day >= on_or_after:
			return day, year
		year += 1


def occasion_year(due: dt.date | dt.datetime, days_before: int = 0) -> int:
	"""The year of the occasion a step due on ``due`` greets (``days_before`` may cross New Year)."""
	return (_as_date(due) + dt.timedelta(days=int(days_before or 0))).year


def on_occasion(step: Step, anchors: Mapping[str, dt.date | None], due: dt.date | dt.datetime) -> bool:
	"""Whether an occasion step due on ``due`` still greets the profile's occasion that day (its birthday
	may have been changed or removed since the step was dated). A step without occasion always is."""
	if not step.occasion:
		return True
	anchor = anchors.get(step.occasion)
	if anchor is None:
		return False
	year = occasion_year(due, step.days_before)
	expected = occasion_on(_as_date(anchor), year) - dt.timedelta(days=int(step.days_before or 0))
	return year > _as_date(anchor).year and expected == _as_date(due)


def plan_next(
	steps: Sequence[Step],
	from_no: int,
	at: dt.datetime,
	anchors: Mapping[str, dt.date | None] | None = None,
	last_years: Mapping[int, int] | None = None,
) -> Next:
	"""The step that falls due next, looking from step ``from_no`` (1-based; past the last step a
	repeating plan starts again at 1, another is complete) at ``at``: a step ``after_days`` after ``at``,
	an occasion step on its next occasion on or after ``at``'s day whose year is after ``last_years``
	(step number -> the last year it greeted). Consecutive occasion steps are one group: the one whose
	occasion comes first is next (a tie goes to the earlier step), so a greetings plan greets each
	occasion in the order of the calendar, whatever the order of its table. Occasion steps whose occasion
	the profile lacks are passed over; when none of a repeating plan's steps can be dated, the step
	``from_no`` is looked at again ``RECHECK_DAYS`` later."""
	ordered = sorted(steps, key=lambda s: s.no)
	if not ordered:
		return Next(None, None)
	anchors = anchors or {}
	last_years = last_years or {}
	ahead = [s for s in ordered if s.no >= from_no]
	cycle = repeats(ordered)
	candidates = ahead + [s for s in ordered if s.no < from_no] if cycle else ahead
	soonest: tuple[dt.date, int] | None = None
	for step in candidates:
		if not step.occasion:
			if soonest:
				break
			return Next(step.no, due_after(at, step.after_days))
		found = next_occasion(
			anchors.get(step.occasion), at.date(), step.days_before, last_years.get(step.no)
		)
		if found and (soonest is None or found[0] < soonest[0]):
			soonest = (found[0], step.no)
	if soonest:
		return Next(soonest[1], dt.datetime.combine(soonest[0], dt.time(OCCASION_HOUR)))
	if not candidates:
		return Next(None, None)
	return Next(candidates[0].no, at + dt.timedelta(days=RECHECK_DAYS))


def start(
	enrolled_on: dt.datetime,
	steps: Sequence[Step],
	anchors: Mapping[str, dt.date | None] | None = None,
) -> Next:
	"""The first step of a new enrolment and when it falls due (complete: the plan has no steps)."""
	return plan_next(steps, 1, enrolled_on, anchors)


def after_done(
	steps: Sequence[Step],
	step_no: int,
	done_at: dt.datetime,
	anchors: Mapping[str, dt.date | None] | None = None,
	last_years: Mapping[int, int] | None = None,
) -> Next:
	"""The plan moves on from step ``step_no`` (1-based) done at ``done_at``."""
	return plan_next(steps, step_no + 1, done_at, anchors, last_years)


def _as_date(value: dt.date | dt.datetime) -> dt.date:
	return value.date() if isinstance(value, dt.datetime) else value


def due_mask(next_due: pd.Series, now: dt.datetime) -> pd.Series:
	"""Which waiting steps are due: ``next_due <= now`` (a missing date is never due). Every step
	whose moment has passed is due, however long ago: late, never skipped."""
	when = pd.to_datetime(next_due, errors="coerce")
	return pd.Series(np.asarray(when.notna() & (when <= pd.Timestamp(now))), index=next_due.index)


def is_overdue(due_on: dt.datetime | None, now: dt.datetime) -> bool:
	"""An issued step not done by the end of its due day is overdue (the day a ToDo's date shows)."""
	return due_on is not None and due_on.date() < now.date()


def completes(action: str, interaction_type: str | None) -> bool:
	"""Whether logging an interaction of this type completes an open step of this action."""
	return (interaction_type or "") in COMPLETED_BY.get(action, frozenset())


def is_reply(interaction_type: str | None, direction: str | None) -> bool:
	return direction == "Inbound" and (interaction_type or "") in REPLY_TYPES


# --------------------------------------------------------------------------------------------------
# who enters a plan


def crowd_entries(
	matched: Iterable[str],
	enrolments: pd.DataFrame,
	now: dt.datetime,
	reenrol_after_days: int = 0,
) -> list[str]:
	"""The profiles of the crowd ``matched`` that enter the plan now, sorted.

	``enrolments``: the plan's enrolments, columns ``profile``, ``active`` (bool) and ``ended_on``.
	A profile with an active enrolment stays as it is. One whose enrolments all ended enters again
	only when ``reenrol_after_days`` > 0 and its last one ended at least that many days ago (0: a
	profile goes through a plan once)."""
	crowd = sorted(set(map(str, matched)))
	if not crowd:
		return []
	if enrolments is None or not len(enrolments):
		return crowd
	frame = enrolments.assign(profile=enrolments["profile"].astype(str))
	active = set(frame.loc[frame["active"].astype(bool), "profile"])
	ended = frame[~frame["profile"].isin(active)]
	last_end = pd.to_datetime(ended["ended_on"], errors="coerce").groupby(ended["profile"]).max()
	out = []
	cutoff = pd.Timestamp(now) - pd.Timedelta(days=int(reenrol_after_days or 0))
	for profile in crowd:
		if profile in active:
			continue
		if profile in last_end.index:
			end = last_end[profile]
			if not reenrol_after_days or pd.isna(end) or end > cutoff:
				continue
		out.append(profile)
	return out


# --------------------------------------------------------------------------------------------------
# what stops an enrolment

STOP_COLUMNS = (
	"enrolled_on",
	"stage_at_enrolment",
	"stage",
	"last_purchase",
	"last_reply",
	"last_release",
	"unsubscribed",
)
FLAG_OF = {
	UNSUBSCRIBED: "stop_on_unsubscribe",
	BOUGHT: "stop_on_purchase",
	REPLIED: "stop_on_reply",
	RELEASED: "stop_on_release",
	STAGE_CHANGED: "stop_on_stage_change",
}


def stop_reasons(frame: pd.DataFrame) -> pd.Series:
	"""For each active enrolment (a row of ``frame``), the stop condition that holds, "" for none.

	Columns: ``enrolled_on``; ``stage_at_enrolment`` and ``stage`` (the profile's stage then and now);
	``last_purchase``, ``last_reply``, ``last_release`` (the latest order or invoice, inbound reply,
	release or recycle of the profile, each counted only when after ``enrolled_on``); ``unsubscribed``
	(bool); and the plan's switches ``stop_on_unsubscribe``, ``stop_on_purchase``, ``stop_on_reply``,
	``stop_on_release``, ``stop_on_stage_change`` (a missing switch counts as on)."""
	out = pd.Series("", index=frame.index, dtype=object)
	if not len(frame):
		return out
	enrolled = pd.to_datetime(frame["enrolled_on"], errors="coerce")

	def after(column: str) -> np.ndarray:
		when = pd.to_datetime(frame[column], errors="coerce") if column in frame else None
		if when is None:
			return np.zeros(len(frame), dtype=bool)
		return np.asarray(when.notna() & enrolled.notna() & (when >= enrolled))

	def text(column: str) -> pd.Series:
		return frame[column].fillna("").astype(str) if column in frame else pd.Series("", index=frame.index)

	holds = {
		UNSUBSCRIBED: _bools(frame["unsubscribed"])
		if "unsubscribed" in frame
		else np.zeros(len(frame), bool),
		BOUGHT: after("last_purchase"),
		REPLIED: after("last_reply"),
		RELEASED: after("last_release"),
		# a profile enrolled before it had a stage (a new lead not rescored yet) that gets its first one
		# has not changed stage: the adapter records that first stage as the one at enrolment
		STAGE_CHANGED: np.asarray(
			(text("stage_at_enrolment") != "") & (text("stage") != text("stage_at_enrolment"))
		),
	}
	decided = np.zeros(len(frame), dtype=bool)
	values = out.to_numpy(copy=True)
	for reason in STOP_ORDER:
		flag = FLAG_OF[reason]
		on = (
			np.asarray(pd.to_numeric(frame[flag], errors="coerce").fillna(1).astype(int).astype(bool))
			if flag in frame
			else np.ones(len(frame), dtype=bool)
		)
		hit = holds[reason] & on & ~decided
		values[hit] = reason
		decided |= hit
	return pd.Series(values, index=frame.index, dtype=object)


def _bools(values: pd.Series) -> np.ndarray:
	"""Truthy values as True; None and NaN as False."""
	return values.astype("boolean").fillna(False).to_numpy(dtype=bool)


# --------------------------------------------------------------------------------------------------
# who does a step


def assignee(
	step: Step,
	lead_owner: str | None,
	role_users: Sequence[str] = (),
	open_load: Mapping[str, int] | None = None,
	fallback: str | None = None,
) -> str | None:
	"""The user a step's ToDo goes to: the profile's owner rep, the least loaded user of a role (by
	open ToDos, then name), or a fixed user; ``fallback`` when that gives nobody (an unclaimed
	profile, a role nobody holds). None when there is nobody at all."""
	chosen: str | None = None
	if step.assign_to == OWNER:
		chosen = lead_owner or None
	elif step.assign_to == ROLE:
		users = sorted(set(role_users))
		if users:
			load = open_load or {}
			chosen = min(users, key=lambda u: (load.get(u, 0), u))
	elif step.assign_to == USER:
		chosen = step.assign_user or None
	return chosen or fallback or None


# --------------------------------------------------------------------------------------------------
# outcome: bought again within the plan's window (win-back)

WON_BACK = "Won Back"
NOT_WON_BACK = "Not Won Back"


def outcomes(frame: pd.DataFrame, now: dt.datetime) -> pd.Series:
	"""For each enrolment (row) of a plan that measures an outcome, "Won Back" when its profile bought
	(``first_purchase``: the first purchase since ``enrolled_on``) within ``window_days`` of enrolment,
	"Not Won Back" once the window has passed without one, "" while it is still open (or the plan
	measures nothing: ``window_days`` 0)."""
	out = pd.Series("", index=frame.index, dtype=object)
	if not len(frame):
		return out
	enrolled = pd.to_datetime(frame["enrolled_on"], errors="coerce")
	bought = pd.to_datetime(frame["first_purchase"], errors="coerce")
	days = pd.to_numeric(frame["window_days"], errors="coerce").fillna(0)
	closes = enrolled + pd.to_timedelta(days, unit="D")
	measured = (days > 0) & enrolled.notna()
	won = measured & bought.notna() & (bought >= enrolled) & (bought <= closes)
	lost = measured & ~won & (closes < pd.Timestamp(now))
	values = out.to_numpy(copy=True)
	values[np.asarray(won)] = WON_BACK
	values[np.asarray(lost)] = NOT_WON_BACK
	return pd.Series(values, index=frame.index, dtype=object)


def outcome_summary(counts: pd.DataFrame) -> pd.DataFrame:
	"""Per plan: enrolled, active, completed, stopped, won back, not won back and the win-back rate
	(won back ÷ decided, in per cent; NaN while nothing is decided), from ``counts`` with columns
	``plan``, ``status``, ``outcome`` and ``n`` (enrolments of that plan, status and outcome)."""
	columns = [
		"plan",
		"enrolled",
		"active",
		"completed",
		"stopped",
		"won_back",
		"not_won_back",
		"win_back_rate",
	]
	if counts is None or not len(counts):
		return pd.DataFrame(columns=columns)
	frame = counts.assign(
		n=pd.to_numeric(counts["n"], errors="coerce").fillna(0).astype(int),
		status=counts["status"].fillna("").astype(str),
		outcome=counts["outcome"].fillna("").astype(str),
	)
	by_plan = frame.groupby("plan", sort=True)

	def total(mask: pd.Series) -> pd.Series:
		return frame["n"].where(mask, 0).groupby(frame["plan"]).sum()

	out = pd.DataFrame(
		{
			"enrolled": by_plan["n"].sum(),
			"active": total(frame["status"] == "Active"),
			"completed": total(frame["status"] == "Completed"),
			"stopped": total(frame["status"] == "Stopped"),
			"won_back": total(frame["outcome"] == WON_BACK),
			"not_won_back": total(frame["outcome"] == NOT_WON_BACK),
		}
	)
	decided = out["won_back"] + out["not_won_back"]
	out["win_back_rate"] = (100.0 * out["won_back"] / decided.where(decided > 0)).round(1)
	return out.reset_index()[columns]

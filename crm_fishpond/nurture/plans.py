"""A follow-up plan as the engine reads it, and its checks on save."""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.engine import nurture as rules

PLAN = "Fishpond Follow-up Plan"
STEP = "Fishpond Follow-up Step"
ENROLMENT = "Fishpond Plan Enrolment"
ENROLMENT_STEP = "Fishpond Enrolment Step"
STOP_FLAGS = tuple(rules.FLAG_OF.values())


def steps_of(rows) -> list[rules.Step]:
	"""The engine's steps from a plan's table rows (documents or dicts), numbered 1, 2, ... in order."""
	return [
		rules.Step(
			no=i,
			after_days=row.get("after_days") if row.get("after_days") is not None else 0,
			action=row.get("action"),
			email_template=row.get("email_template"),
			survey=row.get("survey") or None,
			assign_to=row.get("assign_to") or rules.OWNER,
			assign_role=row.get("assign_role"),
			assign_user=row.get("assign_user"),
			occasion=row.get("occasion") or None,
			days_before=row.get("days_before") or 0,
		)
		for i, row in enumerate(sorted(rows, key=lambda r: r.get("idx") or 0), start=1)
	]


def load_steps(plan: str) -> list[rules.Step]:
	return load_plan_steps([plan]).get(plan, [])


def load_plan_steps(plans) -> dict[str, list[rules.Step]]:
	"""The engine's steps of each plan, in one query."""
	rows = _step_rows(plans)
	by_plan: dict[str, list[dict]] = {}
	for row in rows:
		by_plan.setdefault(row["parent"], []).append(row)
	return {plan: steps_of(plan_rows) for plan, plan_rows in by_plan.items()}


def load_plan_subjects(plans) -> dict[tuple[str, int], str | None]:
	"""What each plan's step says to do, by (plan, step number), in one query."""
	out: dict[tuple[str, int], str | None] = {}
	counters: dict[str, int] = {}
	for row in _step_rows(plans):
		counters[row["parent"]] = counters.get(row["parent"], 0) + 1
		out[(row["parent"], counters[row["parent"]])] = row["subject"]
	return out


def _step_rows(plans) -> list[dict]:
	names = sorted(set(plans))
	if not names:
		return []
	step = frappe.qb.DocType(STEP)
	return (
		frappe.qb.from_(step)
		.select(
			step.parent,
			step.idx,
			step.after_days,
			step.action,
			step.email_template,
			step.survey,
			step.subject,
			step.assign_to,
			step.assign_role,
			step.assign_user,
			step.occasion,
			step.days_before,
		)
		.where(step.parent.isin(names) & (step.parenttype == PLAN) & (step.parentfield == "steps"))
		.orderby(step.parent)
		.orderby(step.idx)
		.run(as_dict=True)
	)


def step_subject(plan: str, step_no: int) -> str | None:
	"""What the plan's step ``step_no`` (1-based, in table order) says to do."""
	step = frappe.qb.DocType(STEP)
	subjects = (
		frappe.qb.from_(step)
		.select(step.subject)
		.where((step.parent == plan) & (step.parenttype == PLAN) & (step.parentfield == "steps"))
		.orderby(step.idx)
		.run(pluck=True)
	)
	return subjects[step_no - 1] if 0 < step_no <= len(subjects) else None


def check_steps(doc) -> None:
	"""Throw a translated error naming the step when a plan's steps cannot run."""
	problems = rules.check_steps(steps_of([row.as_dict() for row in doc.get("steps") or []]))
	if not problems:
		return
	texts = {
		"no_steps": _("A follow-up plan needs at least one step."),
		"bad_days": _("Step {0}: After Days must be between 0 and {1}."),
		"bad_action": _("Step {0}: choose Call, Email, Visit, Task or Survey."),
		"needs_template": _("Step {0}: an email step needs an Email Template."),
		"needs_survey": _("Step {0}: a survey step needs a Survey."),
		"bad_assignee": _("Step {0}: choose who does it (Owner Rep, Role or User)."),
		"needs_role": _("Step {0}: choose the role whose users do it."),
		"needs_user": _("Step {0}: choose the user who does it."),
		"bad_occasion": _("Step {0}: choose Birthday or First Purchase Anniversary as its occasion."),
		"bad_days_before": _("Step {0}: Days Before must be between 0 and {1}."),
	}
	lines = [
		texts[p.code].format(
			p.no, rules.MAX_DAYS_BEFORE if p.code == "bad_days_before" else rules.MAX_AFTER_DAYS
		)
		for p in problems
	]
	frappe.throw("<br>".join(lines), title=_("Invalid follow-up plan"))

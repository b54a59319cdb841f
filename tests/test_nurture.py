"""Follow-up plans: the pure decisions (crm_fishpond.engine.nurture)."""

import datetime as dt

import pandas as pd
import pytest

from crm_fishpond.engine import nurture as n

T0 = dt.datetime(2026, 3, 2, 9, 30)
STEPS = [
	n.Step(1, 0, n.CALL),
	n.Step(2, 3, n.EMAIL, email_template="Hello"),
	n.Step(3, 7, n.VISIT, assign_to=n.ROLE, assign_role="Sales User"),
]


def test_a_valid_plan_has_no_problems():
	assert n.check_steps(STEPS) == []


@pytest.mark.parametrize(
	("step", "code"),
	[
		(n.Step(1, -1, n.CALL), "bad_days"),
		(n.Step(1, n.MAX_AFTER_DAYS + 1, n.CALL), "bad_days"),
		(n.Step(1, 1, "Fax"), "bad_action"),
		(n.Step(1, 1, n.EMAIL), "needs_template"),
		(n.Step(1, 1, n.SURVEY), "needs_survey"),
		(n.Step(1, 1, n.CALL, assign_to="Nobody"), "bad_assignee"),
		(n.Step(1, 1, n.TASK, assign_to=n.ROLE), "needs_role"),
		(n.Step(1, 1, n.VISIT, assign_to=n.USER), "needs_user"),
	],
)
def test_a_bad_step_is_named(step, code):
	assert n.check_steps([step]) == [n.StepProblem(1, code)]


def test_a_survey_step_is_a_message_nobody_is_assigned():
	assert n.check_steps([n.Step(1, 1, n.SURVEY, survey="NPS", assign_to="Nobody")]) == []
	assert n.SURVEY in n.MESSAGE_ACTIONS and n.SURVEY not in n.PERSON_ACTIONS


def test_a_plan_needs_steps():
	assert n.check_steps([]) == [n.StepProblem(0, "no_steps")]


def test_the_first_step_falls_due_after_enrolment():
	assert n.first_due(T0, STEPS) == T0
	assert n.first_due(T0, STEPS[1:]) == T0 + dt.timedelta(days=3)
	assert n.first_due(T0, []) is None


def test_the_next_step_counts_from_when_the_last_was_done():
	late = T0 + dt.timedelta(days=5, hours=2)
	assert n.after_done(STEPS, 1, late) == n.Next(2, late + dt.timedelta(days=3))
	assert n.after_done(STEPS, 2, late) == n.Next(3, late + dt.timedelta(days=7))
	done = n.after_done(STEPS, 3, late)
	assert done.complete and done.due is None


def test_everything_due_up_to_now_is_due_however_late():
	frame = pd.Series(
		[T0 - dt.timedelta(days=30), T0, T0 + dt.timedelta(seconds=1), None], index=["a", "b", "c", "d"]
	)
	assert n.due_mask(frame, T0).tolist() == [True, True, False, False]


def test_overdue_is_after_the_due_day():
	assert not n.is_overdue(T0, T0 + dt.timedelta(hours=10))
	assert n.is_overdue(T0, T0 + dt.timedelta(days=1))
	assert not n.is_overdue(None, T0)


@pytest.mark.parametrize(
	("action", "kind", "expected"),
	[
		(n.CALL, "Call", True),
		(n.CALL, "Email", False),
		(n.VISIT, "Meeting", True),
		(n.VISIT, "Visit", True),
		(n.VISIT, "Call", False),
		(n.TASK, "Note", True),
		(n.TASK, None, False),
		(n.EMAIL, "Email", True),
	],
)
def test_which_interactions_complete_a_step(action, kind, expected):
	assert n.completes(action, kind) is expected


def test_a_reply_is_an_inbound_email_or_chat():
	assert n.is_reply("Email", "Inbound")
	assert n.is_reply("Chat", "Inbound")
	assert not n.is_reply("Email", "Outbound")
	assert not n.is_reply("Call", "Inbound")


def enrolments(*rows):
	return pd.DataFrame(rows, columns=["profile", "active", "ended_on"])


def test_the_crowd_enters_once_without_reenrolment():
	existing = enrolments(("b", True, None), ("c", False, T0 - dt.timedelta(days=400)))
	assert n.crowd_entries(["c", "a", "b", "a"], existing, T0) == ["a"]
	assert n.crowd_entries([], existing, T0) == []
	assert n.crowd_entries(["x"], enrolments(), T0) == ["x"]


def test_reenrolment_waits_for_its_days_after_the_last_end():
	existing = enrolments(
		("c", False, T0 - dt.timedelta(days=400)),
		("d", False, T0 - dt.timedelta(days=10)),
		("d", False, T0 - dt.timedelta(days=500)),
		("e", False, T0 - dt.timedelta(days=500)),
		("e", True, None),
	)
	assert n.crowd_entries(["c", "d", "e"], existing, T0, reenrol_after_days=90) == ["c"]


def stop_frame(**overrides):
	base = {
		"enrolled_on": T0,
		"stage_at_enrolment": "Retention",
		"stage": "Retention",
		"last_purchase": None,
		"last_reply": None,
		"last_release": None,
		"unsubscribed": False,
	}
	base.update(overrides)
	return pd.DataFrame([base])


@pytest.mark.parametrize(
	("overrides", "reason"),
	[
		({}, ""),
		({"last_purchase": T0 + dt.timedelta(days=1)}, n.BOUGHT),
		({"last_purchase": T0 - dt.timedelta(days=1)}, ""),
		({"last_reply": T0 + dt.timedelta(minutes=1)}, n.REPLIED),
		({"last_release": T0 + dt.timedelta(days=2)}, n.RELEASED),
		({"last_release": T0 - dt.timedelta(days=2)}, ""),
		({"stage": "Churn"}, n.STAGE_CHANGED),
		# a first stage is no change (the adapter then records it as the stage at enrolment)
		({"stage_at_enrolment": None, "stage": "Growth"}, ""),
		({"stage_at_enrolment": "Growth", "stage": None}, n.STAGE_CHANGED),
		({"unsubscribed": True}, n.UNSUBSCRIBED),
		# the first that holds, in order: unsubscribed, bought, replied, released, changed stage
		({"unsubscribed": True, "last_purchase": T0 + dt.timedelta(days=1)}, n.UNSUBSCRIBED),
		({"stage": "Churn", "last_reply": T0 + dt.timedelta(days=1)}, n.REPLIED),
		# a switch turned off: the next condition that holds
		({"stage": "Churn", "last_reply": T0 + dt.timedelta(days=1), "stop_on_reply": 0}, n.STAGE_CHANGED),
		({"last_purchase": T0 + dt.timedelta(days=1), "stop_on_purchase": 0}, ""),
	],
)
def test_stop_reasons(overrides, reason):
	assert n.stop_reasons(stop_frame(**overrides)).tolist() == [reason]


def test_stop_reasons_of_many_rows_and_none():
	frame = pd.concat([stop_frame(), stop_frame(stage="Churn"), stop_frame(unsubscribed=None)])
	frame.index = ["x", "y", "z"]
	assert n.stop_reasons(frame).to_dict() == {"x": "", "y": n.STAGE_CHANGED, "z": ""}
	assert n.stop_reasons(frame.iloc[0:0]).tolist() == []


def test_the_assignee():
	call = n.Step(1, 0, n.CALL)
	assert n.assignee(call, "rep@x", fallback="boss@x") == "rep@x"
	assert n.assignee(call, None, fallback="boss@x") == "boss@x"
	assert n.assignee(call, None) is None
	role = n.Step(1, 0, n.TASK, assign_to=n.ROLE, assign_role="R")
	assert n.assignee(role, "rep@x", ["b@x", "a@x"]) == "a@x"
	assert n.assignee(role, "rep@x", ["b@x", "a@x"], {"a@x": 3, "b@x": 1}) == "b@x"
	assert n.assignee(role, "rep@x", [], fallback="boss@x") == "boss@x"
	fixed = n.Step(1, 0, n.VISIT, assign_to=n.USER, assign_user="u@x")
	assert n.assignee(fixed, "rep@x") == "u@x"


def test_the_outcome_is_a_purchase_within_the_window():
	frame = pd.DataFrame(
		[
			(T0, T0 + dt.timedelta(days=10), 30),  # bought in time
			(T0, T0 + dt.timedelta(days=31), 30),  # bought too late: lost once the window closed
			(T0, None, 30),  # nothing yet, window closed at T0+30
			(T0 + dt.timedelta(days=20), None, 30),  # nothing yet, window still open
			(T0, T0 + dt.timedelta(days=1), 0),  # the plan measures nothing
			(T0, T0 - dt.timedelta(days=1), 30),  # bought before enrolment: not a win-back
		],
		columns=["enrolled_on", "first_purchase", "window_days"],
	)
	now = T0 + dt.timedelta(days=40)
	assert n.outcomes(frame, now).tolist() == [
		n.WON_BACK,
		n.NOT_WON_BACK,
		n.NOT_WON_BACK,
		"",
		"",
		n.NOT_WON_BACK,
	]
	assert n.outcomes(frame.iloc[0:0], now).tolist() == []


def test_the_outcome_summary_per_plan():
	counts = pd.DataFrame(
		[
			("Win-back", "Stopped", n.WON_BACK, 3),
			("Win-back", "Completed", n.NOT_WON_BACK, 1),
			("Win-back", "Active", None, 4),
			("Onboarding", "Active", "", 2),
		],
		columns=["plan", "status", "outcome", "n"],
	)
	out = n.outcome_summary(counts).set_index("plan")
	assert out.loc["Win-back", ["enrolled", "active", "completed", "stopped"]].tolist() == [8, 4, 1, 3]
	assert out.loc["Win-back", ["won_back", "not_won_back", "win_back_rate"]].tolist() == [3, 1, 75.0]
	assert out.loc["Onboarding", "enrolled"] == 2 and pd.isna(out.loc["Onboarding", "win_back_rate"])
	assert n.outcome_summary(counts.iloc[0:0]).empty

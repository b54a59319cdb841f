"""Greetings on a profile's days: birthdays and first-purchase anniversaries (crm_fishpond.engine.nurture)."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_fishpond.engine import nurture as n

BIRTHDAY = dt.date(1990, 7, 1)
FIRST_PURCHASE = dt.date(2024, 3, 5)
ANCHORS = {n.BIRTHDAY: BIRTHDAY, n.PURCHASE_ANNIVERSARY: FIRST_PURCHASE}
GREETINGS = [
	n.Step(1, 0, n.EMAIL, email_template="Birthday", occasion=n.BIRTHDAY),
	n.Step(2, 0, n.EMAIL, email_template="Anniversary", occasion=n.PURCHASE_ANNIVERSARY),
]


def at(day: str, hour: int = 10) -> dt.datetime:
	return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour))


def due(day: str) -> dt.datetime:
	return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(n.OCCASION_HOUR))


def test_an_occasion_step_is_checked():
	assert n.check_steps([n.Step(1, 0, n.CALL, occasion="Name Day")]) == [n.StepProblem(1, "bad_occasion")]
	assert n.check_steps([n.Step(1, 0, n.CALL, occasion=n.BIRTHDAY, days_before=-1)]) == [
		n.StepProblem(1, "bad_days_before")
	]
	assert n.check_steps([n.Step(1, 0, n.CALL, occasion=n.BIRTHDAY, days_before=n.MAX_DAYS_BEFORE + 1)]) == [
		n.StepProblem(1, "bad_days_before")
	]
	assert n.check_steps(GREETINGS) == []


def test_the_next_birthday_is_this_years_or_next_years():
	assert n.next_occasion(BIRTHDAY, dt.date(2026, 3, 2)) == (dt.date(2026, 7, 1), 2026)
	assert n.next_occasion(BIRTHDAY, dt.date(2026, 7, 1)) == (dt.date(2026, 7, 1), 2026)  # the day itself
	assert n.next_occasion(BIRTHDAY, dt.date(2026, 7, 2)) == (dt.date(2027, 7, 1), 2027)
	assert n.next_occasion(None, dt.date(2026, 7, 2)) is None


def test_days_before_and_across_new_year():
	assert n.next_occasion(BIRTHDAY, dt.date(2026, 3, 2), days_before=3) == (dt.date(2026, 6, 28), 2026)
	# a 2 January birthday greeted 5 days before: on 28 December of the year before
	jan = dt.date(1980, 1, 2)
	assert n.next_occasion(jan, dt.date(2026, 12, 1), days_before=5) == (dt.date(2026, 12, 28), 2027)
	assert n.occasion_year(dt.date(2026, 12, 28), 5) == 2027


def test_a_year_already_greeted_is_not_greeted_again():
	assert n.next_occasion(BIRTHDAY, dt.date(2026, 7, 1), after_year=2026) == (dt.date(2027, 7, 1), 2027)


def test_the_first_purchase_day_itself_is_no_anniversary():
	assert n.next_occasion(FIRST_PURCHASE, dt.date(2024, 3, 5)) == (dt.date(2025, 3, 5), 2025)
	assert n.next_occasion(FIRST_PURCHASE, dt.date(2024, 1, 1)) == (dt.date(2025, 3, 5), 2025)


def test_29_february_is_greeted_on_28_february_in_other_years():
	leap = dt.date(2000, 2, 29)
	assert n.occasion_on(leap, 2027) == dt.date(2027, 2, 28)
	assert n.occasion_on(leap, 2028) == dt.date(2028, 2, 29)
	assert n.next_occasion(leap, dt.date(2027, 1, 10)) == (dt.date(2027, 2, 28), 2027)
	assert n.next_occasion(leap, dt.date(2027, 3, 1)) == (dt.date(2028, 2, 29), 2028)
	assert n.next_occasion(leap, dt.date(2028, 2, 29), after_year=2028) == (dt.date(2029, 2, 28), 2029)


def test_a_greetings_plan_starts_on_the_nearest_occasion_and_repeats_every_year():
	start = n.start(at("2026-03-02"), GREETINGS, ANCHORS)
	assert start == n.Next(2, due("2026-03-05"))  # the anniversary comes first this year
	# done on the day: the birthday next, then the anniversary of next year, then next birthday
	nxt = n.after_done(GREETINGS, 2, due("2026-03-05"), ANCHORS, {2: 2026})
	assert nxt == n.Next(1, due("2026-07-01"))
	nxt = n.after_done(GREETINGS, 1, due("2026-07-01"), ANCHORS, {1: 2026, 2: 2026})
	assert nxt == n.Next(2, due("2027-03-05"))
	nxt = n.after_done(GREETINGS, 2, due("2027-03-05"), ANCHORS, {1: 2026, 2: 2027})
	assert nxt == n.Next(1, due("2027-07-01"))
	assert not nxt.complete


def test_two_occasions_on_one_day_each_go_once():
	same = {n.BIRTHDAY: dt.date(1990, 3, 5), n.PURCHASE_ANNIVERSARY: FIRST_PURCHASE}
	assert n.start(at("2026-03-05", 8), GREETINGS, same) == n.Next(1, due("2026-03-05"))
	assert n.after_done(GREETINGS, 1, at("2026-03-05"), same, {1: 2026}) == n.Next(2, due("2026-03-05"))
	# round again: this year's birthday was greeted, so the next one is next year's
	assert n.after_done(GREETINGS, 2, at("2026-03-05"), same, {1: 2026, 2: 2026}) == n.Next(
		1, due("2027-03-05")
	)


def test_an_occasion_the_profile_lacks_is_passed_over():
	only_purchase = {n.BIRTHDAY: None, n.PURCHASE_ANNIVERSARY: FIRST_PURCHASE}
	assert n.start(at("2026-06-01"), GREETINGS, only_purchase) == n.Next(2, due("2027-03-05"))
	assert n.after_done(GREETINGS, 2, due("2027-03-05"), only_purchase, {2: 2027}) == n.Next(
		2, due("2028-03-05")
	)


def test_with_no_occasion_at_all_the_plan_looks_again_later():
	nothing = n.start(at("2026-06-01"), GREETINGS, {})
	assert nothing == n.Next(1, at("2026-06-01") + dt.timedelta(days=n.RECHECK_DAYS))


def test_a_plan_without_occasions_still_ends_after_its_last_step():
	steps = [n.Step(1, 0, n.CALL), n.Step(2, 3, n.TASK)]
	assert not n.repeats(steps)
	assert n.start(at("2026-06-01"), steps) == n.Next(1, at("2026-06-01"))
	assert n.after_done(steps, 2, at("2026-06-01")).complete


def test_a_mixed_plan_repeats_its_plain_steps_too():
	steps = [n.Step(1, 0, n.EMAIL, email_template="B", occasion=n.BIRTHDAY), n.Step(2, 7, n.CALL)]
	assert n.after_done(steps, 1, due("2026-07-01"), ANCHORS, {1: 2026}) == n.Next(
		2, due("2026-07-01") + dt.timedelta(days=7)
	)
	assert n.after_done(steps, 2, due("2026-07-08"), ANCHORS, {1: 2026}) == n.Next(1, due("2027-07-01"))


def test_a_step_still_on_its_occasion():
	step = GREETINGS[0]
	assert n.on_occasion(step, ANCHORS, due("2026-07-01"))
	assert not n.on_occasion(step, {n.BIRTHDAY: dt.date(1990, 8, 1)}, due("2026-07-01"))
	assert not n.on_occasion(step, {}, due("2026-07-01"))
	assert n.on_occasion(n.Step(1, 0, n.CALL), {}, due("2026-07-01"))
	leap = {n.BIRTHDAY: dt.date(2000, 2, 29)}
	assert n.on_occasion(step, leap, due("2027-02-28"))
	assert n.on_occasion(step, leap, due("2028-02-29"))
	assert not n.on_occasion(step, leap, due("2028-02-28"))


@given(
	anchor=st.dates(min_value=dt.date(1920, 1, 1), max_value=dt.date(2030, 12, 31)),
	start=st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2040, 12, 31)),
	before=st.integers(min_value=0, max_value=n.MAX_DAYS_BEFORE),
)
def test_greeted_once_a_year_never_early_never_on_the_anchor_day(anchor, start, before):
	"""Following a one-step greetings plan for ten rounds: one greeting per year, each on or after the
	day the previous was done, each the anchor's day (or 28 Feb) less ``before`` days, never twice."""
	step = n.Step(1, 0, n.EMAIL, email_template="B", occasion=n.BIRTHDAY, days_before=before)
	anchors = {n.BIRTHDAY: anchor}
	now = dt.datetime.combine(start, dt.time(10))
	nxt = n.start(now, [step], anchors)
	years: dict[int, int] = {}
	greeted = []
	for _ in range(10):
		assert nxt.step == 1
		assert nxt.due.date() >= now.date()
		assert n.on_occasion(step, anchors, nxt.due)
		year = n.occasion_year(nxt.due, before)
		assert year > anchor.year
		greeted.append(year)
		years[1] = year
		now = nxt.due
		nxt = n.after_done([step], 1, now, anchors, years)
	assert greeted == list(range(greeted[0], greeted[0] + 10))


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028])
def test_occasion_on_never_fails(year):
	assert n.occasion_on(dt.date(1996, 2, 29), year).month == 2

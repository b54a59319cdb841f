"""NPS/CSAT decisions without a site: answers, categories, figures, who is surveyed now."""

import datetime as dt

import pandas as pd
import pytest

from crm_fishpond.engine import feedback as fb

NOW = dt.datetime(2026, 12, 3, 12, 0)


@pytest.mark.parametrize(
	("kind", "score", "problem"),
	[
		("NPS", 0, None),
		("NPS", 10, None),
		("NPS", "7", None),
		("NPS", 11, "out_of_range"),
		("NPS", -1, "out_of_range"),
		("CSAT", 0, "out_of_range"),
		("CSAT", 5, None),
		("CSAT", 6, "out_of_range"),
		("NPS", "seven", "not_a_number"),
		("NPS", "", "not_a_number"),
		("NPS", "1e3", "not_a_number"),
		("NPS", 7.5, "not_a_number"),
		("NPS", 7.0, None),
		("NPS", True, "not_a_number"),
		("NPS", None, "not_a_number"),
		("NPS", [7], "not_a_number"),
		("NPS", "99999999999999999999", "not_a_number"),
		("Poll", 5, "bad_type"),
	],
)
def test_check_score(kind, score, problem):
	assert fb.check_score(kind, score) == problem


def test_categories_and_detractors():
	assert [fb.category("NPS", s) for s in (0, 6, 7, 8, 9, 10)] == [
		"Detractor",
		"Detractor",
		"Passive",
		"Passive",
		"Promoter",
		"Promoter",
	]
	assert [fb.category("CSAT", s) for s in (1, 2, 3, 4, 5)] == [
		"Unsatisfied",
		"Unsatisfied",
		"Neutral",
		"Satisfied",
		"Satisfied",
	]
	assert fb.is_detractor("NPS", 6) and not fb.is_detractor("NPS", 7)
	assert fb.is_detractor("CSAT", 2) and not fb.is_detractor("CSAT", 3)


def test_nps_and_csat_figures():
	# 2 promoters, 1 passive, 1 detractor of 4: 50 % - 25 % = 25
	assert fb.nps([10, 9, 8, 3]) == pytest.approx(25.0)
	assert fb.nps([0, 0]) == pytest.approx(-100.0)
	assert fb.nps([]) is None
	assert fb.csat([5, 4, 3, 1]) == pytest.approx(50.0)
	assert fb.csat([]) is None
	s = fb.summary(pd.DataFrame({"survey_type": ["NPS", "NPS", "CSAT"], "score": [10, 5, 4]}))
	assert s == {
		"nps": 0.0,
		"nps_answers": 2,
		"promoters": 1,
		"passives": 0,
		"detractors": 1,
		"csat": 100.0,
		"csat_answers": 1,
	}
	assert fb.summary(pd.DataFrame())["nps"] is None


def _candidates(rows):
	return pd.DataFrame(
		rows, columns=["profile", "survey", "reference_doctype", "reference_name", "ready_on"]
	)


def test_one_survey_per_profile_the_earliest_ready_and_none_in_the_future():
	c = _candidates(
		[
			("P1", "NPS", "Sales Invoice", "SI-2", NOW - dt.timedelta(days=1)),
			("P1", "CSAT", "Sales Order", "SO-1", NOW - dt.timedelta(days=3)),
			("P2", "NPS", "Sales Invoice", "SI-3", NOW + dt.timedelta(hours=1)),
		]
	)
	out = fb.choose_invitations(c, pd.Series(dtype=object), [], NOW, 90)
	assert out[["profile", "survey", "reference_name"]].values.tolist() == [["P1", "CSAT", "SO-1"]]


def test_the_quiet_period_and_a_voucher_already_surveyed():
	c = _candidates(
		[
			("P1", "NPS", "Sales Invoice", "SI-1", NOW - dt.timedelta(days=1)),
			("P2", "NPS", "Sales Invoice", "SI-2", NOW - dt.timedelta(days=1)),
			("P3", "NPS", "Sales Invoice", "SI-3", NOW - dt.timedelta(days=1)),
			("P3", "NPS", "Sales Invoice", "SI-4", NOW - dt.timedelta(days=1)),
		]
	)
	last = pd.Series(
		{"P1": NOW - dt.timedelta(days=89), "P2": NOW - dt.timedelta(days=90), "P3": None}, dtype=object
	)
	out = fb.choose_invitations(c, last, [("NPS", "Sales Invoice", "SI-3")], NOW, 90)
	assert out[["profile", "reference_name"]].values.tolist() == [["P2", "SI-2"], ["P3", "SI-4"]]
	assert fb.choose_invitations(_candidates([]), last, [], NOW, 90).empty

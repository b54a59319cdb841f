"""Scoring settings as table rows (crm_fishpond.engine.score_tables): the rows of the settings form
make the engine's own defaults, only the chosen framework scores, and misspelt override keys are
found with the key that was meant."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_fishpond.engine.activity import EngagementConfig
from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.score_tables import (
	FRAMEWORKS,
	QUESTION_FIELDS,
	default_answers,
	default_engagement_rows,
	default_weights,
	engagement_settings,
	fit_factors,
	unknown_setting,
)
from crm_fishpond.engine.scoring import ScoreConfig, default_fit_factors, lead_score

# the Fishpond Lead options, as a rep picks them
OPTIONS = {
	"budget": ["Approved", "Allocated", "Planned", "Exploring", "None"],
	"authority": ["Decision Maker", "Economic Buyer", "Champion", "Influencer", "User"],
	"need": ["Critical", "High", "Medium", "Low", "None"],
	"timeline": ["Immediate", "1-3 Months", "3-6 Months", "6-12 Months", "Over 12 Months", "Unknown"],
	"challenges": ["Critical", "Significant", "Moderate", "Minor", "None"],
	"priority": ["Top Priority", "High", "Medium", "Low", "Not a Priority"],
}
LABELS = {q: q.title() for q in QUESTION_FIELDS}


def rows_of(framework: str) -> list[tuple[str, str, str, float]]:
	"""The default rows as the settings form holds them: labels and options as the forms show them."""
	from crm_fishpond.engine.scoring import normalise_answer

	out = []
	for q, points in default_answers(framework).items():
		for option in OPTIONS[QUESTION_FIELDS[q]]:
			if normalise_answer(option) in points:
				out.append((framework, LABELS[q], option, points[normalise_answer(option)]))
	return out


def all_rows():
	return rows_of("BANT") + rows_of("CHAMP")


def profiles() -> pd.DataFrame:
	return pd.DataFrame(
		{
			"profile": ["a", "b", "c", "d"],
			"budget": ["Approved", "Exploring", None, "None"],
			"authority": ["Decision Maker", "User", "Champion", None],
			"need": ["High", None, "Critical", "Low"],
			"timeline": ["1-3 Months", "Over 12 Months", "Immediate", None],
			"challenges": ["Critical", "Minor", None, "Moderate"],
			"priority": ["Top Priority", None, "Low", "High"],
		}
	)


def fit(config: ScoreConfig) -> pd.DataFrame:
	return lead_score(profiles(), None, None, None, config, "2026-01-01")


def test_every_default_answer_is_an_option_of_its_field():
	for framework in FRAMEWORKS:
		listed = {(q, a) for _f, q, a, _p in rows_of(framework)}
		for q, points in default_answers(framework).items():
			assert len([a for question, a in listed if question == LABELS[q]]) == len(points), (framework, q)


def test_the_default_bant_rows_score_as_the_engine_defaults():
	factors = fit_factors("BANT", all_rows(), default_weights("BANT"))
	assert [f["name"] for f in factors] == ["budget", "authority", "need", "timeline"]
	from_rows = ScoreConfig.from_dict({"fit_factors": factors})
	pd.testing.assert_frame_equal(fit(from_rows), fit(ScoreConfig()))
	assert {f.name: f.weight for f in default_fit_factors()} == default_weights("BANT")


def test_only_the_chosen_framework_scores():
	factors = fit_factors("CHAMP", all_rows(), default_weights("CHAMP"))
	assert [(f["name"], f["field"]) for f in factors] == [
		("challenges", "challenges"),
		("authority", "authority"),
		("money", "budget"),
		("priority", "priority"),
	]
	scored = fit(ScoreConfig.from_dict({"fit_factors": factors}))
	assert {"f_challenges", "f_money", "f_priority"} <= set(scored.columns)
	assert "f_need" not in scored.columns and "f_timeline" not in scored.columns
	# profile a answered every CHAMP question with its best answer
	assert scored.loc["a", "score_fit"] == pytest.approx(30.0)
	# a need or timeline answer changes nothing under CHAMP
	changed = profiles().assign(need="None", timeline="Unknown")
	again = lead_score(
		changed, None, None, None, ScoreConfig.from_dict({"fit_factors": factors}), "2026-01-01"
	)
	pd.testing.assert_series_equal(again["score_fit"], scored["score_fit"])


def test_a_question_without_rows_or_weight_is_not_scored():
	rows = [r for r in all_rows() if r[1] != "Need"]
	weights = {**default_weights("BANT"), "timeline": 0}
	assert [f["name"] for f in fit_factors("BANT", rows, weights)] == ["budget", "authority"]
	assert fit_factors("bant", [("bant", "budget", "Approved", 5)], {"budget": 1})[0]["points"] == {
		"Approved": 5
	}


def test_edited_points_change_the_fit():
	rows = [(f, q, a, 2.0 if a == "Decision Maker" else p) for f, q, a, p in all_rows()]
	config = ScoreConfig.from_dict({"fit_factors": fit_factors("BANT", rows, default_weights("BANT"))})
	assert fit(config).loc["a", "f_authority"] < fit(ScoreConfig()).loc["a", "f_authority"]


def test_default_engagement_rows_make_the_engine_defaults():
	made = engagement_settings(default_engagement_rows(), half_life_days=30, default_points=1, default_cap=5)
	assert EngagementConfig.from_dict(made) == EngagementConfig()


def test_engagement_rows_slug_types_and_leave_a_zero_cap_to_the_default():
	made = engagement_settings(
		[("Interaction", "Meeting", 10, 0), ("event", "Page View", 0.5, 5), ("event", "sales_order", 10, 20)],
		half_life_days=14,
		default_points=0,
		default_cap=8,
	)
	config = EngagementConfig.from_dict(made)
	assert config.interaction_points == {"meeting": 10.0}
	assert config.cap("interaction", "meeting") == 8.0
	assert config.event_caps == {"page_view": 5.0, "sales_order": 20.0}
	assert config.half_life_days == 14.0
	extra = default_engagement_rows({"sales_order": (10.0, 20.0)})
	assert extra[-1] == ("event", "sales_order", 10.0, 20.0)


@pytest.mark.parametrize(
	("override", "found"),
	[
		({"engagement": {"half_life_dayz": 3}}, ("engagement.half_life_dayz", "half_life_days")),
		({"scroe": {}}, ("scroe", "score")),
		({"score": {"weights": {"fitt": 30}}}, ("score.weights.fitt", "fit")),
		({"score": {"value": {"clv_wieght": 0.1}}}, ("score.value.clv_wieght", "clv_weight")),
		({"rfm": {"nonsense_key": 1}}, ("rfm.nonsense_key", None)),
		({"rfm": {"segment_map": {"anything": ".*"}}, "dedupe": {"workers": 2}}, None),
		({"engagement": {"event_points": {"my_own_event": 3}}}, None),
		({"stages": {"thresholds": {"churn_days": 90}}}, None),
		({"category": {"extra_rules": [{"whatever": 1}]}}, None),
		({}, None),
	],
)
def test_unknown_setting(override, found):
	assert unknown_setting(override) == found


def test_every_default_setting_is_known():
	assert unknown_setting(EngineConfig().to_dict()) is None

"""activity_summary / engagement_by_type: counts, recency, decayed and capped engagement points."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.activity import EngagementConfig, activity_summary, engagement_by_type, type_slug
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError

AS_OF = pd.Timestamp("2024-05-31")


def ts(*days_ago):
	return [AS_OF - pd.Timedelta(days=d) for d in days_ago]


def interactions(rows):
	return pd.DataFrame(rows, columns=["profile", "time", "type"])


@pytest.fixture
def inputs():
	inter = pd.DataFrame(
		{
			"profile": ["a", "a", "a", "b", "c"],
			"time": ts(30, 60, 5) + ts(1) + [AS_OF + pd.Timedelta(days=3)],  # c's is in the future
			"type": ["Meeting", "email", "fax", "call", "call"],
		}
	)
	events = pd.DataFrame(
		{
			"profile": ["a", "d", "d"],
			"time": ts(0, 40, 2),
			"type": ["page_view", "Demo Request", "page_view"],
			"weight": [2, None, 1],
		}
	)
	return inter, events


def test_summary_counts_recency_and_types(inputs):
	inter, events = inputs
	s = activity_summary(inter, events, AS_OF)
	assert list(s.index) == ["a", "b", "d"]  # c's only interaction is after as_of
	assert (
		s.loc["a", "interactions"] == 3
		and s.loc["b", "interactions"] == 1
		and s.loc["d", "interactions"] == 0
	)
	assert s.loc["a", "last_interaction"] == AS_OF - pd.Timedelta(days=5)
	assert s.loc["a", "days_since_interaction"] == 5
	assert np.isnan(s.loc["d", "days_since_interaction"]) and pd.isna(s.loc["d", "last_interaction"])
	assert s.loc["a", "interactions_30d"] == 1  # 5 days ago; 30 days ago is outside (> as_of - 30d)
	assert s.loc["a", "interactions_meeting"] == 1 and s.loc["a", "interactions_email"] == 1
	assert s.loc["a", "interactions_other"] == 1  # "fax" is not configured
	assert (
		s.loc["d", "events"] == 2 and s.loc["d", "events_30d"] == 1 and s.loc["d", "events_demo_request"] == 1
	)
	assert s["interactions"].dtype == np.int64 and s["engagement_points"].dtype == float


def test_engagement_points_are_decayed_and_capped(inputs):
	inter, events = inputs
	s = activity_summary(inter, events, AS_OF)
	# a: meeting 10 points 30 days ago (one half-life) = 5; email 2 points 60 days ago = 0.5;
	#    fax ("other", 1 point) 5 days ago = 2^(-1/6); page view 0.5 x weight 2 today = 1
	expected_a = 5 + 0.5 + 2 ** (-5 / 30) + 1
	assert s.loc["a", "engagement_points"] == pytest.approx(round(expected_a, 2))
	# d: demo request (15) 40 days ago, missing weight = 1; a page view 2 days ago
	assert s.loc["d", "engagement_points"] == pytest.approx(
		round(15 * 2 ** (-40 / 30) + 0.5 * 2 ** (-2 / 30), 2)
	)
	by_type = engagement_by_type(inter, events, AS_OF)
	assert by_type.loc["a", "interactions_meeting"] == pytest.approx(5.0)
	assert by_type.sum(axis=1).round(2).equals(s["engagement_points"])


def test_caps_bound_each_type():
	rows = [("p", AS_OF, "page_view")] * 5000 + [("p", AS_OF, "meeting")]
	s = activity_summary(interactions(rows[-1:]), interactions(rows[:-1]), AS_OF)
	cfg = EngagementConfig()
	assert s.loc["p", "events_page_view"] == 5000
	assert s.loc["p", "engagement_points"] == pytest.approx(cfg.event_caps["page_view"] + 10)


def test_profiles_argument_fixes_the_rows(inputs):
	inter, events = inputs
	s = activity_summary(inter, events, AS_OF, profiles=["z", "a"])
	assert list(s.index) == ["z", "a"]
	assert s.loc["z"].drop(["last_interaction", "last_event", "days_since_interaction"]).eq(0).all()
	s2 = activity_summary(inter, events, AS_OF, profiles=pd.DataFrame({"profile": ["a"]}))
	assert list(s2.index) == ["a"]


def test_empty_and_missing_inputs():
	empty = pd.DataFrame(
		{"profile": pd.Series(dtype=object), "time": pd.Series(dtype=object), "type": pd.Series(dtype=object)}
	)
	s = activity_summary(empty, None, AS_OF)
	assert s.empty and "engagement_points" in s.columns
	s = activity_summary(None, None, AS_OF, profiles=["a"])
	assert s.loc["a", "engagement_points"] == 0 and s.loc["a", "interactions"] == 0
	with pytest.raises(EngineInputError, match="interactions is missing column"):
		activity_summary(pd.DataFrame({"profile": ["a"]}), None, AS_OF)
	with pytest.raises(EngineInputError, match="as_of"):
		activity_summary(None, None, "not a date")
	with pytest.raises(EngineInputError, match="duplicates"):
		activity_summary(None, None, AS_OF, profiles=["a", "a"])


def test_unparseable_times_and_missing_profiles_are_ignored():
	inter = pd.DataFrame(
		{"profile": ["a", None, "a"], "time": ["2024-05-30", "2024-05-30", "garbage"], "type": ["call"] * 3}
	)
	s = activity_summary(inter, None, AS_OF)
	assert list(s.index) == ["a"] and s.loc["a", "interactions"] == 1


def test_type_slug():
	assert type_slug(" Page View ") == "page_view"
	assert type_slug("E-Mail/Open") == "e_mail_open"


def test_config_round_trip_and_errors():
	cfg = EngagementConfig.from_dict(
		{"half_life_days": 14, "interaction_points": {"Call": 4}, "interaction_caps": {"call": 8}}
	)
	assert cfg.interaction_points == {"call": 4.0}
	assert EngagementConfig.from_dict(cfg.to_dict()) == cfg
	assert EngagementConfig.from_dict(None) == EngagementConfig()
	bad = [
		({"half_life_days": 0}, "half_life_days"),
		({"half_life_days": "30"}, "half_life_days"),
		({"interaction_points": {"call": -1}}, "interaction_points.call"),
		({"interaction_points": {"other": 1}}, "interaction_points.other"),
		({"interaction_points": {"Call": 1, "call": 2}}, "interaction_points.call"),
		({"event_caps": {"nope": 3}}, "event_caps.nope"),
		({"event_caps": {"page_view": 0}}, "event_caps.page_view"),
		({"default_cap": 0}, "default_cap"),
		({"half_life": 3}, "half_life"),
		({"interaction_points": [1, 2]}, "interaction_points"),
	]
	for d, field in bad:
		with pytest.raises(EngineConfigError) as err:
			EngagementConfig.from_dict(d)
		assert err.value.field == field, d


# --------------------------------------------------------------------------------------------------
# properties

_types = st.sampled_from(["email", "call", "meeting", "visit", "chat", "note", "fax"])
_rows = st.lists(st.tuples(st.sampled_from(["a", "b"]), st.floats(0, 400), _types), max_size=40)


def _frame(rows):
	return interactions([(p, AS_OF - pd.Timedelta(days=d), t) for p, d, t in rows])


@settings(max_examples=80, deadline=None)
@given(_rows, st.floats(1, 200), st.floats(1, 200))
def test_longer_half_life_decays_slower(rows, h1, h2):
	lo, hi = sorted([h1, h2])
	p_lo = activity_summary(
		_frame(rows), None, AS_OF, EngagementConfig(half_life_days=lo), profiles=["a", "b"]
	)
	p_hi = activity_summary(
		_frame(rows), None, AS_OF, EngagementConfig(half_life_days=hi), profiles=["a", "b"]
	)
	assert (p_hi["engagement_points"] >= p_lo["engagement_points"] - 0.01).all()


@settings(max_examples=80, deadline=None)
@given(_rows, st.floats(0, 400), _types, st.floats(0, 1))
def test_more_or_more_recent_activity_never_lowers_points(rows, age, kind, sooner):
	base = activity_summary(_frame(rows), None, AS_OF, profiles=["a"])["engagement_points"]
	more = activity_summary(_frame([*rows, ("a", age, kind)]), None, AS_OF, profiles=["a"])[
		"engagement_points"
	]
	assert more.iloc[0] >= base.iloc[0] - 0.01
	# moving every activity closer to as_of never lowers the points
	recent = activity_summary(_frame([(p, d * sooner, t) for p, d, t in rows]), None, AS_OF, profiles=["a"])
	assert recent["engagement_points"].iloc[0] >= base.iloc[0] - 0.01
	assert (
		not recent.drop(columns=["last_interaction", "last_event", "days_since_interaction"])
		.isna()
		.any()
		.any()
	)

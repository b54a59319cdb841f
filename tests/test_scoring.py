"""lead_score and explain: hand-checked parts, config validation and monotonicity properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.activity import EngagementConfig, activity_and_engagement, activity_summary
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.scoring import (
	FitFactor,
	FitRange,
	ScoreConfig,
	ValueConfig,
	default_fit_factors,
	explain,
	lead_score,
	normalise_answer,
)

AS_OF = pd.Timestamp("2024-05-31")
NO_ACTIVITY = pd.DataFrame(
	{
		"profile": pd.Series(dtype=object),
		"time": pd.Series(dtype="datetime64[ns]"),
		"type": pd.Series(dtype=object),
	}
)


@pytest.fixture
def pond():
	profiles = pd.DataFrame(
		{
			"profile": ["a", "b", "c"],
			"budget": [60_000, np.nan, "Approved"],
			"authority": ["Decision Maker", None, "user"],
			"need": ["High", "low", None],
			"timeline": ["1-3 Months", None, 45],
		}
	)
	inter = pd.DataFrame(
		{"profile": ["a", "b"], "time": [AS_OF - pd.Timedelta(days=30), AS_OF], "type": ["meeting", "call"]}
	)
	events = pd.DataFrame({"profile": ["a"], "time": [AS_OF], "type": ["demo_request"]})
	metrics = pd.DataFrame(
		{
			"orders": [4, 1, 0],
			"r_score": [5, 1, 0],
			"f_score": [4, 1, 0],
			"m_score": [5, 2, 0],
			"value_grade": ["high", "low", "low"],
			"clv": [1000.0, 10.0, np.nan],
		},
		index=pd.Index(["a", "b", "c"], name="profile"),
	)
	return profiles, inter, events, metrics


def test_hand_checked_scores(pond):
	profiles, inter, events, metrics = pond
	s = lead_score(profiles, inter, events, metrics, ScoreConfig(), AS_OF)
	assert list(s.index) == ["a", "b", "c"]
	# fit: weights 3 / 2.5 / 2.5 / 2 of 30 points -> 9 / 7.5 / 7.5 / 6 at best
	assert s.loc["a", "f_budget"] == 9.0  # 60000 >= 50000 -> 10 of 10
	assert s.loc["a", "f_authority"] == 7.5
	assert s.loc["a", "f_need"] == 6.0  # high = 8 of 10
	assert s.loc["a", "f_timeline"] == 4.8  # 1-3 months = 8 of 10
	assert s.loc["c", "f_budget"] == 9.0  # "Approved" (text answer) = 10
	assert s.loc["c", "f_timeline"] == 4.8  # 45 days -> the 30..90 range = 8
	assert s.loc["a", "score_fit"] == pytest.approx(27.3)
	# engagement: meeting 10 points a half-life ago = 5, demo request today = 15 -> 20 of 60 -> 40 * 20/60
	assert s.loc["a", "score_engagement"] == pytest.approx(13.33, abs=0.01)
	assert s.loc["a", "e_interactions_meeting"] == pytest.approx(40 * 5 / 60, abs=0.01)
	# value: rfm (0.5) = mean(4/4, 3/4, 4/4) = 11/12; grade (0.2) high = 1; clv (0.3) top percentile = 1
	assert s.loc["a", "v_rfm"] == pytest.approx(30 * 0.5 * 11 / 12, abs=0.01)
	assert s.loc["a", "v_grade"] == 6.0
	assert s.loc["a", "v_clv"] == 9.0
	assert s.loc["b", "v_clv"] == 4.5  # the lower of two positive CLVs: percentile 0.5
	assert s.loc["c", "score_value"] == 0.0  # no purchase: "low" grade is not counted
	for p in s.index:
		row = s.loc[p]
		assert row["lead_score"] == pytest.approx(
			row["score_fit"] + row["score_engagement"] + row["score_value"], abs=0.06
		)
		assert row.filter(like="f_").sum() == pytest.approx(row["score_fit"], abs=0.03)
	assert not s.isna().any().any()


def test_parts_follow_the_weights(pond):
	profiles, inter, events, metrics = pond
	cfg = ScoreConfig.from_dict({"weights": {"fit": 0, "engagement": 100, "value": 0}})
	s = lead_score(profiles, inter, events, metrics, cfg, AS_OF)
	assert (s["score_fit"] == 0).all() and (s["score_value"] == 0).all()
	assert s.loc["a", "lead_score"] == pytest.approx(100 * 20 / 60, abs=0.05)


def test_missing_inputs_degrade_gracefully(pond):
	profiles, _, _, metrics = pond
	# no activity, no metrics: fit only
	s = lead_score(profiles[["profile"]], None, None, None, None, AS_OF)
	assert (s["lead_score"] == 0).all() and not s.isna().any().any()
	# metrics without clv: rfm and grade share the value part
	s = lead_score(profiles, None, None, metrics.drop(columns="clv"), ScoreConfig(), AS_OF)
	assert s.loc["a", "v_clv"] == 0
	assert s.loc["a", "v_grade"] == pytest.approx(30 * 0.2 / 0.7, abs=0.005)
	# metrics with a profile column instead of the index, and rows for unknown profiles
	flat = metrics.reset_index()
	flat.loc[len(flat)] = ["zz", 1, 1, 1, 1, "low", 5.0]
	s2 = lead_score(profiles, None, None, flat, ScoreConfig(), AS_OF)
	assert list(s2.index) == ["a", "b", "c"]
	with pytest.raises(EngineInputError, match="more than once"):
		lead_score(pd.DataFrame({"profile": ["a", "a"]}), None, None, None, None, AS_OF)
	with pytest.raises(EngineInputError, match="missing column"):
		lead_score(pd.DataFrame({"x": [1]}), None, None, None, None, AS_OF)


def test_empty_and_single_row():
	s = lead_score(pd.DataFrame({"profile": pd.Series(dtype=object)}), None, None, None, None, AS_OF)
	assert s.empty and "lead_score" in s.columns
	one = lead_score(
		pd.DataFrame({"profile": ["x"], "need": ["critical"]}), NO_ACTIVITY, None, None, None, AS_OF
	)
	assert one.loc["x", "lead_score"] == 7.5


def test_thousands_of_interactions_stay_capped():
	inter = pd.DataFrame({"profile": ["p"] * 10_000, "time": [AS_OF] * 10_000, "type": ["email"] * 10_000})
	s = lead_score(pd.DataFrame({"profile": ["p"]}), inter, None, None, None, AS_OF)
	# email's cap is 12 of the 60 points that fill the engagement part
	assert s.loc["p", "score_engagement"] == pytest.approx(40 * 12 / 60)


def test_explain_sorted_with_reasons(pond):
	profiles, inter, events, metrics = pond
	cfg = ScoreConfig()
	s = lead_score(profiles, inter, events, metrics, cfg, AS_OF)
	row = pd.concat(
		[
			s.loc["a"],
			profiles.set_index("profile").loc["a"],
			activity_summary(inter, events, AS_OF).loc["a"],
			metrics.loc["a"],
		]
	)
	items = explain(row, cfg)
	points = [it["points"] for it in items]
	assert points == sorted(points, reverse=True)
	assert {it["part"] for it in items} == {"fit", "engagement", "value"}
	for it in items:
		assert set(it) == {"factor", "part", "value", "points", "max_points", "reason"}
		assert it["reason"] and 0 <= it["points"] <= it["max_points"] + 1e-9
	by_factor = {it["factor"]: it for it in items}
	assert by_factor["authority"]["value"] == "Decision Maker"
	assert "Decision Maker -> 10 of 10" in by_factor["authority"]["reason"]
	assert by_factor["events_demo_request"]["value"] == 1
	assert by_factor["rfm"]["value"] == "5/4/5"
	assert sum(it["points"] for it in items) == pytest.approx(s.loc["a", "lead_score"], abs=0.1)
	# a bare lead_score row (no raw fields) still explains itself
	bare = explain(s.loc["b"], cfg)
	assert {it["factor"] for it in bare} >= {"budget", "need", "interactions_call", "rfm", "clv"}
	assert next(it for it in bare if it["factor"] == "need")["points"] == 1.5


def test_fit_factor_matching():
	f = FitFactor(
		"size",
		points={"Large Enterprise": 10},
		ranges=(FitRange(None, 10, 1), FitRange(10, 100, 5)),
		default=0.5,
	)
	values = pd.Series(["large-enterprise", "LARGE ENTERPRISE", 5, "50", None, "unknown", 1000])
	assert f.raw_points(values).tolist() == [10, 10, 1, 5, 0.5, 0.5, 0.5]
	assert f.explain_value(50) == (5, "50 is 10 to under 100")
	assert f.explain_value(None) == (0.5, "not answered")
	assert normalise_answer(" Over 12 Months ") == "over_12_months"
	# numeric columns: listed answers still match ("2" and 2.0), ranges cover the rest
	level = FitFactor("level", points={"1": 2, "2": 5}, ranges=(FitRange(3, None, 9),))
	assert level.raw_points(pd.Series([1.0, 2.0, np.nan, 7.0])).tolist() == [2, 5, 0, 9]
	assert level.raw_points(pd.Series(["2", 2, None, "7"], dtype=object)).tolist() == [5, 5, 0, 9]
	ranged = FitFactor("n", ranges=(FitRange(None, 0, 1), FitRange(0, None, 4)))
	assert ranged.raw_points(pd.Series([-1, 0, 5, None], dtype="Int64")).tolist() == [1, 4, 4, 0]


def test_config_round_trip():
	cfg = ScoreConfig.from_dict(
		{
			"weights": {"fit": 20, "engagement": 50, "value": 30},
			"fit_factors": [
				{"field": "industry", "points": {"Software": 10, "Retail": 4}, "weight": 1},
				{
					"field": "employees",
					"name": "size",
					"ranges": [{"min": 50, "points": 10}, {"max": 50, "points": 3}],
				},
			],
			"engagement": {"half_life_days": 14},
			"engagement_full_points": 40,
			"value": {"clv_weight": 0, "grade_points": {"High": 1, "Mid": 0.4}},
		}
	)
	assert [f.column for f in cfg.fit_factors] == ["f_industry", "f_size"]
	assert ScoreConfig.from_dict(cfg.to_dict()) == cfg
	assert ScoreConfig.from_dict({}) == ScoreConfig()
	assert ScoreConfig().fit_factors == tuple(default_fit_factors())
	cfg.validate_fields(["industry", "employees"])
	with pytest.raises(EngineConfigError) as err:
		cfg.validate_fields(["industry"])
	assert err.value.field == "fit_factors[1].field"


@pytest.mark.parametrize(
	("d", "field", "message"),
	[
		({"weights": {"fit": 30, "engagement": 40, "value": 20}}, "weights", "sum to 100"),
		({"weights": {"fit": 30, "engagement": 70}}, "weights.value", "required"),
		({"weights": {"fit": -10, "engagement": 80, "value": 30}}, "weights.fit", "at least 0"),
		({"weights": {"fit": 30, "engagment": 40, "value": 30}}, "weights.engagment", "unknown setting"),
		({"fit_factors": [{"field": "x"}]}, "fit_factors[0].points", "needs 'points'"),
		({"fit_factors": [{"field": "x", "points": {"a": 0}}]}, "fit_factors[0].points", "no points"),
		(
			{"fit_factors": [{"field": "x", "points": {"a": 1}, "weight": 0}]},
			"fit_factors[0].weight",
			"greater than 0",
		),
		(
			{"fit_factors": [{"field": "x", "points": {"a b": 1, "A-B": 2}}]},
			"fit_factors[0].points.A-B",
			"same after",
		),
		(
			{"fit_factors": [{"field": "x", "name": "Bad Name", "points": {"a": 1}}]},
			"fit_factors[0].name",
			"a-z",
		),
		(
			{"fit_factors": [{"field": "x", "ranges": [{"min": 5, "max": 1, "points": 3}]}]},
			"fit_factors[0].ranges[0].min",
			"below max",
		),
		({"fit_factors": [{"field": "x", "ranges": [{"points": 3}]}]}, "fit_factors[0].ranges[0]", "min"),
		(
			{"fit_factors": [{"field": "x", "points": {"a": 1}}, {"field": "x", "points": {"a": 1}}]},
			"fit_factors[1].name",
			"two factors",
		),
		({"fit_factors": []}, "fit_factors", "no fit_factors"),
		({"engagement": {"half_life_days": -1}}, "engagement.half_life_days", "greater than 0"),
		({"engagement_full_points": 0}, "engagement_full_points", "greater than 0"),
		({"value": {"rfm_weight": 0, "grade_weight": 0, "clv_weight": 0}}, "value.rfm_weight", "above 0"),
		({"value": {"grade_points": {"high": 5}}}, "value.grade_points.high", "0 to 1"),
		({"value": {"rfm_max_score": 1}}, "value.rfm_max_score", "at least 2"),
		({"colour": "red"}, "colour", "unknown setting"),
	],
)
def test_bad_configs_name_the_field(d, field, message):
	with pytest.raises(EngineConfigError, match=message) as err:
		ScoreConfig.from_dict(d)
	assert err.value.field == field


def test_value_config_defaults():
	assert ValueConfig.from_dict(None) == ValueConfig()


# --------------------------------------------------------------------------------------------------
# properties

_answers = st.sampled_from(
	[
		None,
		"Decision Maker",
		"influencer",
		"User",
		"Critical",
		"low",
		"Immediate",
		"3-6 Months",
		5,
		50_000.0,
		"junk",
	]
)
_activity = st.lists(
	st.tuples(
		st.sampled_from(["a", "b", "c"]),
		st.floats(0, 500),
		st.sampled_from(["email", "call", "meeting", "visit", "page_view"]),
	),
	max_size=30,
)
_metric_rows = st.lists(
	st.tuples(
		st.integers(0, 5),
		st.integers(0, 5),
		st.integers(0, 5),
		st.sampled_from(["high", "mid", "low", None]),
		st.one_of(st.none(), st.floats(-10, 1e5)),
	),
	min_size=3,
	max_size=3,
)


def _profiles(answers):
	return pd.DataFrame(
		{
			"profile": ["a", "b", "c"],
			"budget": answers[0],
			"authority": answers[1],
			"need": answers[2],
			"timeline": answers[3],
		}
	)


def _metrics(rows):
	m = pd.DataFrame(
		rows,
		columns=["r_score", "f_score", "m_score", "value_grade", "clv"],
		index=pd.Index(["a", "b", "c"], name="profile"),
	)
	m["orders"] = (m["f_score"] > 0).astype(int)
	return m


def _split(rows):
	inter = [(p, AS_OF - pd.Timedelta(days=d), t) for p, d, t in rows if t != "page_view"]
	events = [(p, AS_OF - pd.Timedelta(days=d), t) for p, d, t in rows if t == "page_view"]
	return pd.DataFrame(inter, columns=["profile", "time", "type"]), pd.DataFrame(
		events, columns=["profile", "time", "type"]
	)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_answers, min_size=3, max_size=3), min_size=4, max_size=4), _activity, _metric_rows)
def test_scores_are_bounded_and_never_nan(answers, activity, rows):
	inter, events = _split(activity)
	s = lead_score(_profiles(answers), inter, events, _metrics(rows), ScoreConfig(), AS_OF)
	assert not s.isna().any().any()
	assert ((s["lead_score"] >= 0) & (s["lead_score"] <= 100)).all()
	for part, w in ScoreConfig().weights.items():
		assert (s[f"score_{part}"] <= w + 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(
	_activity,
	st.sampled_from(["a", "b", "c"]),
	st.floats(0, 500),
	st.sampled_from(["email", "call", "meeting", "page_view"]),
	st.floats(0, 1),
)
def test_more_and_more_recent_engagement_never_lowers_the_score(activity, who, age, kind, sooner):
	profiles = _profiles([[None] * 3] * 4)
	base = lead_score(profiles, *_split(activity), None, ScoreConfig(), AS_OF)
	more = lead_score(profiles, *_split([*activity, (who, age, kind)]), None, ScoreConfig(), AS_OF)
	assert (more["score_engagement"] >= base["score_engagement"] - 0.011).all()
	assert (more["lead_score"] >= base["lead_score"] - 0.11).all()
	recent = lead_score(
		profiles, *_split([(p, d * sooner, t) for p, d, t in activity]), None, ScoreConfig(), AS_OF
	)
	assert (recent["score_engagement"] >= base["score_engagement"] - 0.011).all()


@settings(max_examples=60, deadline=None)
@given(_metric_rows, st.sampled_from(["r_score", "f_score", "m_score", "clv", "value_grade"]))
def test_more_value_never_lowers_the_value_part(rows, what):
	m = _metrics(rows)
	better = m.copy()
	if what == "clv":
		better.loc["a", "clv"] = (0 if pd.isna(m.loc["a", "clv"]) else max(m.loc["a", "clv"], 0)) + 100
	elif what == "value_grade":
		better.loc["a", "value_grade"] = "high"
	else:
		better.loc["a", what] = min(5, m.loc["a", what] + 1)
	better.loc["a", "orders"] = max(1, m.loc["a", "orders"]) if what != "clv" else m.loc["a", "orders"]
	profiles = _profiles([[None] * 3] * 4)
	s0 = lead_score(profiles, None, None, m, ScoreConfig(), AS_OF)
	s1 = lead_score(profiles, None, None, better, ScoreConfig(), AS_OF)
	assert s1.loc["a", "score_value"] >= s0.loc["a", "score_value"] - 1e-9


def test_half_life_reaches_the_score():
	inter = pd.DataFrame({"profile": ["p"], "time": [AS_OF - pd.Timedelta(days=60)], "type": ["meeting"]})
	p = pd.DataFrame({"profile": ["p"]})
	fast = lead_score(
		p, inter, None, None, ScoreConfig(engagement=EngagementConfig(half_life_days=10)), AS_OF
	)
	slow = lead_score(
		p, inter, None, None, ScoreConfig(engagement=EngagementConfig(half_life_days=90)), AS_OF
	)
	assert slow.loc["p", "score_engagement"] > fast.loc["p", "score_engagement"]


def test_precomputed_engagement_gives_the_same_scores(pond):
	profiles, inter, events, metrics = pond
	summary, by_type = activity_and_engagement(
		inter, events, AS_OF, ScoreConfig().engagement, profiles=["a", "c"]
	)
	assert summary.equals(activity_summary(inter, events, AS_OF, profiles=["a", "c"]))
	direct = lead_score(profiles, inter, events, metrics, ScoreConfig(), AS_OF)
	# rows absent from the precomputed frame count as no activity ("b" is missing here)
	given = lead_score(profiles, None, None, metrics, ScoreConfig(), AS_OF, engagement=by_type)
	assert given.loc[["a", "c"]].equals(direct.loc[["a", "c"]])
	assert given.loc["b", "score_engagement"] == 0
	with pytest.raises(EngineInputError, match="same engagement settings"):
		lead_score(profiles, None, None, metrics, ScoreConfig(), AS_OF, engagement=by_type.iloc[:, :3])

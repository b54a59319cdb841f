"""assign_stages: default transitions, renamed stages, custom rules and the "never without a reason" rule."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.lifecycle import (
	DEFAULT_STAGES,
	StageConfig,
	TransitionRule,
	assign_stages,
	default_rules,
)

D = pd.to_datetime


@pytest.fixture
def metrics():
	return pd.DataFrame(
		{
			"stage": [
				None,
				"acquisition",
				"acquisition",
				"conversion",
				"growth",
				"retention",
				"churn",
				"churn",
				"Lost",
				"growth",
				"",
			],
			"orders": [0, 0, np.nan, 1, 3, 4, 2, 2, 0, 1, 0],
			"days_since_last": [0, 0, np.nan, 5, 20, 400, 10, 300, 0, 500, 0],
			"p_alive": [np.nan, 1, np.nan, 0.9, 0.8, 0.1, 0.9, 0.05, np.nan, np.nan, 1],
			"first_purchase": D(
				[
					"NaT",
					"NaT",
					"NaT",
					"2024-05-26",
					"2024-01-01",
					"2022-01-01",
					"2022-01-01",
					"2022-01-01",
					"NaT",
					"2022-01-01",
					"NaT",
				]
			),
			"last_purchase": D(
				[
					"NaT",
					"NaT",
					"NaT",
					"2024-05-26",
					"2024-05-11",
					"2023-04-27",
					"2024-05-21",
					"2023-08-05",
					"NaT",
					"2023-01-01",
					"NaT",
				]
			),
			"interactions": [0, 2, 0, 0, 0, 0, 0, 0, 5, 0, 4],
			"engagement_points": [0, 3, 12, 0, 0, 0, 0, 0, 50, 0, 40],
		},
		index=pd.Index(list("abcdefghijk"), name="profile"),
	)


def test_default_transitions(metrics):
	out = assign_stages(metrics)
	assert list(out.columns) == ["stage", "previous_stage", "stage_changed", "stage_reason"]
	got = {p: (r.previous_stage, r.stage, r.stage_changed, r.stage_reason) for p, r in out.iterrows()}
	assert got["a"] == ("", "acquisition", True, "new in the pond: starts in acquisition")
	assert got["b"] == (
		"acquisition",
		"conversion",
		True,
		"engaged without a purchase yet: 2 interactions, 3 engagement points",
	)
	assert got["c"][1] == "conversion"  # engagement points alone
	assert got["d"] == ("conversion", "growth", True, "first paid order on 2024-05-26")
	assert got["e"] == ("growth", "retention", True, "repeat customer: 3 orders, the last 20 days ago")
	assert got["f"] == (
		"retention",
		"churn",
		True,
		"no purchase for 400 days (>= 180) and chance still active 10% (< 30%)",
	)
	assert got["g"] == ("churn", "growth", True, "win-back: bought again on 2024-05-21 after churning")
	assert got["h"] == ("churn", "churn", False, "")
	assert got["i"] == ("Lost", "Lost", False, "")  # unknown stage kept: no rule for "any stage" matched
	assert got["j"] == ("growth", "churn", True, "no purchase for 500 days (>= 365; no churn model score)")
	# a new profile that is already engaged goes straight to conversion (a rule from the initial stage)
	assert got["k"] == (
		"",
		"conversion",
		True,
		"engaged without a purchase yet: 4 interactions, 40 engagement points",
	)
	assert out["stage_changed"].dtype == bool


def test_missing_stage_column_means_new_profiles(metrics):
	out = assign_stages(metrics.drop(columns="stage"))
	assert (out["previous_stage"] == "").all() and out["stage_changed"].all()
	assert (out["stage_reason"] != "").all()


def test_rules_need_their_columns(metrics):
	with pytest.raises(EngineConfigError, match="unknown field 'p_alive'"):
		assign_stages(metrics.drop(columns="p_alive"))
	with pytest.raises(EngineInputError):
		assign_stages("not a frame")


def test_renamed_stages_with_thresholds(metrics):
	cfg = StageConfig.from_dict(
		{
			"stages": ["new", "engaged", "customer", "loyal", "lost"],
			"thresholds": {"churn_days": 90, "repeat_orders": 2},
		}
	)
	out = assign_stages(metrics.drop(columns="stage"), cfg)
	assert out.loc["a", "stage"] == "new" and out.loc["a", "stage_reason"] == "new in the pond: starts in new"
	assert out.loc["h", "stage"] == "lost"
	assert (
		out.loc["h", "stage_reason"] == "no purchase for 300 days (>= 90) and chance still active 5% (< 30%)"
	)
	assert out.loc["g", "stage"] == "loyal"  # 2 orders now suffice
	assert set(out["stage"]) <= set(cfg.stages)


def test_custom_rules_and_placeholders():
	cfg = StageConfig.from_dict(
		{
			"stages": ["lead", "customer", "vip"],
			"rules": [
				{
					"name": "vip",
					"from_stages": ["customer"],
					"to_stage": "vip",
					"condition": {"field": "total_amount", "op": ">=", "value": 10_000},
					"reason": "{from_stage} -> {to_stage}: spent {total_amount:,.0f}",
				},
				{
					"to_stage": "customer",
					"condition": {"field": "orders", "op": ">=", "value": 1},
					"reason": "bought",
				},
			],
		}
	)
	m = pd.DataFrame(
		{"stage": ["customer", "lead", "vip"], "orders": [3, 1, 9], "total_amount": [25_000.0, 50.0, 1e5]}
	)
	out = assign_stages(m, cfg)
	assert out["stage"].tolist() == ["vip", "customer", "customer"]
	assert out["stage_reason"].tolist() == ["customer -> vip: spent 25,000", "bought", "bought"]
	assert StageConfig.from_dict(cfg.to_dict()) == cfg


def test_first_matching_rule_decides_even_when_it_keeps_the_stage():
	rules = [
		TransitionRule("b", {"field": "x", "op": ">", "value": 0}, "stay", ("b",), "hold"),
		TransitionRule("c", {"field": "x", "op": ">", "value": 0}, "to c"),
	]
	cfg = StageConfig(stages=("a", "b", "c"), rules=tuple(rules))
	out = assign_stages(pd.DataFrame({"stage": ["a", "b"], "x": [1, 1]}), cfg)
	assert out["stage"].tolist() == ["c", "b"]
	assert out["stage_reason"].tolist() == ["to c", ""]


def test_a_blank_rendered_reason_falls_back_to_the_condition():
	cfg = StageConfig(
		stages=("a", "b"), rules=(TransitionRule("b", {"field": "note", "op": "is_not_set"}, "{note}"),)
	)
	out = assign_stages(pd.DataFrame({"stage": ["a"], "note": [" "]}), cfg)
	assert out.loc[0, "stage"] == "b"
	assert out.loc[0, "stage_reason"] == "b: note is not set (note= )"


@pytest.mark.parametrize(
	("d", "field"),
	[
		({"stages": ["a", "b"]}, "rules"),
		({"stages": []}, "stages"),
		({"stages": ["a", "a", "b", "c", "d"]}, "stages[1]"),
		(
			{
				"rules": [
					{"to_stage": "x", "condition": {"field": "orders", "op": ">", "value": 1}, "reason": "r"}
				]
			},
			"rules[0].to_stage",
		),
		(
			{
				"rules": [
					{
						"to_stage": "growth",
						"from_stages": ["nowhere"],
						"condition": {"field": "orders", "op": ">", "value": 1},
						"reason": "r",
					}
				]
			},
			"rules[0].from_stages",
		),
		(
			{
				"rules": [
					{
						"to_stage": "growth",
						"condition": {"field": "orders", "op": ">", "value": 1},
						"reason": " ",
					}
				]
			},
			"rules[0].reason",
		),
		(
			{"rules": [{"to_stage": "growth", "condition": {"field": "orders", "op": ">", "value": 1}}]},
			"rules[0].reason",
		),
		(
			{
				"rules": [
					{
						"to_stage": "growth",
						"condition": {"field": "orders", "op": ">", "value": 1},
						"reason": "{a.b}",
					}
				]
			},
			"rules[0].reason",
		),
		(
			{
				"rules": [
					{
						"to_stage": "growth",
						"condition": {"field": "orders", "op": "=>", "value": 1},
						"reason": "r",
					}
				]
			},
			"rules[0].condition.op",
		),
		(
			{
				"rules": [
					{
						"to_stage": "growth",
						"condition": {"field": "orders", "op": ">", "value": 1},
						"reason": "r",
					}
				]
				* 2
			},
			"rules[1].name",
		),
		({"thresholds": {"churn_p_alive": 2}}, "thresholds.churn_p_alive"),
		({"thresholds": {"repeat_orders": 2.5}}, "thresholds.repeat_orders"),
		({"thresholds": {"churn_dayz": 2}}, "thresholds.churn_dayz"),
		({"thresholds": {}, "rules": []}, "thresholds"),
		({"initial_stage": "limbo"}, "initial_stage"),
	],
)
def test_bad_configs_name_the_field(d, field):
	with pytest.raises(EngineConfigError) as err:
		StageConfig.from_dict(d)
	assert err.value.field == field


def test_unknown_fields_and_placeholders_against_metrics(metrics):
	cfg = StageConfig.from_dict(
		{
			"rules": [
				{
					"to_stage": "growth",
					"condition": {"field": "orders", "op": ">", "value": 0},
					"reason": "{ordrs}",
				}
			]
		}
	)
	with pytest.raises(EngineConfigError, match="unknown placeholder") as err:
		assign_stages(metrics, cfg)
	assert err.value.field == "rules[0].reason"


def test_defaults_round_trip():
	assert StageConfig.from_dict(None) == StageConfig()
	assert StageConfig.from_dict(StageConfig().to_dict()) == StageConfig()
	assert len(default_rules()) == 6 and StageConfig().initial_stage == "acquisition"


_num = st.one_of(st.none(), st.floats(0, 2000), st.integers(0, 6).map(float))


@settings(max_examples=100, deadline=None)
@given(
	st.lists(
		st.tuples(
			st.sampled_from([None, "", *DEFAULT_STAGES, "Lost"]),
			_num,
			_num,
			st.one_of(st.none(), st.floats(0, 1)),
			_num,
			_num,
		),
		max_size=25,
	)
)
def test_a_stage_never_changes_without_a_reason(rows):
	m = pd.DataFrame(
		rows, columns=["stage", "orders", "days_since_last", "p_alive", "interactions", "engagement_points"]
	)
	m["first_purchase"] = pd.Timestamp("2024-01-01")
	m["last_purchase"] = pd.Timestamp("2024-02-01")
	out = assign_stages(m)
	assert not out.isna().any().any()
	changed = out["stage_changed"]
	assert (changed == (out["stage"] != out["previous_stage"])).all()
	assert (out.loc[changed, "stage_reason"].str.strip() != "").all()
	assert (out.loc[~changed, "stage_reason"] == "").all()
	# nobody without a purchase is in growth/retention/churn because of this run
	moved = changed & (pd.to_numeric(m["orders"]).fillna(0) < 1).to_numpy()
	assert out.loc[moved, "stage"].isin(["acquisition", "conversion"]).all()


def test_a_failing_stage_rule_is_reported_and_skipped_when_errors_are_collected(metrics):
	rules = [
		TransitionRule("churn", {"field": "days_since_lst", "op": ">", "value": 90}, "typo", None, "typo"),
		TransitionRule("growth", {"field": "orders", "op": ">=", "value": 1}, "bought", None, "growth"),
		TransitionRule(
			"churn", {"field": "orders", "op": ">=", "value": 1}, "bad {nope}", None, "bad_reason"
		),
	]
	config = StageConfig(stages=DEFAULT_STAGES, rules=tuple(rules))
	with pytest.raises(EngineConfigError, match="days_since_lst"):
		assign_stages(metrics, config)
	errors: list = []
	out = assign_stages(metrics, config, errors=errors)
	assert [(e["kind"], e["rule"]) for e in errors] == [("stage", "typo"), ("stage", "bad_reason")]
	assert "days_since_lst" in errors[0]["error"] and "nope" in errors[1]["error"]
	# the good rule still ran: every buyer not in churn already moved to growth
	assert out.loc["d", "stage"] == "growth" and out.loc["a", "stage"] == "acquisition"

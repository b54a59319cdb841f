"""categorise: rule order, thresholds, reasons, extra rules and config validation."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.category import CATEGORIES, CategoryConfig, CategoryRule, categorise
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError


def metrics(**cols):
	n = len(next(iter(cols.values())))
	base = {
		"orders": [0] * n,
		"days_since_last": [0.0] * n,
		"value_grade": ["low"] * n,
		"interactions": [0] * n,
		"events_30d": [0] * n,
		"engagement_points": [0.0] * n,
	}
	base.update(cols)
	return pd.DataFrame(base, index=pd.Index([f"p{i}" for i in range(n)], name="profile"))


def test_each_category_with_its_reason():
	m = metrics(
		orders=[5, 2, 1, 0, 0, np.nan, 4],
		days_since_last=[12, 300, 40, 0, np.nan, np.nan, 400],
		value_grade=["mid", "high", "low", "low", None, None, "mid"],
		interactions=[0, 0, 0, 3, 0, 0, 0],
		events_30d=[0, 0, 0, 0, 1, 0, 0],
		engagement_points=[0, 0, 0, 4.5, 2, 0, 0],
		open_quotations=[0, 0, 0, 0, 0, 1, 0],
	)
	out = categorise(m)
	assert out["category"].tolist() == [
		"loyal",
		"loyal",
		"deal",
		"intention",
		"potential",
		"intention",
		"deal",
	]
	r = out["category_reason"]
	assert r["p0"] == "loyal (repeat): orders >= 3 and days_since_last <= 180 (orders=5, days_since_last=12)"
	assert (
		r["p1"] == 'loyal (high value): orders >= 2 and value_grade in ("high") (orders=2, value_grade=high)'
	)
	assert r["p2"] == "deal (purchase): orders >= 1 (orders=1)"
	assert r["p3"] == "intention (interactions): interactions >= 2 (interactions=3)"
	assert r["p4"].startswith(
		"potential: no purchase and no engagement above the intention thresholds (orders=0"
	)
	assert r["p5"] == "intention (open quotations): open_quotations > 0 (open_quotations=1)"
	# 4 orders but 400 days ago: not a recent repeat buyer, not high value -> deal
	assert r["p6"] == "deal (purchase): orders >= 1 (orders=4)"
	assert list(out.columns) == ["category", "category_reason"] and out.index.equals(m.index)


def test_a_deal_is_never_intention_even_when_engaged():
	m = metrics(orders=[1], days_since_last=[5.0], interactions=[50], engagement_points=[500.0])
	assert categorise(m)["category"].tolist() == ["deal"]


def test_thresholds_and_switches():
	m = metrics(
		orders=[2, 0, 0],
		days_since_last=[10, 0, 0],
		value_grade=["high", "low", "low"],
		events_30d=[0, 3, 0],
		engagement_points=[0, 0, 10],
	)
	assert categorise(m)["category"].tolist() == ["loyal", "intention", "intention"]
	cfg = CategoryConfig.from_dict(
		{
			"loyal_value_grades": [],
			"intention_min_events_30d": 0,
			"intention_min_engagement_points": 20,
			"loyal_min_orders": 2,
		}
	)
	out = categorise(m, cfg)
	assert out["category"].tolist() == ["loyal", "potential", "potential"]
	assert out["category_reason"].iloc[0].startswith("loyal (repeat): orders >= 2")
	no_recency = CategoryConfig(loyal_max_days_since_last=None)
	m2 = metrics(orders=[3], days_since_last=[1000.0])
	assert categorise(m2, no_recency)["category_reason"].iloc[0] == "loyal (repeat): orders >= 3 (orders=3)"


def test_extra_rules_come_before_built_ins_of_their_category():
	cfg = CategoryConfig.from_dict(
		{
			"extra_rules": [
				{
					"category": "intention",
					"name": "trial",
					"condition": {"field": "events_30d", "op": ">=", "value": 1},
				},
				{
					"category": "loyal",
					"name": "key account",
					"condition": {"field": "key_account", "op": "=", "value": True},
				},
			]
		}
	)
	m = metrics(orders=[0, 1, 0], events_30d=[1, 0, 5], key_account=[False, True, False])
	out = categorise(m, cfg)
	assert out["category"].tolist() == ["intention", "loyal", "intention"]
	assert out["category_reason"].tolist()[:2] == [
		"intention (trial): events_30d >= 1 (events_30d=1)",
		"loyal (key account): key_account = true (key_account=yes)",
	]
	assert out["category_reason"].iloc[2].startswith("intention (trial)")  # before "recent events"
	assert CategoryConfig.from_dict(cfg.to_dict()) == cfg


def test_missing_columns_and_unknown_fields():
	with pytest.raises(EngineInputError, match="orders"):
		categorise(metrics(interactions=[1]).drop(columns="orders"))
	cfg = CategoryConfig.from_dict(
		{
			"extra_rules": [
				{"category": "deal", "name": "x", "condition": {"field": "ordrs", "op": ">", "value": 1}}
			]
		}
	)
	with pytest.raises(EngineConfigError, match="did you mean 'orders'") as err:
		categorise(metrics(orders=[1]), cfg)
	assert err.value.field == "extra_rules[0].condition.field"
	with pytest.raises(EngineInputError):
		categorise([1, 2])


def test_empty_frame():
	out = categorise(metrics(orders=[]))
	assert out.empty and list(out.columns) == ["category", "category_reason"]


@pytest.mark.parametrize(
	("d", "field"),
	[
		({"loyal_min_orders": 0}, "loyal_min_orders"),
		({"loyal_min_orders": 1.5}, "loyal_min_orders"),
		({"deal_min_orders": "two"}, "deal_min_orders"),
		({"deal_min_orders": 4}, "loyal_min_orders"),  # loyal needs at least as many orders as a deal
		({"intention_min_events_30d": -1}, "intention_min_events_30d"),
		({"loyal_value_grades": "high"}, "loyal_value_grades"),
		({"intention_signal_fields": ["a", "a"]}, "intention_signal_fields[1]"),
		(
			{
				"extra_rules": [
					{"category": "potential", "name": "x", "condition": {"field": "a", "op": "is_set"}}
				]
			},
			"extra_rules[0].category",
		),
		(
			{"extra_rules": [{"category": "deal", "condition": {"field": "a", "op": "is_set"}}]},
			"extra_rules[0].name",
		),
		(
			{"extra_rules": [{"category": "deal", "name": "x", "condition": {"field": "a", "op": "??"}}]},
			"extra_rules[0].condition.op",
		),
		(
			{
				"extra_rules": [
					{"category": "deal", "name": "x", "condition": {"field": "a", "op": "is_set"}}
				]
				* 2
			},
			"extra_rules[1].name",
		),
		({"loyal_orders": 3}, "loyal_orders"),
	],
)
def test_bad_configs_name_the_field(d, field):
	with pytest.raises(EngineConfigError) as err:
		CategoryConfig.from_dict(d)
	assert err.value.field == field


def test_category_rule_in_code():
	rule = CategoryRule("deal", "big", {"field": "total_amount", "op": ">", "value": 1000})
	assert rule.to_dict()["condition"] == {"field": "total_amount", "op": ">", "value": 1000}
	with pytest.raises(EngineConfigError):
		CategoryRule("potential", "x", {"field": "a", "op": "is_set"})


_num = st.one_of(st.none(), st.floats(0, 1000), st.integers(0, 10).map(float))


@settings(max_examples=80, deadline=None)
@given(
	st.lists(
		st.tuples(_num, _num, st.sampled_from(["high", "mid", "low", None]), _num, _num, _num), max_size=20
	)
)
def test_always_one_known_category_and_a_reason(rows):
	m = pd.DataFrame(
		rows,
		columns=[
			"orders",
			"days_since_last",
			"value_grade",
			"interactions",
			"events_30d",
			"engagement_points",
		],
	)
	out = categorise(m)
	assert out["category"].isin(CATEGORIES).all()
	assert (out["category_reason"].str.len() > 0).all() and not out.isna().any().any()
	bought = pd.to_numeric(m["orders"]).fillna(0) >= 1
	assert out.loc[bought, "category"].isin(["deal", "loyal"]).all()
	assert out.loc[~bought, "category"].isin(["intention", "potential"]).all()

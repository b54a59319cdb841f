"""The condition language (evaluate/describe/validate) and tag rules."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.tags import (
	OPERATORS,
	TagRule,
	condition_fields,
	describe_condition,
	evaluate_condition,
	evaluate_tags,
	parse_condition,
	render_template,
	validate_condition,
	validate_rules,
)


@pytest.fixture
def frame():
	return pd.DataFrame(
		{
			"days_since_last": [120.0, np.nan, 10.0, 90.0],
			"p_alive": [0.2, np.nan, 0.9, 0.5],
			"territory": ["China", None, "India", ""],
			"email": ["a@x.com", None, "B@Example.COM", "c@y.org"],
			"last_purchase": pd.to_datetime(
				["2024-01-01", None, "2024-05-03 10:00", "2024-03-02"], format="ISO8601"
			),
			"vip": [True, False, True, False],
			"orders": pd.array([3, 0, 1, None], dtype="Int64"),
		},
		index=pd.Index(["a", "b", "c", "d"], name="profile"),
	)


def mask(frame, cond):
	out = evaluate_condition(frame, cond)
	assert out.dtype == bool and out.index.equals(frame.index)
	return out.tolist()


@pytest.mark.parametrize(
	("cond", "expected"),
	[
		({"field": "days_since_last", "op": ">", "value": 90}, [True, False, False, False]),
		({"field": "days_since_last", "op": ">=", "value": 90}, [True, False, False, True]),
		({"field": "days_since_last", "op": "<", "value": 90}, [False, False, True, False]),
		({"field": "days_since_last", "op": "<=", "value": 90}, [False, False, True, True]),
		({"field": "days_since_last", "op": "=", "value": 10}, [False, False, True, False]),
		# != and not_in are the negations of = and in: missing values satisfy them
		({"field": "days_since_last", "op": "!=", "value": 10}, [True, True, False, True]),
		({"field": "p_alive", "op": "between", "value": [0.2, 0.5]}, [True, False, False, True]),
		({"field": "territory", "op": "=", "value": "China"}, [True, False, False, False]),
		# text equality and membership ignore case, like the database's collation and list filters
		({"field": "territory", "op": "=", "value": "china"}, [True, False, False, False]),
		({"field": "territory", "op": "!=", "value": "CHINA"}, [False, True, True, True]),
		({"field": "territory", "op": "in", "value": ["China", "India"]}, [True, False, True, False]),
		({"field": "territory", "op": "in", "value": ["cHiNa", "INDIA"]}, [True, False, True, False]),
		({"field": "territory", "op": "not_in", "value": ["China"]}, [False, True, True, True]),
		({"field": "email", "op": "contains", "value": "EXAMPLE"}, [False, False, True, False]),
		({"field": "email", "op": "startswith", "value": "b@"}, [False, False, True, False]),
		({"field": "territory", "op": "is_set"}, [True, False, True, False]),
		({"field": "territory", "op": "is_not_set"}, [False, True, False, True]),
		({"field": "p_alive", "op": "is_set"}, [True, False, True, True]),
		({"field": "vip", "op": "=", "value": True}, [True, False, True, False]),
		({"field": "vip", "op": "!=", "value": True}, [False, True, False, True]),
		({"field": "orders", "op": ">=", "value": 1}, [True, False, True, False]),
		({"field": "orders", "op": "in", "value": [0, 3]}, [True, True, False, False]),
		# dates compare by calendar day
		({"field": "last_purchase", "op": "=", "value": "2024-05-03"}, [False, False, True, False]),
		({"field": "last_purchase", "op": "<=", "value": "2024-05-03"}, [True, False, True, True]),
		({"field": "last_purchase", "op": ">", "value": "2024-03-02"}, [False, False, True, False]),
		(
			{"field": "last_purchase", "op": "between", "value": ["2024-01-01", "2024-03-02"]},
			[True, False, False, True],
		),
		({"field": "last_purchase", "op": "is_not_set"}, [False, True, False, False]),
		# the index name is a field too
		({"field": "profile", "op": "in", "value": ["a", "d"]}, [True, False, False, True]),
	],
)
def test_operators(frame, cond, expected):
	assert mask(frame, cond) == expected


def test_every_operator_is_covered():
	ops = {
		"=",
		"!=",
		">",
		">=",
		"<",
		"<=",
		"in",
		"not_in",
		"between",
		"contains",
		"startswith",
		"is_set",
		"is_not_set",
	}
	assert set(OPERATORS) == ops


def test_groups_and_negation(frame):
	cond = {
		"all": [
			{"field": "days_since_last", "op": ">=", "value": 10},
			{
				"any": [
					{"field": "p_alive", "op": "<", "value": 0.3},
					{"field": "territory", "op": "=", "value": "India"},
				]
			},
		]
	}
	assert mask(frame, cond) == [True, False, True, False]
	assert mask(frame, {"not": cond}) == [False, True, False, True]
	assert describe_condition(cond) == 'days_since_last >= 10 and (p_alive < 0.3 or territory = "India")'
	assert describe_condition({"not": cond}).startswith("not (days_since_last >= 10")
	assert condition_fields(cond) == ["days_since_last", "p_alive", "territory"]


def test_describe_each_form():
	assert describe_condition({"field": "x", "op": "between", "value": [1, 2.5]}) == "x between 1 and 2.5"
	assert describe_condition({"field": "x", "op": "not_in", "value": ["a", "b"]}) == 'x not in ("a", "b")'
	assert describe_condition({"field": "x", "op": "is_not_set"}) == "x is not set"
	assert describe_condition({"field": "d", "op": "<", "value": "2024-01-31"}) == "d < 2024-01-31"
	assert describe_condition({"any": [{"field": "x", "op": "=", "value": True}]}) == "x = true"


def test_round_trip_through_dicts():
	cond = {
		"all": [
			{"field": "d", "op": "between", "value": ["2024-01-01", "2024-02-01"]},
			{"not": {"field": "t", "op": "in", "value": ["a", 1]}},
			{"field": "e", "op": "is_set"},
		]
	}
	parsed = parse_condition(cond)
	assert parse_condition(parsed.to_dict()) == parsed
	assert parsed.to_dict()["all"][0]["value"] == ["2024-01-01", "2024-02-01"]


def test_operator_aliases():
	assert parse_condition({"field": "x", "op": "==", "value": 1}).op == "="
	assert parse_condition({"field": "x", "op": "NOT IN", "value": [1]}).op == "not_in"


@pytest.mark.parametrize(
	("cond", "field", "message"),
	[
		({"field": "x", "op": "~", "value": 1}, "condition.op", "unknown operator"),
		({"field": "x", "value": 1}, "condition.op", "must be one of"),
		({"op": ">", "value": 1}, "condition.field", "needs 'field'"),
		({"field": "x", "op": ">", "value": "abc"}, "condition.value", "a number or a date"),
		({"field": "x", "op": ">"}, "condition.value", "needs a value"),
		({"field": "x", "op": "between", "value": [1]}, "condition.value", "two bounds"),
		({"field": "x", "op": "between", "value": [3, 1]}, "condition.value", "low <= high"),
		({"field": "x", "op": "between", "value": [1, "b"]}, "condition.value", "two numbers or two dates"),
		({"field": "x", "op": "in", "value": []}, "condition.value", "non-empty list"),
		({"field": "x", "op": "in", "value": "a"}, "condition.value", "non-empty list"),
		({"field": "x", "op": "in", "value": [[1]]}, "condition.value", "numbers, texts or dates"),
		({"field": "x", "op": "=", "value": [1]}, "condition.value", "a single"),
		({"field": "x", "op": "contains", "value": 5}, "condition.value", "non-empty text"),
		({"field": "x", "op": "is_set", "value": 1}, "condition.value", "no value"),
		({"field": "x", "op": "=", "value": 1, "extra": 2}, "condition.extra", "unknown setting"),
		({"all": []}, "condition.all", "non-empty list"),
		({"all": [{"field": "x", "op": "?", "value": 1}]}, "condition.all[0].op", "unknown operator"),
		({"all": [], "any": []}, "condition", "exactly one key"),
		("x > 1", "condition", "condition object"),
	],
)
def test_bad_conditions_name_the_field(cond, field, message):
	with pytest.raises(EngineConfigError, match=message) as err:
		parse_condition(cond)
	assert err.value.field == field


def test_validation_against_columns(frame):
	with pytest.raises(EngineConfigError, match="did you mean 'days_since_last'") as err:
		validate_condition({"field": "days_since_lst", "op": ">", "value": 1}, frame, label="tag rule 'x'")
	assert err.value.field == "condition.field"
	assert "tag rule 'x'" in str(err.value)
	with pytest.raises(EngineConfigError, match="needs a number or date field"):
		validate_condition({"field": "territory", "op": ">", "value": 1}, frame)
	with pytest.raises(EngineConfigError, match="holds numbers"):
		validate_condition({"field": "p_alive", "op": "=", "value": "high"}, frame)
	with pytest.raises(EngineConfigError, match="holds text"):
		validate_condition({"field": "territory", "op": "=", "value": 5}, frame)
	with pytest.raises(EngineConfigError, match="needs a text field"):
		validate_condition({"field": "p_alive", "op": "contains", "value": "5"}, frame)
	with pytest.raises(EngineConfigError, match="true/false"):
		validate_condition({"field": "vip", "op": "=", "value": "yes"}, frame)
	with pytest.raises(EngineConfigError, match="holds dates"):
		validate_condition({"field": "last_purchase", "op": "=", "value": 5}, frame)
	# plain names only check existence; a mapping of dtypes checks types
	validate_condition({"field": "a", "op": ">", "value": 1}, ["a"])
	with pytest.raises(EngineConfigError, match="holds text"):
		validate_condition({"field": "a", "op": "=", "value": 1}, {"a": "string"})
	validate_condition({"field": "a", "op": "=", "value": 1}, {"a": "float64"})


def test_evaluate_rejects_unknown_fields_and_bad_frames(frame):
	with pytest.raises(EngineConfigError, match="unknown field 'nope'"):
		evaluate_condition(frame, {"field": "nope", "op": "=", "value": 1})
	with pytest.raises(EngineInputError):
		evaluate_condition({"a": [1]}, {"field": "a", "op": "=", "value": 1})


def test_no_code_is_ever_evaluated(frame):
	# field names and values are data: a would-be expression is just an unknown field
	with pytest.raises(EngineConfigError, match="unknown field"):
		evaluate_condition(frame, {"field": "__import__('os').system('true')", "op": "is_set"})
	assert mask(frame, {"field": "territory", "op": "=", "value": "__import__('os')"}) == [False] * 4


def test_object_columns_of_numbers_and_empty_frames():
	f = pd.DataFrame({"x": pd.Series([1, None, 3.5], dtype=object)})
	assert mask(f, {"field": "x", "op": ">", "value": 2}) == [False, False, True]
	empty = pd.DataFrame({"x": pd.Series([], dtype=float)})
	assert evaluate_condition(empty, {"field": "x", "op": ">", "value": 1}).empty


def test_the_kind_of_an_object_column_comes_from_its_first_present_values():
	from crm_fishpond.engine.tags import ANY, NUMBER, TEXT, column_kind

	# the sample is the first 1,000 present values however many missing ones come first
	assert column_kind(pd.Series([None] * 50_000 + ["a", "b"], dtype=object)) == TEXT
	assert column_kind(pd.Series([None] * 50_000 + [1.5, 2], dtype=object)) == NUMBER
	assert column_kind(pd.Series([None] * 50_000, dtype=object)) == ANY
	# and only those: text first, numbers after the first 1,000 present values
	assert column_kind(pd.Series([None, *["a"] * 1000, *[1] * 5000], dtype=object)) == TEXT
	assert column_kind(pd.Series([None, *["a"] * 999, *[1] * 5000], dtype=object)) == TEXT  # mixed
	assert column_kind(pd.Series([*[1] * 1000, *["a"] * 5000], dtype=object)) == NUMBER


def test_render_template(frame):
	text = render_template(frame, "{territory}: {days_since_last} days, p {p_alive:.0%}, on {last_purchase}")
	assert text.tolist() == [
		"China: 120 days, p 20%, on 2024-01-01",
		"n/a: n/a days, p n/a, on n/a",
		"India: 10 days, p 90%, on 2024-05-03",
		": 90 days, p 50%, on 2024-03-02",
	]
	sel = np.array([False, False, True, False])
	assert render_template(frame, "{vip}/{orders}", sel).tolist() == ["yes/1"]
	with pytest.raises(EngineConfigError, match="unknown placeholder"):
		render_template(frame, "{nope}")


# --------------------------------------------------------------------------------------------------
# tag rules


def test_evaluate_tags(frame):
	rules = [
		{"tag": "dormant", "condition": {"field": "days_since_last", "op": ">", "value": 60}},
		{
			"tag": "vip",
			"condition": {"field": "vip", "op": "=", "value": True},
			"reason": "VIP in {territory}",
		},
		{"tag": "off", "condition": {"field": "vip", "op": "is_set"}, "enabled": False},
		# a second rule for the same tag: the first match's reason is kept
		{"tag": "dormant", "condition": {"field": "p_alive", "op": "<", "value": 0.6}},
	]
	out = evaluate_tags(frame, rules)
	assert list(out.columns) == ["profile", "tag", "reason"]
	got = {(p, t): r for p, t, r in out.itertuples(index=False)}
	assert got == {
		("a", "dormant"): "days_since_last > 60 (days_since_last=120)",
		("d", "dormant"): "days_since_last > 60 (days_since_last=90)",
		("a", "vip"): "VIP in China",
		("c", "vip"): "VIP in India",
	}
	assert not out.isna().any().any()


def test_evaluate_tags_with_profile_column_and_no_match(frame):
	flat = frame.reset_index()
	out = evaluate_tags(flat, [{"tag": "x", "condition": {"field": "p_alive", "op": ">", "value": 0.8}}])
	assert out.to_dict("records") == [{"profile": "c", "tag": "x", "reason": "p_alive > 0.8 (p_alive=0.9)"}]
	none = evaluate_tags(frame, [{"tag": "x", "condition": {"field": "p_alive", "op": ">", "value": 5}}])
	assert none.empty and list(none.columns) == ["profile", "tag", "reason"]
	assert evaluate_tags(frame.iloc[:0], []).empty


def test_tag_rule_round_trip_and_errors(frame):
	rule = TagRule.from_dict(
		{"tag": "t", "condition": {"field": "p_alive", "op": "<", "value": 0.3}, "reason": "r"}
	)
	assert TagRule.from_dict(rule.to_dict()) == rule
	assert rule.describe() == "p_alive < 0.3"
	assert TagRule("t", {"field": "x", "op": "is_set"}).condition.op == "is_set"
	with pytest.raises(EngineConfigError) as err:
		validate_rules([rule, {"tag": "bad", "condition": {"field": "p_alve", "op": "<", "value": 1}}], frame)
	assert err.value.field == "rules[1].condition.field"
	assert "'bad'" in str(err.value) and "'p_alve'" in str(err.value)
	with pytest.raises(EngineConfigError, match="needs a 'tag'"):
		TagRule.from_dict({"condition": {"field": "x", "op": "is_set"}})
	with pytest.raises(EngineConfigError, match="needs a 'condition'"):
		TagRule.from_dict({"tag": "x"})
	with pytest.raises(EngineConfigError, match="unknown placeholder"):
		validate_rules(
			[{"tag": "x", "condition": {"field": "vip", "op": "is_set"}, "reason": "{nope}"}], frame
		)
	with pytest.raises(EngineConfigError) as err:
		validate_rules(
			[{"tag": "x", "condition": {"field": "vip", "op": "is_set"}, "enabled": "maybe"}], frame
		)
	assert err.value.field == "rules[0].enabled"


# --------------------------------------------------------------------------------------------------
# properties

_values = st.one_of(st.none(), st.just(float("nan")), st.floats(-1e6, 1e6), st.integers(-5, 5).map(float))
_numbers = st.lists(_values, min_size=0, max_size=30)
_leaf = st.builds(
	lambda op, v: (
		{"field": "x", "op": op, "value": v}
		if op not in ("is_set", "is_not_set", "between", "in", "not_in")
		else {"field": "x", "op": op, "value": sorted([v, v + 1]) if op == "between" else [v, 0]}
		if op not in ("is_set", "is_not_set")
		else {"field": "x", "op": op}
	),
	st.sampled_from(["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "between", "is_set", "is_not_set"]),
	st.integers(-5, 5),
)


@settings(max_examples=150, deadline=None)
@given(_numbers, _leaf, _leaf)
def test_boolean_algebra_holds_and_nothing_is_nan(xs, a, b):
	f = pd.DataFrame({"x": pd.Series(xs, dtype=float)})
	ma, mb = evaluate_condition(f, a), evaluate_condition(f, b)
	assert ma.dtype == bool and not ma.isna().any()
	assert (evaluate_condition(f, {"not": a}) == ~ma).all()
	assert (evaluate_condition(f, {"all": [a, b]}) == (ma & mb)).all()
	assert (evaluate_condition(f, {"any": [a, b]}) == (ma | mb)).all()
	# De Morgan
	assert (
		evaluate_condition(f, {"not": {"any": [a, b]}})
		== evaluate_condition(f, {"all": [{"not": a}, {"not": b}]})
	).all()
	# a missing value never satisfies a positive test
	missing = f["x"].isna().to_numpy()
	if a["op"] not in ("!=", "not_in", "is_not_set"):
		assert not ma.to_numpy()[missing].any()


def test_one_bad_rule_is_reported_and_skipped_when_errors_are_collected(frame):
	rules = [
		{"tag": "dormant", "condition": {"field": "days_since_last", "op": ">", "value": 90}},
		{"tag": "typo", "condition": {"field": "days_since_lst", "op": ">", "value": 90}},
		{"tag": "china", "condition": {"field": "territory", "op": "=", "value": "China"}},
	]
	with pytest.raises(EngineConfigError, match="days_since_lst"):
		evaluate_tags(frame, rules)  # without a collector the first bad rule still raises
	errors: list = []
	out = evaluate_tags(frame, rules, errors=errors)
	assert sorted(map(tuple, out[["profile", "tag"]].to_numpy().tolist())) == [
		("a", "china"),
		("a", "dormant"),
	]
	assert [e["rule"] for e in errors] == ["typo"]
	assert "days_since_lst" in errors[0]["error"] and errors[0]["kind"] == "tag"

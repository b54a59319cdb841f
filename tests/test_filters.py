"""Rules built by clicking: filter rows -> stored filters -> engine condition give the same matches as
the hand-written JSON, for 30 rules covering every operator, and the filter UI shows every rule it
can back as the same rows (round trip)."""

import json
from pathlib import Path

import pandas as pd
import pytest

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.filters import condition_to_filters, filters_to_condition
from crm_fishpond.engine.pipeline import run_pond
from crm_fishpond.engine.synth import generate_pond
from crm_fishpond.engine.tags import evaluate_condition
from crm_fishpond.engine.vocabulary import RuleError, Vocabulary, metric_kinds

DOCTYPES = Path(__file__).resolve().parents[1] / "crm_fishpond" / "crm_fishpond" / "doctype"
FACTS = "Fishpond Profile Facts"
# the loader's form-name -> engine-column renames (crm_fishpond.scoring.loader.PROFILE_FIELDS)
RENAMES = {"creation": "created", "lead_name": "person_name", "email_id": "email", "lifecycle_stage": "stage"}
PROFILE_COLUMNS = ("person_name", "company_name", "email", "territory", "country", "source", "stage")


def _fields(doctype_folder: str) -> list[dict]:
	doc = json.loads((DOCTYPES / doctype_folder / f"{doctype_folder}.json").read_text())
	return doc["fields"]


@pytest.fixture(scope="module")
def facts() -> list[dict]:
	return [f for f in _fields("fishpond_profile_facts") if f["fieldtype"] != "Section Break"]


@pytest.fixture(scope="module")
def fieldtypes(facts) -> dict[str, str]:
	return {f["fieldname"]: f["fieldtype"] for f in facts}


@pytest.fixture(scope="module")
def vocab(facts):
	kinds = {**metric_kinds(EngineConfig()), **dict.fromkeys(PROFILE_COLUMNS, "any")}
	return Vocabulary.from_form(_fields("fishpond_lead"), kinds, RENAMES)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
	pond = generate_pond(n_profiles=600, n_transactions=5000, seed=5)
	result = run_pond(pond, None, as_of="2024-06-30", dedupe=False)
	profiles = pond.profiles.set_index("profile")[["person_name", "company_name", "email", "territory"]]
	return result.metrics.join(profiles)


def row(field, op, value=None):
	return [FACTS, field, op, value]


# (match, filter rows as the filter UI gives them, the same rule written by hand in JSON)
RULES = [
	("all", [row("days_since_last", ">", 90)], {"field": "days_since_last", "op": ">", "value": 90}),
	("all", [row("days_since_last", ">=", "90")], {"field": "days_since_last", "op": ">=", "value": 90}),
	("all", [row("orders", "<", 2)], {"field": "orders", "op": "<", "value": 2}),
	("all", [row("orders", "<=", "1")], {"field": "orders", "op": "<=", "value": 1}),
	("all", [row("orders", "=", "0")], {"field": "orders", "op": "=", "value": 0}),
	("all", [row("orders", "!=", 0)], {"field": "orders", "op": "!=", "value": 0}),
	("all", [row("churn_risk", ">=", "70")], {"field": "Churn Risk", "op": ">=", "value": 70}),
	("all", [row("value_grade", "=", "High")], {"field": "value_grade", "op": "=", "value": "high"}),
	("all", [row("value_grade", "!=", "Low")], {"field": "Value Grade", "op": "!=", "value": "LOW"}),
	(
		"all",
		[row("value_grade", "in", ["High", "Mid"])],
		{"field": "value_grade", "op": "in", "value": ["High", "Mid"]},
	),
	(
		"all",
		[row("value_grade", "not in", "High, Mid")],
		{"field": "value_grade", "op": "not in", "value": ["High", "Mid"]},
	),
	(
		"all",
		[row("territory", "in", ["Europe", "Asia Pacific"])],
		{"field": "territory", "op": "in", "value": ["europe", "asia pacific"]},
	),
	("all", [row("territory", "like", "%euro%")], {"field": "territory", "op": "contains", "value": "Euro"}),
	(
		"all",
		[row("company_name", "like", "Keystone%")],
		{"field": "company_name", "op": "startswith", "value": "keystone"},
	),
	(
		"all",
		[row("company_name", "not like", "%solar%")],
		{"not": {"field": "company_name", "op": "contains", "value": "Solar"}},
	),
	("all", [row("company_name", "is", "set")], {"field": "company_name", "op": "is_set"}),
	("all", [row("company_name", "is", "not set")], {"field": "company_name", "op": "is_not_set"}),
	(
		"all",
		[row("last_purchase", ">", "2024-01-01")],
		{"field": "last_purchase", "op": ">", "value": "2024-01-01"},
	),
	(
		"all",
		[row("last_purchase", "Between", ["2023-01-01", "2023-12-31"])],
		{"field": "last_purchase", "op": "between", "value": ["2023-01-01", "2023-12-31"]},
	),
	(
		"all",
		[row("last_purchase", "<", "2023-06-01 00:00:00")],
		{"field": "last_purchase", "op": "<", "value": "2023-06-01"},
	),
	("all", [row("clv_modelled", "=", 1)], {"field": "clv_modelled", "op": "=", "value": True}),
	("all", [row("lead_score", ">", "40.5")], {"field": "lead_score", "op": ">", "value": 40.5}),
	("all", [row("category", "=", "Deal")], {"field": "Category", "op": "=", "value": "deal"}),
	(
		"all",
		[row("churn_band", "in", ["High", "Medium"])],
		{"field": "churn_band", "op": "in", "value": ["high", "medium"]},
	),
	(
		"any",
		[row("days_since_last", ">", 365), row("churn_risk", ">=", 80)],
		{
			"any": [
				{"field": "days_since_last", "op": ">", "value": 365},
				{"field": "churn_risk", "op": ">=", "value": 80},
			]
		},
	),
	(
		"all",
		[row("orders", ">=", 2), row("value_grade", "=", "High"), row("territory", "=", "Europe")],
		{
			"all": [
				{"field": "orders", "op": ">=", "value": 2},
				{"field": "value_grade", "op": "=", "value": "High"},
				{"field": "territory", "op": "=", "value": "europe"},
			]
		},
	),
	(
		"any",
		[row("company_name", "like", "%ltd%"), row("email_id", "like", "%gmail%")],
		{
			"any": [
				{"field": "company_name", "op": "contains", "value": "Ltd"},
				{"field": "Email", "op": "contains", "value": "gmail"},
			]
		},
	),
	("all", [row("interactions_30d", ">=", 1)], {"field": "interactions_30d", "op": ">=", "value": 1}),
	("all", [row("events_pricing_view", ">", "0")], {"field": "events_pricing_view", "op": ">", "value": 0}),
	(
		"any",
		[row("lifecycle_stage", "in", ["churn", "conversion"]), row("p_alive", "<", 0.2)],
		{
			"any": [
				{"field": "stage", "op": "in", "value": ["churn", "conversion"]},
				{"field": "p_alive", "op": "<", "value": 0.2},
			]
		},
	),
]


def test_thirty_rules_cover_every_operator():
	assert len(RULES) >= 30
	ops = {r[2] for _, rows, _ in RULES for r in rows}
	assert {"=", "!=", ">", ">=", "<", "<=", "in", "not in", "like", "not like", "is", "Between"} <= ops


@pytest.mark.parametrize("match, rows, written", RULES, ids=[f"rule{i}" for i in range(len(RULES))])
def test_built_rule_matches_the_hand_written_one(vocab, frame, fieldtypes, match, rows, written):
	stored = json.loads(json.dumps({"match": match, "filters": rows}))  # as the form stores it
	built = filters_to_condition(stored["filters"], stored["match"], fieldtypes)
	got = evaluate_condition(frame, vocab.to_engine(built))
	want = evaluate_condition(frame, vocab.to_engine(written))
	assert got.tolist() == want.tolist()


def test_the_rules_are_not_trivial(vocab, frame, fieldtypes):
	"""Most rules split the pond, so equal masks above mean something."""
	split = 0
	for match, rows, _ in RULES:
		mask = evaluate_condition(frame, vocab.to_engine(filters_to_condition(rows, match, fieldtypes)))
		split += 0 < mask.sum() < len(frame)
	assert split >= 25


@pytest.mark.parametrize("match, rows, written", RULES, ids=[f"rule{i}" for i in range(len(RULES))])
def test_filters_round_trip(fieldtypes, match, rows, written):
	condition = filters_to_condition(rows, match, fieldtypes)
	back = condition_to_filters(condition, FACTS)
	assert back is not None
	assert filters_to_condition(back[1], back[0], fieldtypes) == condition


def test_hand_written_json_shows_in_the_builder_when_it_can(fieldtypes):
	names = {"Churn Risk": "churn_risk", "stage": "lifecycle_stage", "orders": "orders"}
	match, rows = condition_to_filters(
		{
			"any": [
				{"field": "Churn Risk", "op": ">=", "value": 70},
				{"field": "stage", "op": "==", "value": "x"},
			]
		},
		FACTS,
		names,
	)
	assert match == "any"
	assert rows == [[FACTS, "churn_risk", ">=", 70], [FACTS, "lifecycle_stage", "=", "x"]]
	# a single comparison is an all-group of one row
	assert condition_to_filters({"field": "orders", "op": "between", "value": [1, 3]}, FACTS, names) == (
		"all",
		[[FACTS, "orders", "Between", [1, 3]]],
	)


@pytest.mark.parametrize(
	"condition",
	[
		{"all": [{"any": [{"field": "orders", "op": ">", "value": 1}]}]},  # nested group
		{"not": {"field": "orders", "op": ">", "value": 1}},  # negated comparison
		{"all": []},
		{"field": "orders", "op": ">", "value": 1, "extra": 1},
		{"field": "unknown_to_the_mapping", "op": "=", "value": 1},
		"orders > 1",
	],
)
def test_conditions_the_filter_ui_cannot_show_stay_json(condition):
	assert condition_to_filters(condition, FACTS, {"orders": "orders"}) is None


@pytest.mark.parametrize(
	"rows, code",
	[
		([row("orders", "Timespan", "last week")], "bad_op"),
		([row("territory", "descendants of", "Asia")], "bad_op"),
		([row("company_name", "like", "%solar")], "like_pattern"),
		([row("company_name", "like", "so%lar%")], "like_pattern"),
		([row("company_name", "is", "maybe")], "bad_is"),
		([row("orders", "in", [])], "needs_list"),
		([row("orders", ">", "")], "needs_value"),
		([row("orders", "Between", [1])], "bad_range"),
		([["Fishpond Profile Facts", "orders"]], "bad_filter_row"),
		([row("", "=", 1)], "no_field"),
		([], "empty_group"),
	],
)
def test_rows_the_engine_cannot_evaluate_are_refused(fieldtypes, rows, code):
	with pytest.raises(RuleError) as info:
		filters_to_condition(rows, "all", fieldtypes)
	assert info.value.code == code


def test_match_must_be_all_or_any():
	with pytest.raises(RuleError) as info:
		filters_to_condition([row("orders", ">", 1)], "some")
	assert info.value.code == "bad_match"

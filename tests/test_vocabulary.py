"""One vocabulary from the profile form to the engine: fields by name or label, select options as
shown (any case), percents as percents, and errors that name the field."""

import pandas as pd
import pytest

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.tags import evaluate_condition
from crm_fishpond.engine.vocabulary import RuleError, Vocabulary, metric_kinds

# a few fields of the Fishpond Lead form, as frappe.get_meta gives them
FORM = [
	{"fieldname": "lead_name", "label": "Full Name", "fieldtype": "Data"},
	{"fieldname": "email_id", "label": "Email", "fieldtype": "Data"},
	{"fieldname": "visible_email", "label": "Email", "fieldtype": "Data"},
	{"fieldname": "territory", "label": "Territory", "fieldtype": "Link"},
	{"fieldname": "lead_owner", "label": "Owner (Rep)", "fieldtype": "Link"},
	{"fieldname": "budget", "label": "Budget", "fieldtype": "Select", "options": "\nApproved\nPlanned"},
	{"fieldname": "lifecycle_stage", "label": "Lifecycle Stage", "fieldtype": "Link"},
	{
		"fieldname": "value_grade",
		"label": "Value Grade",
		"fieldtype": "Select",
		"options": "\nHigh\nMid\nLow",
	},
	{"fieldname": "churn_risk", "label": "Churn Risk", "fieldtype": "Percent"},
	{
		"fieldname": "churn_band",
		"label": "Churn Band",
		"fieldtype": "Select",
		"options": "\nLow\nMedium\nHigh",
	},
	{"fieldname": "last_purchase", "label": "Last Purchase", "fieldtype": "Date"},
	{"fieldname": "tags_section", "label": "Tags", "fieldtype": "Section Break"},
]
RENAMES = {"lead_name": "person_name", "email_id": "email", "lifecycle_stage": "stage"}
PROFILE_COLUMNS = ("person_name", "email", "territory", "budget", "stage")


@pytest.fixture(scope="module")
def kinds():
	return {**metric_kinds(EngineConfig()), **dict.fromkeys(PROFILE_COLUMNS, "any")}


@pytest.fixture(scope="module")
def vocab(kinds):
	return Vocabulary.from_form(FORM, kinds, RENAMES)


def test_engine_metrics_have_kinds(kinds):
	assert kinds["days_since_last"] == "number"
	assert kinds["churn_risk"] == "number"
	assert kinds["value_grade"] == "text"
	assert kinds["last_purchase"] == "date"
	assert kinds["stage_changed"] == "bool"
	assert "f_budget" in kinds and "events_demo_request" in kinds


@pytest.mark.parametrize(
	("rule", "engine"),
	[
		# select options as the form shows them, in any case, become the engine's values
		(
			{"field": "value_grade", "op": "=", "value": "High"},
			{"field": "value_grade", "op": "=", "value": "high"},
		),
		(
			{"field": "value_grade", "op": "=", "value": "hIGH"},
			{"field": "value_grade", "op": "=", "value": "high"},
		),
		(
			{"field": "value_grade", "op": "=", "value": "high"},
			{"field": "value_grade", "op": "=", "value": "high"},
		),
		(
			{"field": "Value Grade", "op": "in", "value": ["High", "mid"]},
			{"field": "value_grade", "op": "in", "value": ["high", "mid"]},
		),
		(
			{"field": "budget", "op": "=", "value": "approved"},
			{"field": "budget", "op": "=", "value": "Approved"},
		),
		# percents as percents
		({"field": "churn_risk", "op": ">=", "value": 70}, {"field": "churn_risk", "op": ">=", "value": 0.7}),
		(
			{"field": "Churn Risk", "op": "between", "value": [30, 70]},
			{"field": "churn_risk", "op": "between", "value": [0.3, 0.7]},
		),
		# the form's field names and labels name the engine's columns
		(
			{"field": "email_id", "op": "contains", "value": "@x."},
			{"field": "email", "op": "contains", "value": "@x."},
		),
		(
			{"field": "Lifecycle Stage", "op": "=", "value": "Churn"},
			{"field": "stage", "op": "=", "value": "Churn"},
		),
		(
			{"field": "days_since_last", "op": ">", "value": 90},
			{"field": "days_since_last", "op": ">", "value": 90},
		),
		({"field": "last_purchase", "op": "is_set"}, {"field": "last_purchase", "op": "is_set"}),
		(
			{
				"all": [
					{"field": "orders", "op": ">=", "value": 1},
					{"not": {"field": "churn_band", "op": "=", "value": "High"}},
				]
			},
			{
				"all": [
					{"field": "orders", "op": ">=", "value": 1},
					{"not": {"field": "churn_band", "op": "=", "value": "high"}},
				]
			},
		),
	],
)
def test_form_rules_become_engine_rules(vocab, rule, engine):
	assert vocab.to_engine(rule) == engine


@pytest.mark.parametrize(
	("rule", "code", "name", "text"),
	[
		(
			{"field": "days_since_lst", "op": ">", "value": 90},
			"unknown_field",
			"days_since_lst",
			"days_since_last",
		),
		({"foo": 1}, "bad_key", "foo", "foo"),
		("orders > 1", "not_object", None, "condition"),
		({"all": []}, "empty_group", None, "all"),
		({"op": ">", "value": 1}, "no_field", None, "field"),
		({"field": "lead_owner", "op": "is_set"}, "not_readable", "lead_owner", "Owner (Rep)"),
		({"field": "value_grade", "op": "=", "value": "Hgh"}, "bad_option", "value_grade", "High, Mid, Low"),
		({"field": "churn_risk", "op": ">=", "value": 170}, "percent_range", "churn_risk", "170"),
		({"field": "orders", "op": ">=", "value": "many"}, "needs_number", "orders", "many"),
		(
			{"field": "last_purchase", "op": ">", "value": "yesterday"},
			"needs_date",
			"last_purchase",
			"yesterday",
		),
		({"field": "stage_changed", "op": "=", "value": "yes"}, "needs_bool", "stage_changed", "yes"),
		({"field": "value_grade", "op": ">", "value": 1}, "op_needs_number", "value_grade", ">"),
		({"field": "orders", "op": "contains", "value": "1"}, "op_needs_text", "orders", "contains"),
		({"field": "orders", "op": "~", "value": 1}, "bad_op", "orders", "~"),
		({"field": "orders", "op": ">"}, "needs_value", "orders", ">"),
		({"field": "orders", "op": "is_set", "value": 1}, "no_value", "orders", "is_set"),
		({"field": "orders", "op": "in", "value": 1}, "needs_list", "orders", "in"),
		({"field": "orders", "op": "between", "value": [5, 1]}, "bad_range", "orders", "between"),
	],
)
def test_bad_rules_fail_on_save_naming_the_field(vocab, rule, code, name, text):
	with pytest.raises(RuleError) as info:
		vocab.to_engine(rule)
	error = info.value
	assert error.code == code
	assert error.name == name
	assert text in str(error)
	assert error.field  # the path of the bad part, e.g. condition.all[0].field


def test_unknown_field_suggests_the_closest(vocab):
	with pytest.raises(RuleError) as info:
		vocab.to_engine({"field": "Churn Rsk", "op": ">", "value": 50})
	assert info.value.params["suggestion"] == "Churn Risk"


def test_translated_rules_match_what_the_form_shows(vocab):
	frame = pd.DataFrame(
		{"value_grade": ["high", "mid", "low"], "churn_risk": [0.8, 0.5, 0.1]},
		index=pd.Index(["a", "b", "c"], name="profile"),
	)
	grade = vocab.to_engine({"field": "value_grade", "op": "=", "value": "High"})
	risk = vocab.to_engine({"field": "churn_risk", "op": ">=", "value": 70})
	assert evaluate_condition(frame, grade).tolist() == [True, False, False]
	assert evaluate_condition(frame, risk).tolist() == [True, False, False]


def test_placeholders_take_form_names(vocab):
	assert vocab.template_to_engine("{email_id} left {days_since_last:.0f} days ago") == (
		"{email} left {days_since_last:.0f} days ago"
	)
	with pytest.raises(RuleError) as info:
		vocab.template_to_engine("gone {dayz}")
	assert (info.value.code, info.value.name) == ("unknown_field", "dayz")


def test_stored_fractions_become_percents():
	from crm_fishpond.engine.vocabulary import fractions_to_percents

	old = {
		"all": [
			{"field": "churn_risk", "op": ">=", "value": 0.7},
			{"field": "churn_risk", "op": "between", "value": [0.3, 0.55]},
			{"not": {"field": "churn_risk", "op": ">", "value": 40}},
			{"field": "p_alive", "op": "<", "value": 0.3},
		]
	}
	new, changed = fractions_to_percents(old)
	assert changed
	assert new["all"][0]["value"] == 70 and new["all"][1]["value"] == [30, 55]
	assert new["all"][2] == old["all"][2] and new["all"][3] == old["all"][3]
	assert fractions_to_percents(new) == (new, False)

"""run_pond end to end on small synthetic ponds, EngineConfig, FittedModels and diff_results."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crm_fishpond.engine.btyd import CHURN_COLUMNS
from crm_fishpond.engine.config import EngineConfig, example_tag_rules
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.frames import pack_frame, unpack_frame
from crm_fishpond.engine.pipeline import (
	STEPS,
	FittedModels,
	PondInputs,
	complete,
	diff_results,
	fit_models,
	fit_models_from_summary,
	run_pond,
	summarise,
)
from crm_fishpond.engine.rfm import SCORE_COLUMNS, SUMMARY_COLUMNS
from crm_fishpond.engine.synth import DEFAULT_AS_OF, generate_pond

AS_OF = DEFAULT_AS_OF
CONFIG = EngineConfig(tags=tuple(example_tag_rules()))

EXPECTED = (
	*SUMMARY_COLUMNS,
	*SCORE_COLUMNS,
	*CHURN_COLUMNS,
	"interactions",
	"last_interaction",
	"days_since_interaction",
	"interactions_30d",
	"events",
	"last_event",
	"events_30d",
	"engagement_points",
	"lead_score",
	"score_fit",
	"score_engagement",
	"score_value",
	"category",
	"category_reason",
	"stage",
	"previous_stage",
	"stage_changed",
	"stage_reason",
)


@pytest.fixture(scope="module")
def pond() -> PondInputs:
	return generate_pond(n_profiles=1500, n_transactions=15_000, seed=11)


@pytest.fixture(scope="module")
def result(pond):
	return run_pond(pond, CONFIG, as_of=AS_OF)


def numeric_values(frame: pd.DataFrame) -> np.ndarray:
	return frame.select_dtypes("number").to_numpy(dtype=float)


# --------------------------------------------------------------------------------------------------
# the full run


def test_one_complete_row_per_profile(pond, result):
	m = result.metrics
	assert list(m.index) == list(pond.profiles["profile"])
	assert m.index.name == "profile"
	missing = [c for c in EXPECTED if c not in m.columns]
	assert not missing
	assert not np.isnan(numeric_values(m)).any()
	text = m.select_dtypes(exclude=["number", "datetime", "bool"])
	assert not text.isna().any().any()
	assert np.isfinite(numeric_values(m)).all()


def test_never_purchased_profiles_get_complete_rows(pond, result):
	m = result.metrics
	never = ~pond.profiles["profile"].isin(pond.transactions["profile"]).to_numpy()
	assert never.sum() > 100
	rows = m[never]
	assert (rows["orders"] == 0).all() and (rows["total_amount"] == 0).all()
	assert (rows[["clv", "p_alive", "expected_purchases", "r_score"]] == 0).all().all()
	assert (rows["churn_band"] == "no purchase").all()
	assert rows["first_purchase"].isna().all()  # dates stay NaT: no date to invent
	assert set(rows["category"]) <= {"potential", "intention"}
	assert not np.isnan(numeric_values(rows)).any()


def test_every_step_is_timed_and_models_are_fitted(result, pond):
	assert set(STEPS) <= set(result.timings) and "total" in result.timings
	assert all(v >= 0 for v in result.timings.values())
	models = result.models
	assert models.bgnbd is not None and models.gamma_gamma is not None
	assert models.n == int((result.metrics["orders"] > 0).sum())
	assert models.fitted_on == AS_OF
	assert result.refitted


def test_tags_and_duplicates(result, pond):
	tags = result.tags
	assert list(tags.columns) == ["profile", "tag", "reason"]
	assert set(tags["tag"]) <= {r.tag for r in CONFIG.tags}
	assert tags["profile"].isin(result.metrics.index).all()
	assert not tags.duplicated(["profile", "tag"]).any()
	vip = tags.loc[tags["tag"] == "VIP", "profile"]
	assert (result.metrics.loc[vip, "value_grade"] == "high").all()
	dups = result.duplicates
	assert list(dups.columns) == ["profile_a", "profile_b", "confidence", "reason"]
	assert len(dups) > 0  # the synthetic pond holds near-duplicates
	assert (dups["profile_a"] < dups["profile_b"]).all()


def test_rules_see_missing_values_as_not_set(pond):
	"""A tag on days_since_interaction must not catch never-contacted profiles (0 in the output)."""
	rule = {"tag": "recent", "condition": {"field": "days_since_interaction", "op": "<", "value": 7}}
	r = run_pond(pond, {"tags": [rule]}, as_of=AS_OF, dedupe=False)
	never = r.metrics["interactions"] == 0
	assert never.any()
	assert (r.metrics.loc[never, "days_since_interaction"] == 0).all()
	tagged = set(r.tags["profile"])
	assert not tagged & set(r.metrics.index[never])


# --------------------------------------------------------------------------------------------------
# reuse and incremental runs


def test_reusing_the_models_gives_identical_results(pond, result):
	again = run_pond(pond, CONFIG, as_of=AS_OF, models=result.models)
	pd.testing.assert_frame_equal(again.metrics, result.metrics)
	pd.testing.assert_frame_equal(again.tags, result.tags)
	assert not again.refitted
	assert again.models is result.models


def test_incremental_run_on_a_subset_equals_the_full_rows(pond, result):
	rng = np.random.default_rng(5)
	ids = rng.choice(result.metrics.index.to_numpy(), size=60, replace=False)
	sub = pond.subset(ids)
	inc = run_pond(sub, CONFIG, as_of=AS_OF, models=result.models, dedupe=False)
	expected = result.metrics.loc[inc.metrics.index]
	pd.testing.assert_frame_equal(inc.metrics, expected)
	full_tags = (
		result.tags[result.tags["profile"].isin(ids)].sort_values(["profile", "tag"]).reset_index(drop=True)
	)
	inc_tags = inc.tags.sort_values(["profile", "tag"]).reset_index(drop=True)
	pd.testing.assert_frame_equal(inc_tags, full_tags)


def test_models_round_trip_through_json(pond, result):
	data = json.loads(json.dumps(result.models.to_dict()))
	models = FittedModels.from_dict(data)
	assert models == result.models  # clv_reference is not compared (and not serialised)
	assert models.clv_reference is None
	# rebuilt from the stored CLVs the reference gives the same incremental rows
	ids = result.metrics.index[:25]
	models = models.with_clv_reference(result.metrics["clv"])
	inc = run_pond(pond.subset(ids), CONFIG, as_of=AS_OF, models=models, dedupe=False)
	pd.testing.assert_frame_equal(inc.metrics, result.metrics.loc[ids])
	# the dict form is accepted directly too
	again = run_pond(pond.subset(ids), CONFIG, as_of=AS_OF, models=data, dedupe=False)
	assert (again.metrics["clv"] == result.metrics.loc[ids, "clv"]).all()


def test_fit_models_fits_what_a_full_run_fits(pond, result):
	fitted = fit_models(pond, CONFIG, as_of=AS_OF)
	assert fitted == result.models
	clv = result.metrics["clv"].to_numpy()
	np.testing.assert_array_equal(fitted.clv_reference, np.sort(clv[clv > 0]))
	np.testing.assert_array_equal(fitted.clv_reference, result.models.clv_reference)


def test_the_fit_splits_into_summaries_of_the_parts(pond, result):
	"""Summaries of consecutive parts, packed and unpacked as a fan-out stores them, concatenated in
	the pond's order: the same fit, bit for bit, as one fit over the whole pond."""
	ids = pond.profiles["profile"].to_numpy()
	parts = np.array_split(ids, 5)
	packed = [pack_frame(summarise(pond.subset(part), CONFIG, as_of=AS_OF)) for part in reversed(parts)]
	summary = pd.concat([unpack_frame(text) for text in reversed(packed)], ignore_index=True)
	assert len(summary) == len(ids)
	fitted = fit_models_from_summary(summary, CONFIG, as_of=AS_OF)
	assert fitted == result.models
	np.testing.assert_array_equal(fitted.clv_reference, result.models.clv_reference)
	whole = summarise(pond, CONFIG, as_of=AS_OF)
	pd.testing.assert_frame_equal(summary, whole.reset_index(drop=True), check_exact=True)


def test_the_fit_from_a_summary_needs_its_columns():
	with pytest.raises(EngineInputError, match="summary"):
		fit_models_from_summary(pd.DataFrame({"orders": [1]}), CONFIG, as_of=AS_OF)


def test_a_fanned_out_run_gives_every_part_the_rows_of_one_run(pond, result):
	"""One fit, then parts scored apart in any order: the rows of a single run over the pond."""
	fitted = fit_models(pond, CONFIG, as_of=AS_OF)
	ids = result.metrics.index.to_numpy()
	parts = np.array_split(np.random.default_rng(11).permutation(ids), 7)
	runs = [run_pond(pond.subset(part), CONFIG, as_of=AS_OF, models=fitted, dedupe=False) for part in parts]
	assert all(r.metrics.index.dtype == object for r in runs)
	metrics = pd.concat([r.metrics for r in runs]).loc[result.metrics.index]
	# (pandas 3 infers a text dtype for the index concat builds from the parts' object indexes)
	pd.testing.assert_frame_equal(metrics.set_axis(metrics.index.astype(object)), result.metrics)
	tags = pd.concat([r.tags for r in runs]).sort_values(["profile", "tag"]).reset_index(drop=True)
	expected = result.tags.sort_values(["profile", "tag"]).reset_index(drop=True)
	pd.testing.assert_frame_equal(tags, expected)


def test_a_part_scored_from_its_stored_summary_gets_the_rows_of_one_run(pond, result):
	"""The fan-out's second stage: each part scored from the summary its first stage stored (packed
	with the profiles named), without its purchases: the rows of a single run over the pond."""
	fitted = fit_models(pond, CONFIG, as_of=AS_OF)
	parts = np.array_split(pond.profiles["profile"].to_numpy(), 4)
	metrics = []
	for part in parts:
		inputs = pond.subset(part)
		# stored in another order (the database's collation is not Python's): matched by the names
		stored = unpack_frame(pack_frame(summarise(inputs, CONFIG, as_of=AS_OF).reset_index()[::-1]))
		without_purchases = PondInputs(
			inputs.profiles, interactions=inputs.interactions, events=inputs.events
		)
		scored = run_pond(without_purchases, CONFIG, as_of=AS_OF, models=fitted, dedupe=False, summary=stored)
		metrics.append(scored.metrics)
	together = pd.concat(metrics).loc[result.metrics.index]
	pd.testing.assert_frame_equal(together.set_axis(together.index.astype(object)), result.metrics)


def test_a_stored_summary_must_be_of_the_profiles_scored(pond):
	inputs = pond.subset(pond.profiles["profile"].to_numpy()[:10])
	stored = summarise(inputs, CONFIG, as_of=AS_OF).reset_index()
	fitted = fit_models(pond, CONFIG, as_of=AS_OF)
	with pytest.raises(EngineInputError, match="summary"):
		run_pond(inputs, CONFIG, as_of=AS_OF, models=fitted, summary=stored.iloc[1:])
	with pytest.raises(EngineInputError, match="summary"):
		run_pond(inputs, CONFIG, as_of=AS_OF, models=fitted, summary=stored.iloc[[0, *range(9)]])
	with pytest.raises(EngineInputError, match="summary"):
		run_pond(inputs, CONFIG, as_of=AS_OF, models=fitted, summary=stored.drop(columns="profile").iloc[:9])
	with pytest.raises(EngineInputError, match="summary"):
		run_pond(inputs, CONFIG, as_of=AS_OF, models=fitted, summary=stored[["profile"]])


def test_a_profile_is_ranked_against_the_fitted_population(pond, result):
	"""Scored with models, a profile's CLV share is taken among the fit's CLVs, not the part's own."""
	clv = result.metrics["clv"]
	buyers = clv[clv > 0].sort_values()
	middle, top = buyers.index[len(buyers) // 2], buyers.index[-1]
	reference = result.models.clv_reference
	np.testing.assert_array_equal(result.models.with_clv_reference(clv).clv_reference, reference)
	# a population ten times poorer: the richest stays on top, the median buyer climbs
	poorer = result.models.with_clv_reference(reference / 10)
	again = run_pond(pond.subset([middle, top]), CONFIG, as_of=AS_OF, models=poorer, dedupe=False)
	assert again.metrics.loc[top, "v_clv"] == result.metrics.loc[top, "v_clv"]
	assert again.metrics.loc[middle, "v_clv"] > result.metrics.loc[middle, "v_clv"]


def test_bad_models_dict_names_the_field():
	with pytest.raises(EngineConfigError) as e:
		FittedModels.from_dict({"rfm": {"method": "quantile"}, "fitted_on": "2025-01-01"})
	assert e.value.field.startswith("models.rfm")
	with pytest.raises(EngineConfigError) as e:
		FittedModels.from_dict({"fitted_on": "2025-01-01"})
	assert e.value.field == "models.rfm"


# --------------------------------------------------------------------------------------------------
# small and degenerate ponds


def test_steps_add_their_columns_as_a_join_would():
	from crm_fishpond.engine.pipeline import _add_columns, _with_attributes

	index = pd.Index(["a", "b", "c"], dtype=object, name="profile")
	working = pd.DataFrame(
		{"x": [1.0, 2.0, 3.0], "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"])}, index
	)
	step = pd.DataFrame({"y": ["p", None, "r"], "n": pd.array([1, None, 3], dtype="Int64")}, index.copy())
	expected = working.join(step)
	got = _add_columns(working.copy(), step)
	pd.testing.assert_frame_equal(got, expected)
	# another order of the profiles, or a column working already has: a plain join
	shuffled = step.iloc[[2, 0, 1]]
	pd.testing.assert_frame_equal(_add_columns(working.copy(), shuffled), working.join(shuffled))
	with pytest.raises(ValueError):
		_add_columns(working.copy(), working[["x"]])  # as working.join(working[["x"]]) does
	# tag rules see every metric and the profile fields that are not metrics; working stays as it was
	profiles = pd.DataFrame({"x": [9, 9, 9], "city": ["Oslo", None, "Rome"]}, index.copy())
	before = working.copy()
	frame = _with_attributes(working, profiles)
	pd.testing.assert_frame_equal(
		frame[["x", "when", "city"]], profiles[["city"]].join(working)[["x", "when", "city"]]
	)
	pd.testing.assert_frame_equal(working, before)


def test_many_activity_types_give_no_fragmentation_warning(pond):
	import warnings

	config = CONFIG.to_dict()
	for i in range(45):
		config["engagement"]["interaction_points"][f"kind{i}"] = 1.0
		config["engagement"]["event_points"][f"ev{i}"] = 1.0
	sub = pond.subset(pond.profiles["profile"][:300])
	with warnings.catch_warnings():
		warnings.simplefilter("error", pd.errors.PerformanceWarning)
		r = run_pond(sub, config, as_of=AS_OF, dedupe=False)
	assert "e_events_ev44" in r.metrics.columns and not r.metrics["lead_score"].isna().any()


def test_labels_share_their_text(result):
	# a label column holds a few str objects, not a new one per row (memory at a million profiles)
	m = result.metrics
	for name in ("rfm_segment", "value_grade", "churn_band", "churn_method", "category", "stage"):
		values = m[name].to_numpy(dtype=object)
		assert len({id(v) for v in values}) <= 3 * m[name].nunique(), name


def test_pond_without_any_activity_or_purchase():
	profiles = pd.DataFrame({"profile": ["a", "b", "c"]})
	r = run_pond(PondInputs(profiles), None, as_of="2025-01-31")
	m = r.metrics
	assert len(m) == 3 and set(EXPECTED) <= set(m.columns)
	assert not np.isnan(numeric_values(m)).any()
	assert (m["category"] == "potential").all()
	assert (m["stage"] == "acquisition").all()
	assert r.models.bgnbd is None and r.models.gamma_gamma is None
	assert r.tags.empty and r.duplicates.empty


def test_pond_where_nobody_bought_twice_has_no_churn_model():
	profiles = pd.DataFrame({"profile": ["a", "b", "c", "d"], "stage": ["growth", None, "", "growth"]})
	tx = pd.DataFrame(
		{
			"profile": ["a", "b", "d"],
			"date": pd.to_datetime(["2023-01-10", "2024-12-01", "2024-12-20"]),
			"amount": [100.0, 50.0, 20.0],
		}
	)
	r = run_pond(PondInputs(profiles, tx), None, as_of="2025-01-31")
	m = r.metrics
	assert r.models.bgnbd is None
	assert set(CHURN_COLUMNS) <= set(m.columns)
	# churn risk by the recency rule (the horizon as the typical gap), no CLV
	assert m.loc["a", "churn_method"] == "recency" and m.loc["c", "churn_method"] == ""
	assert m.loc["a", "churn_band"] == "high" and m.loc["c", "churn_band"] == "no purchase"
	assert m.loc["a", "churn_risk"] == 1.0 and m.loc["d", "churn_risk"] == 0.0
	assert (m[["p_alive", "clv"]] == 0).all().all() and not m["clv_modelled"].any()
	# without a model the lifecycle falls back to its days-only churn rule
	assert m.loc["a", "stage"] == "churn"
	assert "no churn model" in m.loc["a", "stage_reason"]
	assert m.loc["d", "stage"] == "growth" and not m.loc["d", "stage_changed"]


def test_input_errors_name_the_frame():
	profiles = pd.DataFrame({"profile": ["a", "a"]})
	with pytest.raises(EngineInputError, match="more than once"):
		run_pond(PondInputs(profiles))
	with pytest.raises(EngineInputError, match="transactions is missing column"):
		run_pond(PondInputs(pd.DataFrame({"profile": ["a"]}), pd.DataFrame({"profile": ["a"]})))
	with pytest.raises(EngineInputError, match="profiles is missing"):
		run_pond(PondInputs(pd.DataFrame({"id": ["a"]})))
	with pytest.raises(EngineInputError, match="as_of"):
		run_pond(PondInputs(pd.DataFrame({"profile": ["a"]})), as_of="not a date")


def test_dedupe_can_be_skipped(pond):
	r = run_pond(pond.subset(pond.profiles["profile"][:50]), None, as_of=AS_OF, dedupe=False)
	assert r.duplicates.empty and list(r.duplicates.columns) == [
		"profile_a",
		"profile_b",
		"confidence",
		"reason",
	]


# --------------------------------------------------------------------------------------------------
# complete and diff_results


def test_complete_fills_every_kind_of_missing_value():
	frame = pd.DataFrame(
		{
			"x": [1.0, np.nan],
			"days_since_interaction": [np.nan, 3.0],
			"n": pd.array([1, None], dtype="Int64"),
			"flag": pd.array([True, None], dtype="boolean"),
			"label": ["a", None],
			"when": pd.to_datetime(["2024-01-01", None]),
		},
		index=pd.Index(["p", "q"], name="profile"),
	)
	out = complete(frame)
	assert out["x"].tolist() == [1.0, 0.0]
	assert out["days_since_interaction"].tolist() == [0.0, 3.0]
	assert out["n"].tolist() == [1, 0] and out["n"].dtype == np.int64
	assert out["flag"].tolist() == [True, False] and out["flag"].dtype == bool
	assert out["label"].tolist() == ["a", ""]
	assert pd.isna(out.loc["q", "when"])


def test_diff_results_returns_only_changed_rows(result):
	old = result.metrics
	new = old.copy()
	cols = ["lead_score", "stage", "category", "last_purchase", "clv"]
	assert diff_results(old, new, cols).empty
	new.loc[new.index[3], "lead_score"] += 1.0
	new.loc[new.index[5], "stage"] = "churn" if new.loc[new.index[5], "stage"] != "churn" else "growth"
	new.loc[new.index[7], "clv"] += 1e-12  # float noise is not a change
	new.loc[new.index[9], "last_purchase"] = pd.Timestamp("2020-01-01")
	changed = diff_results(old, new, cols)
	assert list(changed.index) == [new.index[3], new.index[5], new.index[9]]
	assert list(changed.columns) == cols
	# a column the old frame lacks changes every row; profiles new to the pond are returned
	assert len(diff_results(old.drop(columns=["clv"]), new, cols)) == len(new)
	assert diff_results(old.iloc[1:], new, cols).index[0] == new.index[0]
	assert len(diff_results(None, new, cols)) == len(new)
	# unchanged columns elsewhere in the frame do not matter
	assert diff_results(old, new, ["orders"]).empty
	with pytest.raises(EngineInputError, match="lacks column"):
		diff_results(old, new, ["nope"])


def test_diff_results_treats_missing_as_equal():
	idx = pd.Index(["a", "b"], name="profile")
	old = pd.DataFrame({"d": pd.to_datetime([None, "2024-01-01"]), "t": [None, "x"]}, index=idx)
	new = pd.DataFrame({"d": pd.to_datetime([None, "2024-01-02"]), "t": [None, "x"]}, index=idx)
	assert list(diff_results(old, new).index) == ["b"]


# --------------------------------------------------------------------------------------------------
# EngineConfig


def test_config_round_trips_through_json():
	config = EngineConfig.from_dict(
		{
			"rfm": {
				"bins": 4,
				"grade_high_min": 10,
				"grade_mid_min": 7,
				"segment_map": {"all": "[1-4][1-4]"},
			},
			"churn": {"horizon_days": 30},
			"engagement": {"half_life_days": 14},
			"score": {"weights": {"fit": 20, "engagement": 50, "value": 30}},
			"tags": [r.to_dict() for r in example_tag_rules()],
			"dedupe": {"company": False},
		}
	)
	data = json.loads(json.dumps(config.to_dict()))
	assert EngineConfig.from_dict(data) == config
	assert config.score.engagement.half_life_days == 14  # one engagement setting for both users
	assert EngineConfig.from_dict(EngineConfig().to_dict()) == EngineConfig()
	assert EngineConfig.from_dict(None) == EngineConfig() == EngineConfig.from_dict({})


@pytest.mark.parametrize(
	("data", "field"),
	[
		({"score": {"weights": {"fit": 50, "engagement": 40, "value": 30}}}, "score.weights"),
		({"score": {"weights": {"fit": "x", "engagement": 40, "value": 30}}}, "score.weights.fit"),
		(
			{"score": {"fit_factors": [{"field": "budget", "points": {"a": -1}}]}},
			"score.fit_factors[0].points.a",
		),
		({"score": {"engagement": {}}}, "score.engagement"),
		({"rfm": {"bins": 12}}, "rfm.bins"),
		({"churn": {"high_risk": 2}}, "churn.high_risk"),
		({"engagement": {"half_life_days": 0}}, "engagement.half_life_days"),
		({"category": {"deal_min_orders": 0}}, "category.deal_min_orders"),
		({"stages": {"stages": ["a", "b"], "initial_stage": "c", "rules": []}}, "stages.initial_stage"),
		({"dedupe": {"email_confidence": 3}}, "dedupe.email_confidence"),
		(
			{"tags": [{"tag": "x", "condition": {"field": "orders", "op": "~", "value": 1}}]},
			"tags[0].condition.op",
		),
		({"tags": [{"condition": {"field": "orders", "op": ">", "value": 1}}]}, "tags[0].tag"),
		({"tags": "VIP"}, "tags"),
		({"scores": {}}, "scores"),
		({"rfm": "quantile"}, "rfm"),
	],
)
def test_config_errors_name_the_field_path(data, field):
	with pytest.raises(EngineConfigError) as e:
		EngineConfig.from_dict(data)
	assert e.value.field == field, str(e.value)
	assert field.split(".")[0].split("[")[0] in str(e.value)


def test_config_rejects_wrong_objects_and_repeated_rules():
	with pytest.raises(EngineConfigError) as e:
		EngineConfig(score={"weights": {}})  # type: ignore[arg-type]
	assert e.value.field == "score"
	rule = example_tag_rules()[0].to_dict()
	with pytest.raises(EngineConfigError) as e:
		EngineConfig.from_dict({"tags": [rule, rule]})
	assert e.value.field == "tags[1]"


def test_config_dict_is_accepted_by_run_pond(pond):
	sub = pond.subset(pond.profiles["profile"][:200])
	r = run_pond(
		sub, {"score": {"weights": {"fit": 0, "engagement": 100, "value": 0}}}, as_of=AS_OF, dedupe=False
	)
	assert (r.metrics["score_fit"] == 0).all() and (r.metrics["score_value"] == 0).all()
	with pytest.raises(EngineConfigError) as e:
		run_pond(sub, {"rfm": {"method": "magic"}}, as_of=AS_OF)
	assert e.value.field == "rfm.method"


def test_a_bad_rule_is_reported_and_the_rest_of_the_run_completes(pond):
	config = EngineConfig.from_dict(
		{
			"tags": [
				{"tag": "typo", "condition": {"field": "days_since_lst", "op": ">", "value": 90}},
				{"tag": "buyer", "condition": {"field": "orders", "op": ">=", "value": 1}},
			],
			"stages": {
				"rules": [
					{
						"name": "odd",
						"to_stage": "churn",
						"condition": {"field": "nope", "op": "is_set"},
						"reason": "odd",
					},
					{
						"name": "growth",
						"to_stage": "growth",
						"condition": {"field": "orders", "op": ">=", "value": 1},
						"reason": "bought",
					},
				]
			},
		}
	)
	r = run_pond(pond.subset(pond.profiles["profile"][:300]), config, as_of=AS_OF, dedupe=False)
	assert [(e["kind"], e["rule"]) for e in r.rule_errors] == [("stage", "odd"), ("tag", "typo")]
	buyers = r.metrics.index[r.metrics["orders"] > 0]
	assert set(r.tags["tag"]) == {"buyer"} and set(r.tags["profile"]) == set(buyers)
	assert (r.metrics.loc[buyers, "stage"] == "growth").all()


def tiny_pond(buyers: int, repeat: int) -> PondInputs:
	"""``buyers`` customers, the first ``repeat`` of whom bought three times."""
	rows = []
	for i in range(buyers):
		days = (400, 200, 30 + i) if i < repeat else (600 + 7 * i,)
		rows += [(f"p{i:03d}", pd.Timestamp("2025-01-31") - pd.Timedelta(days=d), 100.0 + i) for d in days]
	tx = pd.DataFrame(rows, columns=["profile", "date", "amount"])
	profiles = pd.DataFrame({"profile": [f"p{i:03d}" for i in range(buyers)] + ["lead"]})
	return PondInputs(profiles, tx)


@pytest.mark.parametrize(("buyers", "repeat"), [(1, 1), (2, 2), (12, 8)])
def test_a_tiny_pond_falls_back_to_the_recency_rule(buyers, repeat):
	r = run_pond(tiny_pond(buyers, repeat), None, as_of="2025-01-31")
	m = r.metrics
	bg = r.models.bgnbd
	assert bg is not None and not bg.usable and bg.problem == "too_few_customers"
	assert r.models.gamma_gamma is None or not r.models.gamma_gamma.usable
	buyer = m["orders"] > 0
	assert (m.loc[buyer, "churn_method"] == "recency").all() and m.loc["lead", "churn_method"] == ""
	assert not m["clv_modelled"].any() and (m["clv"] == 0).all() and (m["p_alive"] == 0).all()
	# the recency rule, not the degenerate fit: a buyer silent for 400 days is at high risk
	assert r.models.recency_gap_days > 0
	if repeat < buyers:
		assert m.loc[f"p{buyers - 1:03d}", "churn_risk"] > 0
	# an incremental run with the stored models gives the same rows
	again = run_pond(
		tiny_pond(buyers, repeat), None, as_of="2025-01-31", models=FittedModels.from_dict(r.models.to_dict())
	)
	pd.testing.assert_frame_equal(again.metrics, m)


def test_a_real_pond_still_scores_with_bgnbd_and_gamma_gamma(result):
	m = result.metrics
	assert result.models.bgnbd.usable and result.models.gamma_gamma.usable
	buyer = m["orders"] > 0
	assert (m.loc[buyer, "churn_method"] == "bgnbd").all() and m.loc[buyer, "clv_modelled"].all()
	assert (m.loc[~buyer, "churn_method"] == "").all()

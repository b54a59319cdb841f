"""The lifecycle funnel on a hand-checked stage history."""

import math

import pandas as pd
import pytest

from crm_fishpond.engine.errors import EngineInputError
from crm_fishpond.engine.funnel import FUNNEL_COLUMNS, stage_funnel, stage_stays

T0 = pd.Timestamp("2026-03-01 09:00")
STAGES = pd.DataFrame(
	{
		"stage": ["Conversion", "Acquisition", "Growth", "Retention", "Churn"],
		"sequence": [20, 10, 30, 40, 50],
		"is_churn": [False, False, False, False, True],
	}
)


def history(rows):
	return pd.DataFrame(
		[(p, s, T0 + pd.Timedelta(days=d)) for p, s, d in rows], columns=["profile", "to_stage", "changed_on"]
	)


# P1 climbs every step; P2 skips Conversion, churns and is won back; P3 stays put;
# P4 goes back once, repeats a stage (one stay), then converts
HISTORY = history(
	[
		("P1", "Acquisition", 0),
		("P1", "Conversion", 2),
		("P1", "Growth", 6),
		("P1", "Retention", 16),
		("P2", "Acquisition", 0),
		("P2", "Growth", 4),
		("P2", "Churn", 24),
		("P2", "Growth", 30),
		("P3", "Acquisition", 1),
		("P4", "Conversion", 3),
		("P4", "Acquisition", 5),
		("P4", "Acquisition", 7),
		("P4", "Conversion", 9),
	]
)


def by_stage(frame):
	return {row["stage"]: row for row in frame.to_dict("records")}


def test_stays_end_at_the_next_change_and_repeats_continue_a_stay():
	stays = stage_stays(HISTORY)
	p4 = stays[stays["profile"] == "P4"]
	assert p4["stage"].tolist() == ["Conversion", "Acquisition", "Conversion"]
	assert p4["days"].tolist()[:2] == [2.0, 4.0] and math.isnan(p4["days"].iloc[2])
	assert p4["next_stage"].tolist()[:2] == ["Acquisition", "Conversion"] and p4["next_stage"].iloc[2] is None


def test_funnel_by_hand():
	f = stage_funnel(HISTORY, STAGES)
	assert list(f.columns) == list(FUNNEL_COLUMNS)
	assert f["stage"].tolist() == ["Acquisition", "Conversion", "Growth", "Retention", "Churn"]
	rows = by_stage(f)
	acq = rows["Acquisition"]
	assert (acq["entered"], acq["profiles"], acq["moved_forward"], acq["still_in_stage"]) == (4, 4, 3, 1)
	assert acq["conversion"] == 75.0
	assert acq["median_days"] == 4.0 and acq["mean_days"] == pytest.approx(10 / 3)
	conv = rows["Conversion"]
	assert (conv["entered"], conv["profiles"], conv["moved_forward"], conv["moved_back"]) == (3, 2, 1, 1)
	assert conv["conversion"] == pytest.approx(100 / 3)
	assert (conv["median_days"], conv["mean_days"]) == (3.0, 3.0)
	growth = rows["Growth"]
	assert (growth["entered"], growth["moved_forward"], growth["churned"], growth["still_in_stage"]) == (
		3,
		1,
		1,
		1,
	)
	assert (growth["median_days"], growth["mean_days"]) == (15.0, 15.0)
	ret = rows["Retention"]
	assert (ret["entered"], ret["still_in_stage"], ret["conversion"]) == (1, 1, 0.0)
	assert math.isnan(ret["median_days"])
	churn = rows["Churn"]
	assert (churn["entered"], churn["moved_back"], churn["moved_forward"], churn["median_days"]) == (
		1,
		1,
		0,
		6.0,
	)


def test_the_period_selects_stays_by_their_start_and_follows_them_to_the_end():
	f = by_stage(
		stage_funnel(HISTORY, STAGES, start=T0 + pd.Timedelta(days=5), end=T0 + pd.Timedelta(days=24))
	)
	assert f["Acquisition"]["entered"] == 1 and f["Acquisition"]["moved_forward"] == 1
	assert f["Growth"]["entered"] == 1 and f["Growth"]["median_days"] == 10.0  # P2's second stay is later
	assert f["Churn"]["entered"] == 1  # started on day 24 (inclusive end)
	assert f["Conversion"]["entered"] == 1 and f["Conversion"]["still_in_stage"] == 1
	assert f["Retention"]["entered"] == 1 and f["Retention"]["conversion"] == 0.0


def test_unknown_stages_come_last_and_an_empty_history_gives_empty_stages():
	extra = pd.concat([HISTORY, history([("P5", "Legacy", 1)])], ignore_index=True)
	f = stage_funnel(extra, STAGES)
	assert f["stage"].tolist()[-1] == "Legacy" and f["entered"].tolist()[-1] == 1
	empty = stage_funnel(HISTORY.iloc[0:0], STAGES)
	assert empty["entered"].tolist() == [0] * 5 and empty["conversion"].isna().all()
	with pytest.raises(EngineInputError):
		stage_funnel(HISTORY.drop(columns=["changed_on"]), STAGES)

"""engine.frames: a frame of numbers, dates and text as text and back, exactly."""

import base64
import zlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crm_fishpond.engine.errors import EngineInputError
from crm_fishpond.engine.frames import pack_frame, unpack_frame
from crm_fishpond.engine.pipeline import summarise
from crm_fishpond.engine.synth import generate_pond


def test_a_summary_round_trips_bit_for_bit():
	pond = generate_pond(300, 3000, seed=4)
	summary = summarise(pond, as_of="2025-06-30")
	back = unpack_frame(pack_frame(summary))
	assert list(back.columns) == list(summary.columns)
	assert list(back.dtypes) == list(summary.dtypes)
	pd.testing.assert_frame_equal(back, summary.reset_index(drop=True), check_exact=True)
	assert back["first_purchase"].isna().sum() == summary["first_purchase"].isna().sum() > 0


@settings(max_examples=60, deadline=None)
@given(
	hnp.arrays(np.float64, st.integers(0, 40)),
	st.data(),
)
def test_any_floats_ints_and_dates_round_trip(floats, data):
	n = len(floats)
	ints = data.draw(hnp.arrays(np.int64, n))
	days = data.draw(hnp.arrays(np.int64, n, elements=st.integers(-30000, 30000)))
	dates = (days * 86_400_000_000_000).astype("datetime64[ns]")
	if n:
		dates[0] = np.datetime64("NaT", "ns")
	frame = pd.DataFrame({"f": floats, "i": ints, "d": dates})
	back = unpack_frame(pack_frame(frame))
	assert back["f"].to_numpy().tobytes() == floats.tobytes()  # NaN, -0.0 and inf included
	assert back["i"].to_numpy().tobytes() == ints.tobytes()
	assert back["d"].to_numpy().tobytes() == dates.tobytes()


def test_an_empty_frame_round_trips():
	frame = pd.DataFrame({"a": np.zeros(0), "b": np.zeros(0, dtype=np.int64)})
	back = unpack_frame(pack_frame(frame))
	assert list(back.columns) == ["a", "b"] and len(back) == 0


def test_text_round_trips_with_missing_values():
	frame = pd.DataFrame(
		{
			"profile_a": np.array(["FPL-1", "FPL-2", "Ünïcødé 株式会社"], dtype=object),
			"reason": np.array(["same email", None, 'tab\t "quoted" \n line'], dtype=object),
			"confidence": [0.95, 0.5, 0.123],
		}
	)
	back = unpack_frame(pack_frame(frame))
	pd.testing.assert_frame_equal(back, frame)
	assert pd.isna(back["reason"][1])  # None; pandas 3's text dtype shows a missing value as NaN


def test_values_that_are_not_text_are_refused():
	with pytest.raises(EngineInputError, match="neither text nor missing"):
		pack_frame(pd.DataFrame({"mixed": np.array(["a", 3], dtype=object)}))
	with pytest.raises(EngineInputError, match="neither text nor missing"):
		pack_frame(pd.DataFrame({"when": pd.to_datetime(["2026-01-01"]).tz_localize("UTC")}))
	with pytest.raises(EngineInputError, match="not a number"):
		pack_frame(pd.DataFrame({"span": pd.to_timedelta([1], unit="D")}))


@pytest.mark.parametrize(
	"text",
	[
		"",
		"garbage",
		'{"format":"pickle","rows":1,"columns":[]}\n',
		'{"format":"frame2","rows":2,"columns":[["a","<f8",16]]}\nAAAA',
		'{"format":"frame2","rows":1,"columns":[["a","|O",8]]}\n' + "eJwDAAAAAAE=",
	],
)
def test_what_is_not_a_packed_frame_is_refused(text):
	with pytest.raises(EngineInputError, match="not a packed frame"):
		unpack_frame(text)


def test_the_data_must_match_its_header():
	text = pack_frame(pd.DataFrame({"a": [1.0, 2.0]}))
	header, body = text.split("\n")
	with pytest.raises(EngineInputError, match="wrong size"):
		unpack_frame(header.replace('"rows":2', '"rows":1') + "\n" + body)


def test_bytes_beyond_the_columns_are_refused():
	text = pack_frame(pd.DataFrame({"a": [1.0, 2.0]}))
	header, _body = text.split("\n")
	body = base64.b64encode(zlib.compress(np.array([1.0, 2.0, 3.0]).tobytes())).decode()
	with pytest.raises(EngineInputError, match="does not match"):
		unpack_frame(header + "\n" + body)

"""Cohort retention on hand-checked transactions: returns, cancelled rows, orders, two companies."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.cohorts import (
	active_months,
	average_retention,
	cohort_retention,
	monthly_net,
)
from crm_fishpond.engine.errors import EngineInputError

M = pd.Period


def tx(rows):
	cols = ["profile", "posting_date", "amount", "is_return", "docstatus_state", "voucher_type", "company"]
	cols.append("returned_posting_date")
	return pd.DataFrame([(*r, None) if len(r) == 7 else r for r in rows], columns=cols)


SI, SO, OK, CANCELLED = "Sales Invoice", "Sales Order", "Submitted", "Cancelled"

# Hand-checked:
# A: Jan 100, Feb 50, Apr 30                                  -> cohort Jan, active Jan Feb Apr
# B: Jan 200 returned in Jan (net 0), Feb 80, Mar 40 and a
#    return of 60 stored with a positive sign (net -20)        -> cohort Feb, active Feb
# C: Jan 70 cancelled, Jan 70 (its amendment), Feb order 500,
#    Mar 10                                                   -> cohort Jan, active Jan Mar
# D: Feb +30 in company EU, a return of 50 in company US       -> cohort Feb (netted per company)
# E: only a cancelled invoice                                 -> no cohort
# G: Jan 90 returned in full in Feb (the credit note names the
#    January invoice, so it lowers January), Mar 40            -> cohort Mar
DATA = tx(
	[
		("A", "2026-01-05", 100.0, 0, OK, SI, "US"),
		("A", "2026-02-10", 50.0, 0, OK, SI, "US"),
		("A", "2026-04-01", 30.0, 0, OK, SI, "US"),
		("B", "2026-01-20", 200.0, 0, OK, SI, "US"),
		("B", "2026-01-25", -200.0, 1, OK, SI, "US"),
		("B", "2026-02-03", 80.0, 0, OK, SI, "US"),
		("B", "2026-03-15", 40.0, 0, OK, SI, "US"),
		("B", "2026-03-20", 60.0, 1, OK, SI, "US"),
		("C", "2026-01-08", 70.0, 0, CANCELLED, SI, "US"),
		("C", "2026-01-09", 70.0, 0, OK, SI, "US"),
		("C", "2026-02-11", 500.0, 0, OK, SO, "US"),
		("C", "2026-03-02", 10.0, 0, OK, SI, "US"),
		("D", "2026-02-01", 30.0, 0, OK, SI, "EU"),
		("D", "2026-02-01", -50.0, 1, OK, SI, "US"),
		("E", "2026-01-15", 999.0, 0, CANCELLED, SI, "US"),
		("G", "2026-01-10", 90.0, 0, OK, SI, "US"),
		("G", "2026-02-12", -90.0, 1, OK, SI, "US", "2026-01-10"),
		("G", "2026-03-05", 40.0, 0, OK, SI, "US"),
	]
)


def test_monthly_net_drops_cancelled_rows_and_orders_and_subtracts_returns():
	net = monthly_net(DATA).set_index(["profile", "company", "month"])["net"]
	assert net[("B", "US", M("2026-01", "M"))] == 0
	assert net[("B", "US", M("2026-03", "M"))] == -20  # a positive-signed return still subtracts
	assert net[("C", "US", M("2026-01", "M"))] == 70  # the cancelled twin is gone
	assert ("C", "US", M("2026-02", "M")) not in net.index  # an order is not a purchase
	assert net[("D", "EU", M("2026-02", "M"))] == 30
	assert net[("D", "US", M("2026-02", "M"))] == -50
	assert "E" not in net.index.get_level_values("profile")
	assert net[("G", "US", M("2026-01", "M"))] == 0  # the February credit note returns January
	assert ("G", "US", M("2026-02", "M")) not in net.index


def test_a_month_counts_when_its_net_is_positive_in_some_company():
	active = active_months(DATA)
	got = {(p, str(m)) for p, m in zip(active["profile"], active["month"], strict=True)}
	assert got == {
		("A", "2026-01"),
		("A", "2026-02"),
		("A", "2026-04"),
		("B", "2026-02"),
		("C", "2026-01"),
		("C", "2026-03"),
		("D", "2026-02"),
		("G", "2026-03"),
	}


def test_cohort_table_by_hand():
	table = cohort_retention(DATA, observed_until="2026-04-30", max_offset=4)
	assert [str(c) for c in table.sizes.index] == ["2026-01", "2026-02", "2026-03"]
	assert table.sizes.tolist() == [2, 2, 1]
	jan, feb = table.buyers.iloc[0], table.buyers.iloc[1]
	assert jan.tolist()[:4] == [2, 1, 1, 1] and math.isnan(jan[4])
	assert feb.tolist()[:3] == [2, 0, 0] and feb[3:].isna().all()
	assert table.retention.iloc[0].tolist()[:4] == [1.0, 0.5, 0.5, 0.5]
	assert table.retention.iloc[1].tolist()[:3] == [1.0, 0.0, 0.0]
	assert table.buyers.iloc[2].tolist()[:2] == [1, 0] and table.buyers.iloc[2][2:].isna().all()
	avg = average_retention(table)
	# month 1: (1 + 0 + 0) / (2 + 2 + 1); month 2: (1 + 0) / (2 + 2); month 3: 1 / 2
	assert avg.tolist()[:4] == [1.0, 0.2, 0.25, 0.5]
	assert math.isnan(avg[4])


def test_cohorts_come_from_the_whole_history_not_the_period():
	# A buys in February too, but its first active month is January: it is no February customer
	table = cohort_retention(DATA, first_cohort="2026-02", last_cohort="2026-02", observed_until="2026-04")
	assert [str(c) for c in table.sizes.index] == ["2026-02"]
	assert table.sizes.tolist() == [2]


def test_observed_until_defaults_to_the_latest_month_and_hides_the_future():
	table = cohort_retention(DATA, max_offset=2)
	# latest month in the data is April: the February cohort is observed 2 months on
	assert table.buyers.loc[M("2026-02", "M")].tolist() == [2, 0, 0]
	early = cohort_retention(DATA, observed_until="2026-02-15", max_offset=2)
	assert [str(c) for c in early.sizes.index] == ["2026-01", "2026-02"]
	assert early.buyers.loc[M("2026-01", "M")].tolist()[:2] == [2, 1]
	assert math.isnan(early.buyers.loc[M("2026-01", "M"), 2])
	# activity after the observation end is not counted either
	assert early.sizes.tolist() == [2, 2]


def test_optional_columns_and_empty_input():
	plain = DATA[["profile", "posting_date", "amount"]].iloc[:3]
	assert cohort_retention(plain, max_offset=3).buyers.iloc[0].tolist() == [1, 1, 0, 1]
	empty = cohort_retention(DATA.iloc[0:0])
	assert empty.sizes.empty and list(empty.buyers.columns) == list(range(13))
	with pytest.raises(EngineInputError):
		cohort_retention(DATA.drop(columns=["amount"]))
	with pytest.raises(EngineInputError):
		cohort_retention(DATA, max_offset=-1)


@settings(max_examples=60, deadline=None)
@given(
	st.lists(
		st.tuples(
			st.sampled_from("PQRSTU"),
			st.integers(0, 400),
			st.floats(-500, 500, allow_nan=False),
			st.booleans(),
			st.sampled_from([OK, OK, CANCELLED]),
		),
		max_size=40,
	)
)
def test_retention_is_a_share_and_month_zero_is_everyone(rows):
	start = pd.Timestamp("2025-01-01")
	frame = tx([(p, start + pd.Timedelta(days=d), a, r, s, SI, "X") for p, d, a, r, s in rows])
	table = cohort_retention(frame, max_offset=6)
	values = table.retention.to_numpy()
	assert np.all((values[~np.isnan(values)] >= 0) & (values[~np.isnan(values)] <= 1))
	if not table.sizes.empty:
		assert (table.retention[0] == 1.0).all()
		assert table.sizes.sum() == active_months(frame)["profile"].nunique()

"""The metrics history (crm_fishpond/engine/metrics.py) on a history checked by hand, then invariants
on random histories. Definitions: docs/analytics.md, "Metrics history"."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_fishpond.engine.metrics import (
	METRIC_COLUMNS,
	churn_window_months,
	monthly_net,
	pond_metrics,
)

D = dt.date
AS_OF = D(2025, 6, 15)


def tx(
	profile,
	posting_date,
	amount,
	*,
	company="A",
	voucher_type="Sales Invoice",
	state="Submitted",
	returns=None,
	grand_total=None,
):
	"""One Fishpond Transaction row as the engine reads it. ``returns``: the posting date of the invoice
	a credit note returns (None: a credit note against an invoice the pond does not know)."""
	return {
		"profile": profile,
		"company": company,
		"voucher_type": voucher_type,
		"docstatus_state": state,
		"posting_date": posting_date,
		"grand_total": amount if grand_total is None else grand_total,
		"base_grand_total": amount,
		"is_return": int(amount < 0),
		"returned_posting_date": returns,
	}


def hand_history() -> pd.DataFrame:
	return pd.DataFrame(
		[
			tx("P7", D(2024, 2, 10), 70),  # last February's only buyer
			tx("P1", D(2025, 1, 10), 100),
			tx("P1", D(2025, 2, 5), 50),
			tx("P1", D(2025, 5, 20), 80),
			# a full return in February of a January invoice: P2 bought nothing in January
			tx("P2", D(2025, 1, 20), 200),
			tx("P2", D(2025, 2, 10), -200, returns=D(2025, 1, 20)),
			tx("P2", D(2025, 3, 3), 120),
			tx("P3", D(2025, 2, 14), 300),
			tx("P3", D(2025, 3, 1), 500, state="Cancelled"),  # cancelled: never counts
			tx("P3", D(2025, 3, 2), 999, voucher_type="Sales Order"),  # an order is not a purchase
			# a partial return in the same month
			tx("P4", D(2025, 4, 1), 60),
			tx("P4", D(2025, 4, 15), -20, returns=D(2025, 4, 1)),
			# a credit note against an invoice the pond never saw: its own month, net negative
			tx("P5", D(2025, 3, 10), -30),
			tx("P6", D(2025, 6, 10), 40),
			tx("P6", D(2025, 6, 30), 999),  # after as_of: not known yet
		]
	)


def hand_profiles() -> pd.DataFrame:
	created = {
		"P7": D(2024, 1, 5),
		"P1": D(2024, 12, 1),
		"P2": D(2025, 1, 15),
		"P3": D(2025, 2, 1),
		"P5": D(2025, 3, 1),
		"P4": D(2025, 3, 31),
		"Z": D(2025, 5, 5),  # a prospect: in the pond, never bought
		"P6": D(2025, 6, 1),
	}
	return pd.DataFrame({"profile": list(created), "created": list(created.values())})


def by_period(frame: pd.DataFrame, company=None) -> dict[str, dict]:
	rows = frame[frame["company"].isna()] if company is None else frame[frame["company"] == company]
	return {r["period"].strftime("%Y-%m"): r for r in rows.to_dict("records")}


def column(rows: dict[str, dict], field: str, months) -> list:
	return [rows[m][field] for m in months]


MONTHS_2025 = ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]


@pytest.fixture(scope="module")
def hand():
	out = pond_metrics(hand_history(), hand_profiles(), as_of=AS_OF, churn_months=2)
	return by_period(out)


def test_churn_window_is_the_inactivity_in_whole_months():
	assert churn_window_months(180) == 6
	assert churn_window_months(None) == 6 and churn_window_months(0) == 6
	assert churn_window_months(61) == 2
	assert churn_window_months(45) == 1  # 1.48 months
	assert churn_window_months(46) == 2  # 1.51 months
	assert churn_window_months(10) == 1  # never less than a month
	assert churn_window_months(365) == 12


def test_periods_run_from_the_first_purchase_month_to_as_of(hand):
	assert min(hand) == "2024-02" and max(hand) == "2025-06"
	assert len(hand) == 17
	assert [hand[m]["is_complete"] for m in MONTHS_2025] == [True] * 5 + [False]
	assert {r["churn_window_months"] for r in hand.values()} == {2}


def test_monthly_net_attributes_returns_and_drops_cancelled_orders_and_the_future():
	net = monthly_net(hand_history(), AS_OF)
	got = {(r.profile, r.month): r.net for r in net.itertuples()}
	jan, feb, mar, apr = (2025 * 12 + i for i in range(4))
	assert got[("P2", jan)] == 0  # invoice and its full return, both in January
	assert ("P2", feb) not in got
	assert ("P3", mar) not in got
	assert got[("P4", apr)] == 40
	assert got[("P5", mar)] == -30
	assert got[("P6", 2025 * 12 + 5)] == 40


def test_new_and_active_customers(hand):
	assert column(hand, "active_customers", MONTHS_2025) == [1, 2, 1, 1, 1, 1]
	assert column(hand, "new_customers", MONTHS_2025) == [1, 1, 1, 1, 0, 1]
	# P2's January purchase was returned in full: P2 is new in March, not January
	assert hand["2024-02"]["new_customers"] == 1


def test_retention(hand):
	# January: nobody was active in December; February: P1 came back; then nobody repeats
	assert column(hand, "retention_rate", MONTHS_2025) == [None, 100.0, 0.0, 0.0, 0.0, 0.0]


def test_lost_customer_base_and_churn(hand):
	# two-month window: P1 (last active February, back only in May) and P3 lapse in April, P2 in May,
	# P4 in June
	assert column(hand, "lost_customers", MONTHS_2025) == [0, 0, 0, 2, 1, 1]
	assert column(hand, "customer_base", MONTHS_2025) == [1, 2, 3, 2, 2, 2]
	churn = column(hand, "churn_rate", MONTHS_2025)
	assert churn[0] is None  # December's base is empty (P7 lapsed long before): no rate
	assert churn[1:3] == [0.0, 0.0]
	assert churn[3] == pytest.approx(200 / 3)
	assert churn[4:] == [50.0, 50.0]
	assert hand["2024-04"]["lost_customers"] == 1  # P7
	assert hand["2024-02"]["churn_rate"] is None  # no base before the first month


def test_value_per_customer_and_uplift(hand):
	assert column(hand, "net_purchases", MONTHS_2025) == [100.0, 350.0, 120.0, 40.0, 80.0, 40.0]
	assert column(hand, "avg_value_per_customer", MONTHS_2025) == [100.0, 175.0, 120.0, 40.0, 80.0, 40.0]
	assert hand["2025-02"]["avg_value_last_year"] == 70.0
	assert hand["2025-02"]["avg_value_uplift"] == pytest.approx(150.0)
	for month in ("2025-01", "2025-03", "2025-04", "2025-05", "2025-06"):
		assert hand[month]["avg_value_uplift"] is None, month
	assert hand["2024-03"]["avg_value_per_customer"] is None  # nobody bought


def test_pond_size_counts_profiles_created_by_the_end_of_the_month(hand):
	assert column(hand, "pond_size", MONTHS_2025) == [3, 4, 6, 6, 7, 8]
	assert hand["2024-02"]["pond_size"] == 1


def test_pond_size_accepts_counts_per_day():
	profiles = pd.DataFrame({"created": [D(2025, 1, 3), D(2025, 2, 1)], "count": [5, 2]})
	out = by_period(pond_metrics(hand_history(), profiles, as_of=AS_OF, churn_months=2))
	assert out["2024-12"]["pond_size"] == 0
	assert column(out, "pond_size", MONTHS_2025[:3]) == [5, 7, 7]


def multi_company() -> pd.DataFrame:
	# the totals in transaction currency differ from the company-currency ones: only base counts
	return pd.DataFrame(
		[
			tx("Q1", D(2025, 1, 5), 100, company="A", grand_total=9000),
			tx("Q1", D(2025, 1, 6), 50, company="B", grand_total=1),
			tx("Q2", D(2025, 1, 7), 80, company="B"),
			tx("Q2", D(2025, 2, 7), 10, company="B"),
			tx("Q2", D(2025, 2, 8), -5, company="A"),
		]
	)


def test_companies_with_different_currencies_get_their_own_rows_and_no_pond_wide_money():
	out = pond_metrics(
		multi_company(), as_of=D(2025, 2, 20), churn_months=6, currencies={"A": "USD", "B": "EUR"}
	)
	pond, a, b = by_period(out), by_period(out, "A"), by_period(out, "B")
	assert set(out["company"].dropna()) == {"A", "B"}
	assert column(pond, "active_customers", ["2025-01", "2025-02"]) == [2, 1]
	assert column(pond, "net_purchases", ["2025-01", "2025-02"]) == [None, None]
	assert pond["2025-01"]["currency"] is None and pond["2025-01"]["pond_size"] == 0
	assert (a["2025-01"]["currency"], b["2025-01"]["currency"]) == ("USD", "EUR")
	assert column(a, "active_customers", ["2025-01", "2025-02"]) == [1, 0]
	assert column(a, "net_purchases", ["2025-01", "2025-02"]) == [100.0, 0.0]
	assert column(b, "active_customers", ["2025-01", "2025-02"]) == [2, 1]
	assert column(b, "avg_value_per_customer", ["2025-01", "2025-02"]) == [65.0, 10.0]
	assert b["2025-02"]["retention_rate"] == 50.0 and a["2025-02"]["retention_rate"] == 0.0
	assert a["2025-01"]["pond_size"] is None  # a profile belongs to no company


def test_one_currency_adds_up_pond_wide():
	out = by_period(
		pond_metrics(
			multi_company(), as_of=D(2025, 2, 20), churn_months=6, currencies={"A": "USD", "B": "USD"}
		)
	)
	assert out["2025-01"]["currency"] == "USD"
	assert out["2025-01"]["net_purchases"] == 230.0
	assert out["2025-01"]["avg_value_per_customer"] == 115.0
	# February: Q2's net is positive in B (10), negative in A (-5): active, worth the positive 10
	assert out["2025-02"]["net_purchases"] == 10.0


def test_one_company_has_no_company_rows_unless_asked():
	out = pond_metrics(hand_history(), as_of=AS_OF, churn_months=2)
	assert out["company"].isna().all()
	both = pond_metrics(hand_history(), as_of=AS_OF, churn_months=2, by_company=True)
	pond, a = by_period(both), by_period(both, "A")
	for field in ("new_customers", "active_customers", "lost_customers", "retention_rate", "net_purchases"):
		assert column(pond, field, MONTHS_2025) == column(a, field, MONTHS_2025), field


def test_an_empty_pond_has_one_row_for_the_current_month():
	out = pond_metrics(
		pd.DataFrame(), pd.DataFrame({"created": [D(2025, 6, 1)]}), as_of=AS_OF, churn_months=6
	)
	assert list(out.columns) == list(METRIC_COLUMNS)
	assert len(out) == 1
	row = out.iloc[0]
	assert row["period"] == D(2025, 6, 1) and row["pond_size"] == 1 and row["active_customers"] == 0
	assert row["retention_rate"] is None and row["avg_value_per_customer"] is None


def test_rejects_a_window_under_a_month():
	with pytest.raises(ValueError):
		pond_metrics(hand_history(), as_of=AS_OF, churn_months=0)


# -- invariants on random histories ------------------------------------------------------------------

rows_strategy = st.lists(
	st.tuples(
		st.sampled_from(["a", "b", "c", "d", "e", "f"]),
		st.sampled_from(["A", "B"]),
		st.integers(0, 17),  # months from January 2024
		st.integers(1, 27),
		st.integers(-50, 200),
		st.booleans(),  # cancelled
	),
	max_size=60,
)


def random_history(rows) -> pd.DataFrame:
	out = []
	for profile, company, month, day, amount, cancelled in rows:
		posted = D(2024 + month // 12, month % 12 + 1, day)
		out.append(
			tx(profile, posted, amount, company=company, state="Cancelled" if cancelled else "Submitted")
		)
	return pd.DataFrame(out) if out else pd.DataFrame(columns=list(tx("x", AS_OF, 1)))


@settings(max_examples=80, deadline=None)
@given(rows_strategy, st.integers(1, 7))
def test_invariants(rows, window):
	history = random_history(rows)
	out = pond_metrics(history, as_of=AS_OF, churn_months=window, by_company=True)
	for scope in [None, "A", "B"]:
		table = by_period(out, scope)
		months = sorted(table)
		previous = None
		for month in months:
			r = table[month]
			assert 0 <= r["new_customers"] <= r["active_customers"] <= r["customer_base"]
			for rate in ("retention_rate", "churn_rate"):
				assert r[rate] is None or 0.0 <= r[rate] <= 100.0 + 1e-9
			if previous is not None:
				assert r["lost_customers"] <= previous["customer_base"]
				# the base moves by who joins it (active now, not in it before) and who lapses
				assert r["customer_base"] >= previous["customer_base"] - r["lost_customers"]
			previous = r
		if months:
			ever = monthly_net(history, AS_OF)
			if scope:
				ever = ever[ever["company"] == scope]
			ever = ever[ever["net"] > 0]
			if scope is None:
				ever = ever.groupby(["profile", "month"], as_index=False)["net"].sum()
			assert sum(table[m]["new_customers"] for m in months) == ever["profile"].nunique()


@settings(max_examples=40, deadline=None)
@given(rows_strategy)
def test_row_order_does_not_matter(rows):
	history = random_history(rows)
	a = pond_metrics(history, as_of=AS_OF, churn_months=3, by_company=True)
	b = pond_metrics(history.iloc[::-1].reset_index(drop=True), as_of=AS_OF, churn_months=3, by_company=True)
	pd.testing.assert_frame_equal(a, b)


def test_feedback_figures_per_month_on_the_pond_row_only():
	feedback = pd.DataFrame(
		{
			"answered_on": [D(2025, 3, 4), D(2025, 3, 20), D(2025, 3, 21), D(2025, 5, 2), D(2025, 5, 2)],
			"survey_type": ["NPS", "NPS", "CSAT", "CSAT", "CSAT"],
			"score": [10, 3, 5, 2, 4],
			"count": [3, 1, 1, 1, 1],
		}
	)
	out = pond_metrics(hand_history(), as_of=AS_OF, churn_months=2, by_company=True, feedback=feedback)
	pond, a = by_period(out), by_period(out, "A")
	# March: 3 promoters and 1 detractor of 4 NPS answers = 50; 1 satisfied CSAT of 1 = 100
	assert column(pond, "nps", MONTHS_2025) == [None, None, 50.0, None, None, None]
	assert column(pond, "nps_responses", MONTHS_2025) == [0, 0, 4, 0, 0, 0]
	assert column(pond, "csat", MONTHS_2025) == [None, None, 100.0, None, 50.0, None]
	assert column(pond, "feedback_responses", MONTHS_2025) == [0, 0, 5, 0, 2, 0]
	assert column(a, "nps", MONTHS_2025) == [None] * 6
	assert column(a, "feedback_responses", MONTHS_2025) == [None] * 6
	without = by_period(pond_metrics(hand_history(), as_of=AS_OF, churn_months=2))
	assert column(without, "feedback_responses", MONTHS_2025) == [0] * 6

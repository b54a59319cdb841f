"""Monthly pond metrics (the metrics history): :func:`pond_metrics`.

Pure pandas; the definitions are in docs/analytics.md ("Metrics history"). In short, for a month M:

* a **purchase** is a submitted Sales Invoice or credit note in company currency (``base_grand_total``);
  cancelled rows and Sales Orders are left out. A credit note counts in the month of the invoice it
  returns (``returned_posting_date``) when that invoice is known, else in its own month;
* a profile's **net** in M is the sum of its purchases there, per company; it is **active** in M when
  that net is positive (pond-wide: positive in at least one company);
* **new** customers: active in M for the first time; **active**: active in M;
* **customer base**: active at least once in the churn window ending with M (the last N months,
  M included; N = :func:`churn_window_months`);
* **lost**: active in M - N and in none of the N months since (each lapse is counted once, in the
  month it completes the window);
* **retention rate**: active in M - 1 and in M, over active in M - 1 (per cent);
* **churn rate**: lost in M over the customer base of M - 1 (per cent; the lost are part of it);
* **net purchases**: the positive nets of the active customers; **average value per customer**: net
  purchases over active customers, and its **uplift** against the same month a year earlier (per cent);
* **pond size**: profiles created by the end of M (pond-wide rows only: a profile has no company);
* **feedback** (pond-wide rows only): the survey answers given in M (NPS and CSAT, from survey links
  and logged by reps); the **NPS** is % promoters (9-10) - % detractors (0-6) of M's NPS answers, the
  **CSAT** the % of M's CSAT answers that are 4 or 5 (crm_fishpond.engine.feedback); each is None in a
  month without answers of its kind.

Money is only added up within one currency: per-company rows are in the company's currency, and the
pond-wide row carries value figures only when every company with purchases shares one currency.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from . import feedback as satisfaction

__all__ = [
	"COUNT_COLUMNS",
	"FEEDBACK_COLUMNS",
	"METRIC_COLUMNS",
	"RATE_COLUMNS",
	"VALUE_COLUMNS",
	"churn_window_months",
	"month_index",
	"month_start",
	"monthly_net",
	"pond_metrics",
]

MEAN_MONTH_DAYS = 30.4375  # 365.25 / 12
DEFAULT_CHURN_DAYS = 180

COUNT_COLUMNS = ("pond_size", "new_customers", "active_customers", "customer_base", "lost_customers")
RATE_COLUMNS = ("retention_rate", "churn_rate")
VALUE_COLUMNS = ("net_purchases", "avg_value_per_customer", "avg_value_last_year", "avg_value_uplift")
FEEDBACK_COLUMNS = ("feedback_responses", "nps_responses", "nps", "csat_responses", "csat")
METRIC_COLUMNS = (
	"period",
	"company",
	"currency",
	"is_complete",
	"churn_window_months",
	*COUNT_COLUMNS,
	*RATE_COLUMNS,
	*VALUE_COLUMNS,
	*FEEDBACK_COLUMNS,
)


def churn_window_months(churn_inactive_days: float | None) -> int:
	"""The churn inactivity (days, Fishpond Settings) in whole months: days / 30.4375 (the mean month)
	rounded half up, at least one. No setting: 180 days, six months."""
	days = float(churn_inactive_days or 0) or DEFAULT_CHURN_DAYS
	return max(1, math.floor(days / MEAN_MONTH_DAYS + 0.5))


def month_index(value) -> int:
	"""A date's month as one integer (year * 12 + month - 1)."""
	value = pd.Timestamp(value)
	return value.year * 12 + value.month - 1


def month_start(index: int) -> dt.date:
	return dt.date(index // 12, index % 12 + 1, 1)


def _months(dates: pd.Series) -> pd.Series:
	dates = pd.to_datetime(dates)
	return dates.dt.year * 12 + dates.dt.month - 1


def monthly_net(purchases: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
	"""Net purchases per (profile, company, month index) known on ``as_of``.

	``purchases`` has ``profile``, ``company``, ``posting_date`` and ``base_grand_total``, and optionally
	``voucher_type`` (only Sales Invoice rows count), ``docstatus_state`` (only Submitted),
	``is_return`` with ``returned_posting_date`` (the posting date of the invoice a credit note returns).
	Rows posted after ``as_of`` or without a profile are left out."""
	out_columns = ["profile", "company", "month", "net"]
	if purchases is None or purchases.empty:
		return pd.DataFrame(columns=out_columns)
	df = purchases
	keep = df["profile"].notna() & (df["profile"].astype(str) != "")
	if "voucher_type" in df:
		keep &= df["voucher_type"] == "Sales Invoice"
	if "docstatus_state" in df:
		keep &= df["docstatus_state"] == "Submitted"
	posted = pd.to_datetime(df["posting_date"])
	keep &= posted.notna() & (posted <= pd.Timestamp(as_of))
	df = df[keep]
	if df.empty:
		return pd.DataFrame(columns=out_columns)
	effective = pd.to_datetime(df["posting_date"])
	if "is_return" in df and "returned_posting_date" in df:
		returned = pd.to_datetime(df["returned_posting_date"])
		use = df["is_return"].fillna(0).astype(bool) & returned.notna()
		effective = effective.where(~use, returned)
	frame = pd.DataFrame(
		{
			"profile": df["profile"].astype(str).to_numpy(),
			"company": df["company"].fillna("").astype(str).to_numpy() if "company" in df else "",
			"month": _months(effective).to_numpy(),
			"net": pd.to_numeric(df["base_grand_total"], errors="coerce").fillna(0.0).to_numpy(float),
		}
	)
	return frame.groupby(["profile", "company", "month"], as_index=False, sort=True)["net"].sum()


def _scope(active: pd.DataFrame, months: np.ndarray, churn_months: int) -> pd.DataFrame:
	"""The metrics of one scope, indexed by month index over ``months`` (contiguous, ascending).

	``active``: one row per (profile, month) in which the profile was active, with ``value`` (its
	positive net there)."""
	n = churn_months
	lo, hi = int(months[0]), int(months[-1])
	full = np.arange(lo - 12, hi + 1)  # a year before the first period for last year's average
	frame = pd.DataFrame(index=full)
	if active.empty:
		for col in ("new", "active", "retained", "lost", "base", "revenue"):
			frame[col] = 0.0
	else:
		a = active.sort_values(["profile", "month"], kind="stable")
		m = a["month"].to_numpy(np.int64)
		nxt = a.groupby("profile", sort=False)["month"].shift(-1).to_numpy(float)
		last = np.isnan(nxt)

		def count(idx: np.ndarray) -> pd.Series:
			return pd.Series(1.0, index=idx).groupby(level=0).sum().reindex(full, fill_value=0.0)

		frame["active"] = count(m)
		frame["revenue"] = (
			pd.Series(a["value"].to_numpy(float), index=m)
			.groupby(level=0)
			.sum()
			.reindex(full, fill_value=0.0)
		)
		frame["new"] = count(a.groupby("profile", sort=False)["month"].min().to_numpy(np.int64))
		frame["retained"] = count(m[~last & (nxt == m + 1)] + 1)
		frame["lost"] = count(m[last | (nxt > m + n)] + n)
		# a profile is in the base from an active month until the next one or the window's end
		end = np.where(last, m + n, np.minimum(np.nan_to_num(nxt, nan=0), m + n)).astype(np.int64)
		frame["base"] = (count(m) - count(end)).cumsum()
	prev = frame.shift(1)
	frame["retention"] = np.where(prev["active"] > 0, 100.0 * frame["retained"] / prev["active"], np.nan)
	frame["churn"] = np.where(prev["base"] > 0, 100.0 * frame["lost"] / prev["base"], np.nan)
	frame["avg"] = np.where(
		frame["active"] > 0, frame["revenue"] / frame["active"].where(frame["active"] > 0), np.nan
	)
	frame["avg_ly"] = frame["avg"].shift(12)
	frame["uplift"] = np.where(
		frame["avg_ly"] > 0, 100.0 * (frame["avg"] / frame["avg_ly"].where(frame["avg_ly"] > 0) - 1.0), np.nan
	)
	return frame.loc[lo:hi]


def _pond_sizes(profiles: pd.DataFrame | None, months: np.ndarray) -> pd.Series:
	if profiles is None or profiles.empty:
		return pd.Series(0, index=months)
	created = _months(profiles["created"])
	weight = profiles["count"] if "count" in profiles else pd.Series(1, index=profiles.index)
	per_month = pd.Series(weight.to_numpy(float), index=created.to_numpy()).dropna()
	per_month = per_month[per_month.index.notna()]
	per_month.index = per_month.index.astype(np.int64)
	before = per_month[per_month.index < months[0]].sum()
	in_range = per_month[per_month.index >= months[0]].groupby(level=0).sum().reindex(months, fill_value=0)
	return (in_range.cumsum() + before).astype(int)


def _none(value):
	if value is None or (isinstance(value, float) and math.isnan(value)):
		return None
	return value


def _rows(
	frame: pd.DataFrame,
	*,
	company: str | None,
	currency: str | None,
	with_value: bool,
	sizes: pd.Series | None,
	as_of_month: int,
	churn_months: int,
	satisfaction: dict[int, dict] | None = None,
) -> list[dict]:
	rows = []
	for month, r in frame.iterrows():
		month = int(month)
		answers = (satisfaction or {}).get(month, {}) if satisfaction is not None else None
		rows.append(
			{
				"period": month_start(month),
				"company": company,
				"currency": currency,
				"is_complete": month < as_of_month,
				"churn_window_months": churn_months,
				"pond_size": int(sizes[month]) if sizes is not None else None,
				"new_customers": int(r["new"]),
				"active_customers": int(r["active"]),
				"customer_base": int(r["base"]),
				"lost_customers": int(r["lost"]),
				"retention_rate": _none(float(r["retention"])),
				"churn_rate": _none(float(r["churn"])),
				"net_purchases": float(r["revenue"]) if with_value else None,
				"avg_value_per_customer": _none(float(r["avg"])) if with_value else None,
				"avg_value_last_year": _none(float(r["avg_ly"])) if with_value else None,
				"avg_value_uplift": _none(float(r["uplift"])) if with_value else None,
				**_feedback_values(answers),
			}
		)
	return rows


def _feedback_values(answers: dict | None) -> dict:
	"""A month's feedback figures (None on a per-company row: answers belong to profiles)."""
	if answers is None:
		return dict.fromkeys(FEEDBACK_COLUMNS)
	nps_n, csat_n = answers.get("nps_answers", 0), answers.get("csat_answers", 0)
	return {
		"feedback_responses": nps_n + csat_n,
		"nps_responses": nps_n,
		"nps": answers.get("nps"),
		"csat_responses": csat_n,
		"csat": answers.get("csat"),
	}


def monthly_satisfaction(feedback: pd.DataFrame | None) -> dict[int, dict]:
	"""Month index -> :func:`crm_fishpond.engine.feedback.summary` of the answers given in that month.
	``feedback``: ``answered_on``, ``survey_type``, ``score`` and optionally ``count`` (answers of that
	score already counted, as a grouped query returns them)."""
	if feedback is None or feedback.empty:
		return {}
	frame = feedback.copy()
	if "count" not in frame:
		frame["count"] = 1
	frame["month"] = _months(frame["answered_on"])
	out = {}
	for month, group in frame.groupby("month"):
		expanded = group.loc[group.index.repeat(group["count"].astype(int)), ["survey_type", "score"]]
		out[int(month)] = satisfaction.summary(expanded)
	return out


def pond_metrics(
	purchases: pd.DataFrame,
	profiles: pd.DataFrame | None = None,
	*,
	as_of: dt.date,
	churn_months: int,
	currencies: Mapping[str, str] | None = None,
	by_company: bool | None = None,
	feedback: pd.DataFrame | None = None,
) -> pd.DataFrame:
	"""One row per month (and per company) from the first month with a purchase to ``as_of``'s month.

	``purchases``: see :func:`monthly_net`. ``profiles``: ``created`` (the profile's creation date) and
	optionally ``count`` (rows already counted per date), for the pond size. ``currencies``: company ->
	its currency; without it every company is taken to share one currency. ``by_company``: also one
	row per company (default: when purchases come from more than one company). The pond-wide row has
	``company`` None. ``feedback``: the survey answers, see :func:`monthly_satisfaction`. ``is_complete`` is true for months that ended before ``as_of``.

	Columns: :data:`METRIC_COLUMNS`; rates and uplift are per cent, None when their base is zero."""
	if churn_months < 1:
		raise ValueError(f"churn_months must be at least 1, got {churn_months}")
	as_of_month = month_index(as_of)
	units = monthly_net(purchases, as_of)
	first = int(units["month"].min()) if not units.empty else as_of_month
	months = np.arange(min(first, as_of_month), as_of_month + 1)
	seen = sorted(units["company"].unique()) if not units.empty else []
	companies = [c for c in seen if c]  # a row without a company counts pond-wide only
	if by_company is None:
		by_company = len(companies) > 1

	def currency_of(company: str) -> str | None:
		return (currencies or {}).get(company)

	positive = units[units["net"] > 0]
	pond_active = (
		positive.groupby(["profile", "month"], as_index=False)["net"].sum().rename(columns={"net": "value"})
	)
	if currencies is None:
		pond_currency, pond_value = None, True
	else:
		found = {currency_of(c) for c in seen}
		pond_currency = next(iter(found)) if len(found) == 1 and None not in found else None
		pond_value = pond_currency is not None or not seen
	rows = _rows(
		_scope(pond_active, months, churn_months),
		company=None,
		currency=pond_currency,
		with_value=pond_value,
		sizes=_pond_sizes(profiles, months),
		as_of_month=as_of_month,
		churn_months=churn_months,
		satisfaction=monthly_satisfaction(feedback),
	)
	if by_company:
		for company in companies:
			own = positive[positive["company"] == company][["profile", "month", "net"]]
			rows += _rows(
				_scope(own.rename(columns={"net": "value"}), months, churn_months),
				company=company,
				currency=currency_of(company),
				with_value=True,
				sizes=None,
				as_of_month=as_of_month,
				churn_months=churn_months,
			)
	# object columns keep None (not NaN) for what is undefined, and plain ints and dates
	return pd.DataFrame(rows, columns=list(METRIC_COLUMNS), dtype=object)

"""Cohort retention: customers by first-purchase month x months since, net of returns.

Input is transaction rows (one per voucher, or already summed per profile and month: both are
transactions to this module), with the columns

* ``profile`` — who bought;
* ``posting_date`` — date-like;
* ``amount`` — the company-currency grand total (``base_grand_total``: never the transaction-currency
  total, so two currencies are never added up);
* optional ``is_return`` — a credit note: it counts as ``-|amount|`` whatever sign it was stored with;
* optional ``returned_posting_date`` — for a credit note, the posting date of the invoice it returns
  when that invoice is known: the credit note then counts in that invoice's month;
* optional ``docstatus_state`` — rows whose state is ``Cancelled`` are dropped;
* optional ``voucher_type`` — when present only ``Sales Invoice`` rows count (an order is not a
  purchase; its invoice is);
* optional ``company`` — amounts are netted per company (company currencies may differ).

Definitions (docs/analytics.md, *Fishpond Cohort Retention*):

* a profile's **net purchases in a month** are the sum of its counted amounts posted in that
  calendar month, per company; a credit note lowers the month of the invoice it returns when that
  invoice is known, else its own month (the rule of the metrics history, crm_fishpond.engine.metrics:
  a January invoice returned in full in February is no January purchase);
* a profile **is active in a month** when its net purchases that month are positive in at least one
  company;
* its **cohort** is its first active month;
* **buyers[c, k]** is the number of distinct profiles of cohort ``c`` active in month ``c + k``;
  ``k = 0`` is the cohort size;
* **retention[c, k]** = buyers[c, k] / size[c]; a cell whose month lies after ``observed_until`` is
  missing (not zero): it has not happened yet;
* the **average retention** at ``k`` is the buyers at ``k`` summed over the cohorts observed at ``k``
  divided by the sizes of those same cohorts (a cohort-size weighted mean).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import EngineInputError

__all__ = ["CohortTable", "active_months", "average_retention", "cohort_retention", "monthly_net"]

PURCHASE_VOUCHER = "Sales Invoice"
CANCELLED = "Cancelled"
REQUIRED = ("profile", "posting_date", "amount")


@dataclass(frozen=True)
class CohortTable:
	"""Cohorts (monthly ``pd.Period`` index, oldest first) by months since (``0..max_offset``)."""

	sizes: pd.Series  # cohort -> profiles
	buyers: pd.DataFrame  # cohort x offset -> distinct active profiles (NaN: not observed yet)
	retention: pd.DataFrame  # buyers / size (NaN: not observed yet)

	@property
	def offsets(self) -> list[int]:
		return [int(k) for k in self.buyers.columns]


def _month(value: Any) -> pd.Period | None:
	if value is None or (isinstance(value, float) and np.isnan(value)):
		return None
	if isinstance(value, pd.Period):
		return value.asfreq("M")
	return pd.Period(pd.Timestamp(value), freq="M")


def _clean(transactions: pd.DataFrame) -> pd.DataFrame:
	missing = [c for c in REQUIRED if c not in transactions.columns]
	if missing:
		raise EngineInputError(f"transactions lack columns {missing}")
	tx = transactions
	keep = pd.Series(True, index=tx.index)
	if "docstatus_state" in tx.columns:
		keep &= tx["docstatus_state"].fillna("").astype(str) != CANCELLED
	if "voucher_type" in tx.columns:
		keep &= tx["voucher_type"].fillna(PURCHASE_VOUCHER).astype(str) == PURCHASE_VOUCHER
	keep &= tx["profile"].notna() & tx["posting_date"].notna()
	tx = tx.loc[keep]
	amount = pd.to_numeric(tx["amount"], errors="coerce").fillna(0.0).astype(float)
	posted = pd.to_datetime(tx["posting_date"])
	if "is_return" in tx.columns:
		is_return = tx["is_return"].fillna(False).astype(bool)
		amount = pd.Series(np.where(is_return, -amount.abs(), amount), index=tx.index)
		if "returned_posting_date" in tx.columns:
			returned = pd.to_datetime(tx["returned_posting_date"])
			posted = posted.where(~(is_return & returned.notna()), returned)
	out = pd.DataFrame(
		{
			"profile": tx["profile"].to_numpy(),
			"company": tx["company"].fillna("").astype(str).to_numpy() if "company" in tx.columns else "",
			"month": posted.dt.to_period("M").to_numpy(),
			"amount": amount.to_numpy(),
		}
	)
	return out


def monthly_net(transactions: pd.DataFrame) -> pd.DataFrame:
	"""Net purchases per (profile, company, month): columns ``profile``, ``company``, ``month``
	(``pd.Period``), ``net``."""
	tx = _clean(transactions)
	if tx.empty:
		return pd.DataFrame(
			{
				"profile": pd.Series(dtype=object),
				"company": pd.Series(dtype=object),
				"month": pd.Series(dtype="period[M]"),
				"net": pd.Series(dtype=float),
			}
		)
	net = tx.groupby(["profile", "company", "month"], sort=True, observed=True)["amount"].sum()
	return net.rename("net").reset_index()


def active_months(transactions: pd.DataFrame) -> pd.DataFrame:
	"""One row per (profile, month) in which the profile's net purchases were positive (in at least
	one company): columns ``profile``, ``month``."""
	net = monthly_net(transactions)
	# a cent-level tolerance: a fully returned invoice nets to zero up to float noise
	active = net.loc[net["net"] > 1e-9, ["profile", "month"]]
	return active.drop_duplicates().reset_index(drop=True)


def cohort_retention(
	transactions: pd.DataFrame,
	first_cohort: Any = None,
	last_cohort: Any = None,
	observed_until: Any = None,
	max_offset: int = 12,
) -> CohortTable:
	"""Cohorts whose first active month lies in ``[first_cohort, last_cohort]`` (both optional,
	month-like), by months since their first active month, ``0..max_offset``.

	Cohorts are computed from the whole history given: pass every transaction of the profiles, not
	only those of the period, or a returning customer would look new. ``observed_until`` (month-like;
	default: the latest month in the data) is the last month that has happened: later cells are NaN."""
	if max_offset < 0:
		raise EngineInputError(f"max_offset must be >= 0; got {max_offset}")
	active = active_months(transactions)
	offsets = list(range(max_offset + 1))
	first_seen = active.groupby("profile", sort=False)["month"].min().rename("cohort")
	until = _month(observed_until)
	if until is None and not active.empty:
		until = active["month"].max()
	lo, hi = _month(first_cohort), _month(last_cohort)
	cohorts = first_seen
	if lo is not None:
		cohorts = cohorts[cohorts >= lo]
	if hi is not None:
		cohorts = cohorts[cohorts <= hi]
	if until is not None:
		cohorts = cohorts[cohorts <= until]
	if cohorts.empty:
		empty_index = pd.PeriodIndex([], freq="M", name="cohort")
		frame = pd.DataFrame(index=empty_index, columns=offsets, dtype=float)
		return CohortTable(pd.Series(dtype=int, index=empty_index, name="size"), frame, frame.copy())
	rows = active.join(cohorts, on="profile", how="inner")
	rows["offset"] = _months_between(rows["cohort"], rows["month"])
	rows = rows[(rows["offset"] >= 0) & (rows["offset"] <= max_offset)]
	if until is not None:
		rows = rows[rows["month"] <= until]
	buyers = (
		rows.groupby(["cohort", "offset"])["profile"].nunique().unstack("offset").reindex(columns=offsets)
	)
	index = pd.PeriodIndex(sorted(cohorts.unique()), freq="M", name="cohort")
	buyers = buyers.reindex(index).fillna(0.0).astype(float)
	sizes = cohorts.value_counts().reindex(index).astype(int).rename("size")
	if until is not None:
		observable = _months_between(pd.Series(index, index=index), pd.Series(until, index=index))
		for k in offsets:
			buyers.loc[observable.to_numpy() < k, k] = np.nan
	buyers.columns.name = "offset"
	retention = buyers.div(sizes, axis=0)
	return CohortTable(sizes, buyers, retention)


def average_retention(table: CohortTable) -> pd.Series:
	"""Per offset: buyers summed over the cohorts observed at that offset / their sizes summed (NaN
	when no cohort is observed that far)."""
	out = {}
	for k in table.buyers.columns:
		seen = table.buyers[k].notna()
		size = table.sizes[seen].sum()
		out[int(k)] = float(table.buyers.loc[seen, k].sum() / size) if size else np.nan
	return pd.Series(out, name="retention", dtype=float)


def _months_between(start: pd.Series, end: pd.Series) -> pd.Series:
	"""Whole calendar months from ``start`` to ``end`` (both monthly periods)."""

	def ordinal(periods: pd.Series) -> np.ndarray:
		p = pd.PeriodIndex(periods, freq="M")
		return p.year.to_numpy() * 12 + p.month.to_numpy()

	return pd.Series(ordinal(end) - ordinal(start), index=start.index)

"""Metrics history: one Fishpond Metrics Snapshot per month (and per company when the pond sells
through more than one), so the trend survives later changes to the rows it was computed from.

* Load: the submitted Sales Invoices and credit notes of the pond (an attributed POS Invoice's row
  among them) summed in SQL per profile, company and
  month (a credit note also by the month of the invoice it returns), the profiles created per month,
  the survey answers counted per month, type and score, each company's currency and the churn
  inactivity of Fishpond Settings.
* Compute: crm_fishpond.engine.metrics.pond_metrics (definitions in docs/analytics.md).
* Write, set-based: months without a snapshot are inserted (this is the backfill of the past); a
  snapshot taken while its month was still running is updated when a figure changed; a snapshot
  taken after its month ended is final and left alone, unless a manager rebuilds the history.

Runs monthly (``scheduled_snapshot``) and on demand (crm_fishpond.api.analytics.take_snapshot_now),
both through one deduplicated job on the long queue.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import frappe
import pandas as pd
from frappe.query_builder import functions as fn
from frappe.utils import cint, flt, get_datetime, getdate, now_datetime, nowdate
from pypika.enums import DatePart
from pypika.functions import Extract

from crm_fishpond import jobs
from crm_fishpond.bulk import DOC_COLUMNS, insert_rows, update_rows
from crm_fishpond.crm_fishpond.doctype.fishpond_metrics_snapshot.fishpond_metrics_snapshot import (
	snapshot_name,
)
from crm_fishpond.engine import metrics
from crm_fishpond.sync.transactions import PURCHASE_VOUCHERS

SNAPSHOT = "Fishpond Metrics Snapshot"
JOB = "crm_fishpond.analytics.snapshots.take_snapshots"
JOB_ID = "crm_fishpond:metrics_snapshot"
# what a snapshot stores, besides its name and standard columns
FIELDS = (*metrics.METRIC_COLUMNS, "taken_on")
COMPARED = tuple(f for f in metrics.METRIC_COLUMNS if f not in ("period", "company"))
NUMERIC = (
	*metrics.COUNT_COLUMNS,
	*metrics.RATE_COLUMNS,
	*metrics.VALUE_COLUMNS,
	*metrics.FEEDBACK_COLUMNS,
	"churn_window_months",
)


# -- load --------------------------------------------------------------------------------------------------
def load_purchases(as_of: dt.date) -> pd.DataFrame:
	"""Submitted Sales Invoices and credit notes posted by ``as_of``, summed per profile, company and
	month; a credit note's row also names the month of the invoice it returns."""
	tx = frappe.qb.DocType("Fishpond Transaction")
	orig = frappe.qb.DocType("Fishpond Transaction").as_("orig")
	year, month = Extract(DatePart.year, tx.posting_date), Extract(DatePart.month, tx.posting_date)
	oyear, omonth = Extract(DatePart.year, orig.posting_date), Extract(DatePart.month, orig.posting_date)
	rows = (
		frappe.qb.from_(tx)
		.left_join(orig)
		.on(
			(tx.is_return == 1)
			& (orig.voucher_type == tx.voucher_type)
			& (orig.voucher_no == tx.return_against)
		)
		.select(
			tx.fishpond_lead.as_("profile"),
			tx.company,
			tx.is_return,
			year.as_("y"),
			month.as_("m"),
			oyear.as_("oy"),
			omonth.as_("om"),
			fn.Sum(tx.base_grand_total).as_("base_grand_total"),
		)
		.where(tx.voucher_type.isin(PURCHASE_VOUCHERS))
		.where(tx.docstatus_state == "Submitted")
		.where(tx.posting_date <= as_of)
		.where(tx.fishpond_lead.isnotnull())
		.groupby(tx.fishpond_lead, tx.company, tx.is_return, year, month, oyear, omonth)
	).run(as_dict=True)
	return pd.DataFrame(
		{
			"profile": [r.profile for r in rows],
			"company": [r.company for r in rows],
			"posting_date": [dt.date(int(r.y), int(r.m), 1) for r in rows],
			"is_return": [cint(r.is_return) for r in rows],
			"returned_posting_date": [dt.date(int(r.oy), int(r.om), 1) if r.oy else None for r in rows],
			"base_grand_total": [flt(r.base_grand_total) for r in rows],
		}
	)


def load_profiles(as_of: dt.date) -> pd.DataFrame:
	"""Profiles created per month (the pond size), up to ``as_of``."""
	lead = frappe.qb.DocType("Fishpond Lead")
	year, month = Extract(DatePart.year, lead.creation), Extract(DatePart.month, lead.creation)
	rows = (
		frappe.qb.from_(lead)
		.select(year.as_("y"), month.as_("m"), fn.Count(lead.name).as_("count"))
		.where(lead.creation < get_datetime(as_of) + dt.timedelta(days=1))
		.groupby(year, month)
	).run(as_dict=True)
	return pd.DataFrame(
		{
			"created": [dt.date(int(r.y), int(r.m), 1) for r in rows],
			"count": [int(r["count"]) for r in rows],
		}
	)


def load_feedback(as_of: dt.date) -> pd.DataFrame:
	"""Survey answers given by ``as_of``, counted in SQL per month, type and score."""
	fb = frappe.qb.DocType("Fishpond Feedback")
	year, month = Extract(DatePart.year, fb.answered_on), Extract(DatePart.month, fb.answered_on)
	rows = (
		frappe.qb.from_(fb)
		.select(year.as_("y"), month.as_("m"), fb.survey_type, fb.score, fn.Count(fb.name).as_("count"))
		.where(fb.answered_on < get_datetime(as_of) + dt.timedelta(days=1))
		.groupby(year, month, fb.survey_type, fb.score)
	).run(as_dict=True)
	return pd.DataFrame(
		{
			"answered_on": [dt.date(int(r.y), int(r.m), 1) for r in rows],
			"survey_type": [r.survey_type for r in rows],
			"score": [int(r.score) for r in rows],
			"count": [int(r["count"]) for r in rows],
		}
	)


def company_currencies() -> dict[str, str]:
	company = frappe.qb.DocType("Company")
	rows = frappe.qb.from_(company).select(company.name, company.default_currency).run()
	return {name: currency for name, currency in rows}


def churn_months() -> int:
	return metrics.churn_window_months(frappe.get_cached_doc("Fishpond Settings").churn_inactive_days)


def expected_snapshots(as_of: dt.date) -> list[dict]:
	"""What the snapshots of every month up to ``as_of`` should hold today."""
	frame = metrics.pond_metrics(
		load_purchases(as_of),
		load_profiles(as_of),
		as_of=as_of,
		churn_months=churn_months(),
		currencies=company_currencies(),
		feedback=load_feedback(as_of),
	)
	return frame.to_dict("records")


# -- write -------------------------------------------------------------------------------------------------
def _stored_value(field: str, value):
	"""A computed value as its column stores it: Frappe keeps numbers NOT NULL, so an undefined rate is 0."""
	if field in NUMERIC:
		return round(flt(value), 6)
	if field == "is_complete":
		return int(bool(value))
	return value or None


def _same(field: str, stored, expected) -> bool:
	if field in NUMERIC or isinstance(stored, int | float | Decimal):
		return abs(flt(stored) - flt(expected)) < 1e-6
	return (stored or None) == (expected or None)


def write_snapshots(expected: list[dict], rebuild: bool = False) -> dict:
	"""Insert the missing snapshots and update the ones that changed; complete months stay as they
	were taken unless ``rebuild``. Returns the counts."""
	rows = {snapshot_name(r["period"], r["company"]): r for r in expected}
	counts = {"inserted": 0, "updated": 0, "unchanged": 0, "final": 0}
	if not rows:
		return counts
	snap = frappe.qb.DocType(SNAPSHOT)
	stored = {
		r.name: r
		for r in (
			frappe.qb.from_(snap)
			.select(snap.name, *[snap[f] for f in COMPARED])
			.where(snap.name.isin(list(rows)))
			.for_update()
		).run(as_dict=True)
	}
	now, user = now_datetime(), frappe.session.user
	inserts, updates = [], {}
	for name, row in rows.items():
		values = {f: _stored_value(f, row[f]) for f in metrics.METRIC_COLUMNS}
		values["period"] = getdate(row["period"])
		old = stored.get(name)
		if old is None:
			inserts.append((name, now, now, user, user, 0, *[values[f] for f in metrics.METRIC_COLUMNS], now))
			continue
		if old.is_complete and not rebuild:
			counts["final"] += 1
			continue
		diff = {f: values[f] for f in COMPARED if not _same(f, old.get(f), values[f])}
		if diff:
			updates[name] = {**diff, "taken_on": now, "modified": now, "modified_by": user}
		else:
			counts["unchanged"] += 1
	insert_rows(SNAPSHOT, (*DOC_COLUMNS, *FIELDS), inserts)
	update_rows(SNAPSHOT, updates)
	counts["inserted"], counts["updated"] = len(inserts), len(updates)
	if inserts or updates:
		frappe.publish_realtime("list_update", {"doctype": SNAPSHOT}, doctype=SNAPSHOT, after_commit=True)
	return counts


# -- jobs --------------------------------------------------------------------------------------------------
def take_snapshots(as_of: str | None = None, rebuild: int = 0) -> dict:
	"""Snapshot every month up to ``as_of`` (default today): the job. Never commits by itself (the
	worker commits at its end), so a test running it inline can roll it back."""
	day = getdate(as_of or nowdate())
	return write_snapshots(expected_snapshots(day), rebuild=bool(cint(rebuild)))


def enqueue_snapshots(rebuild: bool = False) -> None:
	jobs.enqueue(JOB, job_id=JOB_ID, queue="long", timeout=1500, rebuild=int(bool(rebuild)))


def scheduled_snapshot() -> None:
	"""Monthly: the month that just ended becomes final, the new one starts, missing months are filled."""
	enqueue_snapshots()

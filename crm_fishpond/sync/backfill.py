"""Backfill: import every historical submitted Sales Order and Sales Invoice, resumably.

The job walks each doctype in name order, one chunk at a time: read the chunk set-based, create or
join the customers' profiles in bulk, diff against the stored rows, write only the differences, then
save the cursor and commit. A crash loses at most the chunk in flight; `resume_stuck_runs` (hourly)
re-enqueues a run whose heartbeat stopped, and it carries on from its cursor.
"""

from __future__ import annotations

import time

import frappe
from frappe import _
from frappe.utils import now_datetime

from crm_fishpond import jobs
from crm_fishpond.sync import runs
from crm_fishpond.sync.aggregates import refresh_profiles
from crm_fishpond.sync.bulk_profiles import ensure_profiles_for_customers
from crm_fishpond.sync.history import diff_chunk, iter_chunks
from crm_fishpond.sync.transactions import SYNCED_DOCTYPES, insert_rows, replace_items

RUN_TYPE = "Backfill"


def _job_id(run: str) -> str:
	return f"crm_fishpond:backfill:{run}"


def start_backfill(triggered_by: str | None = None, reason: str | None = None) -> str:
	"""Create (or return the active) backfill run and enqueue it on the long queue."""
	run = runs.active_run(RUN_TYPE)
	if not run:
		run = runs.create_run(RUN_TYPE, triggered_by, cursor={"doctype": SYNCED_DOCTYPES[0], "after": ""})
		if reason:
			runs.append_log(run, _("Started: {0}").format(reason))
	enqueue_run(run)
	return run


def enqueue_run(run: str) -> None:
	jobs.enqueue(
		"crm_fishpond.sync.backfill.run_backfill",
		job_id=_job_id(run),
		queue="long",
		timeout=6 * 3600,
		run=run,
	)


def _count_total() -> int:
	return sum(frappe.db.count(dt, {"docstatus": ("in", [1, 2])}) for dt in SYNCED_DOCTYPES)


def run_backfill(run: str, chunk_size: int | None = None) -> dict:
	"""Process the run from its cursor to the end. Safe to call again after a crash."""
	status = frappe.db.get_value("Fishpond Run", run, "status")
	if status is None:  # the run was deleted (e.g. the app was reinstalled) before its job ran
		return {"status": "Missing"}
	if status in ("Completed", "Cancelled"):
		return {"status": status}
	chunk_size = chunk_size or frappe.db.get_single_value("Fishpond Settings", "backfill_batch_size") or 2000
	cursor = runs.get_cursor(run) or {"doctype": SYNCED_DOCTYPES[0], "after": ""}
	counts = frappe.db.get_value(
		"Fishpond Run", run, ["processed", "inserted", "updated", "unchanged", "total"], as_dict=True
	)
	total = counts.total or _count_total()
	if not frappe.db.get_value("Fishpond Run", run, "started_at"):
		runs.save_progress(run, started_at=now_datetime())
	runs.save_progress(run, status="Running", total=total)
	_commit()
	started = time.monotonic()
	try:
		start_index = SYNCED_DOCTYPES.index(cursor.get("doctype", SYNCED_DOCTYPES[0]))
		for doctype in SYNCED_DOCTYPES[start_index:]:
			after = cursor.get("after", "") if doctype == cursor.get("doctype") else ""
			for headers in iter_chunks(doctype, after=after, chunk_size=chunk_size):
				outcome = apply_chunk(headers)
				counts.processed = (counts.processed or 0) + len(headers)
				counts.inserted = (counts.inserted or 0) + outcome["inserted"]
				counts.updated = (counts.updated or 0) + outcome["updated"]
				counts.unchanged = (counts.unchanged or 0) + outcome["unchanged"]
				cursor = {"doctype": doctype, "after": headers[-1]["voucher_no"]}
				progress = min(99.0, 100.0 * counts.processed / total) if total else 99.0
				runs.save_progress(
					run,
					cursor,
					processed=counts.processed,
					inserted=counts.inserted,
					updated=counts.updated,
					unchanged=counts.unchanged,
					progress=progress,
				)
				runs.publish(run, progress, _("{0} of {1} vouchers").format(counts.processed, total))
				_commit()
			cursor = {"doctype": doctype, "after": "\uffff"}
		refresh_all_profiles()
		elapsed = time.monotonic() - started
		runs.save_progress(
			run,
			status="Completed",
			progress=100,
			finished_at=now_datetime(),
			timings=frappe.as_json(
				{
					"seconds": round(elapsed, 3),
					"documents_per_second": round(counts.processed / elapsed, 1) if elapsed else None,
				}
			),
		)
		_commit()
	except Exception:
		_rollback()
		runs.save_progress(
			run, status="Failed", errors=(frappe.db.get_value("Fishpond Run", run, "errors") or 0) + 1
		)
		runs.append_log(run, frappe.get_traceback()[-4000:])
		_commit()
		frappe.log_error(
			title=_("Fishpond backfill failed"), reference_doctype="Fishpond Run", reference_name=run
		)
		raise
	return {
		"status": "Completed",
		**{k: counts.get(k) for k in ("processed", "inserted", "updated", "unchanged")},
	}


def apply_chunk(headers: list[dict]) -> dict:
	"""Write the differences of one chunk; returns the counts."""
	profiles = ensure_profiles_for_customers([h["customer"] for h in headers])
	diff = diff_chunk(headers, profiles)
	insert_rows(diff.inserts)
	if diff.updates:
		frappe.db.bulk_update("Fishpond Transaction", diff.updates, chunk_size=200)
	for name, child in diff.item_changes.items():
		replace_items(name, child)
	updated = len(diff.updates.keys() | diff.item_changes.keys())
	return {"inserted": len(diff.inserts), "updated": updated, "unchanged": diff.unchanged}


def refresh_all_profiles(batch: int = 2000) -> int:
	"""Recompute the aggregates of every profile that has a transaction, in batches."""
	tx = frappe.qb.DocType("Fishpond Transaction")
	profiles = [
		r[0]
		for r in frappe.qb.from_(tx)
		.select(tx.fishpond_lead)
		.distinct()
		.where(tx.fishpond_lead.isnotnull())
		.run()
	]
	written = 0
	for i in range(0, len(profiles), batch):
		written += refresh_profiles(profiles[i : i + batch])
		_commit()
	return written


def resume_stuck_runs() -> list[str]:
	"""Scheduler: re-enqueue backfill runs whose worker died (their cursor says where to go on)."""
	stuck = runs.stale_runs(RUN_TYPE)
	for run in stuck:
		runs.append_log(run, _("Resumed after the worker stopped responding"))
		enqueue_run(run)
	jobs.reconcile_dirty()
	return stuck


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk is the unit of work of a resumable job


def _rollback() -> None:
	if not frappe.flags.in_test:
		frappe.db.rollback()

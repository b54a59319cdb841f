"""Backfill: import every historical submitted Sales Order and Sales Invoice, fanned out over the
workers (crm_fishpond.sync.fanout).

	plan      one job on the long queue: create or join the profile of every Customer with a
	          voucher (set-based, before any chunk, so that chunks running side by side never both
	          create a profile for the customer they share), then split each doctype's vouchers, in
	          name order, into chunks and enqueue each chunk as a job of its own
	chunk     any worker, in any order: read the chunk's vouchers set-based, diff them against the
	          stored rows and write only the differences, in one transaction
	finish    the last chunk to land recomputes every profile's figures (in batches) and completes
	          the run

A crash loses at most the chunks in flight: ``resume_stuck_runs`` (hourly) re-enqueues a run whose
heartbeat stopped, which keeps its chunks and enqueues those not done.
"""

from __future__ import annotations

import time

import frappe
from frappe import _
from frappe.utils import get_datetime, now_datetime

from crm_fishpond import jobs
from crm_fishpond.sync import fanout, runs
from crm_fishpond.sync.aggregates import refresh_profiles
from crm_fishpond.sync.bulk_profiles import ensure_profiles_for_customers
from crm_fishpond.sync.history import diff_chunk, read_headers
from crm_fishpond.sync.transactions import SYNCED_DOCTYPES, insert_rows, replace_items

RUN_TYPE = "Backfill"
WORK_CHUNK = "crm_fishpond.sync.backfill.work_chunk"
RETRIES = 3
RETRY_DELAY_SECONDS = 2
SAVEPOINT = "fishpond_backfill_chunk"


def _job_id(run: str) -> str:
	return f"crm_fishpond:backfill:{run}"


def start_backfill(triggered_by: str | None = None, reason: str | None = None) -> str:
	"""Enqueue the active backfill run, else resume the latest one if it failed (its chunks done are
	kept), else create one."""
	try:
		with runs.db_lock("create-backfill", timeout=10):
			run = runs.active_run(RUN_TYPE)
			if not run:
				latest = frappe.db.get_value(
					"Fishpond Run",
					{"run_type": RUN_TYPE},
					["name", "status"],
					order_by="creation desc",
					as_dict=True,
				)
				if latest and latest.status == "Failed" and fanout.chunk_rows(latest.name):
					run = latest.name
					runs.save_progress(run, status="Queued")
					runs.append_log(
						run, _("Resumed: {0}").format(reason or triggered_by or frappe.session.user)
					)
				else:
					run = runs.create_run(RUN_TYPE, triggered_by)
					if reason:
						runs.append_log(run, _("Started: {0}").format(reason))
			_commit()
	except runs.RunLocked:
		frappe.throw(_("Another backfill is being started right now; try again in a moment."))
	enqueue_run(run)
	return run


def enqueue_run(run: str, chunk_size: int | None = None) -> None:
	"""Enqueue the run's plan (which enqueues its chunks); ``chunk_size`` vouchers per chunk (default:
	Fishpond Settings' backfill batch size)."""
	jobs.enqueue(
		"crm_fishpond.sync.backfill.run_backfill",
		job_id=_job_id(run),
		queue="long",
		timeout=6 * 3600,
		run=run,
		chunk_size=chunk_size,
	)


def run_backfill(run: str, chunk_size: int | None = None, here: bool = False) -> dict:
	"""Plan (or resume) the run, then enqueue its chunks (``here``: run them in this process, e.g.
	from a shell command). Safe to call again after a crash or a failure."""
	status = frappe.db.get_value("Fishpond Run", run, "status")
	if status is None:  # the run was deleted (e.g. the app was reinstalled) before its job ran
		return {"status": "Missing"}
	if status in ("Completed", "Cancelled"):
		return {"status": status}
	chunk_size = chunk_size or frappe.db.get_single_value("Fishpond Settings", "backfill_batch_size") or 2000
	try:
		with runs.db_lock("backfill", timeout=0):
			resumed = _plan(run, chunk_size)
	except runs.RunLocked:
		runs.append_log(run, _("Another worker is running the backfill; this attempt stepped aside"))
		_commit()
		return {"status": "Locked"}
	if here:
		fanout.run_here(run, run_chunk)
	else:
		fanout.enqueue_chunks(run, WORK_CHUNK)
	_finish_if_done(run, resumed)
	return result(run)


def _plan(run: str, chunk_size: int) -> bool:
	"""Profiles for every customer, then the chunks; returns whether the run was planned before."""
	values = {"status": "Running"}
	if not frappe.db.get_value("Fishpond Run", run, "started_at"):
		values["started_at"] = now_datetime()
	runs.save_progress(run, **values)
	if fanout.chunk_rows(run):
		_commit()
		return True
	_commit()
	try:
		started = time.monotonic()
		customers = _customers_with_vouchers()
		for batch in fanout.split(customers, chunk_size):
			ensure_profiles_for_customers(batch)
			_commit()
		profiles_seconds = round(time.monotonic() - started, 3)
		total = chunks = 0
		for doctype in SYNCED_DOCTYPES:
			names = _voucher_names(doctype)
			chunks += fanout.insert_chunks(run, doctype, fanout.split(names, chunk_size))
			total += len(names)
		runs.save_progress(
			run,
			total=total,
			processed=0,
			progress=fanout.PLAN_PROGRESS,
			timings=frappe.as_json(
				{"profiles": profiles_seconds, "customers": len(customers), "chunks": chunks}
			),
		)
		runs.append_log(run, _("{0} vouchers in {1} chunks").format(total, chunks))
		_commit()
	except Exception:
		_failed(run)
		raise
	return False


def _customers_with_vouchers() -> list[str]:
	customers: set[str] = set()
	for doctype in SYNCED_DOCTYPES:
		dt = frappe.qb.DocType(doctype)
		query = frappe.qb.from_(dt).select(dt.customer).distinct().where(dt.docstatus.isin([1, 2]))
		customers.update(row[0] for row in query.run() if row[0])
	return sorted(customers)


def _voucher_names(doctype: str, first: str | None = None, last: str | None = None) -> list[str]:
	"""Submitted or cancelled vouchers of ``doctype`` in name order (from ``first`` to ``last``)."""
	dt = frappe.qb.DocType(doctype)
	query = frappe.qb.from_(dt).select(dt.name).where(dt.docstatus.isin([1, 2])).orderby(dt.name)
	if first is not None:
		query = query.where(dt.name >= first).where(dt.name <= last)
	return [row[0] for row in query.run()]


def run_chunk(run: str, chunk: str) -> dict:
	"""Do one chunk in this process (the job of a chunk, crm_fishpond.sync.fanout's chunk_job, doing
	:func:`work_chunk`): skipped when done or taken, and followed by the run's next queued chunks."""
	return fanout.chunk_job(run, chunk, WORK_CHUNK)


def work_chunk(run: str, chunk: str, row) -> dict:
	"""Write the differences of one chunk of vouchers (``row``: its doctype and range), on whichever
	worker takes it. A failure (a deadlock with order entry, a lost connection) is rolled back, logged
	and retried; after RETRIES attempts the chunk and the run fail (*Run Backfill* resumes it)."""
	started = time.monotonic()
	attempt = 0
	while True:
		attempt += 1
		frappe.db.savepoint(SAVEPOINT)
		try:
			names = _voucher_names(row.reference_doctype, row.from_name, row.to_name)
			headers = read_headers(row.reference_doctype, names=names) if names else []
			outcome = apply_chunk(headers) if headers else {"inserted": 0, "updated": 0, "unchanged": 0}
			break
		except Exception:
			frappe.db.rollback(save_point=SAVEPOINT)
			_rollback()
			frappe.log_error(
				title=_("Fishpond backfill: chunk failed (attempt {0} of {1})").format(attempt, RETRIES),
				reference_doctype="Fishpond Run",
				reference_name=run,
			)
			fanout.add_counts(run, errors=1)
			_commit()
			if attempt >= RETRIES:
				_failed(run)
				fanout.failed_chunk(chunk)
				raise
			if not frappe.flags.in_test:
				time.sleep(RETRY_DELAY_SECONDS * attempt)
	fanout.chunk_done(run, chunk, records=len(headers), seconds=time.monotonic() - started, **outcome)
	_commit()
	_finish_if_done(run)
	return {"status": "Done", **outcome}


def _finish_if_done(run: str, resumed: bool = False) -> bool:
	"""When the last chunk has landed: every profile's figures, then Completed (exactly one job does
	it, beating the run's heartbeat as it goes)."""
	with fanout.finishing(run, wait=0 if resumed else 60) as ready:
		if not ready:
			return False
		try:
			refresh_all_profiles(run=run)
		except Exception:
			_rollback()
			_failed(run)
			raise
		doc = frappe.db.get_value("Fishpond Run", run, ["started_at", "processed", "timings"], as_dict=True)
		elapsed = (now_datetime() - get_datetime(doc.started_at)).total_seconds() if doc.started_at else 0
		timings = {
			**frappe.parse_json(doc.timings or "{}"),
			"seconds": round(elapsed, 3),
			"documents_per_second": round((doc.processed or 0) / elapsed, 1) if elapsed else None,
			"workers": len({c.worker for c in fanout.chunk_rows(run, ["worker"]) if c.worker}),
		}
		runs.save_progress(
			run, status="Completed", progress=100, finished_at=now_datetime(), timings=frappe.as_json(timings)
		)
		runs.publish(run, 100, _("Completed"))
		_commit()
	return True


def result(run: str) -> dict:
	values = frappe.db.get_value(
		"Fishpond Run", run, ["status", "processed", "inserted", "updated", "unchanged"], as_dict=True
	)
	return dict(values)


def _failed(run: str) -> None:
	runs.save_progress(
		run, status="Failed", errors=(frappe.db.get_value("Fishpond Run", run, "errors") or 0) + 1
	)
	runs.append_log(run, frappe.get_traceback()[-4000:])
	_commit()
	frappe.log_error(
		title=_("Fishpond backfill failed"), reference_doctype="Fishpond Run", reference_name=run
	)


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


def refresh_all_profiles(batch: int = 2000, run: str | None = None) -> int:
	"""Recompute the aggregates of every profile that has a transaction, in batches (beating
	``run``'s heartbeat after each)."""
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
		if run:
			runs.save_progress(run)
		_commit()
	return written


def resume_stuck_runs() -> list[str]:
	"""Scheduler: re-enqueue backfill runs whose worker died (they keep their chunks and enqueue
	those not done)."""
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

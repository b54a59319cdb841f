"""Fan a durable run out over the workers: its chunks are rows of the run, each one a job of its own.

A run that fans out (a full rescore, a backfill) plans once, stores its chunks as *Fishpond Run
Chunk* rows (a range of names of one doctype, from and to, in the database's order) and enqueues
each chunk on the long queue as a :func:`chunk_job`. Any number of workers take them, in any order.
A chunk job takes its chunk with :func:`start_chunk` (which skips a chunk done before), does its
work in its own transaction, ends it with :func:`chunk_done` and goes on with the run's next queued
chunks for a while, withdrawing their jobs (a job's own cost is paid once for many chunks).
:func:`chunk_done` adds the chunk's counts to the run's in one statement (chunks land
concurrently) and moves the run's one progress bar. The job that sees the last chunk land claims
the finish (:func:`finishing`, under a database lock held until the run is complete, so exactly one
does).

A run of several **stages** (a full rescore: summarise, then score) marks each chunk with its stage;
the finish of one stage adds the next stage's chunks (:func:`insert_ranges`) and enqueues them, under
the same lock, so each stage starts once.

Running the plan again (the cron's resume of a run whose heartbeat stopped, or *Resume* on a failed
run) keeps the chunks and enqueues those not done (:func:`enqueue_chunks`); a chunk whose worker died
is enqueued again once its job's timeout has passed. With one worker the chunks run one after
another, as a single job would.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from contextlib import contextmanager

import frappe
from frappe import _
from frappe.query_builder import functions as fn
from frappe.utils import add_to_date, get_datetime, now_datetime
from rq import get_current_job

from crm_fishpond import jobs
from crm_fishpond.sync import runs

CHUNK_DOCTYPE = "Fishpond Run Chunk"
OUTPUT_DOCTYPE = "Fishpond Chunk Output"
CHUNK_TIMEOUT = 1800  # seconds a chunk job may run; a chunk takes seconds
# a chunk job goes on with the run's next queued chunks until it has run this long (chunk_job). The
# job that lands a run's last chunk also finishes the run (a backfill recomputes every profile's
# figures, about 30 s a 100,000 profiles), within CHUNK_TIMEOUT: this leaves it 1,500 s less a chunk.
GO_ON_SECONDS = 300
CHUNK_JOB = "crm_fishpond.sync.fanout.chunk_job"
DEAD_MARGIN = 600  # seconds after its timeout before a Running chunk counts as lost
PLAN_PROGRESS = 10  # the progress bar's share of the plan; the chunks fill the rest


def chunk_job_id(run: str, chunk: str) -> str:
	return f"crm_fishpond:chunk:{run}:{chunk}"


def insert_chunks(run: str, doctype: str, chunks: list[list[str]], stage: str | None = None) -> int:
	"""Store ``chunks`` (lists of names of ``doctype``, in order) as the run's next chunk rows, of
	``stage`` for a run of several stages (the chunk job reads it to know its work)."""
	return insert_ranges(run, doctype, [(c[0], c[-1], len(c)) for c in chunks if c], stage)


def insert_ranges(
	run: str, doctype: str, ranges: list[tuple[str, str, int]], stage: str | None = None
) -> int:
	"""Store chunk rows for ``ranges`` (from name, to name, records), in order: :func:`insert_chunks`
	when the names are known by their bounds only (a later stage over the chunks of an earlier one)."""
	if not ranges:
		return 0
	start = len(chunk_rows(run))
	now, user = now_datetime(), frappe.session.user
	head = (now, now, user, user, run, "Fishpond Run", "chunks")
	columns = ["name", "creation", "modified", "owner", "modified_by", "parent", "parenttype", "parentfield"]
	columns += ["idx", "status", "stage", "reference_doctype", "from_name", "to_name", "records"]
	rows = [
		(
			frappe.generate_hash(length=10),
			*head,
			start + i + 1,
			"Queued",
			stage,
			doctype,
			first,
			last,
			records,
		)
		for i, (first, last, records) in enumerate(ranges)
	]
	frappe.db.bulk_insert(CHUNK_DOCTYPE, columns, rows)
	return len(rows)


def split(names: list[str], size: int) -> list[list[str]]:
	return [names[start : start + size] for start in range(0, len(names), size)]


def chunk_rows(run: str, fields: list[str] | None = None) -> list:
	"""The run's chunks in order: name, status, started_at and ``fields``."""
	table = frappe.qb.DocType(CHUNK_DOCTYPE)
	columns = ["name", "idx", "status", "started_at", *(fields or [])]
	return (
		frappe.qb.from_(table)
		.select(*[table[c] for c in columns])
		.where(table.parent == run)
		.where(table.parenttype == "Fishpond Run")
		.orderby(table.idx)
		.run(as_dict=True)
	)


def enqueue_chunks(run: str, work: str) -> int:
	"""Enqueue every chunk of the run not done yet as a :func:`chunk_job` doing ``work`` (the dotted
	path of ``work(run, chunk, row)``); returns how many.

	A chunk still marked Running after its job's timeout lost its worker (rq stops a job at its
	timeout): its job record, when the chunk ran under its own job, is dropped so that enqueueing the
	same job id is not skipped as a duplicate of the dead one (a chunk another job went on with had
	its own job withdrawn). A failed chunk is queued again."""
	pending = [c for c in chunk_rows(run) if c.status != "Done"]
	dead_before = _dead_before()
	for chunk in pending:
		if chunk.status == "Running" and chunk.started_at and get_datetime(chunk.started_at) < dead_before:
			jobs.forget_job(chunk_job_id(run, chunk.name))
		if chunk.status == "Failed":
			set_chunk(chunk.name, status="Queued")
	_commit()
	for chunk in pending:
		jobs.enqueue(
			CHUNK_JOB,
			job_id=chunk_job_id(run, chunk.name),
			queue="long",
			timeout=CHUNK_TIMEOUT,
			run=run,
			chunk=chunk.name,
			work=work,
		)
	_commit()
	return len(pending)


def chunk_job(run: str, chunk: str, work: str, **kwargs) -> dict:
	"""The job of a chunk: take the chunk (:func:`start_chunk`) and do it with ``work`` (the dotted path
	of ``work(run, chunk, row, **kwargs)``), then go on with the run's next queued chunks
	(:func:`take_next`), one at a time, until the job has run GO_ON_SECONDS. Returns its status and
	how many chunks it did.

	A job costs its worker more than its chunk's work: rq forks a work horse for it, which imports
	the work's modules (pandas, the engine) again, seconds on a small machine. A job that goes on
	pays that once for many chunks, and withdraws the jobs of the chunks it takes. This module
	imports nothing heavy and ``work`` is imported only when there is a chunk to do, so a job that
	finds its chunk taken costs its worker little."""
	started = time.monotonic()
	row = start_chunk(run, chunk)
	if row is None:
		return {"status": "Skipped", "chunks": 0}
	do = frappe.get_attr(work)
	do(run, chunk, row, **kwargs)
	done = 1
	while time.monotonic() - started < GO_ON_SECONDS and (taken := take_next(run)):
		_reopen_replica()
		do(run, *taken, **kwargs)
		done += 1
	return {"status": "Done", "chunks": done}


def _reopen_replica() -> None:
	"""Let the next chunk's reads go to the site's read replica, as its own job's would.

	``frappe.read_only`` opens a process's replica connection once: after its read it closes the
	connection and goes back to the primary but keeps both in ``frappe.local``, and while they are
	kept every later ``read_only`` read of the process stays on the primary. A job is one process, so
	a job that goes on with another chunk forgets them first (only between reads, on the primary)."""
	local = frappe.local
	if getattr(local, "primary_db", None) is not None and local.db is local.primary_db:
		del local.replica_db, local.primary_db


def take_next(run: str) -> tuple[str, dict] | None:
	"""Take the run's first queued chunk for this job (:func:`start_chunk`: of two jobs taking the
	same chunk one gets it, the other tries the next) and withdraw the chunk's own job, which is
	waiting in the queue; returns (chunk, row), or None when no chunk is queued or the run is no
	longer running."""
	if frappe.db.get_value("Fishpond Run", run, "status") != "Running":
		return None
	for chunk in chunk_rows(run):
		if chunk.status == "Queued" and (row := start_chunk(run, chunk.name)):
			jobs.withdraw_job(chunk_job_id(run, chunk.name))
			return chunk.name, row
	return None


def run_here(run: str, method: Callable[..., object]) -> int:
	"""Run the chunks not done one after another in this process, as ``method(run=, chunk=)`` (a
	:func:`chunk_job`, which goes on with the next ones itself), instead of enqueueing them: for a command run from the shell (the demo, ``fishpond-backfill``)
	on a site whose workers may be stopped. A chunk a worker is running is left to it
	(:func:`start_chunk`). Chunks that a chunk's landing adds (the next stage of the run) are run
	too, until a pass lands nothing. Returns how many were tried."""
	tried: set[str] = set()
	while pending := [c.name for c in chunk_rows(run) if c.status != "Done" and c.name not in tried]:
		for chunk in pending:
			tried.add(chunk)
			method(run=run, chunk=chunk)
	return len(tried)


def start_chunk(run: str, chunk: str):
	"""Take the chunk for this worker and return its row (``reference_doctype``, ``from_name``,
	``to_name``), or None when there is nothing to do: the chunk is done, another job is running it,
	or the run is no longer running (failed, cancelled).

	The chunk's row is read with a lock, so of two jobs taking the same chunk at once (a chunk
	enqueued again, a shell command running a run's chunks while workers have them) the second waits
	for the first to commit and then sees it Running. A chunk Running since before its job's timeout
	(plus a margin for rq to stop the job) lost its worker and may be taken again."""
	table = frappe.qb.DocType(CHUNK_DOCTYPE)
	rows = (
		frappe.qb.from_(table)
		.select(table.parent, table.status, table.stage, table.started_at, table.reference_doctype)
		.select(table.from_name, table.to_name, table.attempts)
		.where(table.name == chunk)
		.for_update()
		.run(as_dict=True)
	)
	row = rows[0] if rows else None
	if not row or row.parent != run or row.status == "Done":
		return None
	if row.status == "Running" and row.started_at and get_datetime(row.started_at) > _dead_before():
		return None
	if frappe.db.get_value("Fishpond Run", run, "status") != "Running":
		return None
	set_chunk(
		chunk,
		status="Running",
		attempts=(row.attempts or 0) + 1,
		worker=_worker(),
		started_at=now_datetime(),
	)
	runs.save_progress(run)  # the heartbeat: a run is alive while its chunks start and land
	_commit()
	return row


def _worker() -> str:
	"""The rq worker running this job (one name for every job it forks, with its host and process
	id), else this process."""
	job = get_current_job()
	return getattr(job, "worker_name", None) or f"{socket.gethostname()}:{os.getpid()}"


def _dead_before():
	"""A chunk Running since before this lost its worker: rq stops a job at its timeout (and its
	monitor kills the work horse a minute later)."""
	return add_to_date(now_datetime(), seconds=-(CHUNK_TIMEOUT + DEAD_MARGIN))


def chunk_done(
	run: str,
	chunk: str,
	records: int,
	seconds: float,
	stats: dict | None = None,
	*,
	processed: bool = True,
	base: float = PLAN_PROGRESS,
	**counts,
) -> None:
	"""Mark the chunk Done with its counts and add them to the run's (``counts``: run counters such
	as updated, unchanged, inserted; ``stats``: anything else the finish adds up). Its ``records``
	count as the run's processed ones and move the progress bar from ``base`` unless ``processed``
	is False (a stage before the last, whose runner moves the bar itself)."""
	set_chunk(
		chunk,
		status="Done",
		records=records,
		seconds=round(seconds, 3),
		finished_at=now_datetime(),
		stats=frappe.as_json(stats) if stats else None,
		**{k: counts[k] for k in ("updated", "unchanged", "inserted") if k in counts},
	)
	if processed:
		counts["processed"] = records
	add_counts(run, base=base, **counts)


def failed_chunk(chunk: str) -> None:
	set_chunk(chunk, status="Failed")
	_commit()


def set_chunk(chunk: str, **values) -> None:
	frappe.db.set_value(CHUNK_DOCTYPE, chunk, values, update_modified=False)


def add_counts(run: str, base: float = PLAN_PROGRESS, **deltas: int) -> None:
	"""Add to the run's counters in one statement, beat its heartbeat and, when ``processed`` moved,
	its progress bar (from ``base``, where the stages before the chunks left it, to 99)."""
	table = frappe.qb.DocType("Fishpond Run")
	query = frappe.qb.update(table).set(table.heartbeat, now_datetime()).where(table.name == run)
	for column, delta in deltas.items():
		query = query.set(table[column], fn.Coalesce(table[column], 0) + int(delta))
	query.run()
	if "processed" in deltas:
		processed, total = frappe.db.get_value("Fishpond Run", run, ["processed", "total"])
		progress = min(99.0, base + (99.0 - base) * processed / total) if total else 99.0
		frappe.db.set_value("Fishpond Run", run, "progress", progress, update_modified=False)
		runs.publish(run, progress, _("{0} of {1}").format(processed, total))


@contextmanager
def finishing(run: str, wait: int = 60):
	"""Hold the run's finish lock for the whole finish; yields whether the caller should finish the
	run: it is Running and every chunk is done.

	The finisher completes the run before it leaves, so a chunk landing at the same moment waits on
	the lock and then finds the run Completed. A finisher that dies releases the lock with its
	database connection, and the run's resume (``wait=0``: it never waits behind a live finisher)
	finishes it. Yields False at once when the lock stays held longer than ``wait`` seconds (on
	PostgreSQL the lock does not wait at all; the holder or the cron's resume finishes)."""
	lock = runs.db_lock(f"finish:{run}", timeout=wait)
	try:
		lock.__enter__()
	except runs.RunLocked:
		yield False
		return
	try:
		_commit()  # a fresh snapshot: the chunks other workers committed
		running = frappe.db.get_value("Fishpond Run", run, "status") == "Running"
		yield running and all(c.status == "Done" for c in chunk_rows(run))
	finally:
		lock.__exit__(None, None, None)


def store_output(run: str, chunk: str, data: str, records: int) -> None:
	"""Keep what the chunk computed for the run's next step (a *Fishpond Chunk Output*), in the
	chunk's transaction; a chunk taken again replaces its own.

	The earlier output is found with a plain read and deleted by name: a ``DELETE ... WHERE run, chunk``
	that matches nothing still locks the gap where such a row would go, and two chunks landing at once
	then each waited for the other's gap to insert (a deadlock that failed the chunk). Only one job
	holds a chunk at a time (:func:`start_chunk`), so the read cannot miss a row being written."""
	earlier = frappe.get_all(OUTPUT_DOCTYPE, filters={"run": run, "chunk": chunk}, pluck="name")
	if earlier:
		frappe.db.delete(OUTPUT_DOCTYPE, {"name": ("in", earlier)})
	frappe.get_doc(
		{"doctype": OUTPUT_DOCTYPE, "run": run, "chunk": chunk, "records": records, "data": data}
	).insert(ignore_permissions=True)


def outputs(run: str, chunks) -> list[str]:
	"""The stored outputs of ``chunks`` (rows of :func:`chunk_rows`), in their order. A chunk Done
	without its output is an error: the next step must not run on part of the data."""
	table = frappe.qb.DocType(OUTPUT_DOCTYPE)
	stored = dict(frappe.qb.from_(table).select(table.chunk, table.data).where(table.run == run).run())
	missing = [c for c in chunks if c.name not in stored]
	if missing:
		frappe.throw(_("The output of chunk {0} of run {1} is missing.").format(missing[0].idx or "", run))
	return [stored.pop(c.name) for c in chunks]


def output(run: str, chunk: str) -> str | None:
	"""The stored output of one chunk, or None."""
	return frappe.db.get_value(OUTPUT_DOCTYPE, {"run": run, "chunk": chunk}, "data")


def delete_outputs(run: str) -> None:
	"""Delete the run's outputs by name (found with a plain read: see :func:`store_output`; a delete by
	run would lock every row and gap it scanned while other runs' chunks store theirs)."""
	names = frappe.get_all(OUTPUT_DOCTYPE, filters={"run": run}, pluck="name")
	if names:
		frappe.db.delete(OUTPUT_DOCTYPE, {"name": ("in", names)})


def summed(chunks, key: str = "stats") -> dict:
	"""The chunks' ``stats`` added up, key by key."""
	total: dict = {}
	for chunk in chunks:
		for name, value in json.loads(chunk.get(key) or "{}").items():
			total[name] = total.get(name, 0) + value
	return total


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk is the unit of work of a resumable job

"""Full rescore (a durable Fishpond Run) and the incremental rescore of dirty profiles.

Full run, one job on the long queue (the population models need the whole pond in one place):

	compute   read the pond set-based, run the engine; fit the models (or reuse the run's stored fit
	          when resuming) and store them as a Fishpond Model Fit; commit with the cursor
	write     profiles in name order, CHUNK at a time: write the differences, advance the cursor,
	          commit. A failing chunk is rolled back, logged (Error Log) and retried; after RETRIES
	          the run fails with its cursor on that chunk
	finish    Completed with counts and timings; profiles marked dirty during the run are rescored

The cursor (``as_of``, ``model_fit``, ``after``) makes a rerun of the same run converge: it reads
the pond again, reuses the stored fit and the same ``as_of``, skips the chunks already committed and
writes only what still differs. A worker that dies leaves the run Running with a stale heartbeat;
``schedule_rescore`` (cron, every 10 minutes) re-enqueues it.

Two runs never overlap: a run is only created under a database lock after checking for an active
one, and a run only executes while it holds a second, session-scoped database lock (MariaDB
GET_LOCK / PostgreSQL advisory lock), which the server releases by itself if the worker dies.

Incremental: ``rescore_profiles`` (called by the deduplicated drain job in crm_fishpond.jobs) rescores
a batch of profiles with the latest stored fit and writes through the same writer. While a full run
is writing, incremental batches are parked and re-marked dirty when it finishes, so the full run's
older snapshot never overwrites a fresher incremental result.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import frappe
import pandas as pd
from frappe import _
from frappe.utils import add_days, get_datetime, getdate, now_datetime, nowdate
from redis import Redis

from crm_fishpond import duplicates, jobs
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.pipeline import PondResult, run_pond
from crm_fishpond.scoring import loader, models, writer
from crm_fishpond.scoring.config import engine_setup
from crm_fishpond.sync import runs

RUN_TYPE = "Rescore"
CHUNK = 2000
RETRIES = 3
RETRY_DELAY_SECONDS = 2
DEFERRED_KEY = "fishpond:rescore_deferred"
# batches the stored fit cannot serve wait for the next full run (which refits), not for the cron
POSTPONED_KEY = "fishpond:rescore_postponed"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class RunLocked(Exception):
	"""Another worker is executing a rescore of this site."""


def _job_id(run: str) -> str:
	return f"crm_fishpond:rescore:{run}"


# --------------------------------------------------------------------------------------------------
# starting


def start_full_rescore(triggered_by: str | None = None, reason: str | None = None) -> str:
	"""Create (or return the active) rescore run and enqueue it on the long queue."""
	try:
		with db_lock("create", timeout=10):
			run = runs.active_run(RUN_TYPE)
			if not run:
				run = runs.create_run(RUN_TYPE, triggered_by)
				if reason:
					runs.append_log(run, _("Started: {0}").format(reason))
			_commit()
	except RunLocked:
		frappe.throw(_("Another rescore is being started right now; try again in a moment."))
	enqueue_run(run)
	return run


def enqueue_run(run: str) -> None:
	jobs.enqueue(
		"crm_fishpond.scoring.runner.run_rescore",
		job_id=_job_id(run),
		queue="long",
		timeout=4 * 3600,
		run=run,
	)


# --------------------------------------------------------------------------------------------------
# the full run


def run_rescore(run: str, chunk_size: int | None = None) -> dict:
	"""Execute (or resume) a rescore run. Safe to call again after a crash."""
	status = frappe.db.get_value("Fishpond Run", run, "status")
	if status is None:
		return {"status": "Missing"}
	if status in ("Completed", "Cancelled"):
		return {"status": status}
	try:
		with db_lock("run", timeout=0):
			return _execute(run, chunk_size or CHUNK)
	except RunLocked:
		runs.append_log(run, _("Another worker is running a rescore; this attempt stepped aside"))
		_commit()
		return {"status": "Locked"}


def _execute(run: str, chunk_size: int) -> dict:
	started = time.monotonic()
	cursor = runs.get_cursor(run)
	cursor.setdefault("as_of", nowdate())
	cursor.setdefault("after", "")
	values = {"status": "Running"}
	if not frappe.db.get_value("Fishpond Run", run, "started_at"):
		values["started_at"] = now_datetime()
	runs.save_progress(run, cursor, **values)
	runs.publish(run, 1, _("Reading the pond"))
	_commit()

	timings: dict[str, float] = {}
	try:
		result, fit, sizes = _compute(run, cursor, timings)
	except Exception:
		_fail(run, _("The engine run failed"))
		raise
	names = sorted(str(p) for p in result.metrics.index)  # the cursor compares names in Python order
	todo = [n for n in names if n > cursor["after"]]
	total = len(names)
	counts = frappe.db.get_value(
		"Fishpond Run", run, ["processed", "updated", "unchanged", "inserted", "errors"], as_dict=True
	)
	processed = total - len(todo)
	runs.save_progress(run, cursor, total=total, processed=processed)
	_commit()

	rule_tags = writer.enabled_rule_tags()
	tags_by_profile = result.tags
	write_started = time.monotonic()
	stats = writer.WriteStats()
	for start in range(0, len(todo), chunk_size):
		chunk = todo[start : start + chunk_size]
		metrics = result.metrics.loc[chunk]
		tags = tags_by_profile[tags_by_profile["profile"].isin(chunk)] if len(tags_by_profile) else None
		chunk_stats = _write_chunk_with_retries(run, metrics, tags, fit, rule_tags, counts)
		stats.add(chunk_stats)
		processed += len(chunk)
		cursor["after"] = chunk[-1]
		counts.updated = (counts.updated or 0) + chunk_stats.updated
		counts.unchanged = (counts.unchanged or 0) + chunk_stats.unchanged
		counts.inserted = (counts.inserted or 0) + chunk_stats.stage_changes + chunk_stats.tags_added
		progress = 10 + 89.0 * processed / total if total else 99
		runs.save_progress(
			run,
			cursor,
			processed=processed,
			updated=counts.updated,
			unchanged=counts.unchanged,
			inserted=counts.inserted,
			progress=progress,
		)
		runs.publish(run, progress, _("{0} of {1} profiles").format(processed, total))
		_commit()
	timings["write"] = round(time.monotonic() - write_started, 3)
	elapsed = time.monotonic() - started
	timings["total"] = round(elapsed, 3)
	summary = {
		**timings,
		**sizes,
		"profiles_per_second": round(total / elapsed, 1) if elapsed else None,
		"rows_per_second": round((total + sizes.get("purchase_rows", 0)) / elapsed, 1) if elapsed else None,
		"this_attempt": stats.as_dict(),
		"model_fit": fit,
		"as_of": cursor["as_of"],
	}
	runs.save_progress(
		run,
		cursor,
		status="Completed",
		progress=100,
		finished_at=now_datetime(),
		timings=frappe.as_json(summary),
	)
	runs.append_log(
		run,
		_("Completed: {0} profiles, {1} updated, {2} stage changes, {3} tags added, {4} removed").format(
			total, stats.updated, stats.stage_changes, stats.tags_added, stats.tags_removed
		),
	)
	runs.publish(run, 100, _("Completed"))
	_commit()
	release_deferred()
	# the duplicate pass compares every profile with every other: its own job, after the scores
	duplicates.enqueue_pass()
	# follow-up plans enrol the profiles that entered their crowds (crm_fishpond.nurture.crowd)
	jobs.enqueue(
		"crm_fishpond.nurture.crowd.enrol_crowds",
		job_id="crm_fishpond:nurture_crowds:*",
		queue="long",
		timeout=3600,
	)
	return {"status": "Completed", "total": total, "model_fit": fit, **stats.as_dict()}


def end_of_day(day: str) -> pd.Timestamp:
	"""The engine's ``as_of`` for a day: its last instant, so today's activity counts while every run of
	the same day sees the same "now" (decay and recency do not drift by the hour)."""
	return pd.Timestamp(day).normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def _compute(run: str, cursor: dict, timings: dict) -> tuple[PondResult, str, dict]:
	"""Read the pond and run the engine; fit and store the models unless the run already did."""
	t = time.monotonic()
	setup = engine_setup()
	config = setup.config
	inputs = loader.load_inputs()
	timings["load"] = round(time.monotonic() - t, 3)
	sizes = {
		"profiles": len(inputs.profiles),
		"purchase_rows": len(inputs.transactions),
		"interactions": len(inputs.interactions),
		"events": len(inputs.events),
	}
	runs.save_progress(run, progress=5)
	runs.publish(run, 5, _("Running the engine"))
	_commit()
	t = time.monotonic()
	fitted = models.load_fit(cursor["model_fit"]) if cursor.get("model_fit") else None
	try:
		result = run_pond(inputs, config, end_of_day(cursor["as_of"]), models=fitted, dedupe=False)
	except (EngineConfigError, EngineInputError) as e:
		frappe.throw(_("The scoring engine rejected the pond: {0}").format(str(e)))
	timings["engine"] = round(time.monotonic() - t, 3)
	timings["engine_steps"] = {k: round(v, 3) for k, v in result.timings.items()}
	setup.record_status(result.rule_errors)
	for doctype, name in sorted(setup.left_out) + sorted(_engine_failed(setup, result)):
		runs.append_log(run, _("Rule {0} {1} failed and was skipped").format(_(doctype), name))
	if fitted is None:
		fit, created = models.save_fit(
			result.models, run=run, profiles=sizes["profiles"], purchase_rows=sizes["purchase_rows"]
		)
		cursor["model_fit"] = fit
		note = (
			_("Fitted models {0}: {1}").format(fit, frappe.db.get_value("Fishpond Model Fit", fit, "changes"))
			if created
			else _("Models unchanged: reusing {0}").format(fit)
		)
		runs.append_log(run, note)
	runs.save_progress(run, cursor, progress=10)
	_commit()
	return result, cursor["model_fit"], sizes


def _engine_failed(setup, result: PondResult) -> list[tuple[str, str]]:
	return [setup.used[key] for e in result.rule_errors if (key := (e["kind"], e["rule"])) in setup.used]


def _write_chunk_with_retries(run, metrics, tags, fit, rule_tags, counts) -> writer.WriteStats:
	attempt = 0
	while True:
		attempt += 1
		frappe.db.savepoint("fishpond_rescore_chunk")
		try:
			return writer.write_results(metrics, tags, model_fit=fit, rule_tags=rule_tags)
		except Exception:
			frappe.db.rollback(save_point="fishpond_rescore_chunk")
			if not frappe.flags.in_test:
				frappe.db.rollback()
			counts.errors = (counts.errors or 0) + 1
			frappe.log_error(
				title=_("Fishpond rescore: chunk failed (attempt {0} of {1})").format(attempt, RETRIES),
				reference_doctype="Fishpond Run",
				reference_name=run,
			)
			runs.save_progress(run, errors=counts.errors)
			runs.append_log(
				run,
				_("Chunk starting at {0} failed (attempt {1} of {2})").format(
					metrics.index[0], attempt, RETRIES
				),
			)
			_commit()
			if attempt >= RETRIES:
				_fail(run, _("Gave up on the chunk starting at {0}").format(metrics.index[0]), rollback=False)
				raise
			if not frappe.flags.in_test:
				time.sleep(RETRY_DELAY_SECONDS * attempt)


def _fail(run: str, message: str, rollback: bool = True) -> None:
	if rollback:
		_rollback()
	errors = frappe.db.get_value("Fishpond Run", run, "errors") or 0
	runs.save_progress(run, status="Failed", errors=errors + (1 if rollback else 0))
	runs.append_log(run, message)
	if rollback:
		runs.append_log(run, frappe.get_traceback()[-4000:])
		frappe.log_error(
			title=_("Fishpond rescore failed"), reference_doctype="Fishpond Run", reference_name=run
		)
	runs.publish(run, frappe.db.get_value("Fishpond Run", run, "progress") or 0, _("Failed"))
	_commit()


# --------------------------------------------------------------------------------------------------
# incremental


def rescore_profiles(profiles: Iterable[str]) -> int:
	"""Rescore a batch of dirty profiles with the latest stored fit; returns profiles written.

	Without a stored fit (no full run yet) there is nothing consistent to score with and the batch is
	left to the first full run. While a full run is writing, the batch is parked (see module doc). A
	rule that fails is skipped and marked on its record, the rest of the batch is scored. When the
	batch cannot be scored at all (settings the stored fit cannot serve), it is logged and parked until
	the next full run: no dirty profile is dropped.
	"""
	names = sorted({p for p in profiles if p})
	if not names:
		return 0
	fit = models.latest_fit()
	if not fit:
		return 0
	if _full_run_writing():
		Redis.sadd(frappe.cache, _deferred_key(), *names)
		return 0
	try:
		setup = engine_setup()
		fitted = models.load_fit(fit).with_clv_reference(models.clv_reference())
		inputs = loader.load_inputs(names)
		result = run_pond(inputs, setup.config, end_of_day(nowdate()), models=fitted, dedupe=False)
	except (EngineConfigError, EngineInputError, frappe.ValidationError):
		# a settings change the stored fit cannot serve (e.g. other RFM bins): park the batch, it is
		# marked dirty again when the next full run finishes (or the cron finds no run active)
		frappe.log_error(title=_("Fishpond: incremental rescore postponed"))
		Redis.sadd(frappe.cache, frappe.cache.make_key(POSTPONED_KEY), *names)
		return 0
	setup.record_status(result.rule_errors)
	stats = writer.write_results(result.metrics, result.tags, model_fit=fit)
	return stats.updated


def _full_run_writing() -> bool:
	return bool(frappe.db.exists("Fishpond Run", {"run_type": RUN_TYPE, "status": "Running"}))


def _deferred_key() -> str:
	return frappe.cache.make_key(DEFERRED_KEY)


def release_deferred(postponed: bool = True) -> int:
	"""Mark the profiles parked during a full run dirty again (they are rescored on fresh data); with
	``postponed``, also the batches the stored fit could not serve (only a finished full run, which
	refits, should release those: the cron would retry them into the same error every 10 minutes)."""
	keys = [_deferred_key()] + ([frappe.cache.make_key(POSTPONED_KEY)] if postponed else [])
	parked = []
	for key in keys:
		while batch := Redis.spop(frappe.cache, key, 1000):
			parked += [m.decode() if isinstance(m, bytes) else m for m in batch]
	if parked:
		jobs.mark_dirty(parked)
	return len(parked)


# --------------------------------------------------------------------------------------------------
# scheduling


def schedule_rescore() -> str | None:
	"""Cron (every 10 minutes): resume stuck runs, start the scheduled run when it is due."""
	for run in runs.stale_runs(RUN_TYPE):
		runs.append_log(run, _("Resumed after the worker stopped responding"))
		_commit()
		enqueue_run(run)
	if not runs.active_run(RUN_TYPE):
		release_deferred(postponed=False)
	if not is_due():
		return None
	return start_full_rescore(triggered_by="Administrator", reason=_("scheduled"))


def last_slot(now=None) -> object | None:
	"""The latest scheduled start at or before ``now`` (None for Manual Only)."""
	settings = frappe.get_cached_doc("Fishpond Settings")
	frequency = settings.rescore_frequency or "Daily"
	if frequency == "Manual Only":
		return None
	now = get_datetime(now or now_datetime())
	at = get_datetime(f"{getdate(now)} {settings.rescore_time or '02:00:00'!s}")
	if frequency == "Weekly":
		weekday = WEEKDAYS.index(settings.get("rescore_weekday") or "Sunday")
		at = get_datetime(f"{add_days(getdate(now), -((now.weekday() - weekday) % 7))} {at.time()}")
		if at > now:
			at = get_datetime(f"{add_days(at.date(), -7)} {at.time()}")
	elif at > now:
		at = get_datetime(f"{add_days(getdate(now), -1)} {at.time()}")
	return at


def is_due(now=None) -> bool:
	"""A scheduled run is due when no rescore run was created since the last slot (a run that failed
	is not retried before the next slot: a crashed one is resumed, a failing one waits for a person)."""
	slot = last_slot(now)
	if slot is None:
		return False
	if runs.active_run(RUN_TYPE):
		return False
	return not frappe.db.exists("Fishpond Run", {"run_type": RUN_TYPE, "creation": (">=", slot)})


# --------------------------------------------------------------------------------------------------
# status


def run_status(run: str | None = None) -> dict:
	run = (
		run
		or runs.active_run(RUN_TYPE)
		or frappe.db.get_value("Fishpond Run", {"run_type": RUN_TYPE}, "name", order_by="creation desc")
	)
	if not run:
		return {}
	return frappe.db.get_value(
		"Fishpond Run",
		run,
		[
			"name",
			"status",
			"progress",
			"total",
			"processed",
			"updated",
			"unchanged",
			"inserted",
			"errors",
			"started_at",
			"finished_at",
			"heartbeat",
		],
		as_dict=True,
	)


# --------------------------------------------------------------------------------------------------
# database locks


class db_lock:
	"""A session-scoped named lock in the database (released on exit, or by the server when the
	connection dies). ``timeout=0`` fails at once with :class:`RunLocked` when it is held."""

	def __init__(self, name: str, timeout: int = 0):
		self.key = f"fishpond:{frappe.conf.db_name}:{name}"[:64]
		self.timeout = timeout

	def __enter__(self):
		if frappe.db.db_type == "postgres":
			got = frappe.db.sql("select pg_try_advisory_lock(hashtext(%s))", self.key)[0][0]
		else:
			got = frappe.db.sql("select get_lock(%s, %s)", (self.key, self.timeout))[0][0]
		if not got:
			raise RunLocked(self.key)
		return self

	def __exit__(self, *exc):
		if frappe.db.db_type == "postgres":
			frappe.db.sql("select pg_advisory_unlock(hashtext(%s))", self.key)
		else:
			frappe.db.sql("select release_lock(%s)", self.key)
		return False


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk is the unit of work of a resumable job


def _rollback() -> None:
	if not frappe.flags.in_test:
		frappe.db.rollback()

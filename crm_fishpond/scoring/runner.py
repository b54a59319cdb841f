"""Full rescore (a durable Fishpond Run, fanned out over the workers) and the incremental rescore.

Full run:

	plan       one job on the long queue: read every profile's name, split the profiles (in the
	           database's order) into chunks of CHUNK and enqueue each chunk as a job of its own
	summarise  any worker, in any order, as many at once as there are workers: read the chunk's
	           purchases and store its purchase summary, one row per profile (Fishpond Purchase
	           Output)
	fit        the last summary to land fits the population models (RFM cut points, BG/NBD,
	           Gamma-Gamma and the CLV reference) once, on the summaries concatenated in the pond's
	           order, which is the fit of the whole pond
	           (crm_fishpond.engine.pipeline.fit_models_from_summary); stores it as a Fishpond Model
	           Fit, deletes the summaries and enqueues the score stage's chunks (the same ranges)
	score      any worker, in any order: read the chunk's profiles, score them with the stored fit
	           (every chunk gets exactly the rows one run over the whole pond would give) and write
	           the differences in one transaction. A failing write is rolled back, logged (Error Log)
	           and retried; after RETRIES the run fails
	finish     the last chunk to land completes the run, records the rules that failed, and starts
	           the duplicate pass and the plans' enrolment

No job reads every purchase: the plan reads one column of the profiles, the fit one summary row per
profile. The steps between the stages run one at a time (a database lock, crm_fishpond.sync.fanout).

Each chunk is a row of the run (Fishpond Run Chunk) with its stage, state, attempts, worker and
counts; the run's counters and its one progress bar add up the chunks as they land. Running the plan
again (the cron's resume of a run whose heartbeat stopped, or *Resume* on a failed run) keeps the
chunks, the summaries and the fit, and enqueues the chunks not done; a chunk whose worker died is
enqueued again once its job's timeout has passed. With one worker the chunks simply run one after
another.

Two runs never overlap: a run is only created under a database lock after checking for an active
one, and only one worker plans it at a time (a session-scoped database lock, GET_LOCK / PostgreSQL
advisory lock, which the server releases by itself if the worker dies).

The reads (the plan's and each chunk's) go to the site's read replica when it has one
(crm_fishpond.scoring.loader); they are plain consistent reads that take no locks.

Incremental: ``rescore_profiles`` (called by the deduplicated drain job in crm_fishpond.jobs) rescores
a batch of profiles with the latest stored fit and writes through the same writer. While a full run
is writing, incremental batches are parked and re-marked dirty when it finishes, so the full run's
older snapshot never overwrites a fresher incremental result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from functools import partial

import frappe
import pandas as pd
from frappe import _
from frappe.utils import add_days, get_datetime, getdate, now_datetime, nowdate
from redis import Redis

from crm_fishpond import duplicate_pass, jobs
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.frames import pack_frame, unpack_frame
from crm_fishpond.engine.pipeline import fit_models_from_summary, run_pond, summarise
from crm_fishpond.engine.rfm import SUMMARY_COLUMNS
from crm_fishpond.scoring import loader, models, writer
from crm_fishpond.scoring.config import engine_setup
from crm_fishpond.sync import fanout, runs

RUN_TYPE = "Rescore"
WORK_CHUNK = "crm_fishpond.scoring.runner.work_chunk"
LEAD = "Fishpond Lead"
SUMMARISE, SCORE = "Summarise", "Score"  # the stages of a full run (Fishpond Run Chunk.stage)
SUMMARY_PROGRESS = (5, 35)  # the progress bar over the summarise stage; the fit brings it to:
SCORE_PROGRESS = 40  # where the score stage starts
# profiles a chunk. Each rq job costs its worker seconds of its own (the work horse rq forks imports
# pandas, numpy, scipy and the engine again), paid once for the many chunks a job goes on with
# (fanout.chunk_job); a million profiles still give 50 chunks a stage to share out.
CHUNK = 20_000
RETRIES = 3
RETRY_DELAY_SECONDS = 2
DEFERRED_KEY = "fishpond:rescore_deferred"
# batches the stored fit cannot serve wait for the next full run (which refits), not for the cron
POSTPONED_KEY = "fishpond:rescore_postponed"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _job_id(run: str) -> str:
	return f"crm_fishpond:rescore:{run}"


# --------------------------------------------------------------------------------------------------
# starting


def start_full_rescore(triggered_by: str | None = None, reason: str | None = None) -> str:
	"""Create (or return the active) rescore run and enqueue it on the long queue."""
	try:
		with runs.db_lock("create", timeout=10):
			run = runs.active_run(RUN_TYPE)
			if not run:
				run = runs.create_run(RUN_TYPE, triggered_by)
				if reason:
					runs.append_log(run, _("Started: {0}").format(reason))
			_commit()
	except runs.RunLocked:
		frappe.throw(_("Another rescore is being started right now; try again in a moment."))
	enqueue_run(run)
	return run


def enqueue_run(run: str, chunk_size: int | None = None) -> None:
	"""Enqueue the run's plan (which enqueues its chunks); ``chunk_size`` profiles per chunk."""
	jobs.enqueue(
		"crm_fishpond.scoring.runner.run_rescore",
		job_id=_job_id(run),
		queue="long",
		timeout=4 * 3600,
		run=run,
		chunk_size=chunk_size,
	)


# --------------------------------------------------------------------------------------------------
# the full run: plan, summarise, fit, score (chunks on any number of workers: crm_fishpond.sync.fanout)


def run_rescore(run: str, chunk_size: int | None = None, here: bool = False) -> dict:
	"""Plan (or resume) a rescore run, then enqueue its chunks (``here``: run them in this process
	instead, e.g. from a shell command). Safe to call again after a crash: a planned run keeps its
	chunks, summaries and fit, and only the chunks not done are enqueued again."""
	status = frappe.db.get_value("Fishpond Run", run, "status")
	if status is None:
		return {"status": "Missing"}
	if status in ("Completed", "Cancelled"):
		return {"status": status}
	try:
		with runs.db_lock("run", timeout=0):
			resumed = _plan(run, chunk_size or CHUNK)
	except runs.RunLocked:
		runs.append_log(run, _("Another worker is running a rescore; this attempt stepped aside"))
		_commit()
		return {"status": "Locked"}
	if here:
		# a run resumed after its last summary landed fits first; an empty pond completes here
		_advance(run, resumed=True, here=True)
		fanout.run_here(run, partial(run_chunk, here=True))
	else:
		fanout.enqueue_chunks(run, WORK_CHUNK)
		_advance(run, resumed=resumed)
	return run_result(run)


def _plan(run: str, chunk_size: int) -> bool:
	"""Split the profiles into the chunks of the summarise stage, unless done before; returns whether
	the run was planned before (a resume)."""
	cursor = runs.get_cursor(run)
	cursor.setdefault("as_of", nowdate())
	values = {"status": "Running"}
	if not frappe.db.get_value("Fishpond Run", run, "started_at"):
		values["started_at"] = now_datetime()
	runs.save_progress(run, cursor, **values)
	if fanout.chunk_rows(run):  # planned before the crash or failure: its chunks, summaries, fit stand
		_commit()
		return True
	runs.publish(run, 1, _("Reading the pond"))
	_commit()
	started = time.monotonic()
	setup = engine_setup()
	try:
		names = loader.profile_names()
	except Exception:
		_fail(run, _("Reading the pond failed"))
		raise
	for doctype, name in sorted(setup.left_out):
		runs.append_log(run, _("Rule {0} {1} failed and was skipped").format(_(doctype), name))
	chunks = fanout.insert_chunks(run, LEAD, fanout.split(names, chunk_size), stage=SUMMARISE)
	timings = {"plan": round(time.monotonic() - started, 3), "profiles": len(names), "chunks": chunks}
	runs.save_progress(
		run,
		cursor,
		total=len(names),
		processed=0,
		progress=SUMMARY_PROGRESS[0],
		timings=frappe.as_json(timings),
	)
	runs.append_log(run, _("{0} profiles in {1} chunks").format(len(names), chunks))
	_commit()
	return False


def run_chunk(run: str, chunk: str, here: bool = False) -> dict:
	"""Do one chunk of a planned run in this process (the job of a chunk, crm_fishpond.sync.fanout's
	chunk_job, doing :func:`work_chunk`): skipped when done or taken, and followed by the run's next
	queued chunks."""
	return fanout.chunk_job(run, chunk, WORK_CHUNK, here=here)


def work_chunk(run: str, chunk: str, row, here: bool = False) -> dict:
	"""Do one chunk the job took (``row``: its stage and range), on whichever worker, in any order:
	summarise its profiles' purchases (the first stage) or score them (the second). The last chunk
	of a stage to land starts the next step (``here``: the caller runs the next stage's chunks in its
	own process)."""
	if row.stage == SUMMARISE:
		out = _summarise_chunk(run, chunk, row)
	else:
		out = _score_chunk(run, chunk, row)
	_advance(run, here=here)
	return out


def _summarise_chunk(run: str, chunk: str, row) -> dict:
	"""The first stage: the chunk's purchase summary (one row per profile), stored for the fit."""
	started = time.monotonic()
	cursor = runs.get_cursor(run)
	try:
		names = loader.profile_names_between(row.from_name, row.to_name)
		inputs = loader.load_chunk_purchases(names, between=(row.from_name, row.to_name))
		summary = summarise(inputs, engine_setup().config, end_of_day(cursor["as_of"]))
		# the profiles named: the score stage scores the chunk from this summary (_stored_summary)
		fanout.store_output(run, chunk, pack_frame(summary.reset_index()), len(summary))
	except Exception as e:
		_chunk_failed(
			run,
			chunk,
			e,
			_("Summarising the chunk from {0} to {1} failed").format(row.from_name, row.to_name),
		)
		raise
	buyers = int((summary["orders"].to_numpy() > 0).sum())
	fanout.chunk_done(
		run,
		chunk,
		records=len(names),
		seconds=time.monotonic() - started,
		stats={"purchase_rows": len(inputs.transactions), "buyers": buyers},
		processed=False,
	)
	_summary_progress(run)
	_commit()
	return {"status": "Done", "profiles": len(names), "buyers": buyers}


def _chunk_failed(run: str, chunk: str, error: Exception, message: str) -> None:
	"""A chunk whose reading or engine step failed fails its run (the resume takes it again); the
	engine's refusal of the data is raised as a translated error."""
	_fail(run, message)
	fanout.failed_chunk(chunk)
	if isinstance(error, (EngineConfigError, EngineInputError)):
		frappe.throw(_("The scoring engine rejected the pond: {0}").format(str(error)))


def _summary_progress(run: str) -> None:
	stage = [c for c in fanout.chunk_rows(run, ["stage"]) if c.stage == SUMMARISE]
	done = sum(c.status == "Done" for c in stage)
	low, high = SUMMARY_PROGRESS
	progress = low + (high - low) * done / len(stage) if stage else high
	frappe.db.set_value("Fishpond Run", run, "progress", progress, update_modified=False)
	runs.publish(run, progress, _("Summarising purchases: {0} of {1} chunks").format(done, len(stage)))


def _fit(run: str) -> int:
	"""The step between the stages: fit the models on the chunks' summaries (in the pond's order),
	store the fit and add the score stage's chunks (the summarise stage's ranges; each scores from
	its range's summary, deleted when the run completes). Returns how many chunks it added."""
	cursor = runs.get_cursor(run)
	runs.save_progress(run, progress=SUMMARY_PROGRESS[1])
	runs.publish(run, SUMMARY_PROGRESS[1], _("Fitting the models"))
	started = time.monotonic()
	chunks = fanout.chunk_rows(run, ["stage", "from_name", "to_name", "records", "seconds", "stats"])
	summary = _summaries(run, [c for c in chunks if c.stage == SUMMARISE])
	read = round(time.monotonic() - started, 3)
	started = time.monotonic()
	try:
		fitted = fit_models_from_summary(summary, engine_setup().config, end_of_day(cursor["as_of"]))
	except (EngineConfigError, EngineInputError) as e:
		frappe.throw(_("The scoring engine rejected the pond: {0}").format(str(e)))
	engine = round(time.monotonic() - started, 3)
	purchase_rows = fanout.summed(chunks).get("purchase_rows", 0)
	fit, created = models.save_fit(fitted, run=run, profiles=len(summary), purchase_rows=purchase_rows)
	cursor["model_fit"] = fit
	ranges = [(c.from_name, c.to_name, c.records) for c in chunks if c.stage == SUMMARISE]
	added = fanout.insert_ranges(run, LEAD, ranges, stage=SCORE)
	timings = json.loads(frappe.db.get_value("Fishpond Run", run, "timings") or "{}")
	timings.update(
		summarise=round(sum(c.seconds or 0 for c in chunks), 3),
		read_summaries=read,
		engine=engine,
		purchase_rows=purchase_rows,
		model_fit=fit,
	)
	runs.save_progress(run, cursor, progress=SCORE_PROGRESS, timings=frappe.as_json(timings))
	note = (
		_("Fitted models {0}: {1}").format(fit, frappe.db.get_value("Fishpond Model Fit", fit, "changes"))
		if created
		else _("Models unchanged: reusing {0}").format(fit)
	)
	runs.append_log(run, note)
	return added


def _summaries(run: str, chunks: list) -> pd.DataFrame:
	"""The summarise stage's summaries of ``chunks``, concatenated in the chunks' order."""
	frames = [
		unpack_frame(text).drop(columns="profile", errors="ignore") for text in fanout.outputs(run, chunks)
	]
	if not frames:
		return pd.DataFrame({column: pd.Series([], dtype=float) for column in SUMMARY_COLUMNS})
	return pd.concat(frames, ignore_index=True)


def _score_chunk(run: str, chunk: str, row) -> dict:
	"""The second stage: score the chunk's profiles with the run's stored fit (so they get the rows
	one run over the whole pond would give) and write the differences in one transaction, retried
	on failure."""
	started = time.monotonic()
	cursor = runs.get_cursor(run)
	try:
		setup = engine_setup()
		names = loader.profile_names_between(row.from_name, row.to_name)
		fitted = models.load_fit(cursor["model_fit"])
		summary = _stored_summary(run, row, names)
		result = run_pond(
			loader.load_chunk_inputs(names, purchases=summary is None, between=(row.from_name, row.to_name)),
			setup.config,
			end_of_day(cursor["as_of"]),
			models=fitted,
			dedupe=False,
			summary=summary,
		)
	except Exception as e:
		_chunk_failed(
			run,
			chunk,
			e,
			_("The engine failed on the chunk from {0} to {1}").format(row.from_name, row.to_name),
		)
		raise
	tags = result.tags if len(result.tags) else None
	try:
		stats = _write_chunk_with_retries(run, row.from_name, result.metrics, tags, cursor["model_fit"])
	except Exception:
		fanout.failed_chunk(chunk)
		raise
	fanout.chunk_done(
		run,
		chunk,
		records=len(names),
		seconds=time.monotonic() - started,
		stats={**stats.as_dict(), "rule_errors": len(result.rule_errors)},
		base=SCORE_PROGRESS,
		updated=stats.updated,
		unchanged=stats.unchanged,
		inserted=stats.stage_changes + stats.tags_added,
	)
	if result.rule_errors:
		fanout.set_chunk(chunk, rule_errors=frappe.as_json(result.rule_errors))
	_commit()
	return {"status": "Done", **stats.as_dict()}


def _stored_summary(run: str, row, names: list[str]) -> pd.DataFrame | None:
	"""The purchase summary the summarise stage stored for the score chunk's range, when it names
	exactly the chunk's profiles (the run's purchases are as of its plan); None sends the chunk back
	to the purchases (a profile added to the range since, an output of an older version)."""
	summarised = frappe.db.get_value(
		fanout.CHUNK_DOCTYPE,
		{
			"parent": run,
			"parenttype": "Fishpond Run",
			"stage": SUMMARISE,
			"from_name": row.from_name,
			"to_name": row.to_name,
		},
		"name",
	)
	text = fanout.output(run, summarised) if summarised else None
	if text is None:
		return None
	summary = unpack_frame(text)
	if "profile" not in summary.columns or sorted(summary["profile"]) != sorted(names):
		return None
	return summary


def _write_chunk_with_retries(run, first: str, metrics, tags, fit) -> writer.WriteStats:
	rule_tags = writer.enabled_rule_tags()
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
			frappe.log_error(
				title=_("Fishpond rescore: chunk failed (attempt {0} of {1})").format(attempt, RETRIES),
				reference_doctype="Fishpond Run",
				reference_name=run,
			)
			fanout.add_counts(run, errors=1)
			runs.append_log(
				run, _("Chunk starting at {0} failed (attempt {1} of {2})").format(first, attempt, RETRIES)
			)
			_commit()
			if attempt >= RETRIES:
				_fail(run, _("Gave up on the chunk starting at {0}").format(first), rollback=False)
				raise
			if not frappe.flags.in_test:
				time.sleep(RETRY_DELAY_SECONDS * attempt)


def _advance(run: str, resumed: bool = False, here: bool = False) -> bool:
	"""When every chunk of the run has landed, take its next step (exactly one job does, under the
	finish lock): after the summarise stage, fit the models and start the score stage (``here``: its
	chunks are left to the caller, who runs them in its own process); after the score stage, complete
	the run. ``resumed``: the plan resuming the run, which never waits behind a live finisher.
	Returns whether the run completed."""
	fitted = False
	with fanout.finishing(run, wait=0 if resumed else 60) as ready:
		if not ready:
			return False
		step = _("Fitting the models failed")
		try:
			if not runs.get_cursor(run).get("model_fit"):
				fitted = _fit(run) > 0  # an empty pond has nothing to score: it completes at once
			if not fitted:
				step = _("Completing the run failed")
				_complete(run)
			_commit()
		except Exception:
			_fail(run, step)
			release_deferred()  # the run no longer writes: parked profiles may be rescored
			raise
	if fitted:
		if not here:
			fanout.enqueue_chunks(run, WORK_CHUNK)
		return False
	release_deferred()
	# the duplicate pass compares every profile with every other: its own job, after the scores
	duplicate_pass.enqueue_pass()
	# follow-up plans enrol the profiles that entered their crowds (crm_fishpond.nurture.crowd)
	jobs.enqueue(
		"crm_fishpond.nurture.crowd.enrol_crowds",
		job_id="crm_fishpond:nurture_crowds:*",
		queue="long",
		timeout=3600,
	)
	return True


def _complete(run: str) -> None:
	doc = frappe.db.get_value("Fishpond Run", run, ["started_at", "timings", "total"], as_dict=True)
	chunks = fanout.chunk_rows(run, ["stage", "seconds", "stats", "rule_errors", "worker"])
	stats = _write_stats(chunks)
	rule_errors = [e for c in chunks for e in json.loads(c.rule_errors or "[]")]
	setup = engine_setup()
	setup.record_status(rule_errors)
	failed = {setup.used[key] for e in rule_errors if (key := (e["kind"], e["rule"])) in setup.used}
	for doctype, name in sorted(failed):
		runs.append_log(run, _("Rule {0} {1} failed and was skipped").format(_(doctype), name))
	elapsed = (now_datetime() - get_datetime(doc.started_at)).total_seconds() if doc.started_at else 0
	total = doc.total or 0
	summary = {
		**json.loads(doc.timings or "{}"),
		"write": round(sum(c.seconds or 0 for c in chunks if c.stage != SUMMARISE), 3),
		"total": round(elapsed, 3),
		"workers": len({c.worker for c in chunks if c.worker}),
		"profiles_per_second": round(total / elapsed, 1) if elapsed else None,
		"this_attempt": stats,
		"as_of": runs.get_cursor(run).get("as_of"),
	}
	runs.save_progress(
		run, status="Completed", progress=100, finished_at=now_datetime(), timings=frappe.as_json(summary)
	)
	fanout.delete_outputs(run)  # the summaries the score chunks read
	runs.append_log(
		run,
		_("Completed: {0} profiles, {1} updated, {2} stage changes, {3} tags added, {4} removed").format(
			total, stats["updated"], stats["stage_changes"], stats["tags_added"], stats["tags_removed"]
		),
	)
	runs.publish(run, 100, _("Completed"))


def run_result(run: str) -> dict:
	"""The run's status with what its chunks wrote (added up over the chunks done)."""
	values = frappe.db.get_value("Fishpond Run", run, ["status", "total"], as_dict=True)
	stats = _write_stats(fanout.chunk_rows(run, ["stats"]))
	fit = runs.get_cursor(run).get("model_fit")
	return {"status": values.status, "total": values.total, "model_fit": fit, **stats}


def _write_stats(chunks) -> dict:
	summed = fanout.summed(chunks)
	return {key: summed.get(key, 0) for key in writer.WriteStats().as_dict()}


def end_of_day(day: str) -> pd.Timestamp:
	"""The engine's ``as_of`` for a day: its last instant, so today's activity counts while every run of
	the same day sees the same "now" (decay and recency do not drift by the hour)."""
	return pd.Timestamp(day).normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)


def _fail(run: str, message: str, rollback: bool = True) -> None:
	if rollback:
		_rollback()
		fanout.add_counts(run, errors=1)
	runs.save_progress(run, status="Failed")
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
		fitted = models.load_fit(fit)
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


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk is the unit of work of a resumable job


def _rollback() -> None:
	if not frappe.flags.in_test:
		frappe.db.rollback()

"""The duplicate pass: find the pond's likely duplicate pairs and store the differences, fanned out
over the workers by signal.

The engine finds pairs by three signals (crm_fishpond.engine.dedupe): the same e-mail address, the
same phone number, and similar company and person names in the same territory. Each signal's pairs
depend only on the rows that share its key, so the pass splits by signal, and the company signal by
territory, never by profile name (a profile's duplicate may be anywhere in the pond). A pass is a
durable *Fishpond Run* of type Duplicates (crm_fishpond.sync.fanout):

	plan    one job: count the profiles with an e-mail address, with a phone number, and with a
	        company name in each territory; add one chunk for the e-mail signal, one for the phone
	        signal and company chunks of whole territories (consecutive in the database's order,
	        about COMPANY_ROWS company names each; one chunk for the whole pond when the settings
	        compare companies across territories)
	chunk   any worker, in any order: read only the columns and rows its signal needs, let the
	        engine find the signal's pairs (``signal_pairs``) and keep them (*Fishpond Chunk Output*)
	finish  the last chunk to land (one job: the run's finish lock): combine the signals' pairs
	        (``combine_signals``, which gives exactly the pairs of one pass over the whole pond) and
	        store them as *Fishpond Duplicate Candidate* records named ``<profile_a>~<profile_b>``:

	        - a new pair is bulk-inserted as Open;
	        - an Open pair whose score or evidence changed is updated, an unchanged one is not
	          written;
	        - a Dismissed pair is never reopened or rewritten (a person decided);
	        - an Open pair the matcher no longer finds (a phone corrected, a profile deleted) is
	          deleted: it was only ever a suggestion. Merged pairs are kept as the tombstones of
	          merges.

The full rescore enqueues the pass when it completes (``enqueue_pass``: a deduplicated long-queue
job). ``run_duplicate_pass()`` runs a pass in the calling process (the demo, tests). A pass whose
worker died is resumed by the hourly ``resume_stale_passes``: its chunks done stay done.

The evidence is the matcher's reason in words, without the e-mail address or phone number itself (a
rep may see a profile whose contact details are masked for them). See docs/duplicates.md.
"""

from __future__ import annotations

import time

import frappe
import pandas as pd
from frappe import _
from frappe.query_builder import functions as fn
from frappe.utils import now_datetime

from crm_fishpond import bulk, jobs
from crm_fishpond.crm_fishpond.doctype.fishpond_duplicate_candidate.fishpond_duplicate_candidate import (
	pair_name,
)
from crm_fishpond.engine.dedupe import combine_signals, signal_pairs
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.frames import pack_frame, unpack_frame
from crm_fishpond.scoring.config import engine_setup
from crm_fishpond.sync import fanout, runs

RUN_TYPE = "Duplicates"
CANDIDATE = "Fishpond Duplicate Candidate"
LEAD = "Fishpond Lead"
OPEN, DISMISSED = "Open", "Dismissed"
PASS_JOB = "crm_fishpond.duplicate_pass.run_duplicate_pass"
PASS_JOB_ID = "crm_fishpond:duplicate_pass"
WORK_CHUNK = "crm_fishpond.duplicate_pass.work_chunk"
# the chunks' kinds (Fishpond Run Chunk.stage), in the order the engine combines the signals
EMAIL, PHONE, COMPANY = "E-mail", "Phone", "Company"
SIGNAL = {EMAIL: "email", PHONE: "phone", COMPANY: "company"}
COMPANY_ROWS = 100_000  # company names a company chunk reads (a territory is never split)
WRITE_BATCH = 1000


# --------------------------------------------------------------------------------------------------
# starting


def enqueue_pass() -> None:
	"""A pass on the long queue (deduplicated: one waiting pass at a time), fanned out over workers."""
	jobs.enqueue(PASS_JOB, job_id=PASS_JOB_ID, queue="long", timeout=3600, here=False)


def run_duplicate_pass(here: bool = True, run: str | None = None) -> dict:
	"""Run a pass, or resume the active one: plan it, then run its chunks in this process (``here``)
	or enqueue them. Returns the run's status and counts: pairs found, inserted, updated, removed."""
	run = run or _active_or_new_run()
	if frappe.db.get_value("Fishpond Run", run, "status") in (None, "Completed", "Cancelled"):
		return result(run)
	try:
		with runs.db_lock("duplicates", timeout=0):
			resumed = _plan(run)
	except runs.RunLocked:
		runs.append_log(run, _("Another worker is planning this pass; this attempt stepped aside"))
		_commit()
		return {**result(run), "status": "Locked"}
	if here:
		fanout.run_here(run, run_chunk)
		_finish_if_done(run, resumed=True)  # a pond with nothing to compare has no chunk to finish it
	else:
		fanout.enqueue_chunks(run, WORK_CHUNK)
		_finish_if_done(run, resumed=resumed)
	return result(run)


def resume_stale_passes() -> list[str]:
	"""Scheduler (hourly): enqueue again the passes whose worker stopped responding."""
	stale = runs.stale_runs(RUN_TYPE)
	for run in stale:
		runs.append_log(run, _("Resumed after the worker stopped responding"))
		_commit()
		jobs.enqueue(PASS_JOB, job_id=PASS_JOB_ID, queue="long", timeout=3600, here=False, run=run)
	return stale


def _active_or_new_run() -> str:
	try:
		with runs.db_lock("duplicates-create", timeout=10):
			run = runs.active_run(RUN_TYPE) or runs.create_run(RUN_TYPE)
			_commit()
			return run
	except runs.RunLocked:
		frappe.throw(_("Another duplicate pass is being started right now; try again in a moment."))


def result(run: str) -> dict:
	values = frappe.db.get_value("Fishpond Run", run, ["status", "timings"], as_dict=True) or {}
	counts = frappe.parse_json(values.get("timings") or "{}")
	return {
		"run": run,
		"status": values.get("status"),
		**{key: counts.get(key, 0) for key in ("found", "inserted", "updated", "removed")},
	}


# --------------------------------------------------------------------------------------------------
# plan


def _plan(run: str) -> bool:
	"""Add the pass's chunks unless done before; returns whether the run was planned before."""
	values = {"status": "Running"}
	if not frappe.db.get_value("Fishpond Run", run, "started_at"):
		values["started_at"] = now_datetime()
	runs.save_progress(run, **values)
	if fanout.chunk_rows(run):
		_commit()
		return True
	started = time.monotonic()
	config = engine_setup().config.dedupe
	lead = frappe.qb.DocType(LEAD)
	chunks = 0
	if config.email:
		chunks += _add(run, EMAIL, [(None, None, _count(_present(lead.email_id)))])
	if config.phone:
		chunks += _add(run, PHONE, [(None, None, _count(_present(lead.phone) | _present(lead.mobile_no)))])
	if config.company:
		chunks += _add(run, COMPANY, _company_ranges(config.same_territory))
	total = sum(c.records for c in fanout.chunk_rows(run, ["records"]))
	timings = {"plan": round(time.monotonic() - started, 3), "chunks": chunks}
	runs.save_progress(
		run, total=total, processed=0, progress=fanout.PLAN_PROGRESS, timings=frappe.as_json(timings)
	)
	runs.append_log(run, _("{0} chunks, {1} rows to read").format(chunks, total))
	_commit()
	return False


def _add(run: str, stage: str, ranges: list[tuple[str | None, str | None, int]]) -> int:
	return fanout.insert_ranges(run, LEAD, [r for r in ranges if r[2]], stage=stage)


def _present(column):
	return column.isnotnull() & (column != "")


def _count(condition) -> int:
	lead = frappe.qb.DocType(LEAD)
	return frappe.qb.from_(lead).select(fn.Count("*")).where(condition).run()[0][0]


def _territory(lead):
	return fn.Coalesce(lead.territory, "")


def _company_ranges(same_territory: bool) -> list[tuple[str | None, str | None, int]]:
	"""Ranges of whole territories (first, last, company names) of about COMPANY_ROWS names each; one
	range of everything (None, None) when companies are compared across territories."""
	lead = frappe.qb.DocType(LEAD)
	if not same_territory:
		return [(None, None, _count(_present(lead.company_name)))]
	territory = _territory(lead).as_("territory")
	counts = (
		frappe.qb.from_(lead)
		.select(territory, fn.Count("*"))
		.where(_present(lead.company_name))
		.groupby(_territory(lead))
		.orderby(_territory(lead))
	).run()
	ranges, first, size = [], None, 0
	for index, (name, count) in enumerate(counts):
		first = name if first is None else first
		size += count
		if size >= COMPANY_ROWS or index == len(counts) - 1:
			ranges.append((first, name, size))
			first, size = None, 0
	return ranges


# --------------------------------------------------------------------------------------------------
# chunks


def run_chunk(run: str, chunk: str) -> dict:
	"""Do one chunk in this process (the job of a chunk, crm_fishpond.sync.fanout's chunk_job, doing
	:func:`work_chunk`): skipped when done or taken, and followed by the pass's next queued chunks."""
	return fanout.chunk_job(run, chunk, WORK_CHUNK)


def work_chunk(run: str, chunk: str, row) -> dict:
	"""Find one signal's pairs (a chunk of the pass; ``row``: its signal), on whichever worker takes
	it; the last chunk to land finishes the pass."""
	started = time.monotonic()
	try:
		profiles = _load(row)
		pairs = signal_pairs(profiles, SIGNAL[row.stage], engine_setup().config.dedupe)
	except Exception as e:
		_fail(run, _("Finding the pairs of chunk {0} failed").format(_(row.stage)))
		fanout.failed_chunk(chunk)
		if isinstance(e, (EngineConfigError, EngineInputError)):
			frappe.throw(_("The duplicate matcher rejected the pond: {0}").format(str(e)))
		raise
	fanout.store_output(run, chunk, pack_frame(pairs), len(pairs))
	fanout.chunk_done(
		run, chunk, records=len(profiles), seconds=time.monotonic() - started, stats={"pairs": len(pairs)}
	)
	_commit()
	_finish_if_done(run)
	return {"status": "Done", "pairs": len(pairs)}


def _load(row) -> pd.DataFrame:
	"""The columns the chunk's signal reads, for the rows that have its key (read from the site's
	read replica when it has one)."""
	lead = frappe.qb.DocType(LEAD)
	if row.stage == EMAIL:
		query = frappe.qb.from_(lead).select(lead.name, lead.email_id).where(_present(lead.email_id))
		return _frame(query, ["profile", "email"])
	if row.stage == PHONE:
		country = frappe.qb.DocType("Country")
		query = (
			frappe.qb.from_(lead)
			.left_join(country)
			.on(country.name == lead.country)
			.select(lead.name, lead.phone, lead.mobile_no, country.code)
			.where(_present(lead.phone) | _present(lead.mobile_no))
		)
		frame = _frame(query, ["profile", "phone", "mobile_no", "country"])
		# one phone per profile, as the scorer's loader does: the mobile number when there is one
		mobile = frame.pop("mobile_no")
		frame["phone"] = mobile.where(mobile.notna() & (mobile != ""), frame["phone"])
		frame["country"] = frame["country"].str.upper()
		return frame
	query = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.company_name, lead.lead_name, lead.territory)
		.where(_present(lead.company_name))
	)
	if row.from_name is not None:
		query = query.where(_territory(lead).between(row.from_name, row.to_name))
	return _frame(query, ["profile", "company_name", "person_name", "territory"])


@frappe.read_only()
def _frame(query, columns: list[str]) -> pd.DataFrame:
	rows = query.orderby(frappe.qb.DocType(LEAD).name).run()
	return pd.DataFrame.from_records(list(rows), columns=columns).astype(object)


# --------------------------------------------------------------------------------------------------
# finish


def _finish_if_done(run: str, resumed: bool = False) -> bool:
	"""When every chunk has landed, combine the signals' pairs and store them (exactly one job does;
	``resumed``: the plan resuming the run, which never waits behind a live finisher)."""
	with fanout.finishing(run, wait=0 if resumed else 60) as ready:
		if not ready:
			return False
		try:
			_complete(run)
			_commit()
		except Exception:
			_fail(run, _("Storing the pairs failed"))
			raise
	return True


def _complete(run: str) -> None:
	started = time.monotonic()
	chunks = fanout.chunk_rows(run, ["stage", "seconds", "worker"])
	frames = [unpack_frame(text) for text in fanout.outputs(run, chunks)]
	pairs = combine_signals(frames, engine_setup().config.dedupe)
	profiles = sorted(set(pairs["profile_a"]) | set(pairs["profile_b"]))
	counts = store(pairs, _person_names(profiles))
	fanout.delete_outputs(run)
	timings = frappe.parse_json(frappe.db.get_value("Fishpond Run", run, "timings") or "{}")
	timings.update(
		counts,
		chunks_seconds=round(sum(c.seconds or 0 for c in chunks), 3),
		finish=round(time.monotonic() - started, 3),
		workers=len({c.worker for c in chunks if c.worker}),
	)
	runs.save_progress(
		run,
		status="Completed",
		progress=100,
		finished_at=now_datetime(),
		inserted=counts["inserted"],
		updated=counts["updated"],
		timings=frappe.as_json(timings),
	)
	runs.append_log(
		run,
		_("Completed: {0} pairs, {1} new, {2} updated, {3} removed").format(
			counts["found"], counts["inserted"], counts["updated"], counts["removed"]
		),
	)
	runs.publish(run, 100, _("Completed"))


def _person_names(profiles: list[str]) -> dict:
	lead = frappe.qb.DocType(LEAD)
	names = {}
	for start in range(0, len(profiles), WRITE_BATCH):
		batch = profiles[start : start + WRITE_BATCH]
		names.update(
			frappe.qb.from_(lead).select(lead.name, lead.lead_name).where(lead.name.isin(batch)).run()
		)
	return names


def _fail(run: str, message: str) -> None:
	_rollback()
	runs.save_progress(
		run, status="Failed", errors=(frappe.db.get_value("Fishpond Run", run, "errors") or 0) + 1
	)
	runs.append_log(run, message)
	runs.append_log(run, frappe.get_traceback()[-4000:])
	frappe.log_error(
		title=_("Fishpond duplicate pass failed"), reference_doctype="Fishpond Run", reference_name=run
	)
	_commit()


# --------------------------------------------------------------------------------------------------
# storing the pairs


def evidence_in_words(reason: str) -> str:
	"""The matcher's reason without contact values: "same email a@b" -> "Same e-mail address"."""
	words = []
	for part in (reason or "").split("; "):
		if part.startswith("same email"):
			words.append(_("Same e-mail address"))
		elif part.startswith("same phone"):
			words.append(_("Same phone number"))
		elif part:
			words.append(part[:1].upper() + part[1:])
	return "; ".join(words)


def store(pairs: pd.DataFrame, person_names: dict | None = None) -> dict:
	"""Write the differences between ``pairs`` (the matcher's output) and the stored candidates."""
	person_names = person_names or {}
	cand = frappe.qb.DocType(CANDIDATE)
	stored = {
		name: (status, score, evidence)
		for name, status, score, evidence in (
			frappe.qb.from_(cand)
			.select(cand.name, cand.status, cand.score, cand.evidence)
			.where(cand.status.isin([OPEN, DISMISSED]))
		).run()
	}
	found = {}
	for a, b, confidence, reason in pairs[["profile_a", "profile_b", "confidence", "reason"]].itertuples(
		index=False, name=None
	):
		found[pair_name(a, b)] = (a, b, round(float(confidence), 3), evidence_in_words(reason))

	new = [name for name in found if name not in stored]
	changed = [
		name
		for name, (status, score, evidence) in stored.items()
		if status == OPEN
		and name in found
		and (round(float(score or 0), 3), evidence or "") != (found[name][2], found[name][3])
	]
	vanished = [name for name, (status, _s, _e) in stored.items() if status == OPEN and name not in found]

	now, user = now_datetime(), frappe.session.user
	fields = [
		"name", "creation", "modified", "owner", "modified_by", "docstatus",
		"profile_a", "profile_b", "name_a", "name_b", "score", "evidence", "status",
	]  # fmt: skip
	for start in range(0, len(new), WRITE_BATCH):
		rows = []
		for name in new[start : start + WRITE_BATCH]:
			a, b, score, evidence = found[name]
			rows.append(
				(
					name, now, now, user, user, 0,
					a, b, person_names.get(a), person_names.get(b), score, evidence, OPEN,
				)
			)  # fmt: skip
		bulk.insert_rows(CANDIDATE, fields, rows)
	for name in changed:
		_a, _b, score, evidence = found[name]
		(
			frappe.qb.update(cand)
			.set(cand.score, score)
			.set(cand.evidence, evidence)
			.set(cand.modified, now)
			.set(cand.modified_by, user)
			.where(cand.name == name)
		).run()
	for start in range(0, len(vanished), WRITE_BATCH):
		frappe.qb.from_(cand).delete().where(cand.name.isin(vanished[start : start + WRITE_BATCH])).run()
	return {"found": len(found), "inserted": len(new), "updated": len(changed), "removed": len(vanished)}


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a chunk is the unit of work of a resumable job


def _rollback() -> None:
	if not frappe.flags.in_test:
		frappe.db.rollback()

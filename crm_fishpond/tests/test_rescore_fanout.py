"""Integration: a full rescore fans out. Chunks summarise the purchases, one fit on the summaries,
then chunks score; any number of workers take the chunks.

Inline (jobs run at once, in the test's transaction): chunks of any size write exactly what one chunk
over the whole pond writes; a run stopped between its summaries and its fit resumes; a chunk that
fails to summarise fails the run and is retried on resume; the fit keeps its CLV reference; the
heavy reads go to the read replica when the site has one.

With real workers (two `bench worker --queue long` processes, committed fixtures): the chunks are
spread over both, a worker killed in the middle of a chunk loses nothing (the cron's resume enqueues
the chunk again and the other worker runs it), the totals equal an inline run's, and a second run
writes nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from unittest.mock import patch

import frappe
import numpy as np
import pandas as pd
import psutil
from frappe.utils import add_to_date, now_datetime
from frappe.utils.background_jobs import get_redis_conn
from rq import Worker

from crm_fishpond.scoring import loader, models, runner, writer
from crm_fishpond.sync import fanout, runs
from crm_fishpond.tests.test_scoring import make_profile, reset_scores
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only

LABEL = "Fan"  # make_profile names them "_FP Score Fan 000" and on
WAIT = 180
TIMES = ("stage_since", "scored_on")


def our_profiles() -> list[str]:
	return sorted(
		frappe.get_all("Fishpond Lead", filters={"lead_name": ("like", f"_FP Score {LABEL} %")}, pluck="name")
	)


def written(names: list[str]) -> dict:
	"""What a rescore wrote for ``names``, without the times of writing."""
	leads = frappe.get_all(
		"Fishpond Lead",
		filters={"name": ("in", names)},
		fields=["name", "lifecycle_stage", *writer.WRITTEN_COLUMNS],
		order_by="name",
	)
	tags = frappe.get_all(
		"Fishpond Lead Tag",
		filters={"parent": ("in", names), "parenttype": "Fishpond Lead"},
		fields=["parent", "tag", "tag_source"],
		order_by="parent, tag",
	)
	history = frappe.get_all(
		"Fishpond Stage History",
		filters={"parent": ("in", names), "parenttype": "Fishpond Lead"},
		fields=["parent", "idx", "to_stage"],
		order_by="parent, idx",
	)
	for lead in leads:
		for key, value in lead.items():
			if value == "":
				lead[key] = None  # the writer leaves a cleared "" as None: both mean unset
		breakdown = json.loads(lead.get("score_breakdown") or "{}")
		breakdown.pop("scored_on", None)
		lead["score_breakdown"] = breakdown
		for key in TIMES:
			lead.pop(key, None)
	return {"leads": leads, "tags": tags, "history": history}


def make_pond(count: int) -> list[str]:
	"""Buyers of every kind (repeat, once, lapsed), some contacted, some cold."""
	names = []
	for i in range(count):
		kind = i % 4
		purchases = {
			0: [(5 + i, 900 + 37 * i), (40 + i, 1200), (90 + 3 * i, 2500 + 41 * i)],
			1: [(20 + i, 300 + 13 * i)],
			2: [(700 - i, 400), (560 - i, 500 + i)],
			3: [],
		}[kind]
		names.append(make_profile(f"{LABEL} {i:03}", purchases, interactions=i % 3))
	return names


class TestFanOut(FishpondTestCase):
	maxDiff = None

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()

	def setUp(self):
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})
		frappe.set_user("Administrator")

	def test_chunks_of_any_size_write_what_one_chunk_writes(self):
		names = make_pond(16)
		reset_scores(names)  # new profiles start in a stage; compare runs from unscored profiles
		one = runs.create_run("Rescore")
		result = runner.run_rescore(one, chunk_size=100_000)
		stages = [c.stage for c in frappe.get_doc("Fishpond Run", one).chunks]
		self.assertEqual(stages, [runner.SUMMARISE, runner.SCORE])
		expected = written(names)
		fit = result["model_fit"]

		reset_scores(names)
		many = runs.create_run("Rescore")
		again = runner.run_rescore(many, chunk_size=3)
		doc = frappe.get_doc("Fishpond Run", many)
		self.assertEqual(again["status"], "Completed")
		self.assertEqual(again["model_fit"], fit, "the same data fits the same models")
		summarised = [c for c in doc.chunks if c.stage == runner.SUMMARISE]
		scored = [c for c in doc.chunks if c.stage == runner.SCORE]
		self.assertGreaterEqual(len(summarised), 6)
		# the score stage takes the summarise stage's ranges, after them
		self.assertEqual(
			[(c.from_name, c.to_name, c.records) for c in scored],
			[(c.from_name, c.to_name, c.records) for c in summarised],
		)
		self.assertEqual(doc.chunks[: len(summarised)], summarised)
		self.assertEqual(written(names), expected)
		# the summaries are gone once the run completed
		self.assertFalse(frappe.db.exists("Fishpond Chunk Output", {"run": many}))
		# the run's counters add up its chunks: the profiles scored once each
		self.assertEqual(doc.processed, doc.total)
		self.assertEqual(doc.processed, sum(c.records for c in scored))
		self.assertEqual(sum(c.records for c in summarised), doc.total)
		self.assertEqual(doc.updated, sum(c.updated for c in doc.chunks))
		self.assertEqual(doc.progress, 100)
		# and a third run finds nothing to write
		third = runner.run_rescore(runs.create_run("Rescore"), chunk_size=5)
		self.assertEqual((third["updated"], third["stage_changes"], third["tags_added"]), (0, 0, 0))

	def test_the_fit_keeps_its_clv_reference(self):
		make_pond(8)
		run = runs.create_run("Rescore")
		fit = runner.run_rescore(run)["model_fit"]
		stored = frappe.db.get_value("Fishpond Model Fit", fit, "clv_reference")
		self.assertTrue(stored.startswith(models.REFERENCE_PREFIX))
		fitted = models.load_fit(fit)
		# the same parameters with other CLVs (the data moved): the fit is reused, its reference updated
		moved = fitted.with_clv_reference([30.0, 0.0, 10.0, None, 20.0])
		again, created = models.save_fit(moved, run=run, profiles=3, purchase_rows=3)
		self.assertEqual((again, created), (fit, False))
		np.testing.assert_array_equal(models.load_fit(fit).clv_reference, [10.0, 20.0, 30.0])
		np.testing.assert_array_equal(
			models.decode_reference(models.encode_reference(np.array([1.5, 2.25]))), [1.5, 2.25]
		)
		# a fit stored before the reference was kept ranks against the profiles' stored CLVs
		frappe.db.set_value("Fishpond Model Fit", fit, "clv_reference", None)
		clv = frappe.get_all("Fishpond Lead", filters={"clv": (">", 0)}, pluck="clv")
		np.testing.assert_array_equal(models.load_fit(fit).clv_reference, np.sort(np.array(clv, dtype=float)))
		# damaged text is no reference, not an error
		self.assertIsNone(models.decode_reference(models.REFERENCE_PREFIX + "not base64!"))

	def test_a_run_stopped_between_its_summaries_and_the_fit_resumes(self):
		"""The worker that landed the last summary died before fitting: the summaries stay stored,
		the resume fits on them and scores, with the rows of a run that never stopped."""
		names = make_pond(10)
		reset_scores(names)
		runner.run_rescore(runs.create_run("Rescore"), chunk_size=100_000)
		expected = written(names)
		reset_scores(names)

		run = runs.create_run("Rescore")
		with patch.object(runner, "_advance", return_value=False):
			runner.run_rescore(run, chunk_size=4, here=True)
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual({c.stage for c in doc.chunks}, {runner.SUMMARISE})
		self.assertTrue(all(c.status == "Done" for c in doc.chunks))
		self.assertEqual(doc.processed, 0, "summaries are not the profiles processed")
		self.assertEqual(doc.progress, runner.SUMMARY_PROGRESS[1])
		stored = frappe.get_all("Fishpond Chunk Output", {"run": run}, ["chunk", "records", "data"])
		self.assertEqual(sorted(s.chunk for s in stored), sorted(c.name for c in doc.chunks))
		self.assertEqual(sum(s.records for s in stored), doc.total)
		self.assertNotIn("model_fit", runs.get_cursor(run))
		# nothing was scored yet
		self.assertTrue(all(lead["lead_score"] in (0, None) for lead in written(names)["leads"]))

		result = runner.run_rescore(run)  # the resume (the cron's, or Resume)
		self.assertEqual(result["status"], "Completed")
		self.assertEqual(written(names), expected)
		self.assertFalse(frappe.db.exists("Fishpond Chunk Output", {"run": run}))

	def test_score_chunks_read_their_stored_summaries_not_the_purchases(self):
		"""Each profile's purchases are read once per run: a score chunk scores from its range's
		summary. A chunk whose range changed since (a profile deleted) reads its purchases again."""
		names = make_pond(9)
		reset_scores(names)
		runner.run_rescore(runs.create_run("Rescore"), chunk_size=100_000)
		expected = written(names)
		reset_scores(names)

		run = runs.create_run("Rescore")
		with patch.object(runner, "_advance", return_value=False):
			runner.run_rescore(run, chunk_size=3, here=True)  # the summaries, not yet the fit
		chunks = frappe.get_doc("Fishpond Run", run).chunks
		bounds = {c.from_name for c in chunks} | {c.to_name for c in chunks}
		gone = next(n for n in names if n not in bounds)  # inside a range
		changed = next(c for c in chunks if c.from_name < gone < c.to_name)
		frappe.db.delete("Fishpond Transaction", {"fishpond_lead": gone})
		frappe.db.delete("Fishpond Interaction", {"fishpond_lead": gone})
		frappe.db.delete("Fishpond Lead", gone)

		with patch.object(loader, "load_purchases", wraps=loader.load_purchases) as purchases:
			result = runner.run_rescore(run)  # the resume fits and scores
		self.assertEqual(result["status"], "Completed")
		self.assertEqual(purchases.call_count, 1, "only the chunk that lost a profile read its purchases")
		read, between = purchases.call_args.args
		self.assertNotIn(gone, read)
		self.assertEqual((read[0], read[-1]), (changed.from_name, changed.to_name))
		self.assertEqual(between, (changed.from_name, changed.to_name), "read by its range")
		kept = [n for n in names if n != gone]
		self.assertEqual(
			written(kept),
			{
				key: [row for row in rows if row.get("name", row.get("parent")) != gone]
				for key, rows in expected.items()
			},
		)
		self.assertFalse(frappe.db.exists("Fishpond Chunk Output", {"run": run}))

	def test_a_chunk_read_by_its_range_reads_what_its_names_read(self):
		"""A chunk's reads ask for its range of names, not a list of them: the same frames, without the
		rows of a profile that entered the range after the chunk's names were read."""
		names = sorted(make_pond(8))
		first, last = names[0], names[-1]
		named = loader.profile_names_between(first, last)
		late = next(n for n in named if n not in (first, last))  # "added since": not among the names
		named.remove(late)
		frappe.get_doc(
			{
				"doctype": "Fishpond Behaviour Event",
				"fishpond_lead": late,
				"event_type": "Page View",
				"event_time": now_datetime(),
			}
		).insert(ignore_permissions=True)

		queries = []
		real_sql = type(frappe.local.db).sql

		def sql_spy(db, query, values=None, *args, **kwargs):
			queries.append((str(query), values))
			return real_sql(db, query, values, *args, **kwargs)

		with patch.object(type(frappe.local.db), "sql", autospec=True, side_effect=sql_spy):
			by_range = loader.load_inputs(named, between=(first, last))
		# the pond's tables are asked for a range: no query carries the chunk's names
		pond = [(q, v) for q, v in queries if "tabFishpond" in q]
		self.assertGreaterEqual(len(pond), 5)
		inside = set(named) - {first, last}
		for query, values in pond:
			sent = set((values or {}).values()) if isinstance(values, dict) else set(values or ())
			self.assertFalse(sent & inside, query)
		by_names = loader.load_inputs(named)
		for frame in ("profiles", "transactions", "interactions", "events"):
			got, want = getattr(by_range, frame), getattr(by_names, frame)
			self.assertNotIn(late, set(got["profile"]), frame)
			columns = list(want.columns)
			pd.testing.assert_frame_equal(
				got.sort_values(columns).reset_index(drop=True),
				want.sort_values(columns).reset_index(drop=True),
				obj=frame,
			)
		self.assertGreater(len(by_range.transactions), 0)
		summarised = loader.load_chunk_purchases(named, between=(first, last))
		self.assertEqual(len(summarised.transactions), len(by_names.transactions))

	def test_a_chunk_that_fails_to_summarise_fails_the_run_and_resume_retries_it(self):
		names = make_pond(6)
		reset_scores(names)
		run = runs.create_run("Rescore")
		real = runner.summarise
		calls = []

		def flaky(*args, **kwargs):
			calls.append(1)
			if len(calls) == 2:
				raise runner.EngineInputError("a damaged purchase")
			return real(*args, **kwargs)

		with patch.object(runner, "summarise", side_effect=flaky):
			with self.assertRaises(frappe.ValidationError):
				runner.run_rescore(run, chunk_size=2, here=True)
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "status"), "Failed")
		statuses = [c.status for c in frappe.get_doc("Fishpond Run", run).chunks]
		self.assertEqual(statuses[:2], ["Done", "Failed"])
		self.assertIn("Summarising the chunk", frappe.db.get_value("Fishpond Run", run, "log"))

		result = runner.run_rescore(run, here=True)
		self.assertEqual(result["status"], "Completed")
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual(doc.processed, doc.total)
		failed = next(c for c in doc.chunks if c.stage == runner.SUMMARISE and c.idx == 2)
		self.assertEqual((failed.status, failed.attempts), ("Done", 2))

	def test_managers_read_chunk_outputs_nobody_edits_them(self):
		make_pond(2)
		run = runs.create_run("Rescore")
		with patch.object(runner, "_advance", return_value=False):
			runner.run_rescore(run, here=True)
		name = frappe.db.get_value("Fishpond Chunk Output", {"run": run})
		self.assertTrue(name)
		for email, roles in (
			("fp-summary-manager@example.com", ["Fishpond Manager"]),
			("fp-summary-rep@example.com", ["Fishpond User"]),
		):
			if not frappe.db.exists("User", email):
				frappe.get_doc(
					{"doctype": "User", "email": email, "first_name": "Summary", "send_welcome_email": 0}
				).insert(ignore_permissions=True)
			frappe.get_doc("User", email).add_roles(*roles)
		try:
			frappe.set_user("fp-summary-manager@example.com")
			self.assertTrue(frappe.has_permission("Fishpond Chunk Output", "read", name))
			self.assertFalse(frappe.has_permission("Fishpond Chunk Output", "write", name))
			self.assertFalse(frappe.has_permission("Fishpond Chunk Output", "create"))
			self.assertFalse(frappe.has_permission("Fishpond Chunk Output", "delete", name))
			frappe.set_user("fp-summary-rep@example.com")
			self.assertFalse(frappe.has_permission("Fishpond Chunk Output", "read", name))
		finally:
			frappe.set_user("Administrator")

	def test_the_reads_go_to_the_read_replica_when_configured(self):
		"""The same server stands in for the replica: a separate connection is opened for the reads."""
		make_pond(2)
		primary = frappe.local.db
		seen = []
		real = loader.load_purchases

		def spy(*args, **kwargs):
			seen.append(frappe.local.db)
			return real(*args, **kwargs)

		reads = []
		real_sql = type(primary).sql

		def sql_spy(db, query, *args, **kwargs):
			if "tabFishpond Lead" in str(query) and "tabFishpond Transaction" not in str(query):
				reads.append(db)
			return real_sql(db, query, *args, **kwargs)

		# each job of a run makes one such read (Frappe opens the replica once per job): one job each
		ours = our_profiles()
		for read in (loader.profile_names, lambda: loader.load_chunk_purchases(ours)):
			try:
				with patch.dict(frappe.local.conf, {"read_from_replica": 1, "replica_host": "127.0.0.1"}):
					with patch.object(loader, "load_purchases", side_effect=spy):
						with patch.object(type(primary), "sql", autospec=True, side_effect=sql_spy):
							read()
			finally:
				for attr in ("replica_db", "primary_db"):
					if hasattr(frappe.local, attr):
						delattr(frappe.local, attr)
		self.assertTrue(
			reads and all(db is not primary for db in reads), "the plan read the names on the replica"
		)
		seen = seen[-1:]
		self.assertEqual(len(seen), 1)
		self.assertIsNot(seen[0], primary, "the summarise chunk read the purchases on another connection")
		self.assertIs(frappe.local.db, primary, "writes stay on the primary")
		# the incremental rescore follows an event by milliseconds: it reads the primary, replica or not
		seen.clear()
		try:
			with patch.dict(frappe.local.conf, {"read_from_replica": 1, "replica_host": "127.0.0.1"}):
				with patch.object(loader, "load_purchases", side_effect=spy):
					loader.load_inputs(our_profiles())
		finally:
			for attr in ("replica_db", "primary_db"):
				if hasattr(frappe.local, attr):
					delattr(frappe.local, attr)
		self.assertIs(seen[0], primary)


class TestChunkOutputLocks(FishpondTestCase):
	"""A class of its own: the other tests' writes stay uncommitted in their class's transaction."""

	def test_chunks_storing_their_outputs_at_once_do_not_lock_each_other(self):
		"""Two chunks of a run store their outputs at the same moment, each in its own transaction.
		The store used to ``DELETE ... WHERE run, chunk`` first, which locked every row and gap it
		scanned: the other chunk's insert waited, and two such chunks deadlocked (a summarise chunk
		failed that way on two workers at 1M profiles)."""
		import pymysql

		run = runs.create_run("Rescore")
		fanout.store_output(run, "chunk-a", "packed", 1)  # this transaction stays open
		conf = frappe.conf
		other = pymysql.connect(
			host=conf.db_host or "127.0.0.1",
			port=int(conf.db_port or 3306),
			user=conf.db_user or conf.db_name,
			password=conf.db_password,
			database=conf.db_name,
			charset="utf8mb4",
		)
		try:
			with other.cursor() as cursor:
				cursor.execute("set session innodb_lock_wait_timeout = 2")
				now = now_datetime()
				cursor.execute(
					"insert into `tabFishpond Chunk Output` (name, creation, modified, owner, modified_by,"
					" docstatus, idx, run, chunk, records, data) values (%s, %s, %s, %s, %s, 0, 0, %s, %s, 1, %s)",
					(
						frappe.generate_hash(length=10),
						now,
						now,
						"Administrator",
						"Administrator",
						run,
						"chunk-b",
						"x",
					),
				)
		finally:
			other.rollback()
			other.close()


class TestFanOutOnTwoWorkers(FishpondTestCase):
	"""Real workers commit: the fixtures are committed for them and removed afterwards."""

	def setUp(self):
		manual_rescores_only()
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})
		self.workers: list[subprocess.Popen] = []
		self.names = make_pond(24)
		frappe.db.commit()  # nosemgrep: the workers read the fixtures from their own connections

	def tearDown(self):
		for worker in self.workers:
			if worker.poll() is None:
				os.killpg(worker.pid, signal.SIGKILL)
				worker.wait(timeout=30)
		frappe.db.rollback()
		frappe.flags.fishpond_real_queue = False
		names = our_profiles()
		for doctype in ("Fishpond Transaction", "Fishpond Interaction"):
			frappe.db.delete(doctype, {"fishpond_lead": ("in", names or [""])})
		frappe.db.delete("Fishpond Lead", {"name": ("in", names or [""])})
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})
		frappe.db.commit()  # nosemgrep: the fixtures were committed for the workers

	def start_worker(self) -> subprocess.Popen:
		"""`bench worker --queue long` in a process group of its own; without CI in its environment it
		commits like a production worker."""
		env = {k: v for k, v in os.environ.items() if k != "CI"}
		log = tempfile.NamedTemporaryFile(prefix="fishpond-fanout-worker-", suffix=".log", delete=False)
		worker = subprocess.Popen(
			[sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "worker", "--queue", "long"],
			cwd=os.path.abspath(frappe.local.sites_path),
			env=env,
			stdout=log,
			stderr=subprocess.STDOUT,
			start_new_session=True,
		)
		self.workers.append(worker)
		return worker

	def wait_for(self, what: str, check, timeout: float = WAIT):
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			frappe.db.rollback()  # a fresh snapshot
			value = check()
			if value:
				return value
			for worker in self.workers:
				if worker.poll() is not None and worker.returncode not in (0, -9):
					self.fail(f"a worker exited early ({worker.returncode})")
			time.sleep(0.3)
		self.fail(f"timed out waiting for {what}")

	def start_run(self, chunk_size: int) -> str:
		run = runs.create_run("Rescore")
		frappe.db.commit()  # nosemgrep: the workers read the run
		frappe.flags.fishpond_real_queue = True
		runner.enqueue_run(run, chunk_size=chunk_size)
		frappe.db.commit()  # nosemgrep: enqueue_after_commit
		frappe.flags.fishpond_real_queue = False
		return run

	def status(self, run: str) -> str:
		return frappe.db.get_value("Fishpond Run", run, "status")

	def kill_mid_chunk(self, run: str, workers: list[subprocess.Popen]) -> str:
		"""SIGKILL a worker and the work horse it forked while they are in the middle of a chunk (as an
		OOM kill or a deploy does); returns the chunk, left Running. The chunk row names the rq worker,
		and rq's registry of workers gives its process id."""
		deadline = time.monotonic() + WAIT
		while time.monotonic() < deadline:
			frappe.db.rollback()  # a fresh snapshot
			running = frappe.get_all(
				"Fishpond Run Chunk", {"parent": run, "status": "Running"}, ["name", "worker"]
			)
			pids = {w.name: w.pid for w in Worker.all(connection=get_redis_conn())}
			for chunk in running:
				owner = next((w for w in workers if w.pid == pids.get(chunk.worker)), None)
				if owner is None or owner.poll() is not None:
					continue
				# the work horse runs in a session of its own: kill it by its process id, then the worker
				for horse in psutil.Process(owner.pid).children(recursive=True):
					horse.kill()
				os.killpg(owner.pid, signal.SIGKILL)
				owner.wait(timeout=30)
				frappe.db.rollback()
				if frappe.db.get_value("Fishpond Run Chunk", chunk.name, "status") == "Running":
					return chunk.name
				workers.remove(owner)  # it landed just before the kill: try again with a new worker
				workers.append(self.start_worker())
			time.sleep(0.02)
		self.fail("no chunk was seen running")

	def test_chunks_spread_over_two_workers_and_a_killed_one_loses_nothing(self):
		# what one chunk over the whole pond writes, inline, from unscored profiles
		reset_scores(self.names)
		runner.run_rescore(runs.create_run("Rescore"), chunk_size=100_000)
		expected = written(self.names)
		total = frappe.db.count("Fishpond Lead")
		reset_scores(self.names)
		frappe.db.commit()  # nosemgrep: the workers start from unscored profiles

		workers = [self.start_worker(), self.start_worker()]
		run = self.start_run(chunk_size=1)  # many short chunks: one is caught running
		chunk = self.kill_mid_chunk(run, workers)
		# the other worker runs every other chunk; the killed one's stays Running
		self.wait_for(
			"the other chunks",
			lambda: all(
				c.status == "Done" or c.name == chunk
				for c in frappe.get_all("Fishpond Run Chunk", {"parent": run}, ["name", "status"])
			),
		)
		self.assertEqual(self.status(run), "Running", "a chunk is missing: the run is not complete")
		ran = {c.worker for c in frappe.get_all("Fishpond Run Chunk", {"parent": run}, ["worker"])}
		self.assertGreaterEqual(len(ran), 2, f"both workers took chunks: {ran}")

		# time passes beyond the chunk job's timeout; the run is resumed as the cron resumes a run whose
		# heartbeat stopped (test_scoring covers how the cron finds one)
		frappe.db.set_value(
			"Fishpond Run Chunk",
			chunk,
			"started_at",
			add_to_date(now_datetime(), seconds=-2 * fanout.CHUNK_TIMEOUT),
		)
		frappe.db.commit()  # nosemgrep: the workers see the lost chunk
		frappe.flags.fishpond_real_queue = True
		runner.enqueue_run(run)
		frappe.db.commit()  # nosemgrep: enqueue_after_commit
		frappe.flags.fishpond_real_queue = False

		self.wait_for("the run to complete", lambda: self.status(run) == "Completed")
		doc = frappe.get_doc("Fishpond Run", run)
		retried = next(c for c in doc.chunks if c.name == chunk)
		self.assertEqual((retried.status, retried.attempts), ("Done", 2))
		# every profile of the plan processed once (another job may add a profile while the test runs)
		self.assertEqual(doc.processed, doc.total)
		self.assertGreaterEqual(doc.total, total)
		self.assertEqual(written(self.names), expected, "the same rows as one chunk over the pond")

		# a second run on unchanged data writes nothing
		again = self.start_run(chunk_size=25)
		self.wait_for("the second run", lambda: self.status(again) == "Completed")
		second_doc = frappe.get_doc("Fishpond Run", again)
		self.assertEqual((second_doc.updated, second_doc.inserted), (0, 0))
		self.assertEqual(written(self.names), expected)

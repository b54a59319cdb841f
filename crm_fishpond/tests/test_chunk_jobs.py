"""Integration: the job of a chunk (crm_fishpond.sync.fanout.chunk_job) goes on with its run's next
queued chunks, withdraws their waiting jobs, stops when its time is up or the run stops, and skips a
chunk another job took without importing the chunk's work (what a job costs its worker: a work
horse that imports pandas and the engine again)."""

from __future__ import annotations

import subprocess
import sys
from unittest.mock import patch

import frappe
from frappe.utils.background_jobs import get_job

from crm_fishpond import jobs
from crm_fishpond.scoring import runner
from crm_fishpond.sync import fanout, runs
from crm_fishpond.tests.utils import FishpondTestCase

WORK = "crm_fishpond.tests.test_chunk_jobs.record_work"
DONE: list[tuple[str, str]] = []  # (chunk, from_name) of each chunk record_work did, in order
READ_ON: list = []  # the connection each chunk's read_only read used (record_work with read=True)


@frappe.read_only()
def _connection():
	return frappe.local.db


def record_work(run: str, chunk: str, row, stop_run: bool = False, read: bool = False) -> dict:
	"""A chunk's work for these tests: note the chunk (``read``: and the connection a read_only read
	of it uses), land it; ``stop_run``: then fail the run."""
	DONE.append((chunk, row.from_name))
	if read:
		READ_ON.append(_connection())
	fanout.chunk_done(run, chunk, records=1, seconds=0)
	if stop_run:
		runs.save_progress(run, status="Failed")
	return {"status": "Done"}


class TestChunkJob(FishpondTestCase):
	def setUp(self):
		DONE.clear()
		READ_ON.clear()
		self.run = runs.create_run("Rescore")
		runs.save_progress(self.run, status="Running", total=4)
		ranges = [(f"P{i}", f"P{i}", 1) for i in range(4)]
		fanout.insert_ranges(self.run, "Fishpond Lead", ranges, stage="Summarise")
		self.chunks = [c.name for c in fanout.chunk_rows(self.run)]
		self.queued: list[str] = []

	def tearDown(self):
		for job_id in self.queued:
			if job := get_job(job_id):
				job.delete()
		frappe.flags.fishpond_real_queue = False

	def statuses(self) -> list[str]:
		return [c.status for c in fanout.chunk_rows(self.run)]

	def test_a_job_goes_on_with_the_queued_chunks_in_order(self):
		out = fanout.chunk_job(self.run, self.chunks[1], WORK)
		self.assertEqual(out, {"status": "Done", "chunks": 4})
		self.assertEqual([c for c, _ in DONE], [self.chunks[1], self.chunks[0], *self.chunks[2:]])
		self.assertEqual(self.statuses(), ["Done"] * 4)
		self.assertEqual(frappe.db.get_value("Fishpond Run", self.run, "processed"), 4)

	def test_a_job_stops_going_on_when_its_time_is_up(self):
		with patch.object(fanout, "GO_ON_SECONDS", 0):
			out = fanout.chunk_job(self.run, self.chunks[0], WORK)
		self.assertEqual(out, {"status": "Done", "chunks": 1})
		self.assertEqual(self.statuses(), ["Done", "Queued", "Queued", "Queued"])

	def test_a_job_does_not_go_on_once_its_run_stopped(self):
		out = fanout.chunk_job(self.run, self.chunks[0], WORK, stop_run=True)
		self.assertEqual(out["chunks"], 1)
		self.assertEqual(self.statuses(), ["Done", "Queued", "Queued", "Queued"])

	def test_a_chunk_running_elsewhere_is_left_to_its_job(self):
		fanout.set_chunk(self.chunks[1], status="Running", started_at=frappe.utils.now_datetime())
		fanout.chunk_job(self.run, self.chunks[0], WORK)
		self.assertEqual([c for c, _ in DONE], [self.chunks[0], *self.chunks[2:]])
		self.assertEqual(self.statuses(), ["Done", "Running", "Done", "Done"])

	def test_every_chunk_a_job_goes_on_with_reads_the_replica(self):
		"""Frappe opens a process's replica once and keeps it after the read, so later reads of the
		same job would stay on the primary: each chunk of a job reads on the replica all the same (the
		same server stands in for it: a connection of its own)."""
		primary = frappe.local.db
		try:
			with patch.dict(frappe.local.conf, {"read_from_replica": 1, "replica_host": "127.0.0.1"}):
				fanout.chunk_job(self.run, self.chunks[0], WORK, read=True)
		finally:
			for attr in ("replica_db", "primary_db"):
				if hasattr(frappe.local, attr):
					delattr(frappe.local, attr)
		self.assertEqual(len(READ_ON), 4)
		self.assertTrue(all(db is not primary for db in READ_ON), "a chunk read on the primary")
		self.assertEqual(len({id(db) for db in READ_ON}), 4, "each chunk opened the replica")
		self.assertIs(frappe.local.db, primary, "writes stay on the primary")

	def test_a_job_whose_chunk_was_taken_skips_without_importing_the_work(self):
		fanout.set_chunk(self.chunks[0], status="Done")
		# a work that cannot be imported: the job must not try
		out = fanout.chunk_job(self.run, self.chunks[0], "crm_fishpond.tests.no_such_module.work")
		self.assertEqual(out, {"status": "Skipped", "chunks": 0})
		self.assertEqual(DONE, [])

	def test_the_jobs_of_the_chunks_it_takes_are_withdrawn_from_the_queue(self):
		frappe.flags.fishpond_real_queue = True  # real rq jobs, waiting: no worker serves this test
		for chunk in self.chunks:
			job_id = fanout.chunk_job_id(self.run, chunk)
			self.queued.append(job_id)
			jobs.enqueue(
				fanout.CHUNK_JOB,
				job_id=job_id,
				queue="long",
				at_commit=False,
				run=self.run,
				chunk=chunk,
				work=WORK,
			)
		frappe.flags.fishpond_real_queue = False
		self.assertTrue(all(get_job(job_id) for job_id in self.queued))

		fanout.chunk_job(self.run, self.chunks[0], WORK)  # the first chunk's job, run here
		self.assertEqual(len(DONE), 4)
		self.assertTrue(get_job(self.queued[0]), "the job run here was not in the queue's way")
		self.assertEqual([get_job(job_id) for job_id in self.queued[1:]], [None] * 3)

	def test_enqueued_chunks_are_jobs_of_the_chunk_job_with_their_work(self):
		frappe.flags.fishpond_real_queue = True
		with patch.object(jobs, "enqueue") as enqueue:
			self.assertEqual(fanout.enqueue_chunks(self.run, WORK), 4)
		frappe.flags.fishpond_real_queue = False
		first = enqueue.call_args_list[0]
		self.assertEqual(first.args, (fanout.CHUNK_JOB,))
		self.assertEqual(
			{k: first.kwargs[k] for k in ("job_id", "queue", "run", "chunk", "work")},
			{
				"job_id": fanout.chunk_job_id(self.run, self.chunks[0]),
				"queue": "long",
				"run": self.run,
				"chunk": self.chunks[0],
				"work": WORK,
			},
		)


class TestChunkJobImports(FishpondTestCase):
	def test_the_chunk_job_imports_nothing_heavy(self):
		"""A worker imports the job's module in every work horse it forks: the chunk job's module
		must not bring pandas, scipy or the engine (its work does, only when there is work)."""
		heavy = ("pandas", "numpy", "scipy", "crm_fishpond.engine", "crm_fishpond.scoring.runner")
		module = fanout.CHUNK_JOB.rsplit(".", 1)[0]
		code = f"import sys, {module}; print(','.join(m for m in {heavy!r} if m in sys.modules))"
		out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
		self.assertEqual(out.stdout.strip(), "", f"{module} imports: {out.stdout.strip()}")
		# and the work it names is resolved by its dotted path
		self.assertIs(frappe.get_attr(runner.WORK_CHUNK), runner.work_chunk)

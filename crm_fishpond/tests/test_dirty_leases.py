"""Integration: a worker killed mid-batch loses no dirty profile.

A real rq worker (the process `bench worker --queue default` runs) drains the dirty set. The test holds
a row lock on the profiles, so the worker blocks inside the batch, after it took the batch and before it
can commit; then the worker's whole process group is SIGKILLed (as an OOM kill or a deploy does). The
cron reconciler, run as if the lease had expired, must give every profile back, and the drain must
refresh every one of them. The fixtures are committed for the worker to see and removed afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

import frappe
import psutil
from frappe.utils import add_days, nowdate
from frappe.utils.background_jobs import get_job
from redis import Redis

from crm_fishpond import jobs
from crm_fishpond.scoring import incremental
from crm_fishpond.tests.utils import FishpondTestCase

LABEL = "_FP Lease"
WAIT = 90


def dirty_members() -> set[str]:
	return {m.decode() for m in Redis.smembers(frappe.cache, jobs._dirty_key())}


class TestKilledWorkerKeepsDirtyMarks(FishpondTestCase):
	def setUp(self):
		self.names: list[str] = []
		self.worker: subprocess.Popen | None = None
		self.horse: int | None = None

	def kill_worker(self) -> None:
		"""SIGKILL, as the OOM killer or a deploy does: the worker and the work horse it forked for the
		job (rq puts the horse in a process group of its own)."""
		if self.horse and psutil.pid_exists(self.horse):
			os.kill(self.horse, signal.SIGKILL)
		if self.worker and self.worker.poll() is None:
			os.killpg(self.worker.pid, signal.SIGKILL)
			self.worker.wait(timeout=30)

	def tearDown(self):
		self.kill_worker()
		frappe.db.rollback()
		frappe.flags.fishpond_real_queue = False
		if self.names:
			tx = frappe.get_all("Fishpond Transaction", {"fishpond_lead": ("in", self.names)}, pluck="name")
			frappe.db.delete("Fishpond Transaction", {"name": ("in", tx or [""])})
			frappe.db.delete("Fishpond Lead", {"name": ("in", self.names)})
			Redis.srem(frappe.cache, jobs._dirty_key(), *self.names)
		frappe.db.commit()  # nosemgrep: the fixtures were committed for the worker process

	def make_stale_profiles(self, count: int = 6) -> dict[str, float]:
		"""Profiles with a purchase their aggregates do not count yet (rows written without events)."""
		expected = {}
		for i in range(count):
			name = (
				frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": f"{LABEL} {i}"})
				.insert(ignore_permissions=True)
				.name
			)
			self.names.append(name)
			frappe.get_doc(
				{
					"doctype": "Fishpond Transaction",
					"fishpond_lead": name,
					"voucher_type": "Sales Invoice",
					"voucher_no": f"_FP-LEASE-{name}",
					"posting_date": add_days(nowdate(), -i),
					"docstatus_state": "Submitted",
					"grand_total": 100 * (i + 1),
					"base_grand_total": 100 * (i + 1),
				}
			).insert(ignore_permissions=True, ignore_links=True)
			expected[name] = 100.0 * (i + 1)
		return expected

	def start_worker(self) -> subprocess.Popen:
		"""`bench worker --queue default` (the command it runs from the sites directory), in a process
		group of its own. Without CI in its environment the worker commits like a production one."""
		env = {k: v for k, v in os.environ.items() if k != "CI"}
		log = tempfile.NamedTemporaryFile(prefix="fishpond-worker-", suffix=".log", delete=False)
		return subprocess.Popen(
			[sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "worker", "--queue", "default"],
			cwd=os.path.abspath(frappe.local.sites_path),
			env=env,
			stdout=log,
			stderr=subprocess.STDOUT,
			start_new_session=True,
		)

	def wait_for_lease(self) -> str:
		deadline = time.monotonic() + WAIT
		while time.monotonic() < deadline:
			leases = Redis.zrange(frappe.cache, jobs._leases_key(), 0, -1)
			for lease in (m.decode() for m in leases):
				if set(self.names) <= {
					m.decode() for m in Redis.smembers(frappe.cache, jobs._lease_key(lease))
				}:
					return lease
			if self.worker.poll() is not None:
				self.fail(f"the worker exited early ({self.worker.returncode})")
			time.sleep(0.2)
		self.fail("the worker never leased the batch")

	def test_worker_killed_mid_batch_loses_no_profile(self):
		expected = self.make_stale_profiles()
		frappe.db.commit()  # nosemgrep: the worker reads the fixtures from its own connection
		stale = get_job(jobs.RESCORE_JOB_ID)
		if stale:  # a drain left queued on this site by earlier work with no worker running
			stale.delete()
		jobs.forget_ask()  # and the ask that stood for it

		# the marks, and the drain job queued for a real worker (enqueued at commit)
		frappe.flags.fishpond_real_queue = True
		jobs.mark_dirty(self.names)
		frappe.db.commit()  # nosemgrep: enqueue_after_commit
		frappe.flags.fishpond_real_queue = False
		self.assertTrue(get_job(jobs.RESCORE_JOB_ID), "the drain job is queued")

		# hold the profiles' rows: the worker's batch blocks on its first write, mid-batch
		lead = frappe.qb.DocType("Fishpond Lead")
		frappe.qb.from_(lead).select(lead.name).where(lead.name.isin(self.names)).for_update().run()

		self.worker = self.start_worker()
		lease = self.wait_for_lease()
		horse = int(lease.split(":")[1])  # the lease names the process that holds it
		if psutil.Process(horse).ppid() != self.worker.pid:
			self.skipTest("another worker on this bench took the drain job")
		self.horse = horse
		time.sleep(1)  # well inside the batch: blocked on the row lock
		self.kill_worker()
		frappe.db.rollback()  # release the rows

		# nothing was refreshed, and every mark is still held (by the dead worker's lease)
		self.assertEqual(
			frappe.get_all("Fishpond Lead", {"name": ("in", self.names), "total_purchase": (">", 0)}), []
		)
		self.assertLessEqual(set(self.names), dirty_members() | set(jobs.leased_profiles()))

		# the */5 reconciler, once the lease has expired: the batch comes back and is drained
		returned = jobs.reconcile_dirty(now=time.time() + jobs.LEASE_SECONDS + 1)
		self.assertIn(lease, returned)
		self.assertEqual(set(self.names) & set(jobs.leased_profiles()), set())
		self.assertEqual(set(self.names) & dirty_members(), set())
		refreshed = dict(
			frappe.get_all(
				"Fishpond Lead", {"name": ("in", self.names)}, ["name", "total_purchase"], as_list=True
			)
		)
		self.assertEqual({k: float(v) for k, v in refreshed.items()}, expected)
		self.assertIsNone(get_job(jobs.RESCORE_JOB_ID), "the dead worker's job no longer blocks the drain")

	def test_a_failing_batch_gives_its_profiles_back_at_once(self):
		from unittest.mock import patch

		name = (
			frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": f"{LABEL} failing"})
			.insert(ignore_permissions=True)
			.name
		)
		self.names.append(name)
		Redis.sadd(frappe.cache, jobs._dirty_key(), name)
		with patch("crm_fishpond.scoring.incremental.refresh_profiles", side_effect=RuntimeError("boom")):
			with self.assertRaises(RuntimeError):
				incremental.rescore_dirty()
		self.assertIn(name, dirty_members())
		self.assertNotIn(name, jobs.leased_profiles())


class TestDrainAsk(FishpondTestCase):
	"""mark_dirty on a real queue: the marks of a transaction are made again at its commit, and the
	drain is asked for once while the ask stands (rq's duplicate check is not paid per order)."""

	def setUp(self):
		self.enqueued: list[str] = []
		stale = get_job(jobs.RESCORE_JOB_ID)
		if stale:
			stale.delete()
		jobs.forget_ask()
		frappe.flags.fishpond_real_queue = True

	def tearDown(self):
		frappe.flags.fishpond_real_queue = False
		jobs._forget_pending()
		frappe.db.after_commit.reset()
		job = get_job(jobs.RESCORE_JOB_ID)
		if job:
			job.delete()
		jobs.forget_ask()
		Redis.srem(frappe.cache, jobs._dirty_key(), f"{LABEL} ask 1", f"{LABEL} ask 2")

	def commit(self, *profiles: str) -> None:
		"""One request: marks its profiles, then commits (the after-commit work, without ending the
		test's transaction)."""
		from unittest.mock import patch

		with patch("frappe.enqueue", side_effect=lambda *a, **k: self.enqueued.append(k["job_id"])):
			jobs.mark_dirty(list(profiles))
			frappe.db.after_commit.run()
			frappe.db.after_rollback.reset()

	def test_the_drain_is_asked_for_once_while_the_ask_stands(self):
		self.commit(f"{LABEL} ask 1")
		self.commit(f"{LABEL} ask 2")
		self.commit(f"{LABEL} ask 1", f"{LABEL} ask 2")
		self.assertEqual(self.enqueued, [jobs.RESCORE_JOB_ID])
		self.assertLessEqual({f"{LABEL} ask 1", f"{LABEL} ask 2"}, dirty_members())
		self.assertLessEqual(Redis.ttl(frappe.cache, jobs._ask_key()), jobs.ASK_SECONDS)

	def test_a_drain_looking_at_the_set_withdraws_the_ask(self):
		self.commit(f"{LABEL} ask 1")
		lease, batch = jobs.lease_dirty()
		jobs.release_lease(lease)
		self.assertIn(f"{LABEL} ask 1", batch)
		# a mark committed after the drain looked asks again (rq's dedup is then the guard)
		self.commit(f"{LABEL} ask 2")
		self.assertEqual(self.enqueued, [jobs.RESCORE_JOB_ID, jobs.RESCORE_JOB_ID])

	def test_a_mark_a_drain_took_before_the_commit_is_made_again_at_the_commit(self):
		from unittest.mock import patch

		with patch("frappe.enqueue", side_effect=lambda *a, **k: self.enqueued.append(k["job_id"])):
			jobs.mark_dirty([f"{LABEL} ask 1"])
			self.assertIn(f"{LABEL} ask 1", dirty_members())  # marked at once: a crash loses nothing
			lease, batch = jobs.lease_dirty()  # a drain reads before this transaction commits
			jobs.release_lease(lease)
			self.assertIn(f"{LABEL} ask 1", batch)
			self.assertNotIn(f"{LABEL} ask 1", dirty_members())
			frappe.db.after_commit.run()
		self.assertIn(f"{LABEL} ask 1", dirty_members())
		self.assertEqual(self.enqueued, [jobs.RESCORE_JOB_ID])

	def test_a_rolled_back_transaction_asks_for_nothing(self):
		from unittest.mock import patch

		with patch("frappe.enqueue", side_effect=lambda *a, **k: self.enqueued.append(k["job_id"])):
			jobs.mark_dirty([f"{LABEL} ask 1"])
			frappe.db.after_rollback.run()
			frappe.db.after_commit.reset()
			self.assertIsNone(frappe.flags.fishpond_dirty_pending)
			jobs.mark_dirty([f"{LABEL} ask 2"])  # the next transaction asks afresh
			frappe.db.after_commit.run()
		self.assertEqual(self.enqueued, [jobs.RESCORE_JOB_ID])
		self.assertEqual(Redis.exists(frappe.cache, jobs._ask_key()), 1)

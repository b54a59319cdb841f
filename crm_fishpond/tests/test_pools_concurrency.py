"""Concurrency: many reps claiming at the same instant, each in its own process and database connection.

Every worker is a fresh process (multiprocessing "forkserver": forked from a clean server process that
has only imported the framework, never from the test process) that connects to the site, waits at a barrier
so that all claims start together, claims through crm_fishpond.pools.claim exactly as the HTTP API does
(outside a test transaction: the claim starts its own transaction, locks the rep, commits) and reports
its outcome. No server is needed, so this runs in CI. The fixtures are committed for the workers to see
and removed afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import queue

import frappe

from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.utils import FishpondTestCase

WORKER_TIMEOUT = 180


def claim_worker(
	site: str, sites_path: str, user: str, names: list[str], barrier, results, write_first: bool = False
) -> None:
	"""Runs in a child process: connect, wait for the others, claim, commit, report."""
	import frappe

	frappe.init(site=site, sites_path=sites_path)
	frappe.connect()
	try:
		frappe.set_user(user)
		from crm_fishpond.pools import claim

		# like a request, read before claiming (this opens the transaction's read snapshot)
		frappe.get_list("Fishpond Lead", filters={"name": ["in", names]}, pluck="name")
		frappe.db.count("Fishpond Claim Log", {"to_user": user})
		barrier.wait(timeout=WORKER_TIMEOUT)
		try:
			if write_first:  # the claim joins a transaction that already wrote (e.g. a workflow action)
				frappe.db.set_value("User", user, "bio", "racing", update_modified=False)
			outcome = claim.claim(names, user=user)
			frappe.db.commit()
			results.put((user, outcome.done, outcome.failed))
		except Exception as exc:
			frappe.db.rollback()
			results.put((user, [], {"*": repr(exc)}))
	finally:
		frappe.destroy()


class TestClaimConcurrency(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.site = frappe.local.site
		cls.sites_path = os.path.abspath(frappe.local.sites_path)
		cls.created_pools: list[str] = []
		cls.created_leads: list[str] = []

	@classmethod
	def tearDownClass(cls):
		frappe.set_user("Administrator")
		if cls.created_leads:
			frappe.db.delete("Fishpond Claim Log", {"profile": ("in", cls.created_leads)})
			frappe.db.delete("Fishpond Lead", {"name": ("in", cls.created_leads)})
		for pool in cls.created_pools:
			frappe.delete_doc("Fishpond", pool, force=True, ignore_permissions=True)
		frappe.db.commit()  # nosemgrep: the fixtures were committed for the worker processes
		super().tearDownClass()

	def pool(self, name, **values):
		pool = pf.pool(name, **values)
		self.created_pools.append(pool)
		return pool

	def leads(self, pool, count):
		names = [pf.lead("_FP Race", pool) for _ in range(count)]
		self.created_leads += names
		return names

	def race(
		self, jobs: list[tuple[str, list[str]]], write_first: bool = False
	) -> list[tuple[str, list[str], dict]]:
		"""Run every (user, names) claim in its own process, all released at once."""
		frappe.db.commit()  # nosemgrep: the workers read the fixtures from their own connections
		ctx = multiprocessing.get_context("forkserver")
		# the fork server imports the framework once; every worker is a fresh fork of it (no test state)
		ctx.set_forkserver_preload(["frappe", "frappe.model.document", "crm_fishpond.pools.claim"])
		barrier = ctx.Barrier(len(jobs))
		results = ctx.Queue()
		procs = [
			ctx.Process(
				target=claim_worker,
				args=(self.site, self.sites_path, user, names, barrier, results, write_first),
			)
			for user, names in jobs
		]
		for proc in procs:
			proc.start()
		outcomes = []
		try:
			for _ in procs:
				outcomes.append(results.get(timeout=WORKER_TIMEOUT))
		except queue.Empty:
			self.fail(f"only {len(outcomes)} of {len(procs)} workers answered")
		finally:
			for proc in procs:
				proc.join(timeout=30)
				if proc.is_alive():
					proc.kill()
		errors = [o for o in outcomes if "*" in o[2]]
		self.assertFalse(errors, errors)
		return outcomes

	def test_24_reps_claiming_one_lead_leave_exactly_one_owner(self):
		pool = self.pool("_FP Race One Lead")
		reps = [pf.rep(f"fp-race-{i:02d}@example.com", pools=[pool]) for i in range(24)]
		(lead,) = self.leads(pool, 1)
		outcomes = self.race([(rep, [lead]) for rep in reps])
		winners = [user for user, done, _ in outcomes if done == [lead]]
		self.assertEqual(len(winners), 1, outcomes)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "lead_owner"), winners[0])
		self.assertEqual(frappe.db.count("Fishpond Claim Log", {"profile": lead, "action": "Claim"}), 1)
		losers = [failed[lead] for user, done, failed in outcomes if user != winners[0]]
		self.assertEqual(len(losers), 23)
		self.assertTrue(all("claimed by someone else" in message for message in losers), losers)

	def test_caps_hold_under_the_race(self):
		pool = self.pool("_FP Race Held Cap", max_claimed_per_user=2)
		reps = [pf.rep(f"fp-race-cap-{i}@example.com", pools=[pool]) for i in range(4)]
		leads = self.leads(pool, 20)
		# 4 reps x 5 processes, every process claims its own lead: each rep may end with 2
		jobs = [(reps[i % 4], [lead]) for i, lead in enumerate(leads)]
		outcomes = self.race(jobs)
		for rep in reps:
			held = frappe.db.count("Fishpond Lead", {"fishpond": pool, "lead_owner": rep})
			self.assertEqual(held, 2, rep)
			self.assertEqual(sum(len(done) for user, done, _ in outcomes if user == rep), 2, rep)
			refused = [m for user, _, failed in outcomes if user == rep for m in failed.values()]
			self.assertEqual(len(refused), 3, rep)
			self.assertTrue(all("limit per rep" in m for m in refused), refused)
		self.assertEqual(frappe.db.count("Fishpond Claim Log", {"to_pool": pool, "action": "Claim"}), 8)

	def test_daily_cap_holds_under_the_race(self):
		pool = self.pool("_FP Race Daily Cap", max_claims_per_day=3)
		rep = pf.rep("fp-race-daily@example.com", pools=[pool])
		leads = self.leads(pool, 20)
		outcomes = self.race([(rep, [lead]) for lead in leads])
		self.assertEqual(sum(len(done) for _, done, _ in outcomes), 3)
		self.assertEqual(frappe.db.count("Fishpond Lead", {"fishpond": pool, "lead_owner": rep}), 3)
		self.assertEqual(frappe.db.count("Fishpond Claim Log", {"to_pool": pool, "action": "Claim"}), 3)

	def test_caps_hold_when_the_claim_joins_a_transaction_that_wrote(self):
		pool = self.pool("_FP Race Held Cap Written", max_claimed_per_user=2)
		reps = [pf.rep(f"fp-race-written-{i}@example.com", pools=[pool]) for i in range(4)]
		leads = self.leads(pool, 20)
		self.race([(reps[i % 4], [lead]) for i, lead in enumerate(leads)], write_first=True)
		for rep in reps:
			self.assertEqual(frappe.db.count("Fishpond Lead", {"fishpond": pool, "lead_owner": rep}), 2, rep)

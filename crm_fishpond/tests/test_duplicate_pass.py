"""Integration: the duplicate pass fans out by signal. One chunk finds the e-mail pairs, one the phone
pairs, company chunks take whole territories; the finish combines them into exactly the pairs of one
pass, stores the differences and drops the chunks' outputs. A pass stopped before its finish resumes;
a chunk that fails fails the pass and is retried on resume; the cron enqueues a stale pass again."""

from __future__ import annotations

import random
from unittest.mock import patch

import frappe
from frappe.utils import add_to_date, now_datetime

from crm_fishpond import duplicate_pass, jobs
from crm_fishpond.crm_fishpond.doctype.fishpond_duplicate_candidate.fishpond_duplicate_candidate import (
	pair_name,
)
from crm_fishpond.sync import runs
from crm_fishpond.tests import pools_factories as pf

LABEL = "_FP DupPass"
CANDIDATE = "Fishpond Duplicate Candidate"


def stored_pairs(profiles: list[str]) -> dict:
	"""The Open pairs among ``profiles``: name -> (score, evidence)."""
	rows = frappe.get_all(
		CANDIDATE,
		filters={"status": "Open", "profile_a": ("in", profiles), "profile_b": ("in", profiles)},
		fields=["name", "score", "evidence"],
	)
	return {r.name: (r.score, r.evidence) for r in rows}


class TestDuplicatePass(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP DupPass P")

	def setUp(self):
		super().setUp()
		frappe.db.delete("Fishpond Run", {"run_type": duplicate_pass.RUN_TYPE})
		tag = random.randint(0, 10**6)
		number, other = (f"20 7946 {n:04d}" for n in random.sample(range(10000), 2))
		lead = lambda **values: pf.lead(LABEL, self.pool, **values)  # noqa: E731
		self.profiles = [
			# the same phone written two ways
			lead(phone="+44 " + number),
			lead(phone="0" + number, country="United Kingdom"),
			# the same e-mail address, and the same phone too: both signals, combined
			lead(email_id=f"dup.pass.{tag}@example.com", mobile_no="+44 " + other),
			lead(email_id=f"Dup.Pass.{tag}@Example.com ", mobile_no="0" + other, country="United Kingdom"),
			# similar companies, one pair in each of two territories, and the same company apart
			lead(
				company_name=f"Glimmerworks {tag} GmbH",
				lead_name=f"Hanna Vogt {tag}",
				territory="United States",
			),
			lead(
				company_name=f"Glimmerworks {tag}", lead_name=f"Hanna Vogt {tag}", territory="United States"
			),
			lead(company_name=f"Quillfeather {tag} Ltd", territory="Rest Of The World"),
			lead(company_name=f"Quillfeather {tag} Limited", territory="Rest Of The World"),
			lead(company_name=f"Quillfeather {tag} Ltd", territory="United States"),
		]

	def test_signals_found_apart_give_the_pairs_of_one_pass(self):
		with patch.object(duplicate_pass, "COMPANY_ROWS", 10**9):  # one company chunk
			one = duplicate_pass.run_duplicate_pass()
		expected = stored_pairs(self.profiles)
		self.assertEqual(one["status"], "Completed")
		p = self.profiles
		self.assertEqual(
			set(expected),
			{pair_name(p[0], p[1]), pair_name(p[2], p[3]), pair_name(p[4], p[5]), pair_name(p[6], p[7])},
			"the same company in two territories is no pair; the others are",
		)
		self.assertIn("Same e-mail address; Same phone number", expected[pair_name(p[2], p[3])][1])
		frappe.db.delete(CANDIDATE, {"profile_a": ("in", self.profiles)})

		with patch.object(duplicate_pass, "COMPANY_ROWS", 1):  # a company chunk per territory
			many = duplicate_pass.run_duplicate_pass()
		self.assertEqual(stored_pairs(self.profiles), expected)
		chunks = frappe.get_doc("Fishpond Run", many["run"]).chunks
		stages = [c.stage for c in chunks]
		self.assertEqual(stages[:2], [duplicate_pass.EMAIL, duplicate_pass.PHONE])
		company = [c for c in chunks if c.stage == duplicate_pass.COMPANY]
		self.assertGreaterEqual(len(company), 2)
		self.assertIn(("United States", "United States"), [(c.from_name, c.to_name) for c in company])
		self.assertTrue(all(c.status == "Done" for c in chunks))
		# the chunks' outputs are gone, the counts are on the run
		self.assertFalse(frappe.db.exists("Fishpond Chunk Output", {"run": many["run"]}))
		run = frappe.get_doc("Fishpond Run", many["run"])
		self.assertEqual((run.status, run.progress, run.processed), ("Completed", 100, run.total))
		# a second pass on the same data writes nothing
		again = duplicate_pass.run_duplicate_pass()
		self.assertEqual((again["inserted"], again["updated"], again["removed"]), (0, 0, 0))
		self.assertGreaterEqual(again["found"], len(expected))

	def test_a_pass_stopped_before_its_finish_resumes(self):
		with patch.object(duplicate_pass, "_finish_if_done", return_value=False):
			stopped = duplicate_pass.run_duplicate_pass()
		self.assertEqual(stopped["status"], "Running")
		run = stopped["run"]
		chunks = frappe.get_doc("Fishpond Run", run).chunks
		self.assertTrue(chunks and all(c.status == "Done" for c in chunks))
		self.assertEqual(frappe.db.count("Fishpond Chunk Output", {"run": run}), len(chunks))
		self.assertEqual(stored_pairs(self.profiles), {})
		# the next call resumes the active pass instead of starting another
		resumed = duplicate_pass.run_duplicate_pass()
		self.assertEqual((resumed["run"], resumed["status"]), (run, "Completed"))
		p = self.profiles
		self.assertIn(pair_name(p[0], p[1]), stored_pairs(self.profiles))
		self.assertFalse(frappe.db.exists("Fishpond Chunk Output", {"run": run}))

	def test_a_chunk_that_fails_fails_the_pass_and_resume_retries_it(self):
		real = duplicate_pass.signal_pairs

		def no_phones(profiles, signal, config):
			if signal == "phone":
				raise duplicate_pass.EngineInputError("a damaged number")
			return real(profiles, signal, config)

		with patch.object(duplicate_pass, "signal_pairs", side_effect=no_phones):
			with self.assertRaises(frappe.ValidationError):
				duplicate_pass.run_duplicate_pass()
		run = frappe.db.get_value("Fishpond Run", {"run_type": duplicate_pass.RUN_TYPE}, "name")
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "status"), "Failed")
		phone = frappe.db.get_value("Fishpond Run Chunk", {"parent": run, "stage": "Phone"}, "status")
		self.assertEqual(phone, "Failed")
		self.assertIn("Phone", frappe.db.get_value("Fishpond Run", run, "log"))

		again = duplicate_pass.run_duplicate_pass(run=run)
		self.assertEqual(again["status"], "Completed")
		attempts = frappe.db.get_value("Fishpond Run Chunk", {"parent": run, "stage": "Phone"}, "attempts")
		self.assertEqual(attempts, 2)
		self.assertIn(pair_name(self.profiles[0], self.profiles[1]), stored_pairs(self.profiles))

	def test_the_rescore_enqueues_a_pass_that_fans_out_and_the_cron_resumes_a_stale_one(self):
		with patch.object(jobs, "enqueue") as enqueue:
			duplicate_pass.enqueue_pass()
		enqueue.assert_called_once()
		self.assertEqual(enqueue.call_args.args[0], duplicate_pass.PASS_JOB)
		self.assertEqual(
			(enqueue.call_args.kwargs["queue"], enqueue.call_args.kwargs["here"]), ("long", False)
		)

		run = runs.create_run(duplicate_pass.RUN_TYPE)
		runs.save_progress(run, status="Running")
		frappe.db.set_value(
			"Fishpond Run", run, "heartbeat", add_to_date(now_datetime(), hours=-1), update_modified=False
		)
		with patch.object(jobs, "enqueue") as enqueue:
			self.assertEqual(duplicate_pass.resume_stale_passes(), [run])
		self.assertEqual(enqueue.call_args.kwargs["run"], run)
		self.assertIn(
			"crm_fishpond.duplicate_pass.resume_stale_passes",
			frappe.get_hooks("scheduler_events")["hourly_long"],
		)

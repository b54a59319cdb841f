"""Integration: full rescore runs (on demand, scheduled, resumed, idempotent, guarded), the incremental
rescore of dirty profiles, stage history, rule tags, model fits and notifications."""

from __future__ import annotations

import json
from unittest.mock import patch

import frappe
from frappe.utils import add_days, add_to_date, get_datetime, now_datetime, nowdate

from crm_fishpond import jobs
from crm_fishpond.api import scoring as api
from crm_fishpond.scoring import incremental, models, runner, writer
from crm_fishpond.sync import runs
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only

LABEL = "_FP Score"
RULE_TAG = "_FP Big Spender"
COMPARED = ("lifecycle_stage", "stage_since", "scored_on", *writer.WRITTEN_COLUMNS)


class SimulatedCrash(BaseException):
	"""A worker killed mid-run: not an Exception, so nothing in the run catches it."""


def make_profile(label: str, purchases=(), interactions: int = 0, **values) -> str:
	"""A profile with Sales Invoice rows ``(days ago, amount)`` and recent interactions."""
	doc = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": f"{LABEL} {label}", **values})
	doc.insert(ignore_permissions=True)
	for i, (days_ago, amount) in enumerate(purchases):
		add_purchase(doc.name, days_ago, amount, i)
	for i in range(interactions):
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": doc.name,
				"interaction_type": "Meeting",
				"interaction_time": add_to_date(now_datetime(), days=-(i + 1)),
				"subject": "scoring test",
			}
		).insert(ignore_permissions=True)
	return doc.name


def add_purchase(profile: str, days_ago: int, amount: float, i: int = 0) -> None:
	frappe.get_doc(
		{
			"doctype": "Fishpond Transaction",
			"fishpond_lead": profile,
			"voucher_type": "Sales Invoice",
			"voucher_no": f"_FP-SCORE-{profile}-{i}-{days_ago}",
			"posting_date": add_days(nowdate(), -days_ago),
			"docstatus_state": "Submitted",
			"grand_total": amount,
			"base_grand_total": amount,
		}
	).insert(ignore_permissions=True, ignore_links=True)


def our_profiles() -> list[str]:
	return frappe.get_all("Fishpond Lead", filters={"lead_name": ("like", f"{LABEL}%")}, pluck="name")


def snapshot() -> dict:
	"""Everything the rescore writes, for our profiles."""
	names = our_profiles()
	leads = frappe.get_all(
		"Fishpond Lead", filters={"name": ("in", names)}, fields=["name", *COMPARED], order_by="name"
	)
	history = frappe.get_all(
		"Fishpond Stage History",
		filters={"parent": ("in", names), "parenttype": "Fishpond Lead"},
		fields=["parent", "idx", "from_stage", "to_stage", "reason"],
		order_by="parent, idx",
	)
	tags = frappe.get_all(
		"Fishpond Lead Tag",
		filters={"parent": ("in", names), "parenttype": "Fishpond Lead"},
		fields=["parent", "tag", "tag_source"],
		order_by="parent, tag",
	)
	comments = frappe.db.count(
		"Comment", {"reference_doctype": "Fishpond Lead", "reference_name": ("in", names)}
	)
	return {"leads": leads, "history": history, "tags": tags, "comments": comments}


def full_run(chunk_size: int | None = None) -> tuple[str, dict]:
	run = runs.create_run("Rescore")
	return run, runner.run_rescore(run, chunk_size=chunk_size)


def reset_scores(names: list[str]) -> None:
	"""Forget what a rescore wrote for these profiles (as if never scored)."""
	frappe.db.delete("Fishpond Stage History", {"parent": ("in", names)})
	frappe.db.delete("Fishpond Lead Tag", {"parent": ("in", names), "tag_source": "Rule"})
	for name in names:
		frappe.db.set_value(
			"Fishpond Lead",
			name,
			{"lifecycle_stage": None, "lead_score": 0, "value_grade": None, "score_breakdown": None},
			update_modified=False,
		)


class TestScoring(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		if not frappe.db.exists("Fishpond Tag", RULE_TAG):
			frappe.get_doc(
				{
					"doctype": "Fishpond Tag",
					"tag_name": RULE_TAG,
					"tag_type": "Rule",
					"condition": json.dumps({"field": "total_amount", "op": ">=", "value": 5000}),
				}
			).insert(ignore_permissions=True)
		cls.repeat = [
			make_profile(
				f"Repeat {i}", [(5 + i, 900 + 100 * i), (40 + i, 1200), (90 + 3 * i, 2500 + 400 * i)]
			)
			for i in range(4)
		]
		cls.once = [make_profile(f"Once {i}", [(20 + 10 * i, 300 + 50 * i)]) for i in range(3)]
		cls.lapsed = make_profile("Lapsed", [(700, 400), (560, 500), (450, 450)])
		cls.warm = [make_profile(f"Warm {i}", interactions=2) for i in range(2)]
		cls.cold = make_profile("Cold")

	def setUp(self):
		frappe.db.delete("Fishpond Run", {"run_type": "Rescore"})
		frappe.set_user("Administrator")

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.flags.fishpond_real_queue = False

	# ---------------------------------------------------------------------------------------------
	# full runs

	def test_on_demand_run_scores_every_profile(self):
		run = api.start_rescore()
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual((doc.run_type, doc.status, doc.progress), ("Rescore", "Completed", 100))
		self.assertGreaterEqual(doc.total, len(our_profiles()))
		self.assertEqual(doc.processed, doc.total)
		timings = json.loads(doc.timings)
		for key in (
			"plan", "summarise", "read_summaries", "engine", "write", "total", "chunks", "workers",
			"model_fit", "as_of", "purchase_rows",
		):  # fmt: skip
			self.assertIn(key, timings)
		chunks = frappe.get_all(
			"Fishpond Run Chunk",
			{"parent": run},
			["stage", "status", "records", "attempts", "worker"],
			order_by="idx",
		)
		# each stage (summarise, then score) splits the pond the same way
		self.assertEqual(len(chunks), 2 * timings["chunks"])
		for stage in (runner.SUMMARISE, runner.SCORE):
			self.assertEqual(sum(c.records for c in chunks if c.stage == stage), doc.total)
		self.assertTrue(all(c.status == "Done" and c.attempts == 1 and c.worker for c in chunks))
		self.assertEqual(api.rescore_status(run)["status"], "Completed")

		buyer = frappe.get_doc("Fishpond Lead", self.repeat[3])
		self.assertEqual(buyer.lifecycle_stage, "Retention")
		self.assertGreater(buyer.lead_score, 0)
		self.assertTrue(buyer.scored_on and buyer.value_grade and buyer.category == "Loyal")
		self.assertEqual(json.loads(buyer.score_breakdown)["model_fit"], timings["model_fit"])
		self.assertTrue(buyer.stage_history and buyer.stage_history[-1].reason)
		self.assertIn(RULE_TAG, [(t.tag) for t in buyer.tags if t.tag_source == "Rule"])
		self.assertTrue(
			frappe.db.exists(
				"Comment",
				{
					"reference_doctype": "Fishpond Lead",
					"reference_name": buyer.name,
					"content": ("like", "%Big Spender%"),
				},
			)
		)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.once[0], "lifecycle_stage"), "Growth")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.warm[0], "lifecycle_stage"), "Conversion")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.cold, "lifecycle_stage"), "Acquisition")
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", self.cold, "value_grade"))

		fit = frappe.get_doc("Fishpond Model Fit", timings["model_fit"])
		self.assertGreaterEqual(fit.buyers, 8)
		self.assertEqual(str(fit.as_of), nowdate())
		self.assertTrue(json.loads(fit.rfm_thresholds)["monetary"])

	def test_second_run_writes_nothing(self):
		full_run()
		before = snapshot()
		fit = models.latest_fit()
		run, result = full_run()
		self.assertEqual(result["status"], "Completed")
		self.assertEqual(
			(result["updated"], result["stage_changes"], result["tags_added"], result["tags_removed"]),
			(0, 0, 0, 0),
		)
		self.assertEqual(snapshot(), before)
		self.assertEqual(models.latest_fit(), fit, "an identical fit is reused, not stored again")
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "updated"), 0)

	def test_resume_after_a_crash_mid_run(self):
		full_run()
		expected = snapshot()
		names = our_profiles()
		reset_scores(names)
		run = runs.create_run("Rescore")
		real = writer.write_results
		calls = {"n": 0}

		def crash_on_third_chunk(*args, **kwargs):
			calls["n"] += 1
			if calls["n"] == 3:
				raise SimulatedCrash
			return real(*args, **kwargs)

		with patch.object(writer, "write_results", side_effect=crash_on_third_chunk):
			with self.assertRaises(SimulatedCrash):
				runner.run_rescore(run, chunk_size=2)
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual(doc.status, "Running", "a killed worker leaves its run running")
		cursor = json.loads(doc.cursor)
		self.assertTrue(cursor["model_fit"])
		self.assertEqual(doc.processed, 4)
		self.assertTrue(all(c.status == "Done" for c in doc.chunks if c.stage == runner.SUMMARISE))
		scored = [c for c in doc.chunks if c.stage == runner.SCORE]
		self.assertEqual([c.status for c in scored[:3]], ["Done", "Done", "Running"])
		done_before = {
			n for c in scored[:2] for n in runner.loader.profile_names_between(c.from_name, c.to_name)
		}

		# the worker stops beating; once its chunk's job has timed out, the cron resumes the run: same
		# fit, chunks not done (a chunk Running within its job's timeout is left to its worker)
		frappe.db.set_value("Fishpond Run", run, "heartbeat", add_to_date(now_datetime(), hours=-1))
		frappe.db.set_value(
			"Fishpond Run Chunk", scored[2].name, "started_at", add_to_date(now_datetime(), hours=-1)
		)
		with patch.object(writer, "write_results", side_effect=real) as resumed:
			runner.schedule_rescore()
		doc.reload()
		self.assertEqual(doc.status, "Completed")
		self.assertEqual(doc.processed, doc.total)
		self.assertEqual(json.loads(doc.cursor)["model_fit"], cursor["model_fit"])
		self.assertEqual(
			next(c for c in doc.chunks if c.name == scored[2].name).attempts,
			2,
			"the chunk killed mid-way ran again",
		)
		done = {n for call in resumed.call_args_list for n in call.args[0].index}
		self.assertFalse(done & done_before, "committed chunks are not written again")
		after = snapshot()

		# the same end state as an uninterrupted run (times of the rewrite aside)
		def strip(snap):
			return [
				{k: v or None for k, v in r.items() if k not in ("stage_since", "scored_on")}
				for r in snap["leads"]
			]

		self.assertEqual(strip(after), strip(expected))
		# history was reset with the scores: one entry per profile again, into its current stage, with a reason
		current = {r["name"]: r["lifecycle_stage"] for r in expected["leads"]}
		self.assertEqual({(h.parent, h.to_stage) for h in after["history"]}, set(current.items()))
		self.assertTrue(all(h.reason and h.idx == 1 for h in after["history"]))
		self.assertEqual(after["tags"], expected["tags"])
		self.assertEqual(full_run()[1]["updated"], 0)

	def test_failing_chunk_is_logged_and_retried(self):
		full_run()
		reset_scores([self.cold])
		run = runs.create_run("Rescore")
		real = writer.write_results
		calls = {"n": 0}

		def fail_once(*args, **kwargs):
			calls["n"] += 1
			if calls["n"] == 1:
				raise RuntimeError("deadlock")
			return real(*args, **kwargs)

		with patch.object(writer, "write_results", side_effect=fail_once):
			result = runner.run_rescore(run)
		self.assertEqual(result["status"], "Completed")
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "errors"), 1)
		self.assertTrue(
			frappe.db.exists("Error Log", {"reference_doctype": "Fishpond Run", "reference_name": run})
		)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.cold, "lifecycle_stage"), "Acquisition")

	def test_a_chunk_that_keeps_failing_leaves_nothing_half_written(self):
		full_run()
		reset_scores([self.cold])
		run = runs.create_run("Rescore")
		with patch.object(writer, "_insert_stage_history", side_effect=RuntimeError("disk full")):
			with self.assertRaises(RuntimeError):
				runner.run_rescore(run)
		doc = frappe.get_doc("Fishpond Run", run)
		self.assertEqual((doc.status, doc.errors), ("Failed", runner.RETRIES))
		# the chunk's column writes were rolled back with its failing history insert
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", self.cold, "lifecycle_stage"))
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", self.cold, "score_breakdown"))
		# resuming the failed run (from Desk) converges
		self.assertEqual(api.start_rescore(resume=run), run)
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "status"), "Completed")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.cold, "lifecycle_stage"), "Acquisition")

	def test_two_runs_never_overlap(self):
		with patch.object(runner, "enqueue_run") as enqueue:
			first = runner.start_full_rescore()
			second = runner.start_full_rescore()
		self.assertEqual(first, second)
		self.assertEqual(enqueue.call_count, 2)

		# a second worker holding the run lock (another database session): this one steps aside
		from frappe.database import get_db

		conf = frappe.conf
		other = get_db(
			host=conf.db_host,
			port=conf.db_port,
			user=conf.db_user or conf.db_name,
			password=conf.db_password,
			cur_db_name=conf.db_name,
			socket=conf.db_socket,
		)
		other.connect()
		key = runs.db_lock("run").key
		try:
			self.assertEqual(other.sql("select get_lock(%s, 0)", key)[0][0], 1)
			self.assertEqual(runner.run_rescore(first)["status"], "Locked")
			self.assertEqual(frappe.db.get_value("Fishpond Run", first, "status"), "Queued")
		finally:
			other.sql("select release_lock(%s)", key)
			other.close()
		self.assertEqual(runner.run_rescore(first)["status"], "Completed")

	def test_only_a_fishpond_manager_can_start_a_run(self):
		plain = _user("fp-score-plain@example.com", ["Fishpond User"])
		manager = _user("fp-score-manager@example.com", ["Fishpond Manager"])
		frappe.set_user(plain)
		with self.assertRaises(frappe.PermissionError):
			api.start_rescore()
		frappe.set_user(manager)
		with patch.object(runner, "enqueue_run"):
			run = api.start_rescore()
		self.assertEqual(frappe.db.get_value("Fishpond Run", run, "triggered_by"), manager)

	def test_changed_fit_changes_scores_with_recorded_reason(self):
		_run1, first = full_run()
		fit1 = first["model_fit"]
		steady = self.repeat[0]
		before = frappe.db.get_value("Fishpond Lead", steady, list(writer.WRITTEN_COLUMNS), as_dict=True)
		# big new customers move the population: RFM cut points and BG/NBD refit
		for i in range(6):
			make_profile(f"Whale {i}", [(d, 20000 + 1000 * i) for d in (3, 9, 15, 30, 60, 120)])
		_run2, second = full_run()
		fit2 = second["model_fit"]
		self.assertNotEqual(fit1, fit2)
		fit = frappe.get_doc("Fishpond Model Fit", fit2)
		self.assertEqual(fit.previous_fit, fit1)
		self.assertIn("RFM thresholds", fit.changes)
		after = frappe.db.get_value("Fishpond Lead", steady, list(writer.WRITTEN_COLUMNS), as_dict=True)
		moved = [
			c
			for c in ("m_score", "f_score", "r_score", "p_alive", "clv", "lead_score")
			if before[c] != after[c]
		]
		self.assertTrue(moved, "the profile's own data did not change, the fit did: its scores move")
		self.assertEqual(json.loads(after.score_breakdown)["model_fit"], fit2)
		self.assertEqual(json.loads(before.score_breakdown)["model_fit"], fit1)

	# ---------------------------------------------------------------------------------------------
	# incremental

	def test_new_activity_rescores_the_profile_with_the_stored_fit(self):
		_run, result = full_run()
		profile = make_profile("Incremental")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "lead_score"), 0)
		# an interaction marks the profile dirty; in tests the drain job runs inline
		frappe.get_doc(
			{
				"doctype": "Fishpond Behaviour Event",
				"fishpond_lead": profile,
				"event_type": "demo_request",
				"event_time": now_datetime(),
			}
		).insert(ignore_permissions=True)
		row = frappe.db.get_value(
			"Fishpond Lead",
			profile,
			["lead_score", "lifecycle_stage", "score_breakdown", "scored_on"],
			as_dict=True,
		)
		self.assertGreater(row.lead_score, 0)
		self.assertEqual(row.lifecycle_stage, "Conversion")
		self.assertEqual(json.loads(row.score_breakdown)["model_fit"], result["model_fit"])
		# an incremental rescore of unchanged profiles gives the full run's rows: nothing to write
		self.assertEqual(runner.rescore_profiles(self.repeat + self.once + [self.lapsed]), 0)

	def test_a_changed_bant_answer_rescores_the_profile(self):
		full_run()
		doc = frappe.get_doc("Fishpond Lead", self.cold)
		before = doc.lead_score
		doc.budget = "Approved"
		doc.authority = "Decision Maker"
		doc.save(ignore_permissions=True)
		row = frappe.db.get_value("Fishpond Lead", self.cold, ["lead_score", "score_fit"], as_dict=True)
		self.assertGreater(row.lead_score, before)
		self.assertGreater(row.score_fit, 0)

	def test_incremental_waits_while_a_full_run_writes(self):
		full_run()
		run = runs.create_run("Rescore")
		frappe.db.set_value("Fishpond Run", run, "status", "Running")
		profile = make_profile("Parked")
		self.assertEqual(runner.rescore_profiles([profile]), 0)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "scored_on"), None)
		frappe.db.set_value("Fishpond Run", run, "status", "Completed")
		self.assertEqual(runner.release_deferred(), 1)  # re-marked dirty and drained inline
		self.assertTrue(frappe.db.get_value("Fishpond Lead", profile, "scored_on"))

	def test_burst_of_orders_enqueues_a_handful_of_jobs(self):
		from frappe.utils.background_jobs import get_job
		from rq import Queue

		profile = self.repeat[0]
		stale = get_job(jobs.RESCORE_JOB_ID)
		if stale:  # left queued by earlier work on this site with no worker running
			stale.delete()
		jobs.forget_ask()
		frappe.flags.fishpond_real_queue = True
		created = []
		real = Queue.enqueue_call

		def spy(queue, *args, **kwargs):
			created.append(kwargs.get("job_id"))
			return real(queue, *args, **kwargs)

		try:
			with patch.object(Queue, "enqueue_call", autospec=True, side_effect=spy):
				# 1,000 orders, each its own request and commit
				for _ in range(1000):
					jobs.mark_dirty([profile])
					frappe.db.after_commit.run()
				# and 1,000 marks inside one transaction (an import): one enqueue waits for the commit
				for _ in range(1000):
					jobs.mark_dirty([profile])
				frappe.db.after_commit.run()
			self.assertLessEqual(len(created), 2)
			self.assertTrue(created)
		finally:
			job = get_job(jobs.RESCORE_JOB_ID)
			if job:
				job.delete()
			frappe.flags.fishpond_real_queue = False
			frappe.flags.fishpond_dirty_pending = None
			jobs.forget_ask()
		self.assertLessEqual(incremental.rescore_dirty(), 1)
		self.assertEqual(jobs.pending_dirty(), 0)

	# ---------------------------------------------------------------------------------------------
	# notifications and scheduling

	def test_stage_change_fires_value_change_notification(self):
		manager = _user("fp-score-owner@example.com", ["Fishpond Manager"])
		full_run()
		_ensure_fixture_notification()
		notification = frappe.get_doc("Notification", "Became at risk")
		notification.enabled = 1
		notification.save()
		try:
			profile = make_profile(
				"At Risk",
				[(700, 800), (640, 900), (600, 1000), (560, 700)],
				lead_owner=manager,
				status="Claimed",
			)
			frappe.db.set_value(
				"Fishpond Lead", profile, "lifecycle_stage", "Retention", update_modified=False
			)
			full_run()
			self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "lifecycle_stage"), "Churn")
			history = frappe.get_all(
				"Fishpond Stage History",
				filters={"parent": profile},
				fields=["from_stage", "to_stage", "reason"],
				order_by="idx",
			)
			self.assertEqual((history[-1].from_stage, history[-1].to_stage), ("Retention", "Churn"))
			self.assertIn("no purchase for", history[-1].reason)
			self.assertTrue(
				frappe.db.exists(
					"Notification Log",
					{"document_type": "Fishpond Lead", "document_name": profile, "for_user": manager},
				)
			)
		finally:
			notification.reload()
			notification.enabled = 0
			notification.save()

	def test_scheduler_registration(self):
		cron = frappe.get_hooks("scheduler_events")["cron"]
		self.assertIn("crm_fishpond.scoring.runner.schedule_rescore", cron["*/10 * * * *"])
		self.assertTrue(
			frappe.db.exists("Scheduled Job Type", {"method": "crm_fishpond.scoring.runner.schedule_rescore"})
		)

	def test_schedule_follows_the_settings(self):
		settings = frappe.get_single("Fishpond Settings")
		try:
			settings.rescore_frequency = "Daily"
			settings.rescore_time = "02:00:00"
			settings.save()
			# 2026-03-10 is a Tuesday
			self.assertTrue(runner.is_due("2026-03-10 01:00:00"))  # yesterday's 02:00 run never happened
			with self.freeze_time("2026-03-10 01:00:00"):
				with patch.object(runner, "enqueue_run") as enqueue:
					run = runner.schedule_rescore()
					self.assertTrue(run)
					enqueue.assert_called_once_with(run)
					self.assertIsNone(runner.schedule_rescore(), "an active run blocks the next one")
			frappe.db.set_value("Fishpond Run", run, "status", "Completed")
			self.assertFalse(runner.is_due("2026-03-10 01:30:00"))
			self.assertTrue(runner.is_due("2026-03-10 02:00:00"))

			settings.rescore_frequency = "Weekly"
			settings.rescore_weekday = "Sunday"
			settings.save()
			self.assertEqual(runner.last_slot("2026-03-10 01:00:00"), get_datetime("2026-03-08 02:00:00"))
			self.assertFalse(runner.is_due("2026-03-10 01:00:00"))  # the run of 2026-03-10 counts
			self.assertTrue(runner.is_due("2026-03-15 02:00:01"))

			settings.rescore_frequency = "Manual Only"
			settings.save()
			self.assertFalse(runner.is_due("2026-03-15 02:00:01"))
		finally:
			settings.reload()
			settings.rescore_frequency = "Manual Only"
			settings.save()


def _user(email: str, roles: list[str]) -> str:
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": email.split("@")[0], "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	user.add_roles(*roles)
	return email


def _ensure_fixture_notification() -> None:
	if frappe.db.exists("Notification", "Became at risk"):
		return
	from pathlib import Path

	path = Path(frappe.get_app_path("crm_fishpond", "setup_data", "notification.json"))
	for data in json.loads(path.read_text()):
		frappe.get_doc(data).insert(ignore_permissions=True)

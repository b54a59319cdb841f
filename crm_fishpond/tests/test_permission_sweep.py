"""Every whitelisted method and every report of the app, called by a plain rep and by a user with no
pond role: zero leaks. The reconciliation is an accountant's and manager's tool, and cheap to read.
Referral rewards follow the pond's row-level criterion.

The sweep enumerates ``frappe.whitelisted`` for this app, so a new endpoint fails here until someone
decides what a rep may get from it."""

from __future__ import annotations

import importlib
import pkgutil
from unittest.mock import patch

import frappe
from frappe.utils import add_days, now_datetime

import crm_fishpond
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools.claim import insert_logs
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.factories import reward_row

PREFIX = "_FP Sweep"


def app_whitelisted() -> set[str]:
	for module in pkgutil.walk_packages(crm_fishpond.__path__, "crm_fishpond."):
		if ".tests" in module.name or module.name.endswith(".patches") or ".patches." in module.name:
			continue
		importlib.import_module(module.name)
	return {
		f"{fn.__module__}.{fn.__qualname__}"
		for fn in frappe.whitelisted
		if getattr(fn, "__module__", "").startswith("crm_fishpond.")
	}


class SweepCase(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.p = pf.pool(f"{PREFIX} P")
		cls.q = pf.pool(f"{PREFIX} Q")
		cls.rep_a = pf.rep("fp-sweep-a@example.com", pools=[cls.p])
		cls.rep_b = pf.rep("fp-sweep-b@example.com", pools=[cls.p])
		cls.rep_c = pf.rep("fp-sweep-c@example.com", pools=[cls.q])
		cls.nobody = pf.user("fp-sweep-nobody@example.com", ["Sales User"])
		cls.accountant = pf.user("fp-sweep-accounts@example.com", ["Accounts User"])
		cls.manager = pf.manager("fp-sweep-manager@example.com")
		cls.leads = {
			"p_free": pf.lead(PREFIX, cls.p, email_id="free@example.com"),
			"a_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_a),
			"b_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_b, email_id="b-secret@example.com"),
			"q_free": pf.lead(PREFIX, cls.q, email_id="q-secret@example.com"),
			"c_owned": pf.lead(PREFIX, cls.q, owner=cls.rep_c),
		}
		cls.visible_to_a = {cls.leads["p_free"], cls.leads["a_owned"]}
		past = add_days(now_datetime(), -3)
		logs = []
		for lead in cls.leads.values():
			owner, pool = frappe.db.get_value("Fishpond Lead", lead, ["lead_owner", "fishpond"])
			if owner:
				base = {"profile": lead, "from_pool": pool, "to_pool": pool, "action_by": owner}
				logs.append({**base, "action": "Claim", "to_user": owner, "action_on": past})
				logs.append({**base, "action": "Recycle", "from_user": owner, "action_on": past})
				logs.append({**base, "action": "Claim", "to_user": owner, "action_on": now_datetime()})
		insert_logs(logs)
		frappe.db.commit()  # nosemgrep: class fixtures

	def as_user(self, user, fn):
		frappe.set_user(user)
		try:
			return fn()
		finally:
			frappe.set_user("Administrator")


class TestReconciliationIsForAccountantsAndManagers(SweepCase):
	def test_a_rep_gets_nothing(self):
		from crm_fishpond.api import sync as api

		for user in (self.rep_a, self.nobody):
			with self.assertRaises(frappe.PermissionError, msg=user):
				self.as_user(user, api.reconciliation_summary)

	def test_accountants_and_managers_read_it_and_reading_is_cheap(self):
		from crm_fishpond.api import sync as api
		from crm_fishpond.sync import reconcile_summary

		frappe.cache.delete_value("fishpond:reconciliation_summary")
		real = reconcile_summary.reconcile
		with patch.object(reconcile_summary, "reconcile", side_effect=real) as spy:
			first = self.as_user(self.accountant, api.reconciliation_summary)
			self.assertEqual(spy.call_count, 1, "no summary yet: the job ran (inline in tests)")
			for user in (self.accountant, self.manager):
				again = self.as_user(user, api.reconciliation_summary)
				self.assertEqual(again["checked_on"], first["checked_on"])
				self.assertFalse(again["refresh_queued"])
			self.assertEqual(spy.call_count, 1, "reading the summary re-read the vouchers")
			self.as_user(self.manager, lambda: api.reconciliation_summary(refresh=1))
			self.assertEqual(spy.call_count, 2)
		self.assertIn("differences", first)
		self.assertIsNotNone(first["checked_on"])

	def test_a_new_reconciliation_is_started_by_post_only(self):
		from crm_fishpond.api import sync as api

		frappe.local.request = frappe._dict(method="GET")
		try:
			with self.assertRaises(frappe.PermissionError):
				self.as_user(self.manager, lambda: api.reconciliation_summary(refresh=1))
		finally:
			del frappe.local.request


class TestReferralRewardRows(SweepCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		L = cls.leads

		def reward(referrer, referee):
			return reward_row(referrer, referee)

		cls.rewards = {
			"a_refers_free": reward(L["a_owned"], L["p_free"]),
			"b_refers_q": reward(L["b_owned"], L["q_free"]),
			"c_refers_b": reward(L["c_owned"], L["b_owned"]),
		}
		frappe.db.commit()  # nosemgrep: class fixtures

	def test_each_user_sees_the_rewards_of_profiles_they_see(self):
		R = self.rewards
		expected = {
			self.rep_a: {R["a_refers_free"]},
			self.rep_b: {R["a_refers_free"], R["b_refers_q"], R["c_refers_b"]},
			self.rep_c: {R["b_refers_q"], R["c_refers_b"]},
			self.nobody: set(),
			self.accountant: set(R.values()),
			self.manager: set(R.values()),
		}
		names = list(R.values())
		for user, want in expected.items():

			def listed():
				try:
					return set(
						frappe.get_list("Referral Reward", filters={"name": ["in", names]}, pluck="name")
					)
				except frappe.PermissionError:
					return set()

			def readable():
				return {n for n in names if frappe.has_permission("Referral Reward", "read", doc=n)}

			self.assertEqual(self.as_user(user, listed), want, f"{user} lists")
			self.assertEqual(self.as_user(user, readable), want, f"{user} reads")

	def test_a_rep_changes_no_reward(self):
		for name in self.rewards.values():
			self.assertFalse(frappe.has_permission("Referral Reward", "write", doc=name, user=self.rep_a))


class TestEveryWhitelistedMethod(SweepCase):
	def calls(self) -> dict:
		"""method -> (callable, check(result) -> list of leaks). A PermissionError or a translated
		refusal (ValidationError) counts as no leak."""
		from crm_fishpond.api import (
			accounting,
			analytics,
			capture,
			duplicates,
			feedback,
			ingest,
			nurture,
			pools,
			profile,
			referrals,
			rules,
			scoring,
			sync,
		)

		L = self.leads
		pair = self.foreign_duplicate_pair()
		foreign = [L["b_owned"], L["q_free"], L["c_owned"]]

		def nothing_done(out):
			return [f"done {out['done']}"] if out.get("done") else []

		def no_foreign_contacts(out):
			leaks = [n for n in out if n not in self.visible_to_a]
			leaks += [
				n
				for n, v in out.items()
				if v.get("email_id") in ("b-secret@example.com", "q-secret@example.com")
			]
			return leaks

		def no_result(out):
			return [f"returned {str(out)[:200]}"]

		return {
			"crm_fishpond.api.pools.claim": (lambda: pools.claim(L["q_free"]), nothing_done),
			"crm_fishpond.api.pools.release": (lambda: pools.release(L["b_owned"]), nothing_done),
			"crm_fishpond.api.pools.assign": (lambda: pools.assign(L["p_free"], self.rep_a), nothing_done),
			"crm_fishpond.api.pools.transfer": (lambda: pools.transfer(L["a_owned"], self.q), nothing_done),
			"crm_fishpond.api.pools.mark_lost": (lambda: pools.mark_lost(L["b_owned"], "x"), nothing_done),
			"crm_fishpond.api.pools.bulk_claim": (
				lambda: pools.bulk_claim(frappe.as_json(foreign)),
				nothing_done,
			),
			"crm_fishpond.api.pools.bulk_release": (
				lambda: pools.bulk_release(frappe.as_json(foreign)),
				nothing_done,
			),
			"crm_fishpond.api.pools.bulk_assign": (
				lambda: pools.bulk_assign(frappe.as_json([*foreign, L["p_free"]]), self.rep_a),
				nothing_done,
			),
			"crm_fishpond.api.pools.bulk_transfer": (
				lambda: pools.bulk_transfer(frappe.as_json([L["a_owned"], *foreign]), self.q),
				nothing_done,
			),
			"crm_fishpond.api.pools.bulk_mark_lost": (
				lambda: pools.bulk_mark_lost(frappe.as_json(foreign), "x"),
				nothing_done,
			),
			"crm_fishpond.api.pools.actions_for": (lambda: pools.actions_for(L["b_owned"]), no_result),
			"crm_fishpond.api.pools.contact_details": (
				lambda: pools.contact_details(frappe.as_json(list(L.values()))),
				no_foreign_contacts,
			),
			"crm_fishpond.api.pools.recycle_preview": (lambda: pools.recycle_preview(self.p), no_result),
			"crm_fishpond.api.scoring.start_rescore": (scoring.start_rescore, no_result),
			"crm_fishpond.api.scoring.rescore_status": (scoring.rescore_status, no_result),
			"crm_fishpond.api.sync.start_backfill": (sync.start_backfill, no_result),
			"crm_fishpond.api.sync.reconciliation_summary": (sync.reconciliation_summary, no_result),
			"crm_fishpond.api.sync.repair_differences": (sync.repair_differences, no_result),
			# the metrics history is pond-wide: managers take it
			"crm_fishpond.api.analytics.take_snapshot_now": (analytics.take_snapshot_now, no_result),
			"crm_fishpond.api.duplicates.profile_candidates": (
				lambda: duplicates.profile_candidates(L["b_owned"]),
				no_result,
			),
			"crm_fishpond.api.duplicates.dismiss": (lambda: duplicates.dismiss(pair), no_result),
			"crm_fishpond.api.duplicates.merge": (lambda: duplicates.merge(pair), no_result),
			# the join form is public by design: anyone may sign up, and the answer tells nothing
			"crm_fishpond.api.capture.submit_lead": (
				lambda: capture.submit_lead(first_name="Sweep", email="sweep.capture@example.com", consent=1),
				lambda out: [] if set(out) == {"message"} else [f"answered {out}"],
			),
			# the survey answer is public by design, but only through a signed link: a made-up one is refused
			"crm_fishpond.api.feedback.submit_survey": (
				lambda: feedback.submit_survey(i="x", e="9999999999", s="0" * 128, score=10),
				no_result,
			),
			"crm_fishpond.api.feedback.send_survey": (
				lambda: feedback.send_survey(L["b_owned"], "Net Promoter Score"),
				no_result,
			),
			# the workspace's NPS card counts the answers the user may read: none of another rep's
			"crm_fishpond.api.feedback.nps_card": (
				lambda: self.with_foreign_answer(feedback.nps_card),
				lambda out: [] if out == "No answers" else [f"counted answers it may not read: {out}"],
			),
			"crm_fishpond.api.ingest.behaviour_events": (
				lambda: ingest.behaviour_events([{"email": "free@example.com"}], "sweep"),
				no_result,
			),
			"crm_fishpond.api.duplicates.resolve_profile": (
				lambda: duplicates.resolve_profile(L["b_owned"]),
				lambda out: [f"resolved {out}"] if out else [],
			),
			# the profile summary of a Customer: only for those who may read the Customer and its profile
			"crm_fishpond.api.profile.summary": (
				lambda: profile.summary("Customer", self.foreign_customer()),
				lambda out: [f"returned {str(out)[:200]}"] if out else [],
			),
			# a rule preview reads the whole pond: rule editors only
			"crm_fishpond.api.rules.preview": (
				lambda: rules.preview(
					"Fishpond Tag",
					{
						"tag_name": "_FP Sweep Preview",
						"tag_type": "Rule",
						"condition": '{"field": "orders", "op": ">=", "value": 0}',
					},
				),
				no_result,
			),
			"crm_fishpond.api.rules.preview_result": (
				lambda: rules.preview_result("Fishpond Tag", "fishpond:rule_preview:x"),
				no_result,
			),
			# referrals: a profile's code and referrals are its owner's; overrides and runs, managers'
			"crm_fishpond.api.referrals.referral_code": (
				lambda: referrals.referral_code(L["b_owned"]),
				no_result,
			),
			"crm_fishpond.api.referrals.record": (
				lambda: referrals.record(L["b_owned"], referrer=L["c_owned"]),
				no_result,
			),
			"crm_fishpond.api.referrals.override": (
				lambda: referrals.override(self.foreign_referral(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.referrals.cancel": (
				lambda: referrals.cancel(self.foreign_referral(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.referrals.run_now": (
				lambda: referrals.run_now(frappe.db.get_value("Company", {}, "name")),
				no_result,
			),
			# follow-up plans: a rep enrols and stops only profiles they may change; crowds are managers'
			"crm_fishpond.api.nurture.enrol": (
				lambda: nurture.enrol(self.sweep_plan(), frappe.as_json(foreign)),
				lambda out: [f"enrolled {out['enrolled']}"] if out.get("enrolled") else [],
			),
			"crm_fishpond.api.nurture.stop": (
				lambda: nurture.stop(self.foreign_enrolment()),
				no_result,
			),
			"crm_fishpond.api.nurture.enrol_crowd_now": (
				lambda: nurture.enrol_crowd_now(self.sweep_plan()),
				no_result,
			),
			# request to claim: a rep asks (and learns only how many requests went out); deciding is
			# the owner's or a pool manager's, withdrawing the asker's
			"crm_fishpond.api.pools.request_claim": (
				lambda: pools.request_claim("sweep", email="b-secret@example.com"),
				lambda out: [] if set(out) == {"sent"} else [f"returned {out}"],
			),
			"crm_fishpond.api.pools.decide_claim_request": (
				lambda: pools.decide_claim_request(self.foreign_claim_request(), 1),
				no_result,
			),
			"crm_fishpond.api.pools.my_claim_requests": (
				pools.my_claim_requests,
				lambda out: (
					[
						f"someone else's request {r['name']}"
						for r in out
						if r["name"] == self.foreign_claim_request()
					]
					+ [
						f"lead fields {sorted(r)}"
						for r in out
						if "fishpond_lead" in r or "current_owner" in r
					]
				),
			),
			"crm_fishpond.api.pools.withdraw_claim_request": (
				lambda: pools.withdraw_claim_request(self.foreign_claim_request()),
				no_result,
			),
			# the accountant's desk: nothing for a rep or a stranger, not even a read
			"crm_fishpond.api.accounting.entry": (lambda: accounting.entry(self.queue_entry()), no_result),
			"crm_fishpond.api.accounting.attribute": (
				lambda: accounting.attribute(self.queue_entry(), L["a_owned"], "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.attribute_confident": (
				lambda: accounting.attribute_confident(frappe.as_json([self.queue_entry()]), "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.undo": (
				lambda: accounting.undo(self.queue_attribution(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.dismiss": (
				lambda: accounting.dismiss(self.queue_entry(), L["a_owned"], "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.dismiss_invoice": (
				lambda: accounting.dismiss_invoice(self.queue_entry(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.reopen": (
				lambda: accounting.reopen(self.queue_entry(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.create_customer": (
				lambda: accounting.create_customer(self.queue_entry(), "sweep", "Sweep Person"),
				no_result,
			),
			"crm_fishpond.api.accounting.preview_customer_merge": (
				lambda: accounting.preview_customer_merge(self.foreign_customer(), self.queue_customer()),
				no_result,
			),
			"crm_fishpond.api.accounting.merge_customers": (
				lambda: accounting.merge_customers(self.foreign_customer(), self.queue_customer(), "sweep"),
				no_result,
			),
			"crm_fishpond.api.accounting.refresh_queue": (accounting.refresh_queue, no_result),
		}

	def foreign_claim_request(self) -> str:
		"""Rep C's pending request for rep B's lead: none of rep A's business."""
		lead = self.leads["b_owned"]
		name = frappe.db.get_value("Fishpond Claim Request", {"fishpond_lead": lead, "status": "Pending"})
		if name:
			return name
		return (
			frappe.get_doc(
				{
					"doctype": "Fishpond Claim Request",
					"fishpond_lead": lead,
					"current_owner": self.rep_b,
					"requested_by": self.rep_c,
					"reason": "sweep",
				}
			)
			.insert(ignore_permissions=True)
			.name
		)

	def queue_customer(self) -> str:
		from crm_fishpond.tests import factories

		return factories.customer(f"{PREFIX} Walk-in")

	def queue_entry(self) -> str:
		"""An open entry of the link queue: a walk-in invoice that names someone."""
		from crm_fishpond.accounting import queue
		from crm_fishpond.tests import factories

		walk_in = self.queue_customer()
		name = frappe.db.get_value("Fishpond Invoice Link", {"customer": walk_in, "status": "Open"})
		if name:
			return name
		invoice = factories.sales_invoice(walk_in)
		frappe.db.set_value("Sales Invoice", invoice.name, "contact_email", "sweep-buyer@example.com")
		settings = frappe.get_doc("Fishpond Settings")
		settings.set("generic_customers", [{"customer": walk_in}])
		settings.save()
		queue.refresh()
		return queue.queue_name(invoice.name)

	def queue_attribution(self) -> str:
		from crm_fishpond.accounting import attribution

		return attribution.attribute(self.queue_entry(), self.leads["b_owned"], "sweep")

	def sweep_plan(self) -> str:
		name = f"{PREFIX} Plan"
		if not frappe.db.exists("Fishpond Follow-up Plan", name):
			frappe.get_doc(
				{
					"doctype": "Fishpond Follow-up Plan",
					"plan_name": name,
					"enrol_automatically": 1,
					"condition": '{"field": "orders", "op": ">=", "value": 0}',
					"steps": [{"after_days": 1, "action": "Call"}],
				}
			).insert(ignore_permissions=True)
		return name

	def foreign_enrolment(self) -> str:
		"""An active enrolment of a profile rep A may not change."""
		from crm_fishpond.nurture import enrol

		plan, profile = self.sweep_plan(), self.leads["b_owned"]
		enrol.enrol(plan, [profile])
		return frappe.db.get_value("Fishpond Plan Enrolment", {"plan": plan, "fishpond_lead": profile})

	def foreign_referral(self) -> str:
		"""A referral between two profiles rep A may not see."""
		b, q = self.leads["b_owned"], self.leads["q_free"]
		name = frappe.db.get_value("Fishpond Referral", {"referrer": b, "referee": q})
		if name:
			return name
		return frappe.db.get_value("Referral Reward", reward_row(b, q), "referral")

	def foreign_customer(self) -> str:
		"""A Customer (with its profile) that is none of rep A's business."""
		from crm_fishpond.tests import factories

		return factories.customer(f"{PREFIX} Foreign Customer")

	def foreign_duplicate_pair(self) -> str:
		"""An open duplicate candidate of two profiles rep A may not see."""
		a, b = sorted((self.leads["b_owned"], self.leads["q_free"]))
		name = frappe.db.get_value("Fishpond Duplicate Candidate", {"profile_a": a, "profile_b": b})
		if name:
			return name
		doc = {"doctype": "Fishpond Duplicate Candidate", "profile_a": a, "profile_b": b, "score": 0.9}
		return frappe.get_doc(doc).insert(ignore_permissions=True).name

	def with_foreign_answer(self, fn):
		"""``fn()`` once another rep's lead has a detractor's NPS answer."""
		frappe.get_doc(
			{
				"doctype": "Fishpond Feedback",
				"fishpond_lead": self.leads["b_owned"],
				"survey_type": "NPS",
				"score": 0,
				"source": "Logged by Rep",
				"answered_on": frappe.utils.now_datetime(),
			}
		).insert(ignore_permissions=True)
		return fn()

	def test_the_sweep_covers_every_endpoint(self):
		self.assertEqual(set(self.calls()), app_whitelisted())

	def test_reps_and_strangers_get_nothing_they_should_not(self):
		leaks = []
		for user in (self.rep_a, self.nobody):
			for method, (call, check) in self.calls().items():
				frappe.db.savepoint("fp_sweep")
				frappe.set_user(user)
				try:
					found = check(call())
				except (frappe.PermissionError, frappe.ValidationError, frappe.DoesNotExistError):
					found = []
				finally:
					frappe.set_user("Administrator")
					frappe.clear_messages()
					frappe.db.rollback(save_point="fp_sweep")
				leaks += [f"{user} {method}: {leak}" for leak in found]
		self.assertEqual(leaks, [])

	def test_reports_show_a_rep_only_their_rows(self):
		from frappe.desk.query_report import run

		from crm_fishpond.permissions import pond_scope

		reports = frappe.get_all("Report", filters={"module": "CRM Fishpond"}, pluck="name")
		self.assertGreaterEqual(len(reports), 4)
		leaks = []
		for report in reports:
			for user in (self.rep_a, self.nobody):
				for filters in ({}, {"detail": 1}):
					frappe.set_user(user)
					try:
						# a prepared report is run here too: its background job runs as the same user
						result = run(report, filters=filters, ignore_prepared_report=True)["result"]
					except frappe.PermissionError:
						result = []
					finally:
						frappe.set_user("Administrator")
					for row in result:
						if not isinstance(row, dict):
							continue
						stored = row.get("profile") and frappe.db.get_value(
							"Fishpond Lead", row["profile"], ["lead_owner", "fishpond"]
						)
						if stored and not pond_scope(user).can_read(*stored):
							leaks.append(f"{user} {report}: profile {row['profile']}")
						if row.get("rep") and row["rep"] != user:
							leaks.append(f"{user} {report}: rep {row['rep']}")
						if report == "Fishpond Reconciliation":
							leaks.append(f"{user} {report}: {row}")
		self.assertEqual(leaks, [])
		# the rep does see their own figures
		frappe.set_user(self.rep_a)
		rows = run("Fishpond Recycle Rate", filters={})["result"]
		frappe.set_user("Administrator")
		self.assertIn(self.rep_a, {r.get("rep") for r in rows if isinstance(r, dict)})

	def test_pool_actions_still_work_for_their_rightful_user(self):
		out = self.as_user(self.rep_a, lambda: pool_claim.claim([self.leads["p_free"]]))
		self.assertEqual(out.done, [self.leads["p_free"]])

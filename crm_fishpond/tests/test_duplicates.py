"""Duplicates in the pond: the nightly pass stores candidate pairs, reps see only pairs of profiles they
may see, a dismissed pair never returns, and a manager merges two profiles with every satellite moved
and the reconciliation still at zero differences."""

import random

import frappe
from frappe.utils import now_datetime

from crm_fishpond import duplicate_pass, duplicates
from crm_fishpond.crm_fishpond.doctype.fishpond_duplicate_candidate.fishpond_duplicate_candidate import (
	pair_name,
)
from crm_fishpond.scoring import runner
from crm_fishpond.sync import reconcile, runs
from crm_fishpond.tests import factories
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.factories import reward_row

LABEL = "_FP Dup"
CANDIDATE = "Fishpond Duplicate Candidate"


def uk_number() -> str:
	"""A valid London number no other test uses (the duplicate pass looks at the whole pond)."""
	return f"20 7946 {random.randint(0, 9999):04d}"


def attach_customer(profile: str, label: str) -> str:
	"""A new Customer linked to ``profile`` (and to no profile the sync may have made for it)."""
	name = factories.customer(f"{LABEL} {label} {random.randint(0, 10**9)}")
	frappe.db.set_value("Fishpond Lead", {"customer": name}, "customer", None)
	frappe.db.set_value("Fishpond Lead", profile, "customer", name)
	frappe.db.set_value("Customer", name, "fishpond_lead", profile)
	return name


def candidate(a: str, b: str) -> dict | None:
	return frappe.db.get_value(CANDIDATE, pair_name(a, b), ["status", "score", "evidence"], as_dict=True)


class TestDuplicates(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.p = pf.pool("_FP Dup P")
		cls.q = pf.pool("_FP Dup Q")
		cls.rep = pf.rep("fp-dup-rep@example.com", pools=[cls.p])
		cls.manager = pf.manager("fp-dup-manager@example.com")

	def pair(self, pool_a=None, pool_b=None, owner_a=None, owner_b=None, **values):
		number = uk_number()
		a = pf.lead(LABEL, pool_a or self.p, owner=owner_a, phone="+44 " + number, **values)
		b = pf.lead(LABEL, pool_b or self.p, owner=owner_b, phone="0" + number, country="United Kingdom")
		return a, b

	# -- the pass -----------------------------------------------------------------------------------
	def test_pass_stores_a_pair_with_evidence_once(self):
		a, b = self.pair()
		duplicate_pass.run_duplicate_pass()
		found = candidate(a, b)
		self.assertIsNotNone(found)
		self.assertEqual(found.status, "Open")
		self.assertGreater(found.score, 0.5)
		self.assertIn("phone", found.evidence.lower())
		duplicate_pass.run_duplicate_pass()  # idempotent: the same pair, one record
		self.assertEqual(frappe.db.count(CANDIDATE, {"profile_a": min(a, b), "profile_b": max(a, b)}), 1)

	def test_dismissed_pair_never_returns(self):
		a, b = self.pair()
		duplicate_pass.run_duplicate_pass()
		duplicates.dismiss(pair_name(a, b))
		duplicate_pass.run_duplicate_pass()
		self.assertEqual(candidate(a, b).status, "Dismissed")
		self.assertEqual(duplicates.open_candidates(a), [])

	def test_vanished_open_pair_is_removed(self):
		a, b = self.pair()
		duplicate_pass.run_duplicate_pass()
		frappe.db.set_value("Fishpond Lead", b, {"phone": None, "country": None})
		duplicate_pass.run_duplicate_pass()
		self.assertIsNone(candidate(a, b))

	# -- who sees what ------------------------------------------------------------------------------
	def test_rep_sees_only_pairs_of_profiles_they_may_see(self):
		visible = self.pair()  # both unclaimed in the rep's pool
		half = self.pair(pool_b=self.q)  # one in a pool the rep is not in
		duplicate_pass.run_duplicate_pass()
		frappe.set_user(self.rep)
		names = set(frappe.get_list(CANDIDATE, pluck="name"))
		self.assertIn(pair_name(*visible), names)
		self.assertNotIn(pair_name(*half), names)
		self.assertTrue(frappe.has_permission(CANDIDATE, "read", pair_name(*visible)))
		self.assertFalse(frappe.has_permission(CANDIDATE, "read", pair_name(*half)))
		self.assertEqual([c["name"] for c in duplicates.open_candidates(half[0])], [])
		self.assertEqual([c["name"] for c in duplicates.open_candidates(visible[0])], [pair_name(*visible)])

	# -- merging ------------------------------------------------------------------------------------
	def test_merge_moves_every_satellite_and_keeps_the_reconciliation(self):
		a, b = self.pair(owner_a=self.rep)
		survivor, loser = a, b  # a is older, so a survives and its owner stays
		customer = attach_customer(loser, "Customer")
		loser_doc = frappe.get_doc("Fishpond Lead", loser)
		loser_doc.append("tags", {"tag": self.tag(), "tag_source": "Manual"})
		loser_doc.save(ignore_permissions=True)
		factories.sales_invoice(customer, qty=1, rate=100)
		moved = {
			"Fishpond Interaction": frappe.get_doc(
				{
					"doctype": "Fishpond Interaction",
					"fishpond_lead": loser,
					"interaction_type": "Note",
					"interaction_time": now_datetime(),
					"subject": f"{LABEL} note",
				}
			)
			.insert(ignore_permissions=True)
			.name,
		}
		frappe.get_doc(
			{
				"doctype": "Fishpond Claim Log",
				"profile": loser,
				"action": "Claim",
				"action_by": self.rep,
				"action_on": now_datetime(),
				"to_pool": self.p,
			}
		).insert(ignore_permissions=True)
		third = pf.lead(LABEL, self.p)
		frappe.get_doc(
			{
				"doctype": "Fishpond Behaviour Event",
				"fishpond_lead": loser,
				"event_type": "Page View",
				"event_time": now_datetime(),
			}
		).insert(ignore_permissions=True)
		for referrer, referee in ((loser, third), (third, loser)):
			reward_row(referrer, referee)
		stage = frappe.get_all("Lifecycle Stage", pluck="name", limit=1)[0]
		for profile in (survivor, loser):
			self.add_stage_history(profile, stage)
		duplicate_pass.run_duplicate_pass()
		before = self.differences_of(customer)
		frappe.set_user(self.manager)
		result = duplicates.merge(pair_name(a, b))
		frappe.set_user("Administrator")

		self.assertEqual(result["survivor"], survivor)
		self.assertFalse(frappe.db.exists("Fishpond Lead", loser))
		self.assertEqual(frappe.db.get_value("Fishpond Lead", survivor, "lead_owner"), self.rep)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", survivor, "customer"), customer)
		self.assertEqual(frappe.db.get_value("Customer", customer, "fishpond_lead"), survivor)
		self.assertEqual(
			frappe.db.get_value("Fishpond Interaction", moved["Fishpond Interaction"], "fishpond_lead"),
			survivor,
		)
		for doctype, field in (
			("Fishpond Interaction", "fishpond_lead"),
			("Fishpond Behaviour Event", "fishpond_lead"),
			("Fishpond Transaction", "fishpond_lead"),
			("Fishpond Claim Log", "profile"),
			("Fishpond Transfer Request", "fishpond_lead"),
			("Referral Reward", "referrer"),
			("Referral Reward", "referee"),
		):
			self.assertEqual(frappe.db.count(doctype, {field: loser}), 0, doctype)
		self.assertGreater(frappe.db.count("Fishpond Transaction", {"fishpond_lead": survivor}), 0)
		self.assertEqual(frappe.db.count("Fishpond Lead Tag", {"parent": loser}), 0)
		# both histories on the survivor (the rescore after the merge may append a stage change)
		self.assertEqual(frappe.db.count("Fishpond Stage History", {"parent": loser}), 0)
		moved = {"parent": survivor, "reason": f"{LABEL} test"}
		self.assertEqual(frappe.db.count("Fishpond Stage History", moved), 2)
		idx = frappe.get_all("Fishpond Stage History", {"parent": survivor}, pluck="idx", order_by="idx")
		self.assertEqual(len(idx), len(set(idx)))
		self.assertEqual(frappe.db.count("Referral Reward", {"referrer": survivor, "referee": third}), 1)
		self.assertEqual(frappe.db.count("Referral Reward", {"referrer": third, "referee": survivor}), 1)
		self.assertEqual(frappe.db.count("Fishpond Behaviour Event", {"fishpond_lead": survivor}), 1)
		self.assertIn(self.tag(), frappe.get_all("Fishpond Lead Tag", {"parent": survivor}, pluck="tag"))
		tombstone = frappe.db.get_value(
			CANDIDATE, pair_name(a, b), ["status", "merged_from", "merged_into"], as_dict=True
		)
		self.assertEqual(
			(tombstone.status, tombstone.merged_from, tombstone.merged_into), ("Merged", loser, survivor)
		)
		self.assertEqual(duplicates.resolve_profile(loser), survivor)
		# the merged history still matches ERPNext's (other tests on a shared site may leave their own
		# differences: only this customer's count)
		self.assertEqual(before, [])
		self.assertEqual(self.differences_of(customer), [])

	@staticmethod
	def differences_of(customer: str) -> list:
		result = reconcile.reconcile()
		return [d for d in result["vouchers"] + result["customers"] if d.get("customer") == customer]

	def test_manager_may_choose_the_owner(self):
		other = pf.rep("fp-dup-rep2@example.com", pools=[self.p])
		a, b = self.pair(owner_a=self.rep, owner_b=other)
		duplicate_pass.run_duplicate_pass()
		frappe.set_user(self.manager)
		duplicates.merge(pair_name(a, b), owner=other)
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", a, "lead_owner"), other)

	def test_merge_keeps_one_active_enrolment_per_plan(self):
		from crm_fishpond.nurture import enrol

		plans = []
		for label in ("Both", "Only Merged"):
			name = f"_FP Dup Plan {label}"
			if not frappe.db.exists("Fishpond Follow-up Plan", name):
				frappe.get_doc(
					{
						"doctype": "Fishpond Follow-up Plan",
						"plan_name": name,
						"steps": [{"after_days": 3, "action": "Call"}],
					}
				).insert(ignore_permissions=True)
			plans.append(name)
		a, b = self.pair()
		enrol.enrol(plans[0], [a, b])
		enrol.enrol(plans[1], [b])
		duplicate_pass.run_duplicate_pass()
		frappe.set_user(self.manager)
		duplicates.merge(pair_name(a, b), survivor=a)
		frappe.set_user("Administrator")
		active = frappe.get_all(
			"Fishpond Plan Enrolment",
			filters={"fishpond_lead": a, "status": "Active"},
			fields=["plan", "active_key"],
			order_by="plan asc",
		)
		self.assertEqual([r.plan for r in active], plans)  # one per plan
		self.assertEqual({r.active_key for r in active}, {enrol.active_key(p, a) for p in plans})
		stopped = frappe.get_all(
			"Fishpond Plan Enrolment",
			filters={"fishpond_lead": a, "status": "Stopped"},
			fields=["plan", "stop_note"],
		)
		self.assertEqual([(r.plan, r.stop_note) for r in stopped], [(plans[0], f"Merged into {a}")])

	def test_merge_refused_for_a_rep(self):
		a, b = self.pair(owner_a=self.rep, owner_b=self.rep)
		duplicate_pass.run_duplicate_pass()
		frappe.set_user(self.rep)
		with self.assertRaises(frappe.PermissionError):
			duplicates.merge(pair_name(a, b))
		frappe.set_user("Administrator")
		self.assertTrue(frappe.db.exists("Fishpond Lead", b))

	def test_merge_refused_for_two_customers(self):
		a, b = self.pair()
		for profile in (a, b):
			attach_customer(profile, "Customer")
		duplicate_pass.run_duplicate_pass()
		frappe.set_user(self.manager)
		with self.assertRaises(frappe.ValidationError) as raised:
			duplicates.merge(pair_name(a, b))
		frappe.set_user("Administrator")
		self.assertIn("accountant", str(raised.exception).lower())
		self.assertTrue(frappe.db.exists("Fishpond Lead", b))
		self.assertEqual(candidate(a, b).status, "Open")

	def add_stage_history(self, profile: str, stage: str) -> None:
		idx = frappe.db.count("Fishpond Stage History", {"parent": profile}) + 1
		frappe.get_doc(
			{
				"doctype": "Fishpond Stage History",
				"parent": profile,
				"parenttype": "Fishpond Lead",
				"parentfield": "stage_history",
				"idx": idx,
				"to_stage": stage,
				"changed_on": now_datetime(),
				"reason": f"{LABEL} test",
			}
		).db_insert()

	def tag(self) -> str:
		name = f"{LABEL} Tag"
		if not frappe.db.exists("Fishpond Tag", name):
			frappe.get_doc({"doctype": "Fishpond Tag", "tag_name": name}).insert(ignore_permissions=True)
		return name


class TestFullRescoreFindsDuplicates(pf.FishpondTestCase):
	"""The full rescore (which commits) runs the duplicate pass after it; cleaned up by hand."""

	def test_full_rescore_stores_the_pair(self):
		number = uk_number()
		a = pf.lead(LABEL, None, phone="+44 " + number)
		b = pf.lead(LABEL, None, phone="0" + number, country="United Kingdom")
		try:
			run = runs.create_run("Rescore")
			runner.run_rescore(run)
			self.assertEqual(candidate(a, b).status, "Open")
		finally:
			frappe.db.delete(CANDIDATE, {"name": pair_name(a, b)})
			frappe.delete_doc("Fishpond Lead", a, force=True, ignore_permissions=True)
			frappe.delete_doc("Fishpond Lead", b, force=True, ignore_permissions=True)
			frappe.db.commit()  # nosemgrep: the rescore committed the rows this test made

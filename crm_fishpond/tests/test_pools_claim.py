"""Integration: claim, release, assign, transfer, caps, cool-down, the ownership guard and the API."""

import frappe
from frappe.utils import add_days, get_datetime, now_datetime

from crm_fishpond.api import pools as api
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.tests import pools_factories as pf


def lead_row(name):
	return frappe.db.get_value(
		"Fishpond Lead",
		name,
		["lead_owner", "status", "fishpond", "claimed_on", "previous_owner", "released_on"],
		as_dict=True,
	)


def logs(name, action=None):
	filters = {"profile": name}
	if action:
		filters["action"] = action
	return frappe.get_all(
		"Fishpond Claim Log",
		filters=filters,
		fields=["action", "from_user", "to_user", "from_pool", "to_pool", "action_by", "reason"],
		order_by="action_on asc",
	)


class TestClaim(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP Claim Pool")
		cls.other = pf.pool("_FP Claim Other Pool")
		cls.rep_a = pf.rep("fp-claim-a@example.com", pools=[cls.pool])
		cls.rep_b = pf.rep("fp-claim-b@example.com", pools=[cls.pool])
		cls.outsider = pf.rep("fp-claim-c@example.com", pools=[cls.other])
		cls.pool_manager = pf.rep("fp-claim-pm@example.com", manages=[cls.pool])
		cls.boss = pf.manager("fp-claim-boss@example.com")

	def test_member_claims_an_unowned_lead_and_it_is_logged(self):
		lead = pf.lead("_FP Claim", self.pool)
		outcome = pool_claim.claim([lead], user=self.rep_a)
		self.assertEqual(outcome.done, [lead])
		row = lead_row(lead)
		self.assertEqual(row.lead_owner, self.rep_a)
		self.assertEqual(row.status, "Claimed")
		self.assertIsNotNone(row.claimed_on)
		self.assertEqual(
			[(r.action, r.to_user, r.action_by) for r in logs(lead)], [("Claim", self.rep_a, self.rep_a)]
		)

	def test_second_claim_loses_with_a_clear_message(self):
		lead = pf.lead("_FP Claim Twice", self.pool)
		pool_claim.claim([lead], user=self.rep_a).raise_first()
		outcome = pool_claim.claim([lead], user=self.rep_b)
		self.assertEqual(outcome.done, [])
		self.assertIn("already been claimed", outcome.failed[lead])
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		self.assertEqual(len(logs(lead, "Claim")), 1)
		self.assertRaises(pool_claim.ClaimError, outcome.raise_first)

	def test_non_member_cannot_claim(self):
		lead = pf.lead("_FP Claim Outsider", self.pool)
		outcome = pool_claim.claim([lead], user=self.outsider)
		self.assertIn("not a member", outcome.failed[lead])
		self.assertIsNone(lead_row(lead).lead_owner)

	def test_managers_assign_pool_members_cannot_claim(self):
		pool = pf.pool("_FP Claim Assign Only", visibility="Managers Assign")
		pf.add_member(pool, user_id=self.rep_a)
		pf.add_member(pool, user_id=self.pool_manager, manager=True)
		lead = pf.lead("_FP Claim Assign Only", pool)
		outcome = pool_claim.claim([lead], user=self.rep_a)
		self.assertIn("assigned by its managers", outcome.failed[lead])
		pool_claim.assign([lead], self.rep_a, by=self.pool_manager).raise_first()
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)

	def test_disabled_pool_blocks_claims(self):
		pool = pf.pool("_FP Claim Disabled", enabled=0)
		pf.add_member(pool, user_id=self.rep_a)
		lead = pf.lead("_FP Claim Disabled", pool)
		self.assertTrue(pool_claim.claim([lead], user=self.rep_a).failed)

	def test_cap_on_leads_held_per_pool(self):
		pf.pool(self.pool, max_claimed_per_user=2)
		leads = [pf.lead("_FP Cap", self.pool) for _ in range(3)]
		outcome = pool_claim.claim(leads, user=self.rep_a)
		self.assertEqual(outcome.done, sorted(leads)[:2], outcome.failed)
		self.assertIn("limit per rep", outcome.failed[sorted(leads)[2]])
		# a lead held in another pool does not count against this pool's cap
		pf.add_member(self.other, user_id=self.rep_a)
		elsewhere = pf.lead("_FP Cap Elsewhere", self.other)
		self.assertEqual(pool_claim.claim([elsewhere], user=self.rep_a).done, [elsewhere])
		# releasing one makes room again
		pool_claim.release([sorted(leads)[0]], by=self.rep_a).raise_first()
		self.assertEqual(pool_claim.claim([sorted(leads)[2]], user=self.rep_a).done, [sorted(leads)[2]])

	def test_converted_customers_count_toward_the_cap_only_when_configured(self):
		pf.pool(self.pool, max_claimed_per_user=1, count_converted=0)
		pf.lead("_FP Cap Converted", self.pool, owner=self.rep_a, status="Converted")
		lead = pf.lead("_FP Cap Converted Next", self.pool)
		self.assertEqual(pool_claim.claim([lead], user=self.rep_a).done, [lead])
		pf.pool(self.pool, max_claimed_per_user=2, count_converted=1)
		another = pf.lead("_FP Cap Converted Third", self.pool)
		outcome = pool_claim.claim([another], user=self.rep_a)
		self.assertIn("limit per rep", outcome.failed[another])

	def test_daily_cap_with_frozen_time(self):
		pf.pool(self.pool, max_claims_per_day=2)
		leads = sorted(pf.lead("_FP Daily", self.pool) for _ in range(3))
		day = get_datetime("2026-03-10 09:00:00")
		with self.freeze_time(day):
			self.assertEqual(pool_claim.claim(leads[:2], user=self.rep_a).done, leads[:2])
			pool_claim.release(leads[:2], by=self.rep_a).raise_first()
			outcome = pool_claim.claim([leads[2]], user=self.rep_a)
			self.assertIn("daily limit", outcome.failed[leads[2]])
		with self.freeze_time(add_days(day, 1)):
			self.assertEqual(pool_claim.claim([leads[2]], user=self.rep_a).done, [leads[2]])

	def test_cool_down_before_the_previous_owner_may_reclaim(self):
		pf.pool(self.pool, claim_cooldown_days=7)
		lead = pf.lead("_FP Cooldown", self.pool)
		start = get_datetime("2026-04-01 10:00:00")
		with self.freeze_time(start):
			pool_claim.claim([lead], user=self.rep_a).raise_first()
			pool_claim.release([lead], by=self.rep_a, reason="no budget").raise_first()
		row = lead_row(lead)
		self.assertEqual(row.previous_owner, self.rep_a)
		self.assertEqual(row.status, "In Pool")
		self.assertIsNone(row.claimed_on)
		with self.freeze_time(add_days(start, 6)):
			outcome = pool_claim.claim([lead], user=self.rep_a)
			self.assertIn("you may claim it again", outcome.failed[lead])
		with self.freeze_time(add_days(start, 7)):
			self.assertEqual(pool_claim.claim([lead], user=self.rep_a).done, [lead])

	def test_cool_down_does_not_bind_other_reps(self):
		pf.pool(self.pool, claim_cooldown_days=7)
		lead = pf.lead("_FP Cooldown Other", self.pool)
		pool_claim.claim([lead], user=self.rep_a).raise_first()
		pool_claim.release([lead], by=self.rep_a).raise_first()
		self.assertEqual(pool_claim.claim([lead], user=self.rep_b).done, [lead])

	def test_release_by_owner_or_pool_manager_only(self):
		lead = pf.lead("_FP Release", self.pool, owner=self.rep_a)
		self.assertTrue(pool_claim.release([lead], by=self.rep_b).failed)
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		pool_claim.release([lead], by=self.pool_manager, reason="rebalancing").raise_first()
		self.assertIsNone(lead_row(lead).lead_owner)
		self.assertEqual(logs(lead, "Release")[0].action_by, self.pool_manager)

	def test_assign_by_pool_manager_within_the_assignee_cap(self):
		pf.pool(self.pool, max_claimed_per_user=1)
		first, second = pf.lead("_FP Assign", self.pool), pf.lead("_FP Assign", self.pool)
		self.assertTrue(pool_claim.assign([first], self.rep_b, by=self.rep_a).failed)  # reps do not assign
		pool_claim.assign([first], self.rep_b, by=self.pool_manager).raise_first()
		outcome = pool_claim.assign([second], self.rep_b, by=self.pool_manager)
		self.assertIn("limit per rep", outcome.failed[second])

	def test_reassigning_an_owned_lead_records_the_previous_owner(self):
		lead = pf.lead("_FP Reassign", self.pool, owner=self.rep_a)
		pool_claim.assign([lead], self.rep_b, by=self.pool_manager, reason="territory").raise_first()
		row = lead_row(lead)
		self.assertEqual((row.lead_owner, row.previous_owner), (self.rep_b, self.rep_a))
		log = logs(lead, "Assign")[0]
		self.assertEqual((log.from_user, log.to_user, log.reason), (self.rep_a, self.rep_b, "territory"))

	def test_transfer_between_pools(self):
		boss = self.boss
		owned = pf.lead("_FP Transfer Owned", self.pool, owner=self.rep_a)
		free = pf.lead("_FP Transfer Free", self.pool)
		self.assertRaises(frappe.PermissionError, pool_claim.transfer, [free], self.other, by=self.rep_a)
		outcome = pool_claim.transfer([owned, free], self.other, by=boss, reason="region")
		self.assertEqual(sorted(outcome.done), sorted([owned, free]))
		row = lead_row(owned)
		self.assertEqual((row.fishpond, row.lead_owner, row.previous_owner), (self.other, None, self.rep_a))
		log = logs(owned, "Transfer")[0]
		self.assertEqual(
			(log.from_pool, log.to_pool, log.from_user, log.to_user),
			(self.pool, self.other, self.rep_a, None),
		)

	def test_transfer_keeping_the_owner_respects_the_target_cap(self):
		boss = self.boss
		pf.pool(self.other, max_claimed_per_user=1)
		pf.lead("_FP Transfer Held", self.other, owner=self.rep_a)
		owned = pf.lead("_FP Transfer Keep", self.pool, owner=self.rep_a)
		outcome = pool_claim.transfer([owned], self.other, keep_owner=True, by=boss)
		self.assertIn("limit per rep", outcome.failed[owned])
		pf.pool(self.other, max_claimed_per_user=0)
		pool_claim.transfer([owned], self.other, keep_owner=True, by=boss).raise_first()
		self.assertEqual((lead_row(owned).fishpond, lead_row(owned).lead_owner), (self.other, self.rep_a))

	def test_pool_manager_cannot_move_leads_into_a_pool_they_do_not_manage(self):
		lead = pf.lead("_FP Transfer PM", self.pool)
		self.assertRaises(
			frappe.PermissionError, pool_claim.transfer, [lead], self.other, by=self.pool_manager
		)

	def test_bulk_claim_is_partial_and_reports_each_failure(self):
		taken = pf.lead("_FP Bulk Taken", self.pool, owner=self.rep_b)
		free = [pf.lead("_FP Bulk Free", self.pool) for _ in range(3)]
		outcome = pool_claim.claim([*free, taken, "FPL-NOPE-0"], user=self.rep_a)
		self.assertEqual(sorted(outcome.done), sorted(free))
		self.assertEqual(set(outcome.failed), {taken, "FPL-NOPE-0"})

	def test_guard_keeps_ownership_out_of_plain_saves(self):
		lead = pf.lead("_FP Guard", self.pool, owner=self.rep_a)
		frappe.set_user(self.rep_a)
		doc = frappe.get_doc("Fishpond Lead", lead)
		doc.budget = "Planned"
		doc.save()  # ordinary edits by the owner still work
		for field, value in (
			("lead_owner", self.rep_b),
			("fishpond", self.other),
			("locked", 1),
			("claimed_on", add_days(now_datetime(), 30)),
		):
			doc = frappe.get_doc("Fishpond Lead", lead)
			doc.set(field, value)
			self.assertRaises(pool_claim.ClaimError, doc.save)
		frappe.set_user(self.pool_manager)
		doc = frappe.get_doc("Fishpond Lead", lead)
		doc.locked = 1
		doc.save()  # pool managers lock their pool's leads
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "locked"), 1)

	def test_rep_cannot_create_a_lead_owned_by_someone(self):
		frappe.set_user(self.rep_a)
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Lead",
				"lead_name": "_FP Guard New",
				"fishpond": self.pool,
				"lead_owner": self.rep_b,
			}
		)
		self.assertRaises(pool_claim.ClaimError, doc.insert)


class TestPoolsAPI(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP API Pool")
		cls.rep = pf.rep("fp-api-rep@example.com", pools=[cls.pool])
		cls.pool_manager = pf.rep("fp-api-pm@example.com", manages=[cls.pool])
		cls.outsider = pf.user("fp-api-nobody@example.com", ["Accounts User"])

	def test_writes_are_post_only(self):
		for method in (
			"claim",
			"release",
			"assign",
			"transfer",
			"bulk_claim",
			"bulk_release",
			"bulk_assign",
			"bulk_transfer",
			"recycle_preview",
		):
			fn = getattr(api, method)
			self.assertIn(fn, frappe.whitelisted)
			self.assertEqual(frappe.allowed_http_methods_for_whitelisted_func[fn], ["POST"], method)

	def test_single_claim_raises_a_translated_error_on_failure(self):
		lead = pf.lead("_FP API", self.pool)
		frappe.set_user(self.rep)
		self.assertEqual(api.claim(lead)["done"], [lead])
		frappe.set_user(self.pool_manager)
		self.assertRaises(pool_claim.ClaimError, api.claim, lead)

	def test_bulk_endpoints_take_json_lists(self):
		leads = [pf.lead("_FP API Bulk", self.pool) for _ in range(2)]
		frappe.set_user(self.rep)
		self.assertEqual(sorted(api.bulk_claim(frappe.as_json(leads))["done"]), sorted(leads))
		self.assertEqual(sorted(api.bulk_release(frappe.as_json(leads))["done"]), sorted(leads))
		frappe.set_user(self.pool_manager)
		self.assertEqual(sorted(api.bulk_assign(frappe.as_json(leads), self.rep)["done"]), sorted(leads))

	def test_actions_for_reflects_rights(self):
		lead = pf.lead("_FP API Actions", self.pool)
		frappe.set_user(self.rep)
		actions = api.actions_for(lead)
		self.assertTrue(actions["can_claim"])
		self.assertFalse(actions["can_assign"])
		api.claim(lead)
		actions = api.actions_for(lead)
		self.assertTrue(actions["can_release"] and actions["is_mine"] and actions["can_request_transfer"])
		frappe.set_user(self.pool_manager)
		self.assertTrue(api.actions_for(lead)["can_assign"])

	def test_users_without_pond_access_are_refused(self):
		lead = pf.lead("_FP API Nobody", self.pool)
		frappe.set_user(self.outsider)
		self.assertRaises(frappe.PermissionError, api.claim, lead)

"""Integration: every recycle rule and exemption, warnings, cool-down and the dry run, with frozen time."""

import frappe
from frappe.utils import add_days, add_to_date, get_datetime, now_datetime

from crm_fishpond.api import pools as api
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools import recycle
from crm_fishpond.pools.recycle import RecycleRules
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import pools_factories as pf


def lead_row(name):
	return frappe.db.get_value(
		"Fishpond Lead",
		name,
		["lead_owner", "status", "fishpond", "previous_owner", "released_on", "claimed_on"],
		as_dict=True,
	)


class RecycleCase(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP Recycle Pool")
		cls.other = pf.pool("_FP Recycle Other")
		cls.rep_a = pf.rep("fp-recycle-a@example.com", pools=[cls.pool])
		cls.rep_b = pf.rep("fp-recycle-b@example.com", pools=[cls.pool])

	def setUp(self):
		super().setUp()
		# the claims happen 40 days ago so that vouchers dated today fall after them
		self.t0 = add_days(now_datetime(), -40).replace(microsecond=0)

	def rules(self, **values):
		pf.pool(self.pool, recycle_enabled=1, **values)
		return RecycleRules.for_pool(self.pool)

	def claimed(self, label="_FP Recycle", owner=None, when=None, **values):
		lead = pf.lead(label, self.pool, **values)
		with self.freeze_time(when or self.t0):
			pool_claim.claim([lead], user=owner or self.rep_a).raise_first()
		return lead

	def run_at(self, when, rules=None):
		with self.freeze_time(when):
			return recycle.recycle_pool(rules or RecycleRules.for_pool(self.pool))

	def interaction(self, lead, when, direction="Outbound"):
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": lead,
				"interaction_type": "Call",
				"direction": direction,
				"interaction_time": when,
				"subject": "follow-up",
			}
		).insert(ignore_permissions=True)

	def customer_lead(self, name):
		"""A profile with a real ERPNext Customer, moved into the test pool and claimed at t0."""
		cust = f.customer(name)
		lead = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		frappe.db.set_value(
			"Fishpond Lead",
			lead,
			{"fishpond": self.pool, "lead_owner": None, "status": "In Pool", "locked": 0},
		)
		with self.freeze_time(self.t0):
			pool_claim.claim([lead], user=self.rep_a).raise_first()
		return cust, lead


class TestRecycleRules(RecycleCase):
	def test_no_follow_up_rule(self):
		rules = self.rules(recycle_no_followup_days=10)
		lead = self.claimed()
		self.assertEqual(self.run_at(add_days(self.t0, 9), rules)["recycled"], 0)
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		when = add_to_date(self.t0, days=10, minutes=1)
		self.assertEqual(self.run_at(when, rules)["recycled"], 1)
		row = lead_row(lead)
		self.assertIsNone(row.lead_owner)
		self.assertEqual((row.previous_owner, row.status, row.fishpond), (self.rep_a, "In Pool", self.pool))
		self.assertEqual(get_datetime(row.released_on), when)
		log = frappe.get_all(
			"Fishpond Claim Log",
			filters={"profile": lead, "action": "Recycle"},
			fields=["from_user", "to_pool", "reason", "action_by"],
		)
		self.assertEqual(len(log), 1)
		self.assertEqual((log[0].from_user, log[0].to_pool), (self.rep_a, self.pool))
		self.assertIn("10", log[0].reason)

	def test_a_follow_up_moves_the_due_date(self):
		rules = self.rules(recycle_no_followup_days=10)
		lead = self.claimed()
		self.interaction(lead, add_days(self.t0, 5))
		self.assertEqual(self.run_at(add_days(self.t0, 12), rules)["recycled"], 0)
		self.assertEqual(self.run_at(add_to_date(self.t0, days=15, minutes=1), rules)["recycled"], 1)

	def test_inbound_and_earlier_interactions_are_not_follow_ups(self):
		rules = self.rules(recycle_no_followup_days=10)
		inbound, earlier = self.claimed(), self.claimed()
		self.interaction(inbound, add_days(self.t0, 5), direction="Inbound")
		self.interaction(earlier, add_days(self.t0, -1))
		self.assertEqual(self.run_at(add_to_date(self.t0, days=10, minutes=1), rules)["recycled"], 2)

	def test_no_order_rule(self):
		rules = self.rules(recycle_no_order_days=14, exempt_open_sales_order=0)
		_, without = self.customer_lead("_FP Recycle No Order")
		cust, ordered = self.customer_lead("_FP Recycle Ordered")
		f.sales_order(cust)  # dated today, after the claim: the rule is satisfied
		_, drafted = self.customer_lead("_FP Recycle Draft Order")
		f.sales_order(frappe.db.get_value("Fishpond Lead", drafted, "customer"), submit=False)
		self.assertEqual(self.run_at(add_days(self.t0, 13), rules)["recycled"], 0)
		self.run_at(add_to_date(self.t0, days=14, minutes=1), rules)
		self.assertIsNone(lead_row(without).lead_owner)
		self.assertIsNone(lead_row(drafted).lead_owner)  # a draft is no order
		self.assertEqual(lead_row(ordered).lead_owner, self.rep_a)

	def test_earliest_rule_wins(self):
		rules = self.rules(recycle_no_followup_days=30, recycle_no_order_days=7)
		lead = self.claimed()
		with self.freeze_time(add_days(self.t0, 8)):
			due = recycle.select(rules).due
		self.assertEqual([(r.name, r.rule) for r in due], [(lead, recycle.NO_ORDER)])

	def test_every_owned_lead_of_the_pool_is_recycled_whatever_its_status(self):
		"""A lead its owner marked Lost (and kept) is still theirs to follow up: the rules apply."""
		rules = self.rules(recycle_no_followup_days=10)
		converted = self.claimed()
		frappe.db.set_value("Fishpond Lead", converted, "status", "Converted")
		lost = self.claimed()
		frappe.db.set_value("Fishpond Lead", lost, "status", "Lost")
		free = pf.lead("_FP Recycle Free", self.pool)
		pf.add_member(self.other, user_id=self.rep_a)
		elsewhere = pf.lead("_FP Recycle Elsewhere", self.other)
		with self.freeze_time(self.t0):
			pool_claim.claim([elsewhere], user=self.rep_a).raise_first()
		self.run_at(add_days(self.t0, 11), rules)
		self.assertIsNone(lead_row(converted).lead_owner)
		self.assertEqual(lead_row(converted).status, "Converted")
		self.assertIsNone(lead_row(lost).lead_owner)
		self.assertEqual(lead_row(lost).status, "Lost")
		self.assertIsNone(lead_row(free).lead_owner)
		self.assertEqual(lead_row(elsewhere).lead_owner, self.rep_a)

	def test_disabled_rules_recycle_nothing(self):
		self.claimed()
		pf.pool(self.pool, recycle_enabled=0, recycle_no_followup_days=1)
		self.assertEqual(self.run_at(add_days(self.t0, 30))["recycled"], 0)

	def test_recycle_into_another_pool(self):
		rules = self.rules(recycle_no_followup_days=10, recycle_to=self.other)
		lead = self.claimed()
		self.run_at(add_days(self.t0, 11), rules)
		self.assertEqual(lead_row(lead).fishpond, self.other)
		self.assertEqual(
			frappe.db.get_value("Fishpond Claim Log", {"profile": lead, "action": "Recycle"}, "to_pool"),
			self.other,
		)

	def test_cool_down_after_recycling(self):
		rules = self.rules(recycle_no_followup_days=10, claim_cooldown_days=5)
		lead = self.claimed()
		recycled_at = add_days(self.t0, 11)
		self.run_at(recycled_at, rules)
		with self.freeze_time(add_days(recycled_at, 1)):
			self.assertIn("you may claim it again", pool_claim.claim([lead], user=self.rep_a).failed[lead])
		with self.freeze_time(add_days(recycled_at, 5)):
			self.assertEqual(pool_claim.claim([lead], user=self.rep_a).done, [lead])

	def test_a_lead_changed_after_the_selection_is_left_alone(self):
		rules = self.rules(recycle_no_followup_days=10)
		lead = self.claimed()
		when = add_days(self.t0, 11)
		with self.freeze_time(when):
			due = recycle.select(rules).due
			pool_claim.release([lead], by=self.rep_a).raise_first()
			pool_claim.claim([lead], user=self.rep_b).raise_first()
			self.assertEqual(recycle._recycle_chunk(due, rules, when), 0)
		self.assertEqual(lead_row(lead).lead_owner, self.rep_b)

	def test_the_pass_is_recorded_as_a_run(self):
		self.rules(recycle_no_followup_days=10)
		self.claimed()
		with self.freeze_time(add_days(self.t0, 11)):
			results = recycle.recycle_pools(commit=False)
		mine = next(r for r in results if r["pool"] == self.pool)
		self.assertEqual(mine["recycled"], 1)
		run = frappe.get_last_doc("Fishpond Run", filters={"run_type": "Recycle"})
		self.assertEqual(run.status, "Completed")
		self.assertGreaterEqual(run.updated, 1)

	def test_scheduler_runs_the_recycler_and_the_warnings(self):
		hooks = frappe.get_hooks("scheduler_events")
		self.assertIn("crm_fishpond.pools.recycle.scheduled_recycle", hooks["hourly_long"])
		self.assertIn("crm_fishpond.pools.recycle.scheduled_warnings", hooks["hourly_long"])


class TestRecycleWarnings(RecycleCase):
	def todos(self, lead, status="Open"):
		return frappe.get_all(
			"ToDo",
			filters={"reference_type": "Fishpond Lead", "reference_name": lead, "status": status},
			fields=["allocated_to", "date", "description"],
		)

	def test_one_warning_before_recycling_then_closed(self):
		rules = self.rules(recycle_no_followup_days=10, recycle_warn_days=3)
		lead = self.claimed()
		with self.freeze_time(add_days(self.t0, 6)):
			self.assertEqual(recycle.warn_pool(rules), 0)  # not yet in the window
		with self.freeze_time(add_days(self.t0, 8)):
			self.assertEqual(recycle.warn_pool(rules), 1)
			self.assertEqual(recycle.warn_pool(rules), 0)  # deduplicated
		with self.freeze_time(add_days(self.t0, 9)):
			self.assertEqual(recycle.warn_pools(), 0)
		todo = self.todos(lead)
		self.assertEqual(len(todo), 1)
		self.assertEqual(todo[0].allocated_to, self.rep_a)
		self.assertEqual(str(todo[0].date), str(add_days(self.t0, 10).date()))
		self.assertIn(lead, todo[0].description)
		self.run_at(add_to_date(self.t0, days=10, minutes=1), rules)
		self.assertEqual(self.todos(lead), [])
		self.assertEqual(len(self.todos(lead, "Closed")), 1)

	def test_a_new_claim_gets_a_new_warning(self):
		rules = self.rules(recycle_no_followup_days=10, recycle_warn_days=3)
		lead = self.claimed()
		with self.freeze_time(add_days(self.t0, 8)):
			recycle.warn_pool(rules)
			pool_claim.release([lead], by=self.rep_a).raise_first()
			pool_claim.claim([lead], user=self.rep_b).raise_first()
		with self.freeze_time(add_days(self.t0, 16)):
			self.assertEqual(recycle.warn_pool(rules), 1)
		self.assertEqual({t.allocated_to for t in self.todos(lead)}, {self.rep_a, self.rep_b})


class TestRecycleExemptions(RecycleCase):
	def assertExempt(self, lead, field, rules_values=None):
		values = {"recycle_no_followup_days": 10, **(rules_values or {})}
		when = add_to_date(self.t0, days=10, minutes=1)
		self.run_at(when, self.rules(**values))
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a, f"{field} should protect")
		self.run_at(when, self.rules(**{**values, field: None if field == "exempt_value_grades" else 0}))
		self.assertIsNone(lead_row(lead).lead_owner, f"without {field} the lead is recycled")

	def test_locked(self):
		lead = self.claimed()
		frappe.db.set_value("Fishpond Lead", lead, "locked", 1)
		self.assertExempt(lead, "exempt_locked")

	def test_open_sales_order(self):
		cust, lead = self.customer_lead("_FP Recycle Open Order")
		f.sales_order(cust, transaction_date=add_days(self.t0, -30).date().isoformat())  # before the claim
		self.assertExempt(lead, "exempt_open_sales_order")

	def test_closed_sales_order_does_not_protect(self):
		cust, lead = self.customer_lead("_FP Recycle Closed Order")
		so = f.sales_order(cust, transaction_date=add_days(self.t0, -30).date().isoformat())
		so.update_status("Closed")
		self.run_at(add_to_date(self.t0, days=10, minutes=1), self.rules(recycle_no_followup_days=10))
		self.assertIsNone(lead_row(lead).lead_owner)

	def test_unpaid_invoice_until_credited(self):
		cust, lead = self.customer_lead("_FP Recycle Unpaid")
		invoice = f.sales_invoice(cust, rate=500)
		when = add_to_date(self.t0, days=10, minutes=1)
		rules = self.rules(recycle_no_followup_days=10)
		self.run_at(when, rules)
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		# a credit note set against the invoice brings its outstanding to zero: no longer protected
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		credit = make_sales_return(invoice.name)
		credit.update_outstanding_for_self = 0
		credit.insert(ignore_permissions=True)
		credit.submit()
		self.assertEqual(frappe.db.get_value("Sales Invoice", invoice.name, "outstanding_amount"), 0)
		self.run_at(when, rules)
		self.assertIsNone(lead_row(lead).lead_owner)

	def test_unpaid_invoice_flag(self):
		cust, lead = self.customer_lead("_FP Recycle Unpaid Flag")
		f.sales_invoice(cust, rate=300)
		self.assertExempt(lead, "exempt_unpaid_invoice")

	def test_value_grade(self):
		lead = self.claimed()
		frappe.db.set_value("Fishpond Lead", lead, "value_grade", "High")
		self.assertExempt(lead, "exempt_value_grades", {"exempt_value_grades": "High\nMid"})

	def test_lifecycle_stage(self):
		lead = self.claimed()
		frappe.db.set_value("Fishpond Lead", lead, "lifecycle_stage", "Retention")
		when = add_to_date(self.t0, days=10, minutes=1)
		pf.pool(self.pool, recycle_enabled=1, recycle_no_followup_days=10, exempt_stages=["Retention"])
		self.run_at(when)
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		pf.pool(self.pool, recycle_enabled=1, recycle_no_followup_days=10, exempt_stages=["Growth"])
		self.run_at(when)
		self.assertIsNone(lead_row(lead).lead_owner)

	def test_protections_explain_themselves(self):
		from crm_fishpond.pools.protection import protections

		cust, lead = self.customer_lead("_FP Recycle Explain")
		so = f.sales_order(cust)
		frappe.db.set_value("Fishpond Lead", lead, "locked", 1)
		reasons = protections(lead, self.rules(recycle_no_followup_days=10))
		self.assertEqual(len(reasons), 2)
		self.assertIn(so.name, reasons[1])


class TestRecycleDryRun(RecycleCase):
	def test_preview_uses_the_unsaved_rules_and_writes_nothing(self):
		self.rules(recycle_no_followup_days=30)
		lead = self.claimed(when=add_days(now_datetime(), -10))
		values = frappe.get_doc("Fishpond", self.pool).as_dict()
		self.assertEqual(recycle.preview(values)["count"], 0)
		values.recycle_no_followup_days = 5  # edited in the form, not saved
		result = recycle.preview(values)
		self.assertEqual(result["count"], 1)
		self.assertEqual(result["leads"][0]["name"], lead)
		self.assertEqual(result["leads"][0]["lead_owner"], self.rep_a)
		self.assertIn("1", result["message"])
		self.assertEqual(lead_row(lead).lead_owner, self.rep_a)
		self.assertEqual(frappe.db.get_value("Fishpond", self.pool, "recycle_no_followup_days"), 30)

	def test_preview_lists_upcoming_warnings(self):
		self.rules(recycle_no_followup_days=12, recycle_warn_days=5)
		self.claimed(when=add_days(now_datetime(), -10))
		result = recycle.preview(frappe.get_doc("Fishpond", self.pool).as_dict())
		self.assertEqual((result["count"], result["warn_count"]), (0, 1))

	def test_preview_api_for_pool_managers_only(self):
		pool_manager = pf.rep("fp-recycle-pm@example.com", manages=[self.pool])
		self.rules(recycle_no_followup_days=30)
		self.claimed(when=add_days(now_datetime(), -10))
		values = frappe.get_doc("Fishpond", self.pool).as_dict()
		values.recycle_no_followup_days = 5
		frappe.set_user(pool_manager)
		self.assertEqual(api.recycle_preview(frappe.as_json(values))["count"], 1)
		frappe.set_user(self.rep_a)
		self.assertRaises(frappe.PermissionError, api.recycle_preview, frappe.as_json(values))

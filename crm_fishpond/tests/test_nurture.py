"""Follow-up plans on a real site, with frozen time: enrolment by crowd and by hand, stop conditions,
due and overdue steps, completion by an interaction, catching up after scheduler downtime, and no
email sent twice (docs/nurture.md)."""

from __future__ import annotations

import json

import frappe
from frappe.utils import add_days, add_to_date, get_datetime, getdate

from crm_fishpond.api import nurture as api
from crm_fishpond.nurture import crowd, steps
from crm_fishpond.nurture.plans import ENROLMENT, ENROLMENT_STEP, PLAN
from crm_fishpond.pools.claim import insert_logs
from crm_fishpond.profile.language import recipient_languages
from crm_fishpond.tests import pools_factories as pf

PREFIX = "_FP Nurture"
T0 = "2026-03-02 09:00:00"
LEAD = "Fishpond Lead"


def email_template(name: str = f"{PREFIX} Hello") -> str:
	if not frappe.db.exists("Email Template", name):
		frappe.get_doc(
			{
				"doctype": "Email Template",
				"name": name,
				"subject": "Hello {{ lead_name }}",
				"response": "Dear {{ lead_name }}, how are things?",
			}
		).insert(ignore_permissions=True)
	return name


def plan(name: str, plan_steps: list[dict], **values) -> str:
	"""A plan whose steps and settings are reset on every call."""
	full = f"{PREFIX} {name}"
	doc = frappe.get_doc(PLAN, full) if frappe.db.exists(PLAN, full) else frappe.new_doc(PLAN)
	doc.plan_name = full
	doc.update({"enabled": 1, "enrol_automatically": 0, "reenrol_after_days": 0, **values})
	doc.set("steps", plan_steps)
	doc.save(ignore_permissions=True)
	return doc.name


def enrolment(profile: str, plan_name: str) -> frappe._dict:
	return frappe.db.get_value(
		ENROLMENT,
		{"fishpond_lead": profile, "plan": plan_name},
		["name", "status", "current_step", "step_state", "next_due", "stop_reason", "assigned_to"],
		as_dict=True,
		order_by="creation desc",
	)


def step_rows(name: str) -> list[frappe._dict]:
	return frappe.get_all(
		ENROLMENT_STEP,
		filters={"parent": name, "parenttype": ENROLMENT},
		fields=["step_no", "action", "status", "todo", "event", "email_queue", "interaction", "due_on"],
		order_by="step_no asc",
	)


def emails_to(profile: str) -> int:
	return frappe.db.count("Email Queue", {"reference_doctype": LEAD, "reference_name": profile})


def interaction(profile: str, kind: str, direction: str = "Outbound", when=None) -> str:
	doc = frappe.get_doc(
		{
			"doctype": "Fishpond Interaction",
			"fishpond_lead": profile,
			"interaction_type": kind,
			"direction": direction,
			"interaction_time": when or frappe.utils.now_datetime(),
			"subject": f"{PREFIX} {kind}",
		}
	).insert(ignore_permissions=True)
	return doc.name


def outgoing_email_account(enabled: bool) -> None:
	"""A default outgoing Email Account (the queue is never flushed in tests), or none at all."""
	frappe.db.set_value("Email Account", {"default_outgoing": 1}, "default_outgoing", 0)
	if enabled:
		key = frappe.generate_hash(length=6)
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": f"{PREFIX} Outgoing {key}",
				"email_id": f"fp-nurture-outgoing-{key}@example.com",
				"enable_outgoing": 1,
				"default_outgoing": 1,
				"smtp_server": "smtp.example.com",
				"password": "not-used",
			}
		).insert(ignore_permissions=True)
	frappe.local.outgoing_email_account = {}  # Frappe's per-request cache of the account


def quiet_notifications(user: str) -> None:
	if not frappe.db.exists("Notification Settings", user):
		frappe.get_doc({"doctype": "Notification Settings", "name": user}).insert(ignore_permissions=True)
	frappe.db.set_value("Notification Settings", user, "enable_email_notifications", 0)


class NurtureCase(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		pf.forget_profiles(PREFIX)
		cls.pool = pf.pool(f"{PREFIX} Pool")
		cls.rep = pf.rep("fp-nurture-rep@example.com", pools=[cls.pool])
		cls.other = pf.rep("fp-nurture-other@example.com", pools=[cls.pool])
		cls.boss = pf.user("fp-nurture-boss@example.com", ["Fishpond User"])
		cls.template = email_template()
		for user in (cls.rep, cls.other, cls.boss):
			# the reminders' notification would also be emailed, and a test sends email at once, committing
			quiet_notifications(user)
		frappe.db.commit()  # nosemgrep: class fixtures

	def setUp(self):
		super().setUp()
		outgoing_email_account(True)

	def tearDown(self):
		super().tearDown()
		frappe.local.outgoing_email_account = {}

	def lead(self, owner=None, **values) -> str:
		values.setdefault("email_id", f"nurture-{frappe.generate_hash(length=8)}@example.com")
		return pf.lead(PREFIX, self.pool, owner=owner, **values)

	def call_then_task(self) -> str:
		return plan(
			"Call Then Task",
			[
				{
					"after_days": 0,
					"action": "Call",
					"assign_to": "Owner Rep",
					"subject": "Ask about the quote",
				},
				{"after_days": 2, "action": "Task", "assign_to": "User", "assign_user": self.boss},
			],
		)

	def two_emails(self) -> str:
		return plan(
			"Two Emails",
			[
				{"after_days": 1, "action": "Email", "email_template": self.template},
				{"after_days": 1, "action": "Email", "email_template": self.template},
			],
		)


class TestPlans(NurtureCase):
	def test_a_plan_checks_its_steps_on_save(self):
		with self.assertRaises(frappe.ValidationError):
			plan("Bad", [{"after_days": 1, "action": "Email"}])
		with self.assertRaises(frappe.ValidationError):
			plan("Bad", [{"after_days": 1, "action": "Task", "assign_to": "Role"}])
		with self.assertRaises(frappe.ValidationError):
			plan("Bad", [{"after_days": -1, "action": "Call"}])

	def test_a_crowd_plan_compiles_and_checks_its_rule(self):
		name = plan(
			"Crowd Check",
			[{"after_days": 0, "action": "Call"}],
			enrol_automatically=1,
			rule_filters=json.dumps([["Fishpond Profile Facts", "value_grade", "=", "High"]]),
		)
		self.assertEqual(
			json.loads(frappe.db.get_value(PLAN, name, "condition")),
			{"all": [{"field": "value_grade", "op": "=", "value": "High"}]},
		)
		with self.assertRaises(frappe.ValidationError):
			plan(
				"Crowd Check",
				[{"after_days": 0, "action": "Call"}],
				enrol_automatically=1,
				rule_filters=None,
				advanced_rule=1,
				condition=json.dumps({"field": "value_grad", "op": "=", "value": "High"}),
			)

	def test_the_crowd_is_previewed_before_saving(self):
		from crm_fishpond.api import rules as rules_api

		marker = frappe.generate_hash(length=6)
		for _ in range(3):
			self.lead(company_name=f"Preview {marker}")
		values = {
			"plan_name": f"{PREFIX} Preview",
			"enrol_automatically": 1,
			"rule_match": "All",
			"rule_filters": json.dumps([["Fishpond Profile Facts", "company_name", "like", f"%{marker}%"]]),
			"steps": [{"after_days": 0, "action": "Call"}],
		}
		out = rules_api.preview(PLAN, values)
		out = out if out.get("status") == "done" else rules_api.preview_result(PLAN, out["key"])
		self.assertEqual((out["status"], out["count"]), ("done", 3))


class TestEnrolment(NurtureCase):
	def test_the_crowd_is_enrolled_once(self):
		inside = [self.lead(territory=None, job_title="x") for _ in range(2)]
		outside = self.lead()
		marker = frappe.generate_hash(length=6)
		for name in inside:
			frappe.db.set_value(LEAD, name, "company_name", f"Crowd {marker}")
		name = plan(
			"Crowd",
			[{"after_days": 0, "action": "Call"}],
			enrol_automatically=1,
			rule_filters=json.dumps([["Fishpond Profile Facts", "company_name", "like", f"%{marker}%"]]),
		)
		with self.freeze_time(T0):
			self.assertEqual(crowd.enrol_crowds(name), {name: 2})
		rows = frappe.get_all(ENROLMENT, filters={"plan": name}, fields=["fishpond_lead", "source", "status"])
		self.assertEqual(sorted(r.fishpond_lead for r in rows), sorted(inside))
		self.assertTrue(all(r.source == "Crowd" and r.status == "Active" for r in rows))
		self.assertNotIn(outside, [r.fishpond_lead for r in rows])
		self.assertEqual(frappe.db.get_value(PLAN, name, "crowd_enrolled"), 2)
		# still in the crowd: nobody enters twice, not while active and not after it ended (re-enrol 0)
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(crowd.enrol_crowds(name), {name: 0})
			steps.stop_by_hand(enrolment(inside[0], name).name)
			self.assertEqual(crowd.enrol_crowds(name), {name: 0})
		frappe.db.set_value(PLAN, name, "reenrol_after_days", 30)
		with self.freeze_time(add_days(T0, 40)):
			self.assertEqual(crowd.enrol_crowds(name), {name: 1})
		self.assertEqual(enrolment(inside[0], name).status, "Active")

	def test_a_rep_enrols_their_own_profiles_by_hand(self):
		mine = [self.lead(owner=self.rep) for _ in range(2)]
		theirs = self.lead(owner=self.other)
		name = self.call_then_task()
		frappe.set_user(self.rep)
		out = api.enrol(name, json.dumps([*mine, theirs]))
		self.assertEqual(out["enrolled"], sorted(mine))
		self.assertEqual(out["refused"], [theirs])
		again = api.enrol(name, json.dumps(mine))
		self.assertEqual(again["already"], sorted(mine))
		# a rep sees the enrolments of profiles they may see, and only those
		seen = frappe.get_list(ENROLMENT, filters={"plan": name}, pluck="fishpond_lead")
		self.assertEqual(sorted(seen), sorted(mine))
		frappe.set_user(self.other)
		self.assertEqual(frappe.get_list(ENROLMENT, filters={"plan": name}, pluck="name"), [])
		with self.assertRaises(frappe.PermissionError):
			api.stop(enrolment(mine[0], name).name)
		frappe.set_user(self.rep)
		api.stop(enrolment(mine[0], name).name, "not now")
		self.assertEqual(enrolment(mine[0], name).stop_reason, "By Hand")

	def test_one_enrolled_from_the_form(self):
		profile = self.lead(owner=self.rep)
		name = self.call_then_task()
		with self.freeze_time(T0):
			doc = frappe.get_doc({"doctype": ENROLMENT, "fishpond_lead": profile, "plan": name}).insert()
		self.assertEqual((doc.status, doc.current_step, doc.step_state), ("Active", 1, "Waiting"))
		self.assertEqual(get_datetime(doc.next_due), get_datetime(T0))
		with self.assertRaises(frappe.DuplicateEntryError):
			frappe.get_doc({"doctype": ENROLMENT, "fishpond_lead": profile, "plan": name}).insert()
		# a rep enrols from the form only the profiles they may change
		theirs = self.lead(owner=self.other)
		frappe.set_user(self.rep)
		with self.assertRaises(frappe.PermissionError):
			frappe.get_doc({"doctype": ENROLMENT, "fishpond_lead": theirs, "plan": name}).insert()
		mine = self.lead(owner=self.rep)
		frappe.get_doc({"doctype": ENROLMENT, "fishpond_lead": mine, "plan": name}).insert()
		self.assertEqual(enrolment(mine, name).status, "Active")


class TestSteps(NurtureCase):
	def test_due_steps_become_reminders_and_an_interaction_moves_the_plan_on(self):
		profile = self.lead(owner=self.rep)
		name = self.call_then_task()
		# the logged call is engagement enough to move a fresh profile's stage on, and a stage change
		# would stop the plan (its own test below): here the steps alone are followed
		frappe.db.set_value(PLAN, name, "stop_on_stage_change", 0)
		with self.freeze_time(T0):
			api.enrol(name, [profile])
			self.assertEqual(steps.process_due()["issued"], 1)
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, e.step_state, e.assigned_to), (1, "Open", self.rep))
		[row] = step_rows(e.name)
		todo = frappe.get_doc("ToDo", row.todo)
		self.assertEqual(
			(todo.allocated_to, todo.reference_type, todo.reference_name), (self.rep, LEAD, profile)
		)
		self.assertEqual(getdate(todo.date), getdate(T0))
		event = frappe.get_doc("Event", row.event)
		self.assertEqual((event.owner, event.event_type), (self.rep, "Private"))
		self.assertIn(f"/app/fishpond-lead/{profile}", event.description)
		# not done that day: overdue the next, on the rep's ToDo list and in the enrolment list
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.process_due()["issued"], 0)
			overdue = frappe.get_all(
				"ToDo",
				filters={
					"allocated_to": self.rep,
					"status": "Open",
					"reference_type": LEAD,
					"date": ("<", getdate()),
				},
				pluck="name",
			)
			self.assertIn(todo.name, overdue)
			late = frappe.get_all(
				ENROLMENT,
				filters={"status": "Active", "step_state": "Open", "next_due": ("<", getdate())},
				pluck="name",
			)
			self.assertIn(e.name, late)
			# an email does not complete a call; the call does
			interaction(profile, "Email")
			self.assertEqual(enrolment(profile, name).step_state, "Open")
			call = interaction(profile, "Call")
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, e.step_state), (2, "Waiting"))
		self.assertEqual(get_datetime(e.next_due), get_datetime(add_days(T0, 3)))
		[row] = step_rows(e.name)
		self.assertEqual((row.status, row.interaction), ("Done", call))
		self.assertEqual(frappe.db.get_value("ToDo", todo.name, "status"), "Closed")
		# the task goes to the fixed user; closing its ToDo by hand completes it and the plan
		with self.freeze_time(add_days(T0, 3)):
			self.assertEqual(steps.process_due()["issued"], 1)
			task = step_rows(e.name)[1]
			self.assertEqual(frappe.db.get_value("ToDo", task.todo, "allocated_to"), self.boss)
			self.assertIsNone(task.event)
			todo = frappe.get_doc("ToDo", task.todo)
			todo.status = "Closed"
			todo.save(ignore_permissions=True)
		self.assertEqual(enrolment(profile, name).status, "Completed")

	def test_steps_missed_while_the_scheduler_was_down_run_late_and_emails_go_once(self):
		profile = self.lead(owner=self.rep)
		name = self.two_emails()
		with self.freeze_time(T0):
			api.enrol(name, [profile])
			self.assertEqual(steps.process_due()["issued"], 0)  # due after one day
		# nothing ran for ten days: the first email goes now, late; the second counts from it
		with self.freeze_time(add_days(T0, 10)):
			self.assertEqual(steps.process_due()["issued"], 1)
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(emails_to(profile), 1)
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, e.step_state), (2, "Waiting"))
		self.assertEqual(get_datetime(e.next_due), get_datetime(add_days(T0, 11)))
		queue = frappe.get_doc("Email Queue", step_rows(e.name)[0].email_queue)
		self.assertIn(frappe.db.get_value(LEAD, profile, "email_id"), [r.recipient for r in queue.recipients])
		self.assertIn("unsubscribe", queue.message.lower())
		with self.freeze_time(add_days(T0, 11)):
			self.assertEqual(steps.process_due()["issued"], 1)
		self.assertEqual(emails_to(profile), 2)
		self.assertEqual(enrolment(profile, name).status, "Completed")
		self.assertEqual([r.status for r in step_rows(e.name)], ["Sent", "Sent"])

	def test_an_email_that_cannot_be_queued_waits_and_goes_later(self):
		profile = self.lead(owner=self.rep)
		name = self.two_emails()
		with self.freeze_time(T0):
			api.enrol(name, [profile])
		outgoing_email_account(False)
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.process_due()["issued"], 0)
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, e.step_state), (1, "Waiting"))
		outgoing_email_account(True)
		with self.freeze_time(add_days(T0, 2)):
			self.assertEqual(steps.process_due()["issued"], 1)
		self.assertEqual(emails_to(profile), 1)

	def test_a_step_is_never_issued_twice(self):
		profile = self.lead(owner=self.rep)
		name = self.two_emails()
		with self.freeze_time(T0):
			api.enrol(name, [profile])
		e = enrolment(profile, name)
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.issue(e.name, get_datetime(add_days(T0, 1))), 1)
			# a retried job that finds the step waiting again (as if its state were lost) sends nothing
			frappe.db.set_value(
				ENROLMENT, e.name, {"current_step": 1, "step_state": "Waiting", "next_due": T0}
			)
			self.assertEqual(steps.issue(e.name, get_datetime(add_days(T0, 1))), 0)
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(emails_to(profile), 1)
		self.assertEqual(len(step_rows(e.name)), 1)


class TestStops(NurtureCase):
	def stages(self) -> list[str]:
		return frappe.get_all("Lifecycle Stage", pluck="name", order_by="sequence asc", limit=2)

	def enrolled(self, stage: str | None = None) -> tuple[str, str]:
		profile = self.lead(owner=self.rep, lifecycle_stage=stage)
		name = self.call_then_task()
		with self.freeze_time(T0):
			api.enrol(name, [profile])
			steps.process_due()
		return profile, name

	def assert_stopped(self, profile, name, reason, when=None):
		with self.freeze_time(when or add_days(T0, 1)):
			steps.process_due()
		e = enrolment(profile, name)
		self.assertEqual((e.status, e.stop_reason), ("Stopped", reason))
		[row] = step_rows(e.name)
		self.assertEqual(row.status, "Closed")
		self.assertEqual(frappe.db.get_value("ToDo", row.todo, "status"), "Cancelled")

	def test_a_purchase_stops_it(self):
		profile, name = self.enrolled()
		with self.freeze_time(add_to_date(T0, hours=5)):
			frappe.get_doc(
				{
					"doctype": "Fishpond Transaction",
					"fishpond_lead": profile,
					"voucher_type": "Sales Invoice",
					"voucher_no": f"{PREFIX}-{frappe.generate_hash(length=6)}",
					"docstatus_state": "Submitted",
					"posting_date": getdate(),
				}
			).db_insert()
		self.assert_stopped(profile, name, "Bought")

	def test_a_reply_stops_it_at_once(self):
		profile, name = self.enrolled()
		with self.freeze_time(add_to_date(T0, hours=2)):
			interaction(profile, "Email", direction="Inbound")
		self.assertEqual(enrolment(profile, name).stop_reason, "Replied")

	def test_a_stage_change_stops_it(self):
		first, second = self.stages()
		profile, name = self.enrolled(stage=first)
		frappe.db.set_value(LEAD, profile, "lifecycle_stage", second)
		self.assert_stopped(profile, name, "Stage Changed")

	def test_a_release_stops_it(self):
		profile, name = self.enrolled()
		with self.freeze_time(add_to_date(T0, hours=3)):
			insert_logs(
				[
					{
						"action": "Recycle",
						"profile": profile,
						"from_user": self.rep,
						"from_pool": self.pool,
						"to_pool": self.pool,
						"action_by": "Administrator",
						"action_on": frappe.utils.now_datetime(),
					}
				]
			)
		self.assert_stopped(profile, name, "Released")

	def test_an_unsubscribe_stops_it(self):
		profile, name = self.enrolled()
		email = frappe.db.get_value(LEAD, profile, "email_id")
		frappe.get_doc(
			{
				"doctype": "Email Unsubscribe",
				"email": email,
				"reference_doctype": LEAD,
				"reference_name": profile,
			}
		).insert(ignore_permissions=True)
		self.assert_stopped(profile, name, "Unsubscribed")

	def test_a_first_stage_is_no_change(self):
		profile, name = self.enrolled()
		stages = self.stages()
		frappe.db.set_value(LEAD, profile, "lifecycle_stage", stages[0])
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.process_due()["stopped"], 0)
		self.assertEqual(
			frappe.db.get_value(ENROLMENT, enrolment(profile, name).name, "stage_at_enrolment"), stages[0]
		)
		frappe.db.set_value(LEAD, profile, "lifecycle_stage", stages[1])
		self.assert_stopped(profile, name, "Stage Changed", when=add_days(T0, 2))

	def test_a_switched_off_condition_does_not_stop_it(self):
		first, second = self.stages()
		profile, name = self.enrolled(stage=first)
		frappe.db.set_value(PLAN, name, "stop_on_stage_change", 0)
		frappe.db.set_value(LEAD, profile, "lifecycle_stage", second)
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.process_due()["stopped"], 0)
		self.assertEqual(enrolment(profile, name).status, "Active")


class TestWinBack(NurtureCase):
	def coupon_rule(self) -> str:
		from crm_fishpond.tests import factories

		title = f"{PREFIX} Win-back 10"
		existing = frappe.db.get_value("Pricing Rule", {"title": title})
		if existing:
			return existing
		return (
			frappe.get_doc(
				{
					"doctype": "Pricing Rule",
					"title": title,
					"company": factories.company(),
					"apply_on": "Transaction",
					"price_or_product_discount": "Price",
					"selling": 1,
					"coupon_code_based": 1,
					"rate_or_discount": "Discount Amount",
					"discount_amount": 10,
					"currency": factories.company_currency(),
				}
			)
			.insert(ignore_permissions=True)
			.name
		)

	def customer_profile(self) -> str:
		from crm_fishpond.tests import factories

		customer = factories.customer(f"{PREFIX} Customer {frappe.generate_hash(length=6)}")
		profile = frappe.db.get_value("Customer", customer, "fishpond_lead")
		frappe.db.set_value(
			LEAD,
			profile,
			{"lead_owner": self.rep, "status": "Claimed", "email_id": f"{customer[-6:]}@example.com"},
		)
		return profile

	def purchase(self, profile: str) -> None:
		frappe.get_doc(
			{
				"doctype": "Fishpond Transaction",
				"fishpond_lead": profile,
				"voucher_type": "Sales Invoice",
				"voucher_no": f"{PREFIX}-{frappe.generate_hash(length=6)}",
				"docstatus_state": "Submitted",
				"posting_date": getdate(),
			}
		).db_insert()

	def test_the_win_back_plan_ships_disabled_and_editable(self):
		doc = frappe.get_doc(PLAN, "Win-back")
		self.assertEqual((doc.enabled, doc.enrol_automatically, doc.outcome_window_days), (0, 1, 60))
		self.assertEqual(
			json.loads(doc.condition),
			{
				"any": [
					{"field": "churn_band", "op": "=", "value": "High"},
					{"field": "lifecycle_stage", "op": "=", "value": "Churn"},
				]
			},
		)
		self.assertEqual([s.action for s in doc.steps], ["Call", "Email", "Task"])
		self.assertEqual(crowd.enrol_crowds("Win-back"), {}, "a disabled plan enrols nobody")

	def test_a_customer_gets_a_coupon_in_the_email_and_buying_in_time_is_a_win(self):
		won, lost = self.customer_profile(), self.customer_profile()
		name = plan(
			"Win-back Test",
			[
				{"after_days": 0, "action": "Email", "email_template": "Fishpond Win-back"},
				{"after_days": 30, "action": "Call"},
			],
			coupon_pricing_rule=self.coupon_rule(),
			coupon_valid_days=30,
			outcome_window_days=60,
		)
		with self.freeze_time(T0):
			api.enrol(name, [won, lost])
			self.assertEqual(steps.process_due()["issued"], 2)
		e = enrolment(won, name)
		coupon = frappe.db.get_value(ENROLMENT, e.name, "coupon_code")
		c = frappe.get_doc("Coupon Code", coupon)
		self.assertEqual(
			(c.coupon_type, c.customer, c.maximum_use),
			("Gift Card", frappe.db.get_value(LEAD, won, "customer"), 1),
		)
		self.assertEqual(getdate(c.valid_upto), getdate(add_days(T0, 30)))
		queue = frappe.get_doc("Email Queue", step_rows(e.name)[0].email_queue)
		self.assertIn(c.coupon_code, queue.message)
		# the one who buys on day 20 is won back (and the purchase stops the plan); the other is not,
		# once day 60 has passed
		with self.freeze_time(add_days(T0, 20)):
			self.purchase(won)
			self.assertEqual(steps.process_due()["outcomes"], 1)
		self.assertEqual(
			frappe.db.get_value(ENROLMENT, e.name, ["status", "stop_reason", "outcome"]),
			("Stopped", "Bought", "Won Back"),
		)
		self.assertFalse(frappe.db.get_value(ENROLMENT, enrolment(lost, name).name, "outcome"))
		with self.freeze_time(add_days(T0, 61)):
			steps.process_due()
		self.assertEqual(
			frappe.db.get_value(ENROLMENT, enrolment(lost, name).name, "outcome"), "Not Won Back"
		)
		# the win-back rate on the report, counted over the enrolments the user may see
		from crm_fishpond.crm_fishpond.report.fishpond_plan_outcomes.fishpond_plan_outcomes import execute

		[row] = [r for r in execute({"plan": name})[1] if r["plan"] == name]
		self.assertEqual((row["won_back"], row["not_won_back"], row["win_back_rate"]), (1, 1, 50.0))
		frappe.set_user(self.other)
		self.assertEqual(execute({"plan": name})[1], [])
		frappe.set_user(self.rep)
		self.assertEqual(execute({"plan": name})[1][0]["enrolled"], 2)
		frappe.set_user("Administrator")
		# a profile that is no customer gets no coupon, and the step still goes out
		prospect = self.lead(owner=self.rep)
		with self.freeze_time(add_days(T0, 62)):
			api.enrol(name, [prospect])
			self.assertEqual(steps.process_due()["issued"], 1)
		self.assertFalse(frappe.db.get_value(ENROLMENT, enrolment(prospect, name).name, "coupon_code"))


# --------------------------------------------------------------------------------------------------
# set-based issuing (issue 11: 10,000 due steps a day), greetings, the recipient's language


def rows_of(doctype: str, names: list[str]) -> list[dict]:
	return frappe.db.sql(
		f"select * from `tab{doctype}` where name in %(names)s order by name", {"names": names}, as_dict=True
	)


def same_columns(
	row: dict, skip=("name", "creation", "modified", "parent", "step_key", "todo", "event")
) -> dict:
	return {k: v for k, v in row.items() if k not in skip}


def decoded(queue_name: str) -> tuple[str, str]:
	"""An Email Queue row's subject and text, decoded from its MIME message."""
	import email
	from email.header import decode_header, make_header

	msg = email.message_from_string(frappe.db.get_value("Email Queue", queue_name, "message"))
	subject = str(make_header(decode_header(msg["Subject"])))
	parts = [
		part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
		for part in msg.walk()
		if part.get_content_maintype() == "text"
	]
	return subject, "\n".join(parts)


class TestSetBased(NurtureCase):
	def call_plan(self) -> str:
		return plan(
			"Set Call",
			[{"after_days": 0, "action": "Call", "assign_to": "Owner Rep", "subject": "Ask about the quote"}],
			stop_on_stage_change=0,
		)

	def test_a_chunk_writes_what_the_documents_wrote(self):
		"""One profile through the per-enrolment path (ToDo and Event documents), its twin through the
		set-based one: the same ToDo, Event, assignment comment, step row, enrolment and Assigned To."""
		name = self.call_plan()
		old, new = (self.lead(owner=self.rep, lead_name=f"{PREFIX} Twin") for _ in range(2))
		with self.freeze_time(T0):
			api.enrol(name, [old, new])
			now = get_datetime(T0)
			self.assertEqual(steps.issue(enrolment(old, name).name, now), 1)
			self.assertEqual(steps.issue_chunk([enrolment(new, name).name], now), 1)
		[a], [b] = step_rows(enrolment(old, name).name), step_rows(enrolment(new, name).name)
		full = {
			r.parent: r
			for r in frappe.get_all(
				ENROLMENT_STEP,
				filters={"parent": ("in", [enrolment(p, name).name for p in (old, new)])},
				fields=["*"],
			)
		}
		self.assertEqual(
			same_columns(
				full[enrolment(old, name).name],
				skip=(
					"name",
					"creation",
					"modified",
					"parent",
					"step_key",
					"todo",
					"event",
					"owner",
					"modified_by",
				),
			),
			same_columns(
				full[enrolment(new, name).name],
				skip=(
					"name",
					"creation",
					"modified",
					"parent",
					"step_key",
					"todo",
					"event",
					"owner",
					"modified_by",
				),
			),
		)
		[todo_a], [todo_b] = rows_of("ToDo", [a.todo]), rows_of("ToDo", [b.todo])
		self.assertEqual(todo_a.reference_name, old)
		self.assertEqual(
			same_columns(todo_a, skip=("name", "creation", "modified", "reference_name")),
			same_columns(todo_b, skip=("name", "creation", "modified", "reference_name")),
		)
		[event_a], [event_b] = rows_of("Event", [a.event]), rows_of("Event", [b.event])
		self.assertTrue(event_b.name.startswith("EV"))
		self.assertEqual(event_b.owner, self.rep)
		self.assertEqual(
			same_columns(event_a, skip=("name", "creation", "modified", "description")),
			same_columns(event_b, skip=("name", "creation", "modified", "description")),
		)
		self.assertEqual(event_a.description.replace(old, new), event_b.description)
		comments = {
			c.reference_name: c
			for c in frappe.get_all(
				"Comment",
				filters={
					"reference_doctype": LEAD,
					"reference_name": ("in", [old, new]),
					"comment_type": "Assigned",
				},
				fields=["reference_name", "content", "comment_email", "owner"],
			)
		}
		self.assertEqual(comments[old].content, comments[new].content)
		self.assertEqual(
			(comments[old].comment_email, comments[old].owner),
			(comments[new].comment_email, comments[new].owner),
		)
		for profile in (old, new):
			self.assertEqual(json.loads(frappe.db.get_value(LEAD, profile, "_assign")), [self.rep])
			e = enrolment(profile, name)
			self.assertEqual((e.step_state, e.assigned_to), ("Open", self.rep))
		# a stop cancels the reminder, and Assigned To follows, on both paths alike
		for profile in (old, new):
			steps.stop_by_hand(enrolment(profile, name).name)
			self.assertFalse(frappe.db.get_value(LEAD, profile, "_assign"))

	def test_process_due_issues_a_mixed_chunk_once_and_tells_each_assignee_once(self):
		calls = [self.lead(owner=self.rep) for _ in range(3)]
		mails = [self.lead(owner=self.rep) for _ in range(2)]
		call, mail = self.call_plan(), self.two_emails()
		with self.freeze_time(T0):
			api.enrol(call, calls)
			api.enrol(mail, mails)
		frappe.db.delete("Notification Log", {"for_user": self.rep})
		with self.freeze_time(add_days(T0, 1)):
			out = steps.process_due()
			self.assertEqual((out["issued"], out["notified"]), (5, 1))
			again = steps.process_due()
			self.assertEqual(again["issued"], 0)
		[note] = frappe.get_all(
			"Notification Log", filters={"for_user": self.rep}, fields=["subject", "type", "link"]
		)
		self.assertIn("3", note.subject)
		self.assertEqual(note.type, "Assignment")
		self.assertEqual(sum(emails_to(p) for p in mails), 2)
		for p in mails:
			e = enrolment(p, mail)
			self.assertEqual((e.current_step, e.step_state), (2, "Waiting"))
			self.assertEqual(get_datetime(e.next_due), get_datetime(add_days(T0, 2)))
		# replayed: the chunk finds every step waiting again (its state lost), yet nothing goes twice
		names = [enrolment(p, call).name for p in calls] + [enrolment(p, mail).name for p in mails]
		for n in names:
			frappe.db.set_value(ENROLMENT, n, {"current_step": 1, "step_state": "Waiting", "next_due": T0})
		with self.freeze_time(add_days(T0, 1)):
			self.assertEqual(steps.issue_chunk(names, get_datetime(add_days(T0, 1))), 0)
		self.assertEqual(sum(emails_to(p) for p in mails), 2)
		self.assertEqual(
			frappe.db.count("ToDo", {"reference_type": LEAD, "reference_name": ("in", calls)}), 3
		)
		self.assertEqual(sum(len(step_rows(n)) for n in names), 5)

	def test_a_failing_row_does_not_lose_the_chunk(self):
		from unittest.mock import patch

		profiles = [self.lead(owner=self.rep) for _ in range(3)]
		name = self.call_plan()
		with self.freeze_time(T0):
			api.enrol(name, profiles)
		names = [enrolment(p, name).name for p in profiles]
		bad = names[1]
		per_row = steps._issue_reminder

		def fails_for_bad(d, now):
			if d.row.name == bad:
				raise frappe.ValidationError("a bad row")
			return per_row(d, now)

		errors = frappe.db.count("Error Log")
		with (
			self.freeze_time(T0),
			patch.object(steps, "_insert_step_rows", side_effect=frappe.ValidationError("bulk")),
			patch.object(steps, "_issue_reminder", side_effect=fails_for_bad),
		):
			self.assertEqual(steps.issue_chunk(names, get_datetime(T0)), 2)
		self.assertEqual(frappe.db.count("Error Log") - errors, 2)  # the chunk's and the bad row's
		self.assertEqual([enrolment(p, name).step_state for p in profiles], ["Open", "Waiting", "Open"])
		self.assertEqual(
			frappe.db.count("ToDo", {"reference_type": LEAD, "reference_name": ("in", profiles)}), 2
		)
		# the bad row is late, never skipped: the next run issues it
		with self.freeze_time(add_to_date(T0, minutes=5)):
			self.assertEqual(steps.process_due()["issued"], 1)
		self.assertEqual(enrolment(profiles[1], name).step_state, "Open")
		self.assertEqual(
			frappe.db.count("ToDo", {"reference_type": LEAD, "reference_name": ("in", profiles)}), 3
		)


class TestGreetings(NurtureCase):
	def greetings(self) -> str:
		return plan(
			"Greetings",
			[
				{
					"after_days": 0,
					"occasion": "Birthday",
					"action": "Email",
					"email_template": "Fishpond Birthday Greeting",
				},
				{
					"after_days": 0,
					"occasion": "First Purchase Anniversary",
					"action": "Email",
					"email_template": "Fishpond Purchase Anniversary",
				},
			],
			stop_on_purchase=0,
			stop_on_reply=0,
			stop_on_stage_change=0,
			stop_on_release=0,
		)

	def test_the_greetings_plan_ships_disabled_with_its_templates(self):
		doc = frappe.get_doc(PLAN, "Birthday and Anniversary Greetings")
		self.assertEqual(doc.enabled, 0)
		self.assertEqual(
			[(s.occasion, s.action, s.email_template) for s in doc.steps],
			[
				("Birthday", "Email", "Fishpond Birthday Greeting"),
				("First Purchase Anniversary", "Email", "Fishpond Purchase Anniversary"),
			],
		)
		self.assertIn('_("', frappe.db.get_value("Email Template", "Fishpond Birthday Greeting", "response"))

	def test_birthday_then_anniversary_once_a_year_each(self):
		profile = self.lead(owner=self.rep, lead_name=f"{PREFIX} Ann", birthday="1990-03-05")
		frappe.db.set_value(LEAD, profile, "first_purchase", "2025-06-10")
		name = self.greetings()
		with self.freeze_time(T0):
			api.enrol(name, [profile])
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, get_datetime(e.next_due)), (1, get_datetime("2026-03-05 09:00:00")))
		with self.freeze_time("2026-03-04 12:00:00"):
			self.assertEqual(steps.process_due()["issued"], 0)
		with self.freeze_time("2026-03-05 09:05:00"):
			self.assertEqual(steps.process_due()["issued"], 1)
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(emails_to(profile), 1)
		subject, _text = decoded(step_rows(e.name)[0].email_queue)
		self.assertEqual(subject, f"Happy birthday, {PREFIX} Ann!")
		e = enrolment(profile, name)
		self.assertEqual((e.current_step, get_datetime(e.next_due)), (2, get_datetime("2026-06-10 09:00:00")))
		with self.freeze_time("2026-06-10 09:00:00"):
			self.assertEqual(steps.process_due()["issued"], 1)
		_subject, text = decoded(step_rows(e.name)[1].email_queue)
		self.assertIn("A year ago today you placed your first order", text)
		e = enrolment(profile, name)
		self.assertEqual((e.status, e.current_step), ("Active", 1))
		self.assertEqual(get_datetime(e.next_due), get_datetime("2027-03-05 09:00:00"))
		# a job that finds this year's birthday due again (its state lost) sends nothing and moves on
		frappe.db.set_value(ENROLMENT, e.name, {"current_step": 1, "next_due": "2026-03-05 09:00:00"})
		with self.freeze_time("2026-06-10 10:00:00"):
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(emails_to(profile), 2)
		self.assertEqual(get_datetime(enrolment(profile, name).next_due), get_datetime("2027-03-05 09:00:00"))
		# next year: the birthday again, once
		with self.freeze_time("2027-03-05 11:00:00"):
			self.assertEqual(steps.process_due()["issued"], 1)
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(emails_to(profile), 3)
		self.assertEqual(
			[
				r.step_key.rsplit(":", 1)[1]
				for r in frappe.get_all(
					ENROLMENT_STEP, filters={"parent": e.name}, fields=["step_key"], order_by="idx"
				)
			],
			["2026", "2026", "2027"],
		)

	def test_a_plain_step_after_a_greeting_comes_back_every_year(self):
		profile = self.lead(owner=self.rep, lead_name=f"{PREFIX} Round", birthday="1990-03-05")
		name = plan(
			"Greeting Then Call",
			[
				{
					"after_days": 0,
					"occasion": "Birthday",
					"action": "Email",
					"email_template": "Fishpond Birthday Greeting",
				},
				{"after_days": 2, "action": "Task"},
			],
			stop_on_purchase=0,
			stop_on_reply=0,
			stop_on_stage_change=0,
			stop_on_release=0,
		)
		with self.freeze_time(T0):
			api.enrol(name, [profile])
		e = enrolment(profile, name)
		for year in (2026, 2027):
			with self.freeze_time(f"{year}-03-05 09:05:00"):
				self.assertEqual(steps.process_due()["issued"], 1, f"the {year} greeting")
			with self.freeze_time(f"{year}-03-07 09:10:00"):
				self.assertEqual(steps.process_due()["issued"], 1, f"the {year} task")
				todo = step_rows(e.name)[-1].todo
			frappe.db.set_value("ToDo", todo, "status", "Closed")  # done: the plan goes round again
			steps.complete_step(e.name, todo_closed=True)
			e = enrolment(profile, name)
			self.assertEqual((e.current_step, e.step_state), (1, "Waiting"))
		# two rounds: the greeting and the task once each year (rows listed by step number)
		self.assertEqual([r.action for r in step_rows(e.name)], ["Email", "Email", "Task", "Task"])

	def test_29_february_on_28_february_and_a_missing_birthday(self):
		leap = self.lead(owner=self.rep, birthday="2000-02-29")
		nobody = self.lead(owner=self.rep)
		name = self.greetings()
		with self.freeze_time("2027-01-10 10:00:00"):
			api.enrol(name, [leap, nobody])
		self.assertEqual(get_datetime(enrolment(leap, name).next_due), get_datetime("2027-02-28 09:00:00"))
		# no birthday, no purchase: looked at again the next day; a birthday set meanwhile is found
		self.assertEqual(get_datetime(enrolment(nobody, name).next_due), get_datetime("2027-01-11 10:00:00"))
		frappe.db.set_value(LEAD, nobody, "birthday", "1985-01-20")
		with self.freeze_time("2027-01-11 10:00:00"):
			self.assertEqual(steps.process_due()["issued"], 0)
		self.assertEqual(get_datetime(enrolment(nobody, name).next_due), get_datetime("2027-01-20 09:00:00"))
		with self.freeze_time("2027-02-28 09:30:00"):
			# the 20 January greeting nobody ran for goes too, late
			self.assertEqual(steps.process_due()["issued"], 2)
		self.assertEqual((emails_to(leap), emails_to(nobody)), (1, 1))
		self.assertEqual(get_datetime(enrolment(leap, name).next_due), get_datetime("2028-02-29 09:00:00"))


class TestLanguage(NurtureCase):
	def test_a_chinese_customer_is_greeted_in_chinese(self):
		from crm_fishpond.tests import factories

		frappe.db.set_value("Language", "zh", "enabled", 1)
		if not frappe.db.exists("Translation", {"language": "zh", "source_text": "Happy birthday, {0}!"}):
			frappe.get_doc(
				{
					"doctype": "Translation",
					"language": "zh",
					"source_text": "Happy birthday, {0}!",
					"translated_text": "{0}，生日快乐！",
				}
			).insert(ignore_permissions=True)
		customer = factories.customer(f"{PREFIX} Zh {frappe.generate_hash(length=6)}", language="zh")
		zh = frappe.db.get_value("Customer", customer, "fishpond_lead")
		frappe.db.set_value(
			LEAD,
			zh,
			{
				"lead_owner": self.rep,
				"status": "Claimed",
				"email_id": f"zh-{customer[-6:]}@example.com",
				"birthday": "1990-03-05",
				"lead_name": "王芳",
			},
		)
		en = self.lead(owner=self.rep, lead_name=f"{PREFIX} En", birthday="1990-03-05")
		self.assertEqual(recipient_languages([zh, en])[zh], "zh")
		name = plan(
			"Greetings Zh",
			[
				{
					"after_days": 0,
					"occasion": "Birthday",
					"action": "Email",
					"email_template": "Fishpond Birthday Greeting",
				}
			],
			stop_on_purchase=0,
		)
		lang = frappe.local.lang
		with self.freeze_time(T0):
			api.enrol(name, [zh, en])
		with self.freeze_time("2026-03-05 10:00:00"):
			self.assertEqual(steps.process_due()["issued"], 2)
		self.assertEqual(frappe.local.lang, lang, "the job's language is restored")
		zh_subject, _text = decoded(step_rows(enrolment(zh, name).name)[0].email_queue)
		en_subject, _text = decoded(step_rows(enrolment(en, name).name)[0].email_queue)
		self.assertEqual(zh_subject, "王芳，生日快乐！")
		self.assertEqual(en_subject, f"Happy birthday, {PREFIX} En!")

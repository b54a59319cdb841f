"""Referral rules on a real site: the fraud rules and eligibility, caps, the manager's override and
cancellation, prospect referrers, welcome rewards and several qualifying invoices, the programme's
checks on save, the thank-you e-mail, follow-up in the pools, who sees what, the report and the
profile's figures, and idempotence.

Every scenario ends with :meth:`RuleCase.settle`: replaying the scenario's document events changes
nothing and the reconciliation is empty. Capture, payment, review, claw-back and coupons:
test_referrals.py."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import add_days, escape_html, nowdate

from crm_fishpond.api import referrals as api
from crm_fishpond.events import referrals as events
from crm_fishpond.referrals.messages import reason_text
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests import referral_factories as rf
from crm_fishpond.tests.test_referrals import ReferralCase

test_ignore = ["Sales Invoice", "Coupon Code", "Loyalty Point Entry", "Loyalty Program"]

API_ERRORS = (frappe.ValidationError, frappe.DoesNotExistError, frappe.PermissionError)


def snapshot() -> dict:
	"""Everything a referral run writes, to compare before and after a replay."""
	ours = {"fishpond_referral_reward": ("is", "set")}
	return {
		"referrals": frappe.get_all(
			"Fishpond Referral",
			fields=["name", "status", "rule", "reason", "programme", "override_reason", "cancelled"],
			order_by="name",
		),
		"rewards": frappe.get_all("Referral Reward", fields=["*"], order_by="name"),
		"log": frappe.db.count("Referral Reward Log"),
		"points": frappe.get_all(
			"Loyalty Point Entry", filters=ours, fields=["name", "loyalty_points"], order_by="name"
		),
		"coupons": frappe.get_all(
			"Coupon Code", filters=ours, fields=["name", "valid_upto", "used", "fishpond_withdrawn"]
		),
		"customers": frappe.db.count("Customer"),
		"emails": frappe.db.count("Email Queue", {"reference_doctype": "Referral Reward"}),
		"todos": frappe.db.count("ToDo", {"reference_type": "Fishpond Lead"}),
		"comments": frappe.db.count("Comment", {"reference_doctype": "Fishpond Referral"}),
		"codes": frappe.get_all(
			"Fishpond Lead", filters={"referral_code": ("is", "set")}, pluck="name", order_by="name"
		),
	}


class RuleCase(ReferralCase):
	def decision(self, referral: str) -> tuple[str, str]:
		return tuple(frappe.db.get_value("Fishpond Referral", referral, ["status", "rule"]))

	def assertAccepted(self, referral: str):
		self.assertEqual(self.decision(referral), ("Accepted", "accepted"))

	def assertRefused(self, referral: str, rule: str, *words: str):
		"""Refused with ``rule``, visibly: on the referral (rule and reason) and on its reward."""
		row = frappe.db.get_value("Fishpond Referral", referral, ["status", "rule", "reason"], as_dict=True)
		self.assertEqual((row.status, row.rule), ("Refused", rule))
		for word in words:
			self.assertIn(word, row.reason)
		reward = rf.reward(referral)
		self.assertEqual((reward.status, reward.reason_code), ("Refused", rule))

	def referral_customers(self) -> list[str]:
		profiles = set()
		for r in frappe.get_all("Fishpond Referral", fields=["referrer", "referee"]):
			profiles |= {r.referrer, r.referee}
		return frappe.get_all(
			"Fishpond Lead",
			filters={"name": ("in", sorted(profiles) or [""]), "customer": ("is", "set")},
			pluck="customer",
		)

	def replay(self) -> None:
		"""Every document event of the scenario again, with the same documents."""
		customers = self.referral_customers() or [""]
		for name in frappe.get_all(
			"Payment Ledger Entry",
			filters={
				"party_type": "Customer",
				"party": ("in", customers),
				"against_voucher_type": "Sales Invoice",
			},
			pluck="name",
		):
			events.ledger_on_submit(frappe.get_doc("Payment Ledger Entry", name))
		for doctype, party in (("Sales Invoice", "customer"), ("Payment Entry", "party")):
			for name in frappe.get_all(
				doctype, filters={party: ("in", customers), "docstatus": 2}, pluck="name"
			):
				events.voucher_on_cancel(frappe.get_doc(doctype, name))
		for customer in customers:
			if customer:
				events.customer_after_insert(frappe.get_doc("Customer", customer))

	def settle(self, today=None) -> None:
		"""The end of every scenario: nothing to reconcile, and replaying its events changes nothing."""
		self.assertEqual(rf.reconcile(today), [])
		before = snapshot()
		self.replay()
		self.assertEqual(snapshot(), before)
		self.assertReconciled(today)


# --------------------------------------------------------------------------------------------------
# fraud rules and eligibility


def customer_group(name: str, parent: str = "All Customer Groups", is_group: int = 0) -> str:
	if not frappe.db.exists("Customer Group", name):
		frappe.get_doc(
			{
				"doctype": "Customer Group",
				"customer_group_name": name,
				"parent_customer_group": parent,
				"is_group": is_group,
			}
		).insert(ignore_permissions=True)
	return name


def territory(name: str, parent: str = "All Territories", is_group: int = 0) -> str:
	if not frappe.db.exists("Territory", name):
		frappe.get_doc(
			{"doctype": "Territory", "territory_name": name, "parent_territory": parent, "is_group": is_group}
		).insert(ignore_permissions=True)
	return name


class TestFraudRules(RuleCase):
	def test_a_customer_referring_themselves_is_refused(self):
		rf.programme(review_days=0)
		own, profile = rf.customer_profile("_FP Rules Self Own")
		inv = f.sales_invoice(own, submit=False)
		inv.fishpond_referral_code = rf.code_of(profile)  # their own code, on their own invoice
		inv.save()
		inv.submit()
		referral = frappe.db.get_value("Fishpond Referral", {"referee": profile, "referrer": profile})
		self.assertRefused(referral, "self_referral", _("profile"))
		rf.pay(inv.name)
		self.assertEqual(rf.reward(referral).status, "Refused")
		self.assertEqual(rf.points_of(f"{referral}-R1"), 0)
		self.settle()

	def test_a_shared_email_phone_tax_id_or_address_is_a_self_referral(self):
		rf.programme(review_days=0)
		cases = {
			"email": ({"email_id": "FP-Rules-Self@Example.com"}, {"email_id": "fp-rules-self@example.com"}),
			"phone": ({"mobile_no": "+1 212 555 0147"}, {"mobile_no": "+12125550147"}),
			"tax_id": ({"tax_id": "GB 123-456-789"}, {"tax_id": "gb123456789"}),
			"address": ({}, {}),
		}
		words = {"email": "email address", "phone": "phone number", "tax_id": "tax id", "address": "address"}
		for via, (mine, theirs) in cases.items():
			with self.subTest(via=via):
				a, pa = rf.customer_profile(f"_FP Rules Self {via} Referrer", **mine)
				b, pb = rf.customer_profile(f"_FP Rules Self {via} Referee", **theirs)
				if via == "address":
					frappe.get_doc(
						{
							"doctype": "Address",
							"address_title": "_FP Rules Shared",
							"address_type": "Billing",
							"address_line1": "12 Harbour Road",
							"city": "Portsmouth",
							"country": "United Kingdom",
							"links": [
								{"link_doctype": "Customer", "link_name": a},
								{"link_doctype": "Customer", "link_name": b},
							],
						}
					).insert(ignore_permissions=True)
				referral = rf.refer(pa, pb)
				self.assertRefused(referral, "self_referral", _(words[via]))
				rf.pay(f.sales_invoice(b, rate=300).name)
				self.assertEqual(rf.reward(referral).status, "Refused")
				self.assertEqual(rf.points_of(f"{referral}-R1"), 0)
		self.settle()

	def test_circular_referrals_are_refused_directly_and_through_others(self):
		rf.programme(review_days=0)
		_a, pa, _b, pb = self.pair("Circle")
		forth = rf.refer(pa, pb)
		self.assertAccepted(forth)
		back = rf.refer(pb, pa)
		self.assertRefused(back, "circular")
		_c, pc = rf.customer_profile("_FP Ref Circle Third")
		self.assertAccepted(rf.refer(pb, pc))
		self.assertRefused(rf.refer(pc, pa), "circular")  # A -> B -> C, then C -> A
		self.settle()

	def test_a_referee_who_was_already_a_customer_is_refused(self):
		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("Already")
		f.sales_invoice(b, rate=100, posting_date=add_days(nowdate(), -10))  # bought before
		referral = rf.refer(pa, pb)
		self.assertRefused(referral, "already_customer", str(add_days(nowdate(), -10)))
		# a new customer whose first invoice comes after the referral is welcome
		_c, pc = rf.customer_profile("_FP Ref Already New")
		self.assertAccepted(rf.refer(pa, pc))
		self.settle()

	def test_only_eligible_customer_groups_and_territories_and_their_descendants(self):
		eligible = customer_group("_FP Rules Eligible Group", is_group=1)
		sub = customer_group("_FP Rules Eligible Sub Group", parent=eligible)
		other = customer_group("_FP Rules Other Group")
		land = territory("_FP Rules Land", is_group=1)
		region = territory("_FP Rules Land Region", parent=land)
		elsewhere = territory("_FP Rules Elsewhere")
		rf.programme(
			review_days=0,
			customer_groups=[{"customer_group": eligible}],
			territories=[{"territory": land}],
		)
		_a, pa = rf.customer_profile("_FP Rules Eligible Referrer")
		_b, ok = rf.customer_profile("_FP Rules Eligible Ok", customer_group=sub, territory=region)
		_c, bad_group = rf.customer_profile("_FP Rules Bad Group", customer_group=other, territory=region)
		_d, bad_land = rf.customer_profile("_FP Rules Bad Land", customer_group=sub, territory=elsewhere)
		self.assertAccepted(rf.refer(pa, ok))  # a sub-group of an eligible group is eligible
		self.assertRefused(rf.refer(pa, bad_group), "customer_group", other)
		self.assertRefused(rf.refer(pa, bad_land), "territory", elsewhere)
		self.settle()

	def test_one_referee_is_counted_once_even_with_two_profiles(self):
		rf.programme(review_days=0)
		_a, first_referrer = rf.customer_profile("_FP Rules Dup First Referrer")
		_z, second_referrer = rf.customer_profile("_FP Rules Dup Second Referrer")
		b, referee = rf.customer_profile("_FP Rules Dup Referee", email_id="fp-rules-dup@example.com")
		again = rf.prospect("_FP Rules Dup Referee Again", email_id="FP-Rules-Dup@example.com")
		self.assertNotEqual(referee, again)
		first = rf.refer(first_referrer, referee)
		self.assertAccepted(first)
		second = rf.refer(second_referrer, again)
		self.assertRefused(second, "duplicate_referee", first)
		rf.pay(f.sales_invoice(b, rate=300).name)
		self.assertEqual(rf.reward(first).status, "Posted")
		self.assertEqual(rf.reward(second).status, "Refused")
		self.settle()


# --------------------------------------------------------------------------------------------------
# caps


class TestCaps(RuleCase):
	def two_referees(self, tag: str, paid_first_on=None, referred_on=None):
		"""A referrer with two referees, each paying one invoice, the first on ``paid_first_on``."""
		_a, pa = rf.customer_profile(f"_FP Rules Cap {tag} Referrer")
		b, pb = rf.customer_profile(f"_FP Rules Cap {tag} Referee 1")
		c, pc = rf.customer_profile(f"_FP Rules Cap {tag} Referee 2")
		first = rf.refer(pa, pb, referred_on=referred_on)
		second = rf.refer(pa, pc, referred_on=referred_on)
		si = f.sales_invoice(b, rate=300, posting_date=paid_first_on)
		rf.pay(si.name, posting_date=paid_first_on)
		rf.pay(f.sales_invoice(c, rate=300).name)
		return first, second, si

	def check_cap(self, first: str, second: str, si, rule: str):
		self.assertEqual(rf.reward(first).status, "Posted")
		row = rf.reward(second)
		self.assertEqual((row.status, row.reason_code), ("Refused", rule))
		self.assertAccepted(second)  # the referral stands, only its reward is refused
		self.assertEqual(rf.points_of(f"{second}-R1"), 0)
		# the first reward reversed (its invoice returned): the second takes its place
		f.credit_note(si.name)
		self.assertEqual(rf.reward(first).status, "Reversed")
		self.assertEqual(rf.reward(second).status, "Posted")
		self.assertEqual(rf.points_of(f"{second}-R1"), 100)
		self.settle()

	def test_the_monthly_cap_refuses_the_reward_and_a_reversed_reward_frees_its_place(self):
		rf.programme(review_days=0, cap_per_month=1)
		first, second, si = self.two_referees("Month")
		self.check_cap(first, second, si, "cap_month")

	def test_the_lifetime_cap_counts_across_months(self):
		rf.programme(review_days=0, cap_lifetime=1)
		# paid 40 days apart: another month, so only the lifetime cap can refuse
		first, second, si = self.two_referees(
			"Life", paid_first_on=add_days(nowdate(), -40), referred_on=add_days(nowdate(), -60)
		)
		self.check_cap(first, second, si, "cap_lifetime")


# --------------------------------------------------------------------------------------------------
# the manager's actions


class TestManagerActions(RuleCase):
	def test_a_manager_overrides_a_refused_self_referral_and_its_reward_is_exempt_from_caps(self):
		rf.programme(review_days=0, cap_lifetime=1)
		family = "fp-rules-family@example.com"
		_a, pa = rf.customer_profile("_FP Rules Override Referrer", email_id=family)
		b, pb = rf.customer_profile("_FP Rules Override Friend")
		c, pc = rf.customer_profile("_FP Rules Override Relative", email_id=family)
		d, pd = rf.customer_profile("_FP Rules Override Later")
		friend = rf.refer(pa, pb)
		rf.pay(f.sales_invoice(b, rate=300).name)
		self.assertEqual(rf.reward(friend).status, "Posted")  # the one reward the cap allows

		relative = rf.refer(pa, pc)
		self.assertRefused(relative, "self_referral")
		api.override(relative, "A shared family inbox; checked by phone")
		self.assertEqual(self.decision(relative), ("Accepted", "override"))
		row = frappe.db.get_value(
			"Fishpond Referral", relative, ["override_reason", "overridden_by", "reason"], as_dict=True
		)
		self.assertEqual(row.overridden_by, "Administrator")
		self.assertIn("shared family inbox", row.reason)
		rf.pay(f.sales_invoice(c, rate=300).name)
		self.assertEqual(rf.reward(relative).status, "Posted")  # beyond the cap: exempt
		self.assertEqual(rf.points_of(f"{relative}-R1"), 100)

		later = rf.refer(pa, pd)  # the overridden reward still counts towards the cap
		rf.pay(f.sales_invoice(d, rate=300).name)
		self.assertEqual(rf.reward(later).reason_code, "cap_lifetime")
		self.settle()

	def test_a_rep_may_neither_override_nor_cancel(self):
		rf.programme(review_days=0)
		_a, pa, _b, pb = self.pair("Rep Override")
		referral = rf.refer(pa, pa)
		other = rf.refer(pa, pb)
		rep = pf.rep("fp-rules-rep@example.com")
		frappe.set_user(rep)
		with self.assertRaises(frappe.PermissionError):
			api.override(referral, "I know them")
		with self.assertRaises(frappe.PermissionError):
			api.cancel(other, "Changed my mind")
		with self.assertRaises(frappe.PermissionError):
			api.run_now(f.company())
		frappe.set_user("Administrator")
		self.assertEqual(self.decision(referral)[0], "Refused")
		self.assertEqual(frappe.db.get_value("Fishpond Referral", other, "cancelled"), 0)
		self.settle()

	def test_cancelling_a_referral_takes_a_posted_reward_back(self):
		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("Cancel Referral")
		referral = rf.refer(pa, pb)
		rf.pay(f.sales_invoice(b, rate=300).name)
		name = f"{referral}-R1"
		self.assertEqual(rf.points_of(name), 100)
		api.cancel(referral, "The referee is a test account")
		self.assertEqual(self.decision(referral), ("Cancelled", "referral_cancelled"))
		self.assertEqual(rf.reward(referral).status, "Reversed")
		entries = frappe.get_all(
			"Loyalty Point Entry", filters={"fishpond_referral_reward": name}, pluck="loyalty_points"
		)
		self.assertEqual(sorted(entries), [-100, 100])
		self.assertEqual(rf.points_of(name), 0)
		self.assertEqual(self.states(name)[-1][1], "Reversed")
		self.settle()


# --------------------------------------------------------------------------------------------------
# prospects, welcome rewards, several qualifying invoices


class TestProspectsAndRewards(RuleCase):
	def test_a_prospect_referrers_reward_waits_for_their_customer(self):
		from erpnext.crm.doctype.lead.lead import make_customer

		rf.programme(review_days=0)
		referrer = rf.prospect("_FP Rules Prospect Referrer")
		b, pb = rf.customer_profile("_FP Rules Prospect Referee")
		referral = rf.refer(referrer, pb)
		self.assertAccepted(referral)
		rf.pay(f.sales_invoice(b, rate=300).name)
		row = rf.reward(referral)
		self.assertEqual(
			(row.status, row.reason_code, row.customer), ("Qualified", "awaiting_customer", None)
		)
		self.settle()

		customer = make_customer(frappe.db.get_value("Fishpond Lead", referrer, "lead"))
		customer.insert(ignore_permissions=True)  # the Customer's after_insert runs the referrals
		self.assertEqual(frappe.db.get_value("Fishpond Lead", referrer, "customer"), customer.name)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.customer), ("Posted", customer.name))
		self.assertEqual(rf.points_of(f"{referral}-R1"), 100)
		self.settle()

	def test_a_programme_may_create_the_prospect_referrers_customer(self):
		rf.programme(review_days=0, prospect_rewards="Create Customer")
		referrer = rf.prospect("_FP Rules Prospect Made Referrer")
		b, pb = rf.customer_profile("_FP Rules Prospect Made Referee")
		referral = rf.refer(referrer, pb)
		self.assertFalse(frappe.db.get_value("Fishpond Lead", referrer, "customer"))
		rf.pay(f.sales_invoice(b, rate=300).name)
		customer = frappe.db.get_value("Fishpond Lead", referrer, "customer")
		self.assertTrue(customer)
		self.assertEqual(
			frappe.db.get_value("Customer", customer, "lead_name"),
			frappe.db.get_value("Fishpond Lead", referrer, "lead"),
		)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.customer), ("Posted", customer))
		self.assertEqual(rf.points_of(f"{referral}-R1"), 100)
		self.settle()

	def test_the_referee_gets_a_welcome_coupon(self):
		rf.programme(
			review_days=0, referee_reward_type="Coupon", referee_reward_value=20, coupon_valid_days=60
		)
		a, pa, b, pb = self.pair("Welcome")
		referral = rf.refer(pa, pb)
		self.assertEqual(rf.reward(referral, "Referee").status, "Pending")
		rf.pay(f.sales_invoice(b, rate=300).name)
		welcome = rf.reward(referral, "Referee")
		self.assertEqual((welcome.status, welcome.customer, welcome.kept), ("Posted", b, 20))
		self.assertEqual(welcome.name, f"{referral}-W1")
		coupons = frappe.get_all(
			"Coupon Code",
			filters={"fishpond_referral_reward": welcome.name},
			fields=["coupon_type", "customer", "maximum_use", "pricing_rule"],
		)
		self.assertEqual(len(coupons), 1)
		self.assertEqual(
			(coupons[0].coupon_type, coupons[0].customer, coupons[0].maximum_use), ("Gift Card", b, 1)
		)
		self.assertEqual(frappe.db.get_value("Pricing Rule", coupons[0].pricing_rule, "discount_amount"), 20)
		self.assertEqual((rf.reward(referral).status, rf.reward(referral).customer), ("Posted", a))
		self.assertIsNone(rf.reward(referral, "Referee", 2))
		self.settle()

	def test_the_first_two_paid_invoices_within_the_window_each_earn_a_reward(self):
		rf.programme(review_days=0, qualifying_invoices=2, within_days=30)
		a, pa, b, pb = self.pair("Two Invoices")
		referral = rf.refer(pa, pb)
		invoices = [f.sales_invoice(b, rate=300) for _i in range(3)]
		for si in invoices:
			rf.pay(si.name)
		rows = rf.rewards(referral)
		self.assertEqual(sorted(rows), [f"{referral}-R1", f"{referral}-R2"])
		self.assertEqual(
			{(r.status, r.qualifying_invoice) for r in rows.values()},
			{("Posted", invoices[0].name), ("Posted", invoices[1].name)},
		)
		total = sum(
			frappe.get_all(
				"Loyalty Point Entry",
				filters={"customer": a, "fishpond_referral_reward": ("is", "set")},
				pluck="loyalty_points",
			)
		)
		self.assertEqual(total, 200)  # the third invoice earns nothing
		self.settle()


# --------------------------------------------------------------------------------------------------
# the programme's checks on save


class TestProgrammeValidation(RuleCase):
	def message_of(self, **values) -> str:
		frappe.clear_messages()
		with self.assertRaises(frappe.ValidationError) as caught:
			rf.programme(name="_FP Rules Invalid", **values)
		return str(caught.exception)

	def label(self, fieldname: str) -> str:
		return _(frappe.get_meta("Referral Programme").get_label(fieldname))

	def test_points_need_a_loyalty_program(self):
		message = self.message_of(loyalty_program=None)
		expected = reason_text("programme_needs", {"label": "Loyalty Program"})
		self.assertIn(escape_html(expected), message)
		self.assertIn(escape_html(self.label("loyalty_program")), message)

	def test_a_percent_above_100_names_the_forms_field(self):
		message = self.message_of(referrer_reward_type="Percent as Points", referrer_reward_value=150)
		label = self.label("referrer_reward_value")
		self.assertEqual(label, _("Referrer's Reward Value"))
		expected = reason_text("programme_percent", {"label": label, "value": 150.0})
		self.assertIn(escape_html(expected), message)
		message = self.message_of(referee_reward_type="Percent as Points", referee_reward_value=101)
		self.assertIn(escape_html(self.label("referee_reward_value")), message)
		self.assertIn("101", message)

	def test_programmes_of_one_company_may_not_overlap(self):
		first = rf.programme(name="_FP Rules First")
		second = {
			"doctype": "Referral Programme",
			"programme_name": "_FP Rules Second",
			"company": f.company(),
			"valid_from": nowdate(),
			"referrer_reward_type": "Points",
			"referrer_reward_value": 50,
			"loyalty_program": rf.loyalty_program(),
			"qualifying_invoices": 1,
			"review_days": 0,
		}
		with self.assertRaises(frappe.ValidationError) as caught:
			frappe.get_doc(second).insert(ignore_permissions=True)
		message = str(caught.exception)
		self.assertIn(first, message)
		self.assertIn("_FP Rules Second", message)
		self.assertFalse(frappe.db.exists("Referral Programme", "_FP Rules Second"))
		# one after the other is fine
		frappe.db.set_value("Referral Programme", first, "valid_upto", add_days(nowdate(), -1))
		frappe.get_doc(second).insert(ignore_permissions=True)
		self.assertTrue(frappe.db.exists("Referral Programme", "_FP Rules Second"))


# --------------------------------------------------------------------------------------------------
# follow-up: the thank-you e-mail, the pool and the rep's ToDo


def thank_you_template() -> str:
	template = "_FP Rules Thank You"
	if not frappe.db.exists("Email Template", template):
		frappe.get_doc(
			{
				"doctype": "Email Template",
				"name": template,
				"subject": "Thank you, {{ referrer.lead_name }}",
				"response": "You earned {{ reward.kept }} points for bringing {{ referee.lead_name }}.",
			}
		).insert(ignore_permissions=True)
	return template


def outgoing_email_account(enabled: bool) -> None:
	"""A default outgoing Email Account (never used to send in tests), or none at all."""
	frappe.db.set_value("Email Account", {"default_outgoing": 1}, "default_outgoing", 0)
	if enabled:
		frappe.get_doc(
			{
				"doctype": "Email Account",
				"email_account_name": f"_FP Rules Outgoing {frappe.generate_hash(length=6)}",
				"email_id": "fp-rules-outgoing@example.com",
				"enable_outgoing": 1,
				"default_outgoing": 1,
				"smtp_server": "smtp.example.com",
				"password": "not-used",
			}
		).insert(ignore_permissions=True)
	frappe.local.outgoing_email_account = {}  # Frappe's per-request cache of the account


class TestFollowUp(RuleCase):
	def tearDown(self):
		frappe.local.outgoing_email_account = {}

	def test_the_referrer_is_thanked_once_when_the_reward_posts(self):
		outgoing_email_account(True)
		template = thank_you_template()
		rf.programme(review_days=3, thank_you_template=template)
		email = "fp-rules-thanks@example.com"
		_a, pa = rf.customer_profile("_FP Rules Thanked Referrer", email_id=email)
		b, pb = rf.customer_profile("_FP Rules Thanked Referee")
		referral = rf.refer(pa, pb)
		rf.pay(f.sales_invoice(b, rate=300).name)
		name = f"{referral}-R1"
		queued = {"reference_doctype": "Referral Reward", "reference_name": name}
		self.assertFalse(frappe.db.exists("Email Queue", queued))  # not before it posts
		with self.freeze_time(add_days(nowdate(), 3)):
			rf.run()
			self.assertEqual(rf.reward(referral).status, "Posted")
			mails = frappe.get_all("Email Queue", filters=queued, pluck="name")
			self.assertEqual(len(mails), 1)
			recipients = frappe.get_all(
				"Email Queue Recipient", filters={"parent": mails[0]}, pluck="recipient"
			)
			self.assertEqual(recipients, [email])
			self.settle()

	def test_without_an_outgoing_email_account_the_reward_still_posts(self):
		outgoing_email_account(False)
		rf.programme(review_days=0, thank_you_template=thank_you_template())
		_a, pa = rf.customer_profile(
			"_FP Rules Unthanked Referrer", email_id="fp-rules-unthanked@example.com"
		)
		b, pb = rf.customer_profile("_FP Rules Unthanked Referee")
		referral = rf.refer(pa, pb)
		rf.pay(f.sales_invoice(b, rate=300).name)
		name = f"{referral}-R1"
		self.assertEqual(rf.reward(referral).status, "Posted")
		self.assertEqual(rf.points_of(name), 100)
		self.assertFalse(frappe.db.exists("Email Queue", {"reference_name": name}))
		self.assertTrue(
			frappe.db.exists("Error Log", {"reference_doctype": "Referral Reward", "reference_name": name})
		)
		self.settle()

	def test_a_new_unclaimed_referee_lands_in_the_referrers_pool_with_a_todo_for_its_rep(self):
		mine = pf.pool("_FP Rules Pool Mine")
		other = pf.pool("_FP Rules Pool Other")
		rep = pf.rep("fp-rules-owner@example.com", pools=[mine])
		someone = pf.rep("fp-rules-someone@example.com", pools=[other])
		_a, referrer = rf.customer_profile("_FP Rules Follow Referrer")
		frappe.db.set_value("Fishpond Lead", referrer, {"lead_owner": rep, "fishpond": mine})
		referrer_name = frappe.db.get_value("Fishpond Lead", referrer, "lead_name")
		rf.programme()
		referee = pf.lead("_FP Rules Follow Referee", other)
		rf.refer(referrer, referee)
		row = frappe.db.get_value("Fishpond Lead", referee, ["fishpond", "lead_owner"], as_dict=True)
		self.assertEqual((row.fishpond, row.lead_owner), (mine, None))
		todo = {"reference_type": "Fishpond Lead", "reference_name": referee, "status": "Open"}
		todos = frappe.get_all("ToDo", filters=todo, fields=["allocated_to", "description"])
		self.assertEqual([t.allocated_to for t in todos], [rep])
		self.assertIn(referrer_name, todos[0].description)
		rf.refer(referrer, referee)  # recorded again: nothing new
		self.assertEqual(frappe.db.count("ToDo", todo), 1)

		# a lead someone already claimed stays with them, and nobody else is asked to call
		claimed = pf.lead("_FP Rules Follow Claimed", other, owner=someone)
		rf.refer(referrer, claimed)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", claimed, "fishpond"), other)
		self.assertFalse(
			frappe.db.exists("ToDo", {"reference_name": claimed, "reference_type": "Fishpond Lead"})
		)
		self.settle()


# --------------------------------------------------------------------------------------------------
# who sees what, and bad input


class TestPermissions(RuleCase):
	def owned_pair(self, tag: str, owner: str, pool: str):
		a, pa, b, pb = self.pair(tag)
		for profile in (pa, pb):
			frappe.db.set_value("Fishpond Lead", profile, {"lead_owner": owner, "fishpond": pool})
		return a, pa, b, pb

	def test_reps_see_the_referrals_of_their_profiles_and_accountants_see_every_reward(self):
		rf.programme(review_days=0)
		pool = pf.pool("_FP Rules Perm Pool")
		rep = pf.rep("fp-rules-perm-rep@example.com", pools=[pool])
		other_rep = pf.rep("fp-rules-perm-other@example.com", pools=[pool])
		accountant = pf.user("fp-rules-accounts@example.com", ["Accounts User"])
		_a, pa, b, pb = self.owned_pair("Perm Mine", rep, pool)
		_c, pc, d, pd = self.owned_pair("Perm Theirs", other_rep, pool)
		mine, theirs = rf.refer(pa, pb), rf.refer(pc, pd)
		rf.pay(f.sales_invoice(b, rate=300).name)
		rf.pay(f.sales_invoice(d, rate=300).name)
		_e, pe = rf.customer_profile("_FP Rules Perm Their New")
		_g, pg = rf.customer_profile("_FP Rules Perm My New")
		frappe.db.set_value("Fishpond Lead", pe, {"lead_owner": other_rep, "fishpond": pool})
		frappe.db.set_value("Fishpond Lead", pg, {"lead_owner": rep, "fishpond": pool})
		code = rf.code_of(pa)

		frappe.set_user(rep)
		self.assertEqual(frappe.get_list("Fishpond Referral", pluck="name"), [mine])
		self.assertEqual(frappe.get_list("Referral Reward", pluck="name"), [f"{mine}-R1"])
		self.assertFalse(frappe.has_permission("Referral Reward", "read", f"{theirs}-R1"))
		count = frappe.db.count("Fishpond Referral")
		with self.assertRaises(frappe.PermissionError):
			api.record(pe, code=code)
		self.assertEqual(frappe.db.count("Fishpond Referral"), count)
		with self.assertRaises(frappe.PermissionError):
			api.record(pg, referrer=pc)  # a referrer they cannot read
		self.assertEqual(frappe.db.count("Fishpond Referral"), count)
		recorded = api.record(pg, code=code)  # their own profile: fine
		self.assertEqual(
			frappe.db.get_value("Fishpond Referral", recorded, ["referrer", "referee"]), (pa, pg)
		)

		frappe.set_user(accountant)
		self.assertEqual(
			sorted(frappe.get_list("Referral Reward", pluck="name")),
			sorted([f"{mine}-R1", f"{theirs}-R1", f"{recorded}-R1"]),
		)
		self.assertTrue(frappe.has_permission("Referral Reward", "read", f"{theirs}-R1"))
		frappe.set_user("Administrator")
		self.settle()

	def test_the_whitelisted_apis_refuse_bad_input_cleanly_and_write_nothing(self):
		rf.programme(review_days=0)
		_a, pa, _b, pb = self.pair("Fuzz")
		referral = rf.refer(pa, pb)
		code = rf.code_of(pa)
		_c, fresh = rf.customer_profile("_FP Rules Fuzz Fresh")
		frappe.db.set_value("Fishpond Lead", fresh, "referral_code", None)
		long = "x" * 10000
		names = [None, "", " ", 0, 7, True, 1.5, {}, {"name": referral}, [], [referral], long, "FPR-99999"]
		names += ["' or 1=1 --", "%", "Administrator", f"{referral}-R1", pa]
		reasons = [None, "", "   ", 0, True, {}, {"a": 1}, [], ["why"], "y" * (api.MAX_REASON + 1), long]
		calls = []
		for v in names:
			calls += [
				("override", api.override, (v, "a fine reason"), {}),
				("cancel", api.cancel, (v, "a fine reason"), {}),
				("run_now", api.run_now, (v,), {}),
				("record code", api.record, (fresh,), {"code": v}),
			]
			if v != pa:  # a real profile: these would be fine
				calls += [
					("referral_code", api.referral_code, (v,), {}),
					("record referee", api.record, (v,), {"code": code}),
					("record referrer", api.record, (fresh,), {"referrer": v}),
				]
		for v in reasons:
			calls += [
				("override reason", api.override, (referral, v), {}),
				("cancel reason", api.cancel, (referral, v), {}),
			]
		rep = pf.rep("fp-rules-fuzz-rep@example.com")
		before = snapshot()
		wrong = []
		for user in ("Administrator", rep):
			frappe.set_user(user)
			for label, fn, args, kwargs in calls:
				try:
					fn(*args, **kwargs)
				except API_ERRORS:
					pass
				except Exception as e:  # the point of the test: any other exception is a bug
					wrong.append(f"{user} {label}({str(args)[:60]}, {kwargs}): {type(e).__name__}: {e}"[:300])
				else:
					wrong.append(f"{user} {label}({str(args)[:60]}, {kwargs}) raised nothing"[:300])
				finally:
					frappe.clear_messages()
		frappe.set_user("Administrator")
		self.assertEqual(wrong, [])
		self.assertEqual(snapshot(), before)
		self.settle()


# --------------------------------------------------------------------------------------------------
# the report and the profile


class TestReportAndProfile(RuleCase):
	def test_the_report_and_the_profile_show_a_small_programme(self):
		from crm_fishpond.crm_fishpond.report.fishpond_referrals.fishpond_referrals import execute
		from crm_fishpond.profile.summary import referral_figures

		rf.programme(review_days=0)
		_a, pa = rf.customer_profile("_FP Rules Report Referrer", tax_id="FP-RULES-4242")
		b, pb = rf.customer_profile("_FP Rules Report Paid")
		_c, pc = rf.customer_profile("_FP Rules Report Waiting")
		_d, pd = rf.customer_profile("_FP Rules Report Self", tax_id="fp rules 4242")
		e, pe = rf.customer_profile("_FP Rules Report Returned")
		x, px = rf.customer_profile("_FP Rules Report Debtor")
		y, py = rf.customer_profile("_FP Rules Report Debtor Referee")
		paid, unpaid, refused, returned = (rf.refer(pa, p) for p in (pb, pc, pd, pe))
		owed = rf.refer(px, py)
		rf.pay(f.sales_invoice(b, rate=300).name)
		si_e = f.sales_invoice(e, rate=500)
		rf.pay(si_e.name)
		f.credit_note(si_e.name)
		si_y = f.sales_invoice(y, rate=300)
		rf.pay(si_y.name)
		rf.redeem(x, 60)
		f.credit_note(si_y.name)
		self.assertEqual(
			[rf.reward(r).status for r in (paid, unpaid, refused, returned, owed)],
			["Posted", "Pending", "Refused", "Reversed", "Reversed"],
		)

		rows = execute({"company": f.company()})[1]
		got = {r["referrer"]: r for r in rows}
		self.assertEqual(set(got), {pa, px})
		keys = (
			"referrals",
			"accepted",
			"refused",
			"converted",
			"paid_revenue",
			"points_posted",
			"reversed",
			"pending",
			"debt_amount",
		)
		self.assertEqual(
			{k: got[pa][k] for k in keys}, dict(zip(keys, (4, 3, 1, 2, 300, 100, 1, 1, 0), strict=True))
		)
		self.assertEqual(
			{k: got[px][k] for k in keys}, dict(zip(keys, (1, 1, 0, 1, 0, 0, 1, 0, 60), strict=True))
		)
		self.assertAlmostEqual(got[pa]["conversion"], 200 / 3)
		self.assertEqual(rows[0]["referrer"], pa)  # the most paid revenue first

		figures = referral_figures(pa)
		self.assertIsNone(figures["referred_by"])
		self.assertEqual(
			{(r["profile"], r["status"]) for r in figures["referred"]},
			{(pb, "Accepted"), (pc, "Accepted"), (pd, "Refused"), (pe, "Accepted")},
		)
		rewards = {r["status"]: r for r in figures["rewards"]}
		self.assertEqual(set(rewards), {"Posted", "Pending", "Refused", "Reversed"})
		self.assertEqual((rewards["Posted"]["kept"], rewards["Posted"]["count"]), (100, 1))
		self.assertEqual(figures["debt"], 0)
		referee = referral_figures(pb)
		self.assertEqual((referee["referred_by"]["profile"], referee["referred_by"]["referral"]), (pa, paid))
		self.assertEqual(referee["referred"], [])
		self.assertIsNone(referral_figures(pd)["referred_by"])  # a refused referral names nobody
		self.assertEqual(referral_figures(px)["debt"], 60)
		self.settle()


# --------------------------------------------------------------------------------------------------
# idempotence


class TestIdempotence(RuleCase):
	def test_replaying_payments_cancellations_and_returns_changes_nothing(self):
		rf.programme(review_days=0, referee_reward_type="Coupon", referee_reward_value=20)
		_a, pa, b, pb = self.pair("Replay")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=1000, qty=2)
		pe = rf.pay(si.name)
		self.settle()
		pe.reload()
		pe.cancel()  # reversed
		self.assertEqual(rf.reward(referral).status, "Reversed")
		self.settle()
		rf.pay(si.name)  # posted again
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		ret = make_sales_return(si.name)
		ret.items[0].qty = -1
		ret.insert(ignore_permissions=True)
		ret.submit()  # halved
		row = rf.reward(referral)
		self.assertEqual((row.status, row.reason_code, row.kept), ("Posted", "reduced", 50))
		self.settle()
		# replaying the payment ledger rows of a cancelled payment again, twice
		self.replay()
		self.replay()
		self.settle()
		# a referral recorded twice (a replayed capture) is the same referral
		self.assertEqual(rf.refer(pa, pb), referral)
		self.settle()

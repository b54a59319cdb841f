"""Referral rewards on a real site: capture, qualification on payment, the review period, posting to
Loyalty Point Entries and Coupon Codes, claw-back and debts, idempotence and reconciliation.

Fraud rules, caps, prospects and the manager's actions: test_referral_rules.py. Hundreds of random
operations: test_referrals_random.py."""

from __future__ import annotations

import frappe
from frappe.utils import add_days, getdate, nowdate

from crm_fishpond.referrals import codes
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import referral_factories as rf
from crm_fishpond.tests.utils import FishpondTestCase

test_ignore = ["Sales Invoice", "Coupon Code", "Loyalty Point Entry", "Loyalty Program"]


def forget_referrals() -> None:
	"""Referrals other tests (or runs) left on the site are set aside inside this test's transaction:
	the run plans the whole company."""
	for doctype in ("Fishpond Referral", "Referral Reward", "Referral Reward Log"):
		frappe.db.delete(doctype)
	frappe.db.delete("Loyalty Point Entry", {"fishpond_referral_reward": ("is", "set")})
	frappe.db.delete("Coupon Code", {"fishpond_referral_reward": ("is", "set")})


def pos_profile() -> str:
	"""A POS Profile of the test company paying in Cash (ERPNext's POS invoices need one)."""
	company = f.company()
	name = "_FP Referral POS"
	if frappe.db.exists("POS Profile", name):
		return name
	cash = frappe.get_cached_value("Company", company, "default_cash_account")
	mode = frappe.get_doc("Mode of Payment", "Cash")
	if not any(a.company == company for a in mode.accounts):
		mode.append("accounts", {"company": company, "default_account": cash})
		mode.save(ignore_permissions=True)
	doc = frappe.get_doc(
		{
			"doctype": "POS Profile",
			"name": name,
			"company": company,
			"currency": f.company_currency(),
			"cost_center": frappe.get_cached_value("Company", company, "cost_center"),
			"income_account": frappe.get_cached_value("Company", company, "default_income_account"),
			"expense_account": frappe.get_cached_value("Company", company, "default_expense_account"),
			"write_off_account": frappe.get_cached_value("Company", company, "write_off_account")
			or frappe.db.get_value("Account", {"company": company, "account_type": "Round Off"}),
			"write_off_cost_center": frappe.get_cached_value("Company", company, "cost_center"),
			"warehouse": frappe.db.get_value("Warehouse", {"company": company, "is_group": 0}),
			"selling_price_list": frappe.db.get_value("Price List", {"selling": 1}),
			"payments": [{"mode_of_payment": "Cash", "default": 1}],
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


class ReferralCase(FishpondTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		forget_referrals()

	@classmethod
	def tearDownClass(cls):
		frappe.set_user("Administrator")
		super().tearDownClass()

	def pair(self, tag: str, **customer_values):
		"""A referrer and a referee, both customers: (referrer customer, referrer profile, referee
		customer, referee profile)."""
		a, pa = rf.customer_profile(f"_FP Ref {tag} Referrer")
		b, pb = rf.customer_profile(f"_FP Ref {tag} Referee", **customer_values)
		return a, pa, b, pb

	def assertReconciled(self, today=None):
		self.assertEqual(rf.reconcile(today), [])
		self.assertEqual(rf.run(today), {"referrals": 0, "rewards": 0, "ledger_rows": 0})

	def states(self, reward_name: str) -> list[tuple]:
		return frappe.get_all(
			"Referral Reward Log",
			filters={"parent": reward_name},
			fields=["old_state", "new_state"],
			order_by="idx asc",
			as_list=True,
		)


class TestCapture(ReferralCase):
	def test_every_capture_path_records_a_referral_and_the_first_valid_one_wins(self):
		from crm_fishpond.api import capture as public
		from crm_fishpond.api import referrals as api

		rf.programme()
		_a, referrer = rf.customer_profile("_FP Ref Capture Referrer")
		code = rf.code_of(referrer)
		self.assertEqual(codes.normalise(code.lower().replace("-", " ")), code)
		self.assertIn(codes.SHARE_FIELD + "=" + code, codes.share_link(code))

		# the shared link: the public sign-up page records the code
		frappe.set_user("Guest")
		public.submit_lead(
			first_name="Linked", email="fp-ref-linked@example.com", referral_code=code, consent=1
		)
		frappe.set_user("Administrator")
		lead = frappe.db.get_value("Lead", {"email_id": "fp-ref-linked@example.com"})
		linked = frappe.db.get_value("Fishpond Lead", {"lead": lead})
		# a Lead typed in Desk, a Sales Order, a Sales Invoice, and a rep on the profile
		desk_lead = f.lead("_FP Ref Desk Lead", fishpond_referral_code=code)
		desk = frappe.db.get_value("Fishpond Lead", {"lead": desk_lead})
		c_order, p_order = rf.customer_profile("_FP Ref Order Customer")
		order = f.sales_order(c_order, submit=False)
		order.fishpond_referral_code = code
		order.save()
		order.submit()
		c_inv, p_inv = rf.customer_profile("_FP Ref Invoice Customer")
		inv = f.sales_invoice(c_inv, submit=False)
		inv.fishpond_referral_code = code
		inv.save()
		inv.submit()
		_c, p_rep = rf.customer_profile("_FP Ref Rep Customer")
		api.record(p_rep, code=code)

		got = {
			r.referee: r
			for r in frappe.get_all(
				"Fishpond Referral", fields=["referee", "referrer", "source", "source_name", "status"]
			)
		}
		self.assertEqual(got[linked].source, "Referral Link")
		self.assertEqual(got[desk].source, "Lead")
		self.assertEqual((got[p_order].source, got[p_order].source_name), ("Sales Order", order.name))
		self.assertEqual((got[p_inv].source, got[p_inv].source_name), ("Sales Invoice", inv.name))
		self.assertEqual(got[p_rep].source, "Rep")
		for row in got.values():
			self.assertEqual((row.referrer, row.status), (referrer, "Accepted"))
		self.assertEqual(frappe.db.get_value("Fishpond Lead", p_rep, "referred_by"), referrer)

		# a second referrer of the same referee is recorded and refused, naming the first
		_z, other = rf.customer_profile("_FP Ref Capture Other")
		second = rf.refer(other, p_rep)
		row = frappe.db.get_value("Fishpond Referral", second, ["status", "rule", "reason"], as_dict=True)
		self.assertEqual((row.status, row.rule), ("Refused", "duplicate_referee"))
		self.assertIn(got[p_rep].get("name") or "", row.reason)
		# the same pair again records nothing new
		count = frappe.db.count("Fishpond Referral")
		self.assertEqual(rf.refer(other, p_rep), second)
		self.assertEqual(frappe.db.count("Fishpond Referral"), count)

	def test_referred_by_follows_the_accepted_referral(self):
		from crm_fishpond.api import referrals as api

		rf.programme()
		_a, pa, _b, pb = self.pair("Referred By")
		referral = rf.refer(pa, pb)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", pb, "referred_by"), pa)
		api.cancel(referral, "entered by mistake")
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", pb, "referred_by"))
		# a Referred By set by hand for someone else is not the run's to clear
		_c, pc = rf.customer_profile("_FP Ref Referred By Other")
		frappe.db.set_value("Fishpond Lead", pb, "referred_by", pc)
		rf.run()
		self.assertEqual(frappe.db.get_value("Fishpond Lead", pb, "referred_by"), pc)

	def test_an_unknown_code_is_refused_with_a_clear_error_and_nothing_is_written(self):
		rf.programme()
		leads = frappe.db.count("Lead")
		with self.assertRaisesRegex(frappe.ValidationError, "not known"):
			f.lead("_FP Ref Bad Code Lead", fishpond_referral_code="ZZZZ-ZZZZ")
		self.assertEqual(frappe.db.count("Lead"), leads)
		c, _p = rf.customer_profile("_FP Ref Bad Code Customer")
		inv = f.sales_invoice(c, submit=False)
		inv.fishpond_referral_code = "not a code"
		with self.assertRaisesRegex(frappe.ValidationError, "not known"):
			inv.save()
		self.assertEqual(frappe.db.count("Fishpond Referral"), 0)

	def test_customers_get_a_code_and_prospects_get_one_on_demand(self):
		from crm_fishpond.api import referrals as api

		_c, customer = rf.customer_profile("_FP Ref Auto Code")
		self.assertTrue(codes.normalise(frappe.db.get_value("Fishpond Lead", customer, "referral_code")))
		prospect = rf.prospect("_FP Ref Prospect Code")
		self.assertFalse(frappe.db.get_value("Fishpond Lead", prospect, "referral_code"))
		got = api.referral_code(prospect)
		self.assertEqual(got["code"], frappe.db.get_value("Fishpond Lead", prospect, "referral_code"))
		self.assertEqual(api.referral_code(prospect)["code"], got["code"])


class TestQualification(ReferralCase):
	def test_only_a_fully_paid_invoice_qualifies_and_the_reward_posts_after_review(self):
		rf.programme(review_days=14)
		a, pa, b, pb = self.pair("Paid")
		referral = rf.refer(pa, pb)
		name = f"{referral}-R1"
		self.assertEqual(rf.reward(referral).reason_code, "awaiting_invoice")
		si = f.sales_invoice(b, rate=300)
		self.assertEqual(
			(rf.reward(referral).status, rf.reward(referral).reason_code), ("Pending", "awaiting_payment")
		)
		rf.pay(si.name, amount=100)  # partly paid: still pending
		self.assertEqual(rf.reward(referral).reason_code, "awaiting_payment")
		rf.pay(si.name)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.reason_code), ("Qualified", "awaiting_review"))
		self.assertEqual(
			(getdate(row.paid_on), getdate(row.post_on)), (getdate(), getdate(add_days(nowdate(), 14)))
		)
		self.assertEqual(rf.points_of(name), 0)
		with self.freeze_time(add_days(nowdate(), 13)):
			rf.run()
			self.assertEqual(rf.reward(referral).status, "Qualified")
		with self.freeze_time(add_days(nowdate(), 14)):
			rf.run()
			row = rf.reward(referral)
			self.assertEqual((row.status, row.kept, row.customer), ("Posted", 100, a))
			self.assertEqual(rf.points_of(name), 100)
			entry = frappe.get_all(
				"Loyalty Point Entry",
				filters={"fishpond_referral_reward": name},
				fields=[
					"customer",
					"invoice_type",
					"invoice",
					"purchase_amount",
					"posting_date",
					"expiry_date",
					"loyalty_program",
				],
			)[0]
			self.assertEqual((entry.customer, entry.invoice_type, entry.invoice), (a, "Sales Invoice", None))
			self.assertEqual(entry.purchase_amount, 0)
			self.assertEqual(entry.loyalty_program, frappe.db.get_value("Customer", a, "loyalty_program"))
			self.assertEqual(getdate(entry.expiry_date), getdate(add_days(entry.posting_date, 365)))
			self.assertEqual([s[1] for s in self.states(name)], ["Pending", "Pending", "Qualified", "Posted"])
			self.assertReconciled()

	def test_a_payment_cancelled_before_posting_unqualifies_and_after_posting_reverses(self):
		rf.programme(review_days=14)
		_a, pa, b, pb = self.pair("Cancel Pay")
		referral = rf.refer(pa, pb, referred_on=add_days(nowdate(), -30))
		name = f"{referral}-R1"
		si = f.sales_invoice(b, rate=300, posting_date=add_days(nowdate(), -20))
		pe = rf.pay(si.name, posting_date=add_days(nowdate(), -15))
		self.assertEqual(rf.reward(referral).status, "Posted")  # paid 15 days ago: review over
		self.assertEqual(rf.points_of(name), 100)
		pe.reload()
		pe.cancel()
		row = rf.reward(referral)
		self.assertEqual(row.status, "Reversed")
		self.assertEqual(rf.points_of(name), 0)
		rf.pay(si.name)  # paid again today: a new review period
		row = rf.reward(referral)
		self.assertEqual((row.status, row.reason_code), ("Qualified", "awaiting_review"))
		self.assertEqual(rf.points_of(name), 0)
		self.assertReconciled()

		# cancelled before posting: back to waiting for payment, nothing ever posted
		_c, pc, d, pd = self.pair("Cancel Early")
		early = rf.refer(pc, pd)
		si2 = f.sales_invoice(d, rate=300)
		pe2 = rf.pay(si2.name)
		self.assertEqual(rf.reward(early).status, "Qualified")
		pe2.reload()
		pe2.cancel()
		row = rf.reward(early)
		self.assertEqual((row.status, row.reason_code), ("Pending", "awaiting_payment"))
		self.assertFalse(frappe.db.exists("Loyalty Point Entry", {"fishpond_referral_reward": f"{early}-R1"}))
		self.assertReconciled()

	def test_a_journal_entry_or_an_allocated_advance_pays_an_invoice_too(self):
		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("Journal")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=300)
		company = f.company()
		je = frappe.get_doc(
			{
				"doctype": "Journal Entry",
				"company": company,
				"posting_date": nowdate(),
				"accounts": [
					{
						"account": si.debit_to,
						"party_type": "Customer",
						"party": b,
						"credit_in_account_currency": 300,
						"reference_type": "Sales Invoice",
						"reference_name": si.name,
					},
					{
						"account": frappe.get_cached_value("Company", company, "default_cash_account"),
						"debit_in_account_currency": 300,
					},
				],
			}
		).insert(ignore_permissions=True)
		je.submit()
		self.assertEqual(rf.reward(referral).status, "Posted")
		je.reload()
		je.cancel()
		self.assertEqual(rf.reward(referral).status, "Reversed")

		# an advance received first, allocated to the invoice later (Payment Reconciliation)
		_c, pc, d, pd = self.pair("Advance")
		early = rf.refer(pc, pd)
		si2 = f.sales_invoice(d, rate=200)
		advance = frappe.get_doc(
			{
				"doctype": "Payment Entry",
				"payment_type": "Receive",
				"company": company,
				"party_type": "Customer",
				"party": d,
				"paid_from": si2.debit_to,
				"paid_to": frappe.get_cached_value("Company", company, "default_cash_account"),
				"paid_amount": 200,
				"received_amount": 200,
				"reference_no": "FP-ADV",
				"reference_date": nowdate(),
			}
		).insert(ignore_permissions=True)
		advance.submit()
		self.assertEqual(rf.reward(early).reason_code, "awaiting_payment")
		pr = frappe.get_doc("Payment Reconciliation")
		pr.company = company
		pr.party_type = "Customer"
		pr.party = d
		pr.receivable_payable_account = si2.debit_to
		pr.get_unreconciled_entries()
		pr.allocate_entries(
			frappe._dict(
				invoices=[x.as_dict() for x in pr.invoices if x.invoice_number == si2.name],
				payments=[x.as_dict() for x in pr.payments if x.reference_name == advance.name],
			)
		)
		pr.reconcile()
		self.assertEqual(frappe.db.get_value("Sales Invoice", si2.name, "outstanding_amount"), 0)
		self.assertEqual(rf.reward(early).status, "Posted")
		self.assertReconciled()

	def test_a_pos_invoice_paid_at_the_till_qualifies_at_once(self):
		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("POS")
		referral = rf.refer(pa, pb)
		si = frappe.get_doc(
			{
				"doctype": "Sales Invoice",
				"company": f.company(),
				"customer": b,
				"is_pos": 1,
				"pos_profile": pos_profile(),
				"posting_date": nowdate(),
				"due_date": nowdate(),
				"debit_to": f.receivable_account(f.company_currency()),
				"items": [{"item_code": f.make_item(), "qty": 1, "rate": 300}],
				"payments": [{"mode_of_payment": "Cash", "amount": 300}],
			}
		)
		si.insert(ignore_permissions=True)
		si.submit()
		self.assertEqual(frappe.db.get_value("Sales Invoice", si.name, "outstanding_amount"), 0)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.qualifying_invoice), ("Posted", si.name))
		self.assertReconciled()

	def test_a_walk_in_invoice_attributed_to_the_referee_qualifies_and_undoing_unqualifies(self):
		rf.programme(review_days=0)
		_a, pa, _b, pb = self.pair("Walk-in")
		referral = rf.refer(pa, pb)
		walk_in = f.customer("_FP Ref Walk-in Customer")
		si = f.sales_invoice(walk_in, rate=300)
		rf.pay(si.name)
		self.assertEqual(rf.reward(referral).reason_code, "awaiting_invoice")  # not the referee's yet
		attribution = frappe.get_doc(
			{
				"doctype": "Fishpond Invoice Attribution",
				"voucher_type": "Sales Invoice",
				"voucher_no": si.name,
				"to_profile": pb,
				"reason": "the referee paid at the counter",
			}
		).insert()
		attribution.submit()
		row = rf.reward(referral)
		self.assertEqual((row.status, row.qualifying_invoice), ("Posted", si.name))
		self.assertReconciled()
		attribution.undo_reason = "another person"
		attribution.cancel()
		row = rf.reward(referral)
		self.assertNotEqual(row.status, "Posted")
		self.assertEqual(rf.points_of(f"{referral}-R1"), 0)
		self.assertReconciled()

	def test_an_amended_invoice_is_followed(self):
		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("Amend")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=300)
		amended = f.amend(si)
		self.assertEqual(rf.reward(referral).qualifying_invoice, amended.name)
		rf.pay(amended.name)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.qualifying_invoice), ("Posted", amended.name))
		self.assertReconciled()

	def test_a_foreign_currency_invoice_qualifies_by_its_company_currency_amount(self):
		rf.programme(
			review_days=0,
			minimum_amount=500,
			referrer_reward_type="Percent as Points",
			referrer_reward_value=10,
		)
		currency = "EUR" if f.company_currency() != "EUR" else "USD"
		_a, pa, b, pb = self.pair("Currency", currency=currency)
		referral = rf.refer(pa, pb)
		# compared in company currency: 200 x 2 = 400 is below the minimum of 500, 300 x 2 = 600 is not
		small = f.sales_invoice(b, rate=200, currency=currency, conversion_rate=2)
		rf.pay(small.name)
		self.assertEqual(rf.reward(referral).reason_code, "below_minimum")
		big = f.sales_invoice(b, rate=300, currency=currency, conversion_rate=2)
		rf.pay(big.name)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.qualifying_invoice, row.kept), ("Posted", big.name, 60))
		self.assertReconciled()


class TestClawBack(ReferralCase):
	def half_return(self, invoice: str):
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		ret = make_sales_return(invoice)
		for item in ret.items:
			item.qty = item.qty / 2
		ret.insert(ignore_permissions=True)
		ret.submit()
		return ret

	def test_points_are_reduced_in_proportion_before_and_after_posting(self):
		rf.programme(review_days=0, referrer_reward_type="Percent as Points", referrer_reward_value=10)
		_a, pa, b, pb = self.pair("Return After")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=1000, qty=2)
		rf.pay(si.name)
		name = f"{referral}-R1"
		self.assertEqual(rf.points_of(name), 200)
		ret = self.half_return(si.name)
		row = rf.reward(referral)
		self.assertEqual((row.status, row.reason_code, row.kept), ("Posted", "reduced", 100))
		self.assertIn(ret.name, row.credit_notes)
		self.assertEqual(rf.points_of(name), 100)
		negative = frappe.get_all(
			"Loyalty Point Entry",
			filters={"fishpond_referral_reward": name, "loyalty_points": ("<", 0)},
			fields=["loyalty_points", "redeem_against"],
		)
		self.assertEqual([n.loyalty_points for n in negative], [-100])
		self.assertTrue(negative[0].redeem_against)
		ret.reload()
		ret.cancel()  # the return cancelled: the reward comes back
		self.assertEqual(rf.points_of(name), 200)
		self.assertReconciled()

		rf.programme(
			name="_FP Referral Review",
			review_days=14,
			referrer_reward_type="Percent as Points",
			referrer_reward_value=10,
		)
		_c, pc, d, pd = self.pair("Return Before")
		early = rf.refer(pc, pd)
		si2 = f.sales_invoice(d, rate=1000, qty=2)
		rf.pay(si2.name)
		self.half_return(si2.name)
		self.assertEqual(rf.reward(early).status, "Qualified")
		self.assertEqual(rf.points_of(f"{early}-R1"), 0)
		with self.freeze_time(add_days(nowdate(), 14)):
			rf.run()
			self.assertEqual((rf.reward(early).status, rf.reward(early).kept), ("Posted", 100))
			self.assertEqual(rf.points_of(f"{early}-R1"), 100)

	def test_an_invoice_from_before_the_reward_enrolled_the_customer_can_still_be_returned(self):
		rf.programme(review_days=0, referee_reward_type="Points", referee_reward_value=50)
		_a, pa, b, pb = self.pair("Enrolled")
		referral = rf.refer(pa, pb)
		self.assertFalse(frappe.db.get_value("Customer", b, "loyalty_program"))
		si = f.sales_invoice(b, rate=300)
		rf.pay(si.name)
		# the welcome points enrolled the referee in the Loyalty Program after the invoice was made
		self.assertEqual(rf.points_of(f"{referral}-W1"), 50)
		self.assertTrue(frappe.db.get_value("Customer", b, "loyalty_program"))
		ret = f.credit_note(si.name)  # ERPNext alone refuses this: "Loyalty Program None not found"
		self.assertFalse(ret.loyalty_program)
		self.assertEqual(rf.reward(referral, "Referee").status, "Reversed")
		ret.reload()
		ret.cancel()
		self.assertEqual(rf.reward(referral, "Referee").status, "Posted")
		self.assertReconciled()

	def test_redeemed_points_taken_back_by_a_return_become_a_recorded_debt(self):
		rf.programme(review_days=0)
		a, pa, b, pb = self.pair("Debt")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=300)
		rf.pay(si.name)
		name = f"{referral}-R1"
		self.assertEqual(rf.points_of(name), 100)
		rf.redeem(a, 60)
		f.credit_note(si.name)  # a full return: the reward is taken back
		row = rf.reward(referral)
		self.assertEqual(row.status, "Reversed")
		self.assertEqual((row.debt_points, row.debt_amount), (60, 60))
		# only the 40 unredeemed points were reversed; ERPNext's balance never goes below zero
		self.assertEqual(rf.points_of(name), 60)
		from crm_fishpond.profile.summary import referral_figures

		self.assertEqual(referral_figures(pa)["debt"], 60)
		self.assertReconciled()

	def test_a_coupon_is_replaced_when_reduced_and_a_used_coupon_becomes_debt(self):
		rf.programme(
			review_days=0, referrer_reward_type="Coupon", referrer_reward_value=50, coupon_valid_days=90
		)
		a, pa, b, pb = self.pair("Coupon")
		referral = rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=400, qty=2)
		rf.pay(si.name)
		name = f"{referral}-R1"
		coupons = frappe.get_all(
			"Coupon Code", filters={"fishpond_referral_reward": name}, fields=["*"], order_by="creation asc"
		)
		self.assertEqual(len(coupons), 1)
		first = coupons[0]
		self.assertEqual((first.coupon_type, first.customer, first.maximum_use), ("Gift Card", a, 1))
		rule = frappe.get_doc("Pricing Rule", first.pricing_rule)
		self.assertTrue(rule.coupon_code_based)
		self.assertEqual(rule.discount_amount, 50)
		self.assertEqual(getdate(first.valid_upto), getdate(add_days(nowdate(), 90)))

		TestClawBack.half_return(self, si.name)
		coupons = frappe.get_all(
			"Coupon Code", filters={"fishpond_referral_reward": name}, fields=["*"], order_by="creation asc"
		)
		self.assertEqual(len(coupons), 2)
		self.assertTrue(coupons[0].fishpond_withdrawn)
		self.assertLess(getdate(coupons[0].valid_upto), getdate())
		self.assertEqual(frappe.db.get_value("Pricing Rule", coupons[1].pricing_rule, "discount_amount"), 25)
		self.assertEqual(rf.reward(referral).kept, 25)

		order = rf.use_coupon(a, coupons[1].name)
		self.assertEqual(order.discount_amount, 25)
		self.assertEqual(frappe.db.get_value("Coupon Code", coupons[1].name, "used"), 1)
		# the rest of the referee's invoice returned: the used coupon cannot be taken back
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		rest = make_sales_return(si.name)
		rest.insert(ignore_permissions=True)
		rest.submit()
		row = rf.reward(referral)
		self.assertEqual((row.status, row.debt_amount), ("Reversed", 25))
		self.assertReconciled()


class TestReferralReport(ReferralCase):
	def test_the_report_totals_paid_revenue_by_referrer_filters_by_pool_and_charts_it(self):
		from crm_fishpond.crm_fishpond.report.fishpond_referrals.fishpond_referrals import execute

		rf.programme(review_days=0)
		_a, pa, b, pb = self.pair("Report")
		rf.refer(pa, pb)
		si = f.sales_invoice(b, rate=250)
		rf.pay(si.name)
		f.sales_invoice(b, rate=40)  # unpaid: not revenue yet
		_cols, data, _msg, chart = execute({"company": f.company()})
		row = next(r for r in data if r["referrer"] == pa)
		self.assertEqual(
			(row["referrals"], row["accepted"], row["converted"], row["paid_revenue"], row["points_posted"]),
			(1, 1, 1, 250, 100),
		)
		self.assertEqual(chart["data"]["datasets"][0]["values"][0], 250)
		pool = frappe.db.get_value("Fishpond Lead", pa, "fishpond")
		self.assertTrue(execute({"fishpond": pool})[1])
		self.assertEqual(execute({"fishpond": "_FP no such pool"})[1], [])


class TestRuns(ReferralCase):
	def test_a_change_made_while_a_run_reads_is_run_again_and_the_cron_catches_what_is_left(self):
		from unittest.mock import patch

		from crm_fishpond.referrals import sync

		company = f.company()
		calls = []

		def one_run(comp, today=None):
			calls.append(comp)
			if len(calls) == 1:  # a payment commits while the first round reads: it marks the company
				frappe.cache.sadd(sync.WAITING, comp)

		frappe.cache.sadd(sync.WAITING, company)
		with patch.object(sync, "sync_company", side_effect=one_run):
			sync.run_company(company)
		self.assertEqual(calls, [company, company])
		self.assertFalse(frappe.cache.sismember(sync.WAITING, company))

		# a mark left behind (it landed just as a run ended, and its enqueue was deduplicated away)
		frappe.cache.sadd(sync.WAITING, company)
		with patch.object(sync.jobs, "enqueue") as enqueue:
			sync.enqueue_waiting()
		enqueue.assert_called_once()
		self.assertEqual(enqueue.call_args.kwargs["company"], company)
		frappe.cache.srem(sync.WAITING, company)

	def test_the_nightly_run_posts_rewards_whose_review_ended(self):
		from crm_fishpond.referrals import sync

		rf.programme(review_days=14)
		_a, pa, b, pb = self.pair("Nightly")
		referral = rf.refer(pa, pb)
		rf.pay(f.sales_invoice(b, rate=300).name)
		self.assertEqual(rf.reward(referral).status, "Qualified")
		with self.freeze_time(add_days(nowdate(), 15)):
			sync.scheduled_sync()
			self.assertEqual(rf.reward(referral).status, "Posted")

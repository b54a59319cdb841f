"""Hundreds of random operations on a real site — submit, pay in full or in part, cancel a payment,
credit note (full or partial, on the credit note's own outstanding or allocated to the invoice),
cancel a credit note, amend or cancel an unpaid invoice, redeem points — across three referrers and
their referees, one of them invoiced in a foreign currency. Every event re-plans (jobs run inline in
tests). Every few operations and at the end: the reconciliation is empty and a second run writes
nothing; at the end, every points reward's Loyalty Point Entries hold exactly its target (kept plus
debt), ERPNext's entries posted minus reversed equal the sum of the targets, and the kept points of
posted referrer rewards match an independent computation from ERPNext's invoices.

FISHPOND_RANDOM_SEED picks the seed, FISHPOND_RANDOM_OPS the number of operations (at least 500 in
CI). The no-site randomized test of the core is tests/test_referrals.py."""

from __future__ import annotations

import math
import os
import random
import time
import traceback
from collections import Counter, defaultdict
from fractions import Fraction

import frappe
from frappe.utils import flt

from crm_fishpond.engine import referrals as R
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import referral_factories as rf
from crm_fishpond.tests.test_referrals import ReferralCase

test_ignore = ["Sales Invoice", "Coupon Code", "Loyalty Point Entry", "Loyalty Program"]

SEED = int(os.environ.get("FISHPOND_RANDOM_SEED") or 20240917)
OPS = int(os.environ.get("FISHPOND_RANDOM_OPS") or 500)
if os.environ.get("CI"):
	OPS = max(OPS, 500)
CHECK_EVERY = 25
RATES = (40, 60, 90, 120, 150, 250, 400, 700)
PERCENT = 10  # the referrer's reward: 10 % of the qualifying invoice, as points
WELCOME = 50  # the referee's welcome reward, in points
MINIMUM = 100
# (operation, weight)
WEIGHTS = (
	("submit", 8),
	("pay_full", 7),
	("pay_part", 3),
	("cancel_payment", 3),
	("credit_note", 3),
	("cancel_credit_note", 2),
	("amend", 2),
	("cancel_invoice", 1),
	("redeem", 2),
)


class SkipOp(Exception):
	"""Nothing this operation could act on in the current state."""


class TestRandomReferralOperations(ReferralCase):
	def test_random_operations_end_reconciled_with_the_ledgers_matching_the_rewards(self):
		started = time.monotonic()
		self.rng = random.Random(SEED)
		self.company = f.company()
		self.foreign = "EUR" if f.company_currency() != "EUR" else "USD"
		rf.programme(
			name="_FP Referral Random",
			review_days=0,
			referrer_reward_type="Percent as Points",
			referrer_reward_value=PERCENT,
			referee_reward_type="Points",
			referee_reward_value=WELCOME,
			minimum_amount=MINIMUM,
			qualifying_invoices=2,
			cap_per_month=9,
			cap_lifetime=10,
		)
		self.program = rf.loyalty_program()
		self.make_people()

		done, skipped, refused = Counter(), Counter(), Counter()
		names = [n for n, _w in WEIGHTS]
		weights = [w for _n, w in WEIGHTS]
		attempts = 0
		while sum(done.values()) < OPS:
			attempts += 1
			self.assertLess(attempts, OPS * 6, f"too few valid operations: {dict(done)}")
			op = self.rng.choices(names, weights)[0]
			frappe.db.savepoint("fp_random_op")
			try:
				getattr(self, op)()
			except SkipOp:
				frappe.db.rollback(save_point="fp_random_op")
				skipped[op] += 1
				continue
			except frappe.ValidationError as e:
				frappe.db.rollback(save_point="fp_random_op")
				frappe.clear_messages()
				if self.raised_by_app(e):
					raise
				refused[f"{op}: {type(e).__name__}: {str(e)[:80]}"] += 1
				continue
			done[op] += 1
			if sum(done.values()) % CHECK_EVERY == 0:
				self.assertReconciledAt(sum(done.values()), op)

		self.assertReconciledAt(sum(done.values()), "end")
		self.assertLedgersMatchRewards()
		self.assertKeptMatchesTheInvoices()
		states = Counter(
			(r.beneficiary, r.status)
			for r in frappe.get_all("Referral Reward", fields=["beneficiary", "status"])
		)
		print(
			f"\nseed {SEED}: {sum(done.values())} operations in {time.monotonic() - started:.0f} s"
			f"\n  done: {dict(sorted(done.items()))}"
			f"\n  nothing to act on: {dict(sorted(skipped.items()))}"
			f"\n  refused by ERPNext: {dict(sorted(refused.items()))}"
			f"\n  reversals logged: {frappe.db.count('Referral Reward Log', {'new_state': R.REVERSED})}"
			f"\n  rewards: {dict(sorted(states.items()))}"
		)
		self.assertGreaterEqual(sum(done.values()), OPS)
		if OPS >= 200:  # the run exercised what it is about
			self.assertTrue(states[("Referrer", R.POSTED)])
			self.assertTrue(frappe.db.exists("Referral Reward Log", {"new_state": R.REVERSED}))
			self.assertTrue(all(done[op] for op, _w in WEIGHTS), dict(done))

	# ----------------------------------------------------------------------------------------------
	# people

	def make_people(self) -> None:
		tag = frappe.generate_hash(length=5)
		self.referrers, self.referees, self.currency = [], [], {}
		foreign_done = False
		for i in range(3):
			customer, profile = rf.customer_profile(f"_FP Rnd {tag} Referrer {i + 1}")
			self.referrers.append(customer)
			for j in range(self.rng.randint(6, 8)):
				currency = None
				if not foreign_done:
					currency, foreign_done = self.foreign, True
				b, pb = rf.customer_profile(f"_FP Rnd {tag} Referee {i + 1}.{j + 1}", currency=currency)
				rf.refer(profile, pb)
				self.referees.append(b)
				self.currency[b] = currency or f.company_currency()

	# ----------------------------------------------------------------------------------------------
	# operations (each raises SkipOp when the state offers nothing to act on)

	def invoices(self, **filters) -> list:
		return frappe.get_all(
			"Sales Invoice",
			filters={"customer": ("in", self.referees), "company": self.company, **filters},
			fields=["name", "customer", "outstanding_amount", "grand_total", "is_return", "return_against"],
			order_by="name",
		)

	def pick(self, rows):
		if not rows:
			raise SkipOp
		return self.rng.choice(rows)

	def submit(self):
		b = self.rng.choice(self.referees)
		foreign = self.currency[b] != f.company_currency()
		f.sales_invoice(
			b,
			rate=self.rng.choice(RATES),
			qty=self.rng.randint(1, 4),
			currency=self.currency[b],
			conversion_rate=2 if foreign else 1,
		)

	def unpaid(self) -> list:
		return [i for i in self.invoices(docstatus=1, is_return=0) if flt(i.outstanding_amount) > 0.005]

	def pay_full(self):
		rf.pay(self.pick(self.unpaid()).name)

	def pay_part(self):
		inv = self.pick([i for i in self.unpaid() if flt(i.outstanding_amount) >= 2])
		rf.pay(inv.name, amount=flt(flt(inv.outstanding_amount) * self.rng.choice((0.25, 0.5, 0.75)), 2))

	def cancel_payment(self):
		pe = self.pick(
			frappe.get_all(
				"Payment Entry",
				filters={"party_type": "Customer", "party": ("in", self.referees), "docstatus": 1},
				pluck="name",
				order_by="name",
			)
		)
		frappe.get_doc("Payment Entry", pe).cancel()

	def credit_note(self):
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		inv = self.pick(self.invoices(docstatus=1, is_return=0))
		try:
			ret = make_sales_return(inv.name)
		except frappe.ValidationError:  # everything was returned already
			frappe.clear_messages()
			raise SkipOp from None
		ret.items = [i for i in ret.items if i.qty]
		if not ret.items:
			raise SkipOp
		if self.rng.random() < 0.5:  # a partial return: half the quantity, at least one
			for item in ret.items:
				item.qty = -max(1, math.floor(abs(item.qty) / 2))
		ret.insert(ignore_permissions=True)
		# sometimes allocated to the invoice it returns (a credit allocation), when that fits
		if abs(flt(ret.grand_total)) <= flt(inv.outstanding_amount) and self.rng.random() < 0.5:
			ret.update_outstanding_for_self = 0
			ret.save()
		ret.submit()

	def cancel_credit_note(self):
		ret = self.pick(self.invoices(docstatus=1, is_return=1))
		frappe.get_doc("Sales Invoice", ret.name).cancel()

	def untouched(self) -> list:
		"""Submitted invoices with nothing paid and nothing returned (ERPNext refuses cancelling the
		others while payments or credit notes are linked)."""
		returned = {r.return_against for r in self.invoices(docstatus=1, is_return=1)}
		return [
			i
			for i in self.invoices(docstatus=1, is_return=0)
			if abs(flt(i.outstanding_amount) - flt(i.grand_total)) < 0.005 and i.name not in returned
		]

	def amend(self):
		f.amend(frappe.get_doc("Sales Invoice", self.pick(self.untouched()).name))

	def cancel_invoice(self):
		frappe.get_doc("Sales Invoice", self.pick(self.untouched()).name).cancel()

	def redeem(self):
		from erpnext.accounts.doctype.loyalty_program.loyalty_program import (
			get_loyalty_program_details_with_points,
		)

		# referrers, and referees with their welcome points (in the company currency: rf.redeem
		# invoices in it); a referee's redemption invoice is one more of its invoices
		people = self.referrers + [b for b in self.referees if self.currency[b] == f.company_currency()]
		holders = [c for c in people if frappe.db.get_value("Customer", c, "loyalty_program") == self.program]
		customer = self.pick(holders)
		balance = int(
			get_loyalty_program_details_with_points(
				customer, self.program, company=self.company, silent=True
			).loyalty_points
			or 0
		)
		if balance < 1:
			raise SkipOp
		rf.redeem(customer, self.rng.randint(1, min(balance, 400)))

	@staticmethod
	def raised_by_app(e: BaseException) -> bool:
		"""An error from the app's own code (the referral run inside an event) is a failure, not an
		operation ERPNext refused."""
		frames = traceback.extract_tb(e.__traceback__)
		return any(
			"/crm_fishpond/" in fr.filename and "/crm_fishpond/tests/" not in fr.filename for fr in frames
		)

	# ----------------------------------------------------------------------------------------------
	# checks

	def assertReconciledAt(self, ops: int, op: str):
		self.assertEqual(rf.reconcile(), [], f"after {ops} operations (last: {op})")
		self.assertEqual(
			rf.run(), {"referrals": 0, "rewards": 0, "ledger_rows": 0}, f"after {ops} operations ({op})"
		)

	def assertLedgersMatchRewards(self):
		rows = frappe.get_all(
			"Referral Reward",
			filters={"reward_type": R.LOYALTY_POINTS},
			fields=["name", "status", "kept", "debt_points"],
		)
		net, positive, negative = defaultdict(int), 0, 0
		for e in frappe.get_all(
			"Loyalty Point Entry",
			filters={"fishpond_referral_reward": ("is", "set")},
			fields=["fishpond_referral_reward", "loyalty_points"],
		):
			points = int(e.loyalty_points)
			net[e.fishpond_referral_reward] += points
			positive += max(points, 0)
			negative += max(-points, 0)
		targets = 0
		for r in rows:
			target = int(r.kept or 0) + int(r.debt_points or 0)
			self.assertEqual(net.get(r.name, 0), target, f"{r.name} ({r.status})")
			targets += target
		self.assertEqual(set(net) - {r.name for r in rows}, set(), "entries of no points reward")
		self.assertEqual(positive - negative, targets)
		# ERPNext's own balance of every customer never goes below zero
		for c in self.referrers + self.referees:
			total = sum(
				frappe.get_all("Loyalty Point Entry", filters={"customer": c}, pluck="loyalty_points")
			)
			self.assertGreaterEqual(total, 0, c)

	def assertKeptMatchesTheInvoices(self):
		"""Posted referrer rewards keep 10 % of the gross (whole points, rounded down) in proportion
		to what is still sold, rounded half up; their invoice is submitted and fully paid. At most
		the lifetime cap of a referrer's rewards stand."""
		rows = frappe.get_all(
			"Referral Reward",
			filters={"beneficiary": R.REFERRER},
			fields=["name", "referrer", "status", "qualifying_invoice", "kept", "earned"],
		)
		standing = Counter()
		for r in rows:
			if r.status not in (R.POSTED, R.QUALIFIED):
				continue
			standing[r.referrer] += 1
			if r.status != R.POSTED:
				continue
			inv = frappe.db.get_value(
				"Sales Invoice",
				r.qualifying_invoice,
				["docstatus", "outstanding_amount", "base_grand_total"],
				as_dict=True,
			)
			self.assertEqual(inv.docstatus, 1, r.name)
			self.assertLessEqual(flt(inv.outstanding_amount), 0.005, r.name)
			gross = Fraction(str(flt(inv.base_grand_total, 2)))
			returned = sum(
				(
					Fraction(str(flt(x, 2)))
					for x in frappe.get_all(
						"Sales Invoice",
						filters={"is_return": 1, "docstatus": 1, "return_against": r.qualifying_invoice},
						pluck="base_grand_total",
					)
				),
				Fraction(0),
			)
			earned = math.floor(gross * PERCENT / 100)
			kept = math.floor(earned * (gross + returned) / gross + Fraction(1, 2))
			self.assertEqual((int(r.earned), int(r.kept)), (earned, kept), r.name)
			self.assertGreaterEqual(gross + returned, MINIMUM, r.name)
		for referrer, count in standing.items():
			self.assertLessEqual(count, 10, referrer)


class TestRedemptionsAreSpentFromWhatIsLeft(ReferralCase):
	def test_a_redemption_erpnext_books_against_a_reversed_reward_is_not_that_rewards_debt(self):
		"""ERPNext books a redemption against the entry expiring first, even one taken back already
		(its per-entry arithmetic adds earlier redemptions instead of subtracting them). The points
		spent are the customer's other reward's: no debt, no points made up, a balance never below 0."""
		from frappe.utils import add_days, nowdate

		rf.programme(name="_FP Referral Redeem", review_days=0)
		a, pa, b, pb = self.pair("Redeem First")
		_c, pc = rf.customer_profile("_FP Ref Redeem Second Referee")
		first = rf.refer(pa, pb, referred_on=add_days(nowdate(), -20))
		second = rf.refer(pa, pc, referred_on=add_days(nowdate(), -20))
		si = f.sales_invoice(b, rate=300)
		rf.pay(si.name)
		si2 = f.sales_invoice(_c, rate=300)
		rf.pay(si2.name)
		self.assertEqual((rf.points_of(f"{first}-R1"), rf.points_of(f"{second}-R1")), (100, 100))
		# the first reward's points expire first (as if posted ten days earlier)
		entry = frappe.db.get_value("Loyalty Point Entry", {"fishpond_referral_reward": f"{first}-R1"})
		expiry = frappe.db.get_value("Loyalty Point Entry", entry, "expiry_date")
		frappe.db.set_value("Loyalty Point Entry", entry, "expiry_date", add_days(expiry, -10))
		f.credit_note(si.name)  # the first reward is taken back
		self.assertEqual((rf.reward(first).status, rf.points_of(f"{first}-R1")), ("Reversed", 0))

		redemption = rf.redeem(a, 60)
		booked = frappe.get_all(
			"Loyalty Point Entry",
			filters={"invoice": redemption.name, "loyalty_points": ("<", 0)},
			pluck="redeem_against",
		)
		positive = frappe.get_all(
			"Loyalty Point Entry",
			filters={"fishpond_referral_reward": f"{first}-R1", "loyalty_points": (">", 0)},
			pluck="name",
		)
		self.assertEqual(booked, positive)  # ERPNext's booking: against the reversed reward
		self.assertReconciled()
		self.assertEqual((rf.reward(first).debt_points, rf.points_of(f"{first}-R1")), (0, 0))

		# the second referee returns everything: what is left is taken back, what was spent is debt
		f.credit_note(si2.name)
		row = rf.reward(second)
		self.assertEqual((row.status, row.debt_points, rf.points_of(f"{second}-R1")), ("Reversed", 60, 60))
		self.assertReconciled()
		balance = sum(frappe.get_all("Loyalty Point Entry", filters={"customer": a}, pluck="loyalty_points"))
		self.assertEqual(balance, 0)

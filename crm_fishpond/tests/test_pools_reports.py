"""Integration: the pool reports (time to claim, recycle rate, revenue recaptured) with frozen time."""

import frappe
from frappe.desk.query_report import run
from frappe.utils import add_days, add_to_date, flt, now_datetime

from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools import recycle
from crm_fishpond.pools.recycle import RecycleRules
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import pools_factories as pf


class TestPoolReports(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP Report Pool")
		cls.rep_a = pf.rep("fp-report-a@example.com", pools=[cls.pool])
		cls.rep_b = pf.rep("fp-report-b@example.com", pools=[cls.pool])
		cls.pool_manager = pf.rep("fp-report-pm@example.com", manages=[cls.pool])

	def setUp(self):
		super().setUp()
		self.t0 = add_days(now_datetime(), -40).replace(microsecond=0)
		self.filters = {
			"from_date": add_days(self.t0, -1).date(),
			"to_date": now_datetime().date(),
			"fishpond": self.pool,
		}

	def report(self, name, user="Administrator", **filters):
		frappe.set_user(user)
		try:
			result = run(name, filters={**self.filters, **filters})
		finally:
			frappe.set_user("Administrator")
		return [frappe._dict(r) for r in result["result"] if isinstance(r, dict) and r.get("pool")]

	def test_time_to_claim_counts_from_entering_the_pool(self):
		with self.freeze_time(self.t0):
			lead = pf.lead("_FP Report Wait", self.pool)
		with self.freeze_time(add_to_date(self.t0, hours=5)):
			pool_claim.claim([lead], user=self.rep_a).raise_first()
		with self.freeze_time(add_to_date(self.t0, hours=10)):
			pool_claim.release([lead], by=self.rep_a).raise_first()
		with self.freeze_time(add_to_date(self.t0, hours=12)):
			pool_claim.claim([lead], user=self.rep_b).raise_first()
		rows = {r.rep: r for r in self.report("Fishpond Time to Claim")}
		self.assertAlmostEqual(rows[self.rep_a].median_hours, 5, places=3)
		self.assertAlmostEqual(rows[self.rep_b].median_hours, 2, places=3)
		detail = self.report("Fishpond Time to Claim", detail=1)
		self.assertEqual([d.profile for d in detail], [lead, lead])
		# a rep sees their own figures only; the pool manager sees both
		self.assertEqual({r.rep for r in self.report("Fishpond Time to Claim", self.rep_b)}, {self.rep_b})
		self.assertEqual(
			{r.rep for r in self.report("Fishpond Time to Claim", self.pool_manager)},
			{self.rep_a, self.rep_b},
		)

	def test_recycle_rate_per_rep_and_pool(self):
		leads = [pf.lead("_FP Report Rate", self.pool) for _ in range(4)]
		with self.freeze_time(self.t0):
			pool_claim.claim(leads, user=self.rep_a).raise_first()
			pool_claim.release([leads[0]], by=self.rep_a).raise_first()
		pf.pool(self.pool, recycle_enabled=1, recycle_no_followup_days=10)
		for lead in leads[2:]:
			frappe.get_doc(
				{
					"doctype": "Fishpond Interaction",
					"fishpond_lead": lead,
					"interaction_type": "Call",
					"interaction_time": add_days(self.t0, 5),
				}
			).insert(ignore_permissions=True)
		with self.freeze_time(add_days(self.t0, 11)):
			recycle.recycle_pool(RecycleRules.for_pool(self.pool))
		row = next(r for r in self.report("Fishpond Recycle Rate") if r.rep == self.rep_a)
		self.assertEqual((row.taken, row.recycled, row.released), (4, 1, 1))
		self.assertAlmostEqual(row.recycle_rate, 25.0)

	def test_revenue_recaptured_after_recycle_and_reclaim(self):
		cust = f.customer("_FP Report Recaptured")
		lead = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		frappe.db.set_value(
			"Fishpond Lead", lead, {"fishpond": self.pool, "lead_owner": None, "status": "In Pool"}
		)
		with self.freeze_time(self.t0):
			pool_claim.claim([lead], user=self.rep_a).raise_first()
		before = f.sales_invoice(cust, rate=100, posting_date=add_days(self.t0, 2).date().isoformat())
		pf.pool(self.pool, recycle_enabled=1, recycle_no_followup_days=10, exempt_unpaid_invoice=0)
		with self.freeze_time(add_days(self.t0, 11)):
			self.assertEqual(recycle.recycle_pool(RecycleRules.for_pool(self.pool))["recycled"], 1)
		with self.freeze_time(add_days(self.t0, 12)):
			pool_claim.claim([lead], user=self.rep_b).raise_first()
		after = f.sales_invoice(cust, rate=250, qty=2)  # today, after the reclaim
		rows = self.report("Fishpond Recaptured Revenue", detail=1)
		mine = [r for r in rows if r.profile == lead]
		self.assertEqual(len(mine), 1)
		self.assertEqual((mine[0].recycled_from, mine[0].rep, mine[0].invoices), (self.rep_a, self.rep_b, 1))
		self.assertEqual(flt(mine[0].revenue), flt(after.base_net_total))
		self.assertNotEqual(flt(mine[0].revenue), flt(after.base_net_total + before.base_net_total))
		summary = {r.rep: r for r in self.report("Fishpond Recaptured Revenue")}
		self.assertEqual(flt(summary[self.rep_b].revenue), flt(after.base_net_total))
		self.assertEqual(self.report("Fishpond Recaptured Revenue", self.rep_a), [])

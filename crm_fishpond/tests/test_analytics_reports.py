"""Integration: the customer analytics reports (lifecycle funnel, RFM grid, churn watch, cohort
retention) on a small hand-checked pond, and who sees which rows.

The pond: pool P (reps A and B are members, a pool manager manages it) and pool Q (rep C). Profiles,
all in territory *_FP Analytics Region* (North: a, b, c; South: d, e):

====  ======  =====  ====================================================================
name  pool    owner  purchases (Fishpond Transaction rows, months after M0)
====  ======  =====  ====================================================================
a     P       A      M0 100; M1 50 billed in EUR; M2 999 in another company; M3 30
b     P       A      M0 200 returned in M0; M1 80; M2 40 and a return of 60 (net -20)
c     P       B      M0 70 cancelled and 70 again; M1 a Sales Order of 500; M2 10
d     P       -      M1 100 EUR at 1.1 (base 110) and a credit note of base 105: base net +5
e     Q       C      M0 500; M1 20, returned in M2 by a credit note naming it (so M1 nets 0)
f     P       -      never bought
====  ======  =====  ====================================================================

Rep A may list a, b (theirs) and d (unclaimed in their pool); never c (rep B's) nor e (pool Q).
"""

from __future__ import annotations

from unittest.mock import patch

import frappe
from frappe.desk.query_report import run
from frappe.utils import add_days, add_months, get_first_day, getdate, now_datetime, nowdate

from crm_fishpond.customer_analytics import churn, cohorts, funnel, rfm_grid
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import pools_factories as pf

LABEL = "_FP Analytics"
REGION = f"{LABEL} Region"
NORTH = f"{LABEL} North"
SOUTH = f"{LABEL} South"
OTHER_COMPANY = f"{LABEL} Other Co"

FUNNEL = "Fishpond Lifecycle Funnel"
RFM = "Fishpond RFM Grid"
CHURN = "Fishpond Churn Watch"
COHORTS = "Fishpond Cohort Retention"


def territory(name: str, parent: str, is_group: int = 0) -> str:
	if not frappe.db.exists("Territory", name):
		frappe.get_doc(
			{"doctype": "Territory", "territory_name": name, "parent_territory": parent, "is_group": is_group}
		).insert(ignore_permissions=True)
	return name


class TestAnalyticsReports(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		# the figures are hand-checked stage histories: a site with a stored model fit (a full rescore ran
		# there before) would rescore each new profile at once and add its own stage changes
		no_fit = patch("crm_fishpond.scoring.models.latest_fit", new=lambda: None)
		no_fit.start()
		cls.addClassCleanup(no_fit.stop)
		root = frappe.db.get_value("Territory", {"parent_territory": ("in", ("", None))}, "name")
		territory(REGION, root, is_group=1)
		territory(NORTH, REGION)
		territory(SOUTH, REGION)
		cls.p = pf.pool(f"{LABEL} P")
		cls.q = pf.pool(f"{LABEL} Q")
		pf.forget_profiles(LABEL, pools=[cls.p, cls.q])
		cls.rep_a = pf.rep("fp-analytics-a@example.com", pools=[cls.p])
		cls.rep_b = pf.rep("fp-analytics-b@example.com", pools=[cls.p])
		cls.rep_c = pf.rep("fp-analytics-c@example.com", pools=[cls.q])
		cls.pool_manager = pf.rep("fp-analytics-pm@example.com", manages=[cls.p])
		cls.nobody = pf.user("fp-analytics-nobody@example.com", ["Sales User"])
		cls.company = f.company()
		cls.m0 = getdate(get_first_day(add_months(nowdate(), -5)))
		cls.t0 = add_days(now_datetime(), -30).replace(microsecond=0)

		def profile(key, pool, owner, region, first_month, **scores):
			name = pf.lead(LABEL, pool, owner=owner, territory=region, company=cls.company)
			values = {"first_purchase": cls.month(first_month, 4) if first_month is not None else None}
			frappe.db.set_value("Fishpond Lead", name, {**values, **scores}, update_modified=False)
			return name

		cls.leads = L = {
			"a": profile(
				"a",
				cls.p,
				cls.rep_a,
				NORTH,
				0,
				r_score=5,
				f_score=3,
				total_purchase=180,
				clv=1000,
				churn_risk=10,
				churn_band="Low",
			),
			"b": profile(
				"b",
				cls.p,
				cls.rep_a,
				NORTH,
				0,
				r_score=5,
				f_score=3,
				total_purchase=100,
				clv=500,
				churn_risk=80,
				churn_band="High",
			),
			"c": profile(
				"c",
				cls.p,
				cls.rep_b,
				NORTH,
				0,
				r_score=2,
				f_score=1,
				total_purchase=80,
				clv=2000,
				churn_risk=50,
				churn_band="Medium",
			),
			"d": profile(
				"d",
				cls.p,
				None,
				SOUTH,
				1,
				r_score=5,
				f_score=1,
				total_purchase=10,
				clv=0,
				churn_risk=0,
				churn_band="Low",
			),
			"e": profile(
				"e",
				cls.q,
				cls.rep_c,
				SOUTH,
				0,
				r_score=1,
				f_score=1,
				total_purchase=500,
				clv=300,
				churn_risk=90,
				churn_band="High",
			),
			"f": profile("f", cls.p, None, SOUTH, None),
		}
		tx = cls.transaction
		tx(L["a"], 0, 100)
		tx(L["a"], 1, 50, currency="EUR", rate=1.0, grand=50)
		tx(L["a"], 2, 999, company=OTHER_COMPANY)
		tx(L["a"], 3, 30)
		tx(L["b"], 0, 200)
		tx(L["b"], 0, -200, is_return=1, day=20)
		tx(L["b"], 1, 80)
		tx(L["b"], 2, 40)
		tx(L["b"], 2, -60, is_return=1, day=20)
		tx(L["c"], 0, 70, state="Cancelled")
		tx(L["c"], 0, 70, day=9)
		tx(L["c"], 1, 500, voucher_type="Sales Order")
		tx(L["c"], 2, 10)
		tx(L["d"], 1, 110, currency="EUR", rate=1.1, grand=100)
		tx(L["d"], 1, -105, is_return=1, day=20)
		tx(L["e"], 0, 500)
		returned = tx(L["e"], 1, 20)
		tx(L["e"], 2, -20, is_return=1, return_against=returned)

		def moved(profile, stages):
			for idx, (stage, days) in enumerate(stages, start=1):
				frappe.get_doc(
					{
						"doctype": "Fishpond Stage History",
						"parent": profile,
						"parenttype": "Fishpond Lead",
						"parentfield": "stage_history",
						"idx": idx,
						"to_stage": stage,
						"changed_on": add_days(cls.t0, days),
						"reason": f"{LABEL} test",
					}
				).db_insert()

		moved(L["a"], [("Acquisition", 0), ("Conversion", 2), ("Growth", 6)])
		moved(L["b"], [("Acquisition", 0), ("Growth", 4)])
		moved(L["c"], [("Acquisition", 1)])
		moved(L["e"], [("Acquisition", 0), ("Conversion", 3)])

	@classmethod
	def month(cls, offset: int, day: int = 4):
		return add_days(add_months(cls.m0, offset), day)

	_serial = 0

	@classmethod
	def transaction(
		cls,
		profile,
		month,
		base,
		is_return=0,
		day=4,
		state="Submitted",
		voucher_type="Sales Invoice",
		company=None,
		currency=None,
		rate=1.0,
		grand=None,
		return_against=None,
	) -> str:
		cls._serial += 1
		voucher_no = f"{LABEL}-{profile}-{cls._serial}"
		frappe.get_doc(
			{
				"doctype": "Fishpond Transaction",
				"fishpond_lead": profile,
				"voucher_type": voucher_type,
				"voucher_no": voucher_no,
				"return_against": return_against,
				"posting_date": cls.month(month, day),
				"docstatus_state": state,
				"company": company or cls.company,
				"currency": currency or f.company_currency(),
				"conversion_rate": rate,
				"is_return": is_return,
				"grand_total": base if grand is None else grand,
				"base_grand_total": base,
			}
		).insert(ignore_permissions=True, ignore_links=True)
		return voucher_no

	# -- helpers ---------------------------------------------------------------------------------
	def report(self, name, user="Administrator", **filters):
		filters = {"territory": REGION, **filters}
		frappe.set_user(user)
		try:
			return run(name, filters=filters, ignore_prepared_report=True)
		finally:
			frappe.set_user("Administrator")

	def rows(self, name, user="Administrator", **filters):
		return [r for r in self.report(name, user, **filters)["result"] if isinstance(r, dict)]

	def name_of(self, profile):
		return next(k for k, v in self.leads.items() if v == profile)

	# -- lifecycle funnel ------------------------------------------------------------------------
	def test_funnel_by_hand(self):
		result = self.report(FUNNEL)
		rows = {r["stage"]: r for r in result["result"]}
		acq = rows["Acquisition"]
		# a, b, e moved on (after 2, 4 and 3 days), c is still there
		self.assertEqual(
			(acq["entered"], acq["profiles"], acq["moved_forward"], acq["still_in_stage"]), (4, 4, 3, 1)
		)
		self.assertAlmostEqual(acq["conversion"], 75.0)
		self.assertAlmostEqual(acq["median_days"], 3.0)
		self.assertAlmostEqual(acq["mean_days"], 3.0)
		conv = rows["Conversion"]
		self.assertEqual((conv["entered"], conv["moved_forward"], conv["still_in_stage"]), (2, 1, 1))
		self.assertAlmostEqual(conv["median_days"], 4.0)
		self.assertEqual((rows["Growth"]["entered"], rows["Growth"]["still_in_stage"]), (2, 2))
		self.assertIsNone(rows["Growth"]["median_days"])
		self.assertEqual(rows["Churn"]["entered"], 0)
		self.assertIsNone(rows["Churn"]["conversion"])
		self.assertEqual(result["chart"]["type"], "bar")
		self.assertEqual(result["chart"]["data"]["datasets"][0]["values"][:3], [4, 2, 2])

	def test_funnel_filters_and_period(self):
		north = {r["stage"]: r["entered"] for r in self.rows(FUNNEL, territory=NORTH)}
		self.assertEqual((north["Acquisition"], north["Conversion"]), (3, 1))
		mine = {r["stage"]: r for r in self.rows(FUNNEL, lead_owner=self.rep_a)}
		self.assertEqual((mine["Acquisition"]["entered"], mine["Acquisition"]["median_days"]), (2, 3.0))
		later = {
			r["stage"]: r["entered"]
			for r in self.rows(FUNNEL, from_date=add_days(self.t0, 2).date(), to_date=nowdate())
		}
		# only the changes from day 2 on: a to Conversion and Growth, e to Conversion, b to Growth
		self.assertEqual((later["Acquisition"], later["Conversion"], later["Growth"]), (0, 2, 2))
		self.assertEqual(sum(r["entered"] for r in self.rows(FUNNEL, company=OTHER_COMPANY)), 0)

	# -- RFM grid ----------------------------------------------------------------------------------
	def test_rfm_grid_by_hand(self):
		result = self.report(RFM)
		rows = {r["r_score"]: r for r in result["result"]}
		self.assertEqual((rows["5"]["f3_count"], rows["5"]["f3_mean"]), (2, 140.0))
		self.assertEqual((rows["5"]["f1_count"], rows["5"]["f1_mean"]), (1, 10.0))
		self.assertEqual((rows["2"]["f1_count"], rows["1"]["f1_count"]), (1, 1))
		self.assertAlmostEqual(rows["5"]["mean"], 290 / 3)
		self.assertEqual(rows["5"]["count"], 3)
		self.assertIsNone(rows["4"]["mean"])
		total = result["result"][-1]
		self.assertEqual((total["f1_count"], total["f3_count"], total["count"]), (3, 2, 5))
		self.assertAlmostEqual(total["f1_mean"], 590 / 3)
		self.assertEqual([r["r_score"] for r in result["result"][:5]], ["5", "4", "3", "2", "1"])
		# f never bought: no scores, not in the grid
		self.assertTrue(result["chart"]["barOptions"]["stacked"])

	def test_rfm_cells_match_the_list_a_cell_link_opens(self):
		"""The cell's link opens the Fishpond Lead list with r_score, f_score and the report's filters:
		the list, for the same user, holds exactly the counted customers."""
		for user in ("Administrator", self.rep_a):
			rows = {r["r_score"]: r for r in self.rows(RFM, user)}
			frappe.set_user(user)
			try:
				listed = frappe.get_list(
					"Fishpond Lead",
					filters={
						"r_score": 5,
						"f_score": 3,
						"territory": ["descendants of (inclusive)", REGION],
					},
					pluck="name",
				)
			finally:
				frappe.set_user("Administrator")
			self.assertEqual(len(listed), rows["5"]["f3_count"], user)

	def test_rfm_period_is_the_first_purchase(self):
		rows = self.rows(RFM, from_date=self.month(1, 0))
		self.assertEqual(rows[-1]["count"], 1)  # d alone first bought from M1 on
		self.assertEqual(rows[0]["f1_count"], 1)

	# -- churn watch -------------------------------------------------------------------------------
	def test_churn_watch_by_hand(self):
		result = self.report(CHURN)
		got = [(self.name_of(r["profile"]), r["value_at_risk"]) for r in result["result"]]
		self.assertEqual(got, [("c", 1000.0), ("b", 400.0), ("e", 270.0), ("a", 100.0), ("d", 0.0)])
		self.assertEqual(result["result"][0]["lead_owner"], self.rep_b)
		summary = {s["label"]: s["value"] for s in result["report_summary"]}
		self.assertEqual(list(summary.values()), [5, 3800.0, 1770.0])
		self.assertEqual(len(result["chart"]["data"]["labels"]), 4)  # d has nothing at risk

	def test_churn_watch_filters(self):
		high = [self.name_of(r["profile"]) for r in self.rows(CHURN, churn_band="High")]
		self.assertEqual(high, ["b", "e"])
		top = self.report(CHURN, limit=2)
		self.assertEqual([self.name_of(r["profile"]) for r in top["result"]], ["c", "b"])
		self.assertEqual(top["report_summary"][0]["value"], 5)  # totals cover every match
		pool_q = [self.name_of(r["profile"]) for r in self.rows(CHURN, fishpond=self.q)]
		self.assertEqual(pool_q, ["e"])
		self.assertEqual(self.rows(CHURN, company=OTHER_COMPANY), [])

	# -- cohort retention --------------------------------------------------------------------------
	def cohort_rows(self, user="Administrator", **filters):
		filters = {"from_date": self.m0, "to_date": nowdate(), "months": 4, **filters}
		rows = self.rows(COHORTS, user, **filters)
		return {r["cohort"]: r for r in rows}

	def test_cohort_retention_by_hand(self):
		m0, m1 = str(self.m0)[:7], str(self.month(1))[:7]
		rows = self.cohort_rows()
		self.assertEqual(set(rows), {m0, m1})
		# M0: a, c, e (b's M0 was returned, so b starts in M1 with d, whose base amounts net +5);
		# e's M1 invoice was returned in M2, which lowers M1: only a buys in M1
		self.assertEqual(rows[m0]["size"], 3)
		self.assertEqual([round(rows[m0][f"m{k}"], 2) for k in range(4)], [100.0, 33.33, 66.67, 33.33])
		self.assertEqual(rows[m1]["size"], 2)
		# b's M2 nets -20: no month counts after its first
		self.assertEqual([rows[m1][f"m{k}"] for k in range(4)], [100.0, 0.0, 0.0, 0.0])
		buyers = self.cohort_rows(show="Buyers")
		self.assertEqual([buyers[m0][f"m{k}"] for k in range(5)], [3, 1, 2, 1, 0])
		result = self.report(COHORTS, from_date=self.m0, to_date=nowdate(), months=4)
		self.assertEqual(result["chart"]["type"], "line")
		# month 1: (1 + 0) / (3 + 2)
		self.assertAlmostEqual(result["chart"]["data"]["datasets"][0]["values"][1], 20.0)

	def test_cohort_company_filters_the_transactions(self):
		m0 = str(self.m0)[:7]
		# a's M2 purchase was in the other company: only c buys in M2
		self.assertEqual(self.cohort_rows(company=self.company, show="Buyers")[m0]["m2"], 1)
		# in the other company a is a customer from M2 on
		other = self.cohort_rows(company=OTHER_COMPANY, show="Buyers")
		self.assertEqual({k: r["size"] for k, r in other.items()}, {str(self.month(2))[:7]: 1})

	def test_cohorts_count_a_customer_once_in_their_first_month(self):
		rows = self.cohort_rows(from_date=self.month(1, 0))
		self.assertEqual({k: r["size"] for k, r in rows.items()}, {str(self.month(1))[:7]: 2})

	# -- who sees what -----------------------------------------------------------------------------
	def test_a_rep_sees_only_the_profiles_they_may_list(self):
		visible = {self.leads[k] for k in ("a", "b", "d", "f")}
		churn_rows = self.rows(CHURN, self.rep_a)
		self.assertEqual({r["profile"] for r in churn_rows}, visible - {self.leads["f"]})
		self.assertEqual([self.name_of(r["profile"]) for r in churn_rows], ["b", "a", "d"])
		rfm = {r["r_score"]: r for r in self.rows(RFM, self.rep_a)}
		self.assertEqual((rfm["5"]["f3_count"], rfm["5"]["f1_count"], rfm["2"]["count"]), (2, 1, 0))
		funnel_rows = {r["stage"]: r for r in self.rows(FUNNEL, self.rep_a)}
		self.assertEqual(funnel_rows["Acquisition"]["entered"], 2)  # a and b; not c (rep B) nor e
		cohort = self.cohort_rows(self.rep_a)
		m0, m1 = str(self.m0)[:7], str(self.month(1))[:7]
		self.assertEqual((cohort[m0]["size"], cohort[m1]["size"]), (1, 2))  # a; b and d
		self.assertEqual(cohort[m0]["m3"], 100.0)

	def test_a_pool_manager_sees_their_pool(self):
		names = {self.name_of(r["profile"]) for r in self.rows(CHURN, self.pool_manager)}
		self.assertEqual(names, {"a", "b", "c", "d"})

	def test_a_user_without_a_pond_role_gets_a_permission_error(self):
		for report in (FUNNEL, RFM, CHURN, COHORTS):
			with self.assertRaises(frappe.PermissionError, msg=report):
				self.report(report, self.nobody)
		# and the queries themselves refuse, whoever calls them
		frappe.set_user(self.nobody)
		try:
			for query in (
				lambda: funnel.lifecycle_funnel(frappe._dict()),
				lambda: rfm_grid.rfm_grid(frappe._dict()),
				lambda: churn.churn_watch(frappe._dict()),
				lambda: cohorts.cohort_table(frappe._dict()),
			):
				with self.assertRaises(frappe.PermissionError):
					query()
		finally:
			frappe.set_user("Administrator")

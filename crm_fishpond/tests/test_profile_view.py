"""Integration: the profile as one view. The form's header facts, the score in words, the Customer's
ERPNext figures, one chronological feed of everything that happened to the profile, its connections,
and the same summary on the Customer and Lead forms for those who may read it."""

from __future__ import annotations

import frappe
from frappe.desk.form.load import get_additional_timeline_content

from crm_fishpond.api import profile as profile_api
from crm_fishpond.profile.summary import profile_summary
from crm_fishpond.tests import factories
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.test_rules import full_run
from crm_fishpond.tests.test_scoring import make_profile
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only

PREFIX = "_FP View"


class TestProfileView(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		cls.customer = factories.customer(f"{PREFIX} Customer")
		cls.invoice = factories.sales_invoice(cls.customer, rate=250).name
		cls.profile = frappe.db.get_value("Fishpond Lead", {"customer": cls.customer}, "name")
		make_profile("View peer", [(10, 300), (50, 400)])
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": cls.profile,
				"interaction_type": "Call",
				"interaction_time": frappe.utils.add_days(frappe.utils.now_datetime(), -1),
				"subject": "View call",
			}
		).insert(ignore_permissions=True)
		full_run()

	def setUp(self):
		frappe.set_user("Administrator")

	def tearDown(self):
		# the next test class starts as Administrator whatever user a test switched to
		frappe.set_user("Administrator")

	def test_the_form_gets_the_header_the_score_in_words_and_the_erp_figures(self):
		doc = frappe.get_doc("Fishpond Lead", self.profile)
		doc.run_method("onload")
		summary = doc.get_onload().fishpond_summary
		header = {h["fieldname"]: h["value"] for h in summary["header"]}
		self.assertIn("lifecycle_stage", header)
		self.assertIn("lead_score", header)
		parts = {line["part"] for line in summary["score"]}
		self.assertIn("Fit", parts)
		self.assertTrue(
			all(line["label"] and line["max_points"] >= line["points"] for line in summary["score"])
		)
		erp = summary["erp"]
		self.assertEqual(erp["customer"], self.customer)
		self.assertEqual(erp["invoices"], 1)
		self.assertEqual(erp["last_invoice"]["name"], self.invoice)
		self.assertEqual([o["amount"] for o in erp["outstanding"]], [250.0])

	def test_the_timeline_has_every_kind_of_event_in_one_feed(self):
		doc = frappe.get_doc("Fishpond Lead", self.profile)
		doc.append("tags", {"tag": self.tag(), "tag_source": "Manual"})
		doc.lifecycle_stage = frappe.db.get_value("Lifecycle Stage", {"stage_key": "churn"}, "name")
		doc.save(ignore_permissions=True)
		# a reward as the referral programme records it (its own rules are not the point here)
		frappe.get_doc(
			{
				"doctype": "Referral Reward",
				"name": f"{PREFIX} Reward",
				"referrer": self.profile,
				"referee": make_profile("View referee"),
				"status": "Pending",
			}
		).db_insert()
		items = get_additional_timeline_content("Fishpond Lead", self.profile)
		text = " ".join(i["content"] for i in items)
		for expected in (self.invoice, "View call", "Stage", "Tagged", "Referred"):
			self.assertIn(expected, text)
		self.assertTrue(all(i["creation"] and i["icon"] for i in items))
		self.assertEqual(get_additional_timeline_content("Customer", self.customer), [])

	def test_timeline_text_is_escaped(self):
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": self.profile,
				"interaction_type": "Email",
				"interaction_time": frappe.utils.now_datetime(),
				"subject": "<script>alert(1)</script>",
			}
		).insert(ignore_permissions=True)
		text = " ".join(i["content"] for i in get_additional_timeline_content("Fishpond Lead", self.profile))
		self.assertNotIn("<script>", text)

	def test_connections_count_every_satellite(self):
		from frappe.desk.notifications import get_open_count

		counts = get_open_count("Fishpond Lead", self.profile)["count"]
		names = {c.get("doctype") for c in counts["external_links_found"] if c.get("count")}
		self.assertIn("Fishpond Transaction", names)
		self.assertIn("Fishpond Interaction", names)

	def test_the_customer_form_shows_the_same_summary_to_whoever_may_read_the_profile(self):
		got = profile_api.summary("Customer", self.customer)
		self.assertEqual(got["name"], self.profile)
		self.assertEqual(got, profile_summary(frappe.get_doc("Fishpond Lead", self.profile)))

	def test_a_rep_who_may_not_read_the_customer_or_the_profile_gets_nothing(self):
		rep = pf.rep("fp-view-rep@example.com", pools=[pf.pool(f"{PREFIX} Pool")])
		frappe.set_user(rep)
		with self.assertRaises(frappe.PermissionError):
			profile_api.summary("Customer", self.customer)
		frappe.set_user("Administrator")
		sales = pf.user("fp-view-sales@example.com", ["Sales User"])
		frappe.set_user(sales)
		self.assertIsNone(profile_api.summary("Customer", self.customer))

	def tag(self) -> str:
		name = f"{PREFIX} Tag"
		if not frappe.db.exists("Fishpond Tag", name):
			frappe.get_doc({"doctype": "Fishpond Tag", "tag_name": name, "tag_type": "Manual"}).insert()
		return name

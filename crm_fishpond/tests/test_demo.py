"""Integration: the demo fills a site with real, submitted ERPNext records and a scored pond, a second
run adds nothing, and clearing removes exactly what it made."""

import frappe
from frappe.utils import getdate, nowdate

from crm_fishpond.demo import build, clear, masters, state, till
from crm_fishpond.demo.plan import build_plan
from crm_fishpond.sync import backfill, runs
from crm_fishpond.sync.reconcile import reconcile
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase

CUSTOMERS, YEARS = 12, 1
# what the demo makes, directly or through ERPNext and the pond; clearing brings each count back.
# (Frappe's deletion trail, Deleted Document and "Deleted" comments, grows as with any deletion.)
COUNTED = (
	"Lead",
	"Customer",
	"Contact",
	"Dynamic Link",
	"Item",
	"Sales Order",
	"Sales Invoice",
	"Payment Entry",
	"POS Invoice",
	"POS Opening Entry",
	"POS Closing Entry",
	"POS Invoice Merge Log",
	"POS Profile",
	"Mode of Payment Account",
	"GL Entry",
	"Payment Ledger Entry",
	"Fishpond Lead",
	"Fishpond Interaction",
	"Fishpond Behaviour Event",
	"Fishpond Feedback",
	"Fishpond Ingest Batch",
	"Fishpond Claim Log",
	"Fishpond Transaction",
	"Fishpond Transaction Item",
	"Fishpond",
	"Fishpond Member",
	"Fishpond Run",
	"Fishpond Model Fit",
	"User",
	"Has Role",
	"Notification Settings",
	"Territory",
	"Lead Source",
	"Fiscal Year",
	"Currency Exchange",
	"Account",
)


def counts() -> dict[str, int]:
	return {doctype: frappe.db.count(doctype) for doctype in COUNTED}


def telling_seed() -> int:
	"""A seed whose small pond shows every case: a credit note, a part payment, an unpaid invoice, an
	open order, a foreign-currency customer and a colleague at a customer."""
	for seed in range(40):
		plan = build_plan(CUSTOMERS, YEARS, seed, as_of=getdate(nowdate()), foreign_currency="EUR")
		c = plan.counts()
		colleagues = sum(1 for p in plan.people if p.account is not None)
		if all(
			(c["returns"], c["part_paid"], c["unpaid"], c["open_orders"], c["foreign_customers"], colleagues)
		):
			return seed
	raise AssertionError("no seed below 40 shows every case")


class TestDemo(FishpondTestCase):
	def test_demo_fills_the_site_once_and_clears_exactly_what_it_made(self):
		frappe.set_user("Administrator")
		self.assertIsNone(state.load())
		bystander = f.customer("_FP Demo Bystander")
		bystander_invoice = f.sales_invoice(bystander, rate=55).name
		bystander_lead = f.lead("_FP Demo Bystander Lead")
		ledger_setting = frappe.db.get_single_value("Accounts Settings", "delete_linked_ledger_entries")
		# the pond holds every voucher and profile already, as after any sync: otherwise the demo's own
		# backfill would add the missing ones of records other suites left behind (CI reinstalls the
		# app, which drops the pond's tables) and they would stay after the clear
		backfill.run_backfill(runs.create_run(backfill.RUN_TYPE))
		before = counts()
		seed = telling_seed()
		lines = []

		summary = build.make_demo(CUSTOMERS, YEARS, seed, echo=lines.append)

		made = summary["counts"]
		self.assertTrue(summary["created"])
		self.assertEqual(made["Customer"], CUSTOMERS)
		self.assertGreater(made["Lead"], CUSTOMERS)
		self.assertEqual(made["Contact"], made["Lead"])
		self.assert_real_erpnext_records(summary)
		self.assert_pond(summary)
		self.assert_till(summary)
		self.assertEqual(reconcile()["differences"], 0)
		self.assertTrue(any("Reconciliation: 0" in line for line in lines), lines)

		# a second run adds nothing; other parameters are refused while this demo is there
		after_demo = counts()
		again = build.make_demo(CUSTOMERS, YEARS, seed, echo=lines.append)
		self.assertFalse(again["created"])
		self.assertEqual(counts(), after_demo)
		self.assertEqual(again["counts"], made)
		with self.assertRaises(masters.DemoError):
			build.make_demo(CUSTOMERS + 1, YEARS, seed, echo=lines.append)

		result = clear.clear_demo(echo=lines.append, rescore=False)
		self.assertFalse(
			frappe.db.exists("Fishpond Invoice Link", {"voucher_no": ("like", state.PREFIX + "%")})
		)

		self.assertFalse(result["kept"], result["kept"])
		self.assertEqual(result["removed"]["Customer"], CUSTOMERS)
		self.assertEqual(counts(), before)
		# the duplicate pass the demo runs covers the whole pond, so pairs among profiles the demo did
		# not make may be new; none of the demo's own pairs is left behind
		candidate = frappe.qb.DocType("Fishpond Duplicate Candidate")
		lead = frappe.qb.DocType("Fishpond Lead")
		orphans = (
			frappe.qb.from_(candidate)
			.left_join(lead)
			.on(lead.name == candidate.profile_a)
			.select(candidate.name)
			.where(lead.name.isnull())
			.run()
		)
		self.assertEqual(orphans, ())
		self.assertIsNone(state.load())
		self.assertEqual(
			frappe.db.get_single_value("Accounts Settings", "delete_linked_ledger_entries"), ledger_setting
		)
		self.assertEqual(frappe.db.get_value("Sales Invoice", bystander_invoice, "docstatus"), 1)
		self.assertTrue(frappe.db.exists("Customer", bystander))
		self.assertTrue(frappe.db.exists("Lead", bystander_lead))
		self.assertEqual(reconcile()["differences"], 0)
		# clearing twice finds nothing
		self.assertEqual(clear.clear_demo(echo=lines.append, rescore=False)["removed"], {})

	def assert_real_erpnext_records(self, summary):
		made = summary["counts"]
		company_currency = frappe.get_cached_value("Company", summary["company"], "default_currency")
		invoices = frappe.get_all(
			"Sales Invoice",
			filters={"name": ("like", state.PREFIX + "%")},
			fields=["name", "docstatus", "is_return", "status", "currency", "return_against", "customer"],
		)
		self.assertTrue(invoices)
		self.assertEqual({i.docstatus for i in invoices}, {1})
		returns = [i for i in invoices if i.is_return]
		self.assertGreaterEqual(len(returns), 1)
		self.assertTrue(all(i.return_against for i in returns))
		statuses = {i.status for i in invoices if not i.is_return}
		self.assertIn("Paid", statuses)
		self.assertTrue(statuses & {"Partly Paid", "Unpaid", "Overdue"}, statuses)
		self.assertTrue(any(i.currency != company_currency for i in invoices))
		self.assertEqual(made["credit note"], len(returns))
		payments = frappe.get_all(
			"Payment Entry", filters={"name": ("like", state.PREFIX + "%")}, fields=["docstatus", "party"]
		)
		self.assertTrue(payments)
		self.assertEqual({p.docstatus for p in payments}, {1})
		orders = frappe.get_all(
			"Sales Order", filters={"name": ("like", state.PREFIX + "%")}, fields=["docstatus", "status"]
		)
		self.assertEqual({o.docstatus for o in orders}, {1})
		self.assertIn("Completed", {o.status for o in orders})
		self.assertGreaterEqual(made["open Sales Order"], 1)
		# posted over the year before today, in fiscal years that exist
		dates = [
			getdate(d)
			for d in frappe.get_all(
				"Sales Invoice", {"name": ("like", state.PREFIX + "%")}, pluck="posting_date"
			)
		]
		self.assertLess(min(dates), getdate(frappe.utils.add_days(nowdate(), -90)))
		self.assertLessEqual(max(dates), getdate(nowdate()))
		# a customer's contact carries the e-mail and phone of its lead
		customer = frappe.get_doc("Customer", invoices[0].customer)
		lead = frappe.get_doc("Lead", customer.lead_name)
		self.assertEqual(lead.status, "Converted")
		contacts = frappe.get_all(
			"Dynamic Link",
			filters={"parenttype": "Contact", "link_doctype": "Customer", "link_name": customer.name},
			pluck="parent",
		)
		self.assertTrue(contacts)
		if lead.email_id:
			self.assertIn(lead.email_id, [frappe.db.get_value("Contact", c, "email_id") for c in contacts])

	def assert_till(self, summary):
		"""Walk-in sales at the demo's till: one POS session consolidated by POS closing, one still open,
		and the sales that name a demo customer in the accountants' link queue with that customer."""
		made = summary["counts"]
		expected = till.SHOPPERS + till.STRANGERS + till.OPEN_SALES
		self.assertEqual(made["POS Invoice"], expected)
		sales = frappe.get_all(
			"POS Invoice",
			filters={"name": ("like", state.series_prefix("POS Invoice") + "%")},
			fields=["name", "docstatus", "consolidated_invoice", "customer"],
		)
		self.assertEqual({s.docstatus for s in sales}, {1})
		self.assertEqual({s.customer for s in sales}, {till.WALK_IN})
		consolidated = {s.consolidated_invoice for s in sales}
		self.assertIn(None, consolidated)  # the open session's
		self.assertEqual(len(consolidated - {None}), 1)
		invoice = next(iter(consolidated - {None}))
		self.assertEqual(frappe.db.get_value("Sales Invoice", invoice, "docstatus"), 1)
		entries = frappe.get_all(
			"Fishpond Invoice Link",
			filters={"voucher_type": "POS Invoice", "voucher_no": ("in", [s.name for s in sales])},
			fields=["voucher_no", "top_profile", "consolidated_invoice"],
		)
		self.assertEqual(made["queued POS Invoice"], len(entries))
		self.assertEqual(len(entries), till.SHOPPERS + till.OPEN_SALES)  # the strangers name nobody
		profiles = set(state.profiles())
		self.assertTrue(all(e.top_profile in profiles for e in entries), entries)
		self.assertEqual({e.consolidated_invoice for e in entries}, {invoice, None})

	def assert_pond(self, summary):
		made = summary["counts"]
		profiles = state.profiles()
		self.assertEqual(made["Fishpond Lead"], len(profiles))
		for customer in state.customers():
			profile = frappe.db.get_value(
				"Fishpond Lead", {"customer": customer}, ["name", "status"], as_dict=True
			)
			self.assertEqual(profile.status, "Converted")
			self.assertTrue(frappe.db.exists("Fishpond Transaction", {"fishpond_lead": profile.name}))
		self.assertGreater(made["Fishpond Interaction"], 0)
		self.assertGreater(made["Fishpond Behaviour Event"], 0)
		self.assertGreater(made["Fishpond Feedback"], 0)
		# a full rescore ran: every demo profile is scored, stage and all
		self.assertEqual(made["scored"], len(profiles))
		self.assertEqual(
			frappe.db.count("Fishpond Lead", {"name": ("in", profiles), "lifecycle_stage": ("is", "set")}),
			len(profiles),
		)
		ledger = state.load()
		self.assertEqual(ledger["phase"], "done")
		rescore = [
			r
			for r in ledger["created"]["Fishpond Run"]
			if frappe.db.get_value("Fishpond Run", r, "run_type") == "Rescore"
		]
		self.assertEqual(frappe.db.get_value("Fishpond Run", rescore[0], "status"), "Completed")
		# pools with reps, who hold some leads
		pools = ledger["created"]["Fishpond"]
		self.assertEqual(len(pools), len(masters.POOLS))
		reps = set(ledger["created"]["User"])
		self.assertEqual(len(reps), len(masters.REPS))
		for rep in reps:
			self.assertIn("Fishpond User", frappe.get_roles(rep))
		members = set(frappe.get_all("Fishpond Member", filters={"parent": ("in", pools)}, pluck="user"))
		self.assertEqual(members, reps)
		owners = frappe.get_all(
			"Fishpond Lead",
			filters={"name": ("in", profiles), "lead_owner": ("is", "set")},
			pluck="lead_owner",
		)
		self.assertTrue(owners)
		self.assertLessEqual(set(owners), reps)
		self.assertEqual(
			frappe.db.count("Fishpond Lead", {"name": ("in", profiles), "fishpond": ("not in", pools)}), 0
		)

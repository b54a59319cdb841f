"""The accountant's desk for POS Invoices: walk-in POS Invoices in the link queue, before and after POS
closing consolidates them, attributed out of their consolidated Sales Invoice (a row of their own on
the profile, the consolidated invoice's row keeping the rest), undone, turned into a Customer,
dismissed, returned at the till and unconsolidated by cancelling the merge, with the reconciliation
at zero differences after each (docs/accountants.md)."""

import random

import frappe
from frappe.utils import nowdate, nowtime

from crm_fishpond.accounting import attribution, queue
from crm_fishpond.api import accounting as api
from crm_fishpond.scoring import loader
from crm_fishpond.sync import reconcile
from crm_fishpond.sync.profiles import profile_for
from crm_fishpond.sync.transactions import transaction_name
from crm_fishpond.tests import factories
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests import referral_factories as rf
from crm_fishpond.tests.test_referrals import forget_referrals

LABEL = "_FP AccPOS"
QUEUE = "Fishpond Invoice Link"
TX = "Fishpond Transaction"
WHY = "the till receipt names her"
POS_PROFILE = "_FP AccPOS Till"


def unique(label: str) -> str:
	return f"{LABEL} {label} {random.randint(0, 10**9)}"


def uk_mobile() -> str:
	return f"+44 20 7946 {random.randint(0, 9999):04d}"


def pos_row(pos_invoice: str) -> frappe._dict | None:
	"""The pond row of an attributed POS Invoice (none while it is not split out)."""
	return frappe.db.get_value(
		TX,
		transaction_name("POS Invoice", pos_invoice),
		[
			"fishpond_lead",
			"customer",
			"base_grand_total",
			"docstatus_state",
			"consolidated_invoice",
			"is_return",
		],
		as_dict=True,
	)


def si_row(invoice: str) -> frappe._dict | None:
	return frappe.db.get_value(
		TX,
		transaction_name("Sales Invoice", invoice),
		["fishpond_lead", "base_grand_total", "docstatus_state", "total_qty"],
		as_dict=True,
	)


def differences_of(*customers: str) -> list:
	result = reconcile.reconcile()
	return [d for d in result["vouchers"] + result["customers"] if d.get("customer") in customers]


def till(company: str, walk_in: str) -> str:
	"""A POS Profile selling to the walk-in customer, paid in Cash, with an open POS session."""
	if not frappe.db.exists("POS Profile", POS_PROFILE):
		cash = frappe.get_cached_value("Company", company, "default_cash_account")
		mode = frappe.get_doc("Mode of Payment", "Cash")
		if not any(a.company == company for a in mode.accounts):
			mode.append("accounts", {"company": company, "default_account": cash})
			mode.save(ignore_permissions=True)
		frappe.get_doc(
			{
				"doctype": "POS Profile",
				"name": POS_PROFILE,
				"company": company,
				"customer": walk_in,
				"currency": factories.company_currency(),
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
		).insert(ignore_permissions=True)
	if not frappe.db.exists(
		"POS Opening Entry", {"pos_profile": POS_PROFILE, "status": "Open", "docstatus": 1}
	):
		entry = frappe.get_doc(
			{
				"doctype": "POS Opening Entry",
				"pos_profile": POS_PROFILE,
				"user": "Administrator",
				"company": company,
				"period_start_date": frappe.utils.now_datetime(),
				"balance_details": [{"mode_of_payment": "Cash", "opening_amount": 0}],
			}
		)
		entry.insert(ignore_permissions=True)
		entry.submit()
	return POS_PROFILE


class TestPOSInvoicesOnTheDesk(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		frappe.set_user("Administrator")
		cls.company = factories.company()
		cls.walk_in = factories.customer(f"{LABEL} Walk-in Customer")
		settings = frappe.get_doc("Fishpond Settings")
		settings.set("generic_customers", [{"customer": cls.walk_in}])
		settings.save()
		cls.till = till(cls.company, cls.walk_in)
		cls.accountant = pf.user("fp-accpos-user@example.com", ["Accounts User"])
		cls.acc_manager = pf.user("fp-accpos-manager@example.com", ["Accounts User", "Accounts Manager"])
		cls.rep = pf.user("fp-accpos-rep@example.com", ["Fishpond User"])
		cls.pond_manager = pf.manager("fp-accpos-pond-manager@example.com")

	# -- helpers ------------------------------------------------------------------------------------
	def known_customer(self, label: str, **values) -> tuple[str, str]:
		name = factories.customer(unique(label), **values)
		profile = profile_for(customer=name)
		self.assertTrue(profile)
		return name, profile

	def pos_invoice(self, rate: float = 100, **details):
		"""A walk-in sale at the till, paid in cash, with what the cashier typed."""
		doc = frappe.get_doc(
			{
				"doctype": "POS Invoice",
				"company": self.company,
				"customer": self.walk_in,
				"pos_profile": self.till,
				"is_pos": 1,
				"posting_date": nowdate(),
				"currency": factories.company_currency(),
				"items": [{"item_code": factories.make_item(), "qty": 1, "rate": rate}],
				"payments": [{"mode_of_payment": "Cash", "amount": rate, "default": 1}],
			}
		)
		doc.insert(ignore_permissions=True)
		doc.submit()
		if details:
			frappe.db.set_value("POS Invoice", doc.name, details, update_modified=False)
			frappe.clear_document_cache("POS Invoice", doc.name)
			doc.reload()
		return doc

	def pos_return(self, invoice):
		from erpnext.accounts.doctype.pos_invoice.pos_invoice import make_sales_return

		ret = make_sales_return(invoice.name)
		ret.insert(ignore_permissions=True)
		ret.submit()
		return ret

	def close(self, *invoices):
		"""POS closing: ERPNext's POS Invoice Merge Log consolidates the invoices into a Sales Invoice
		(and their returns into a credit note). Returns the merge log."""
		log = frappe.get_doc(
			{
				"doctype": "POS Invoice Merge Log",
				"company": self.company,
				"customer": self.walk_in,
				"posting_date": nowdate(),
				"posting_time": nowtime(),
				"pos_invoices": [
					{
						"pos_invoice": i.name,
						"posting_date": i.posting_date,
						"grand_total": i.grand_total,
						"customer": i.customer,
						"is_return": i.is_return,
						"return_against": i.return_against,
					}
					for i in invoices
				],
			}
		)
		log.insert(ignore_permissions=True)
		log.submit()
		return log

	def link(self, invoice) -> str:
		return queue.queue_name(invoice.name, "POS Invoice")

	def entry_of(self, invoice):
		return frappe.get_doc(QUEUE, self.link(invoice))

	# -- the queue -----------------------------------------------------------------------------------
	def test_walk_in_pos_invoices_get_queue_entries_with_the_right_top_suggestion(self):
		mobile = uk_mobile()
		_c1, by_phone = self.known_customer("Phone", mobile_no=mobile)
		n = random.randint(0, 10**6)
		_c2, by_mail = self.known_customer("Mail", email_id=f"pos.jane{n}@gmail.com")
		tax = f"GB{random.randint(10**8, 10**9 - 1)}"
		_c3, by_tax = self.known_customer("Tax", tax_id=tax)
		nobody = self.pos_invoice()
		p_phone = self.pos_invoice(contact_mobile=mobile.replace(" ", ""))
		p_mail = self.pos_invoice(contact_email=f"POS.Jane{n}@gmail.com")
		p_tax = self.pos_invoice(tax_id=tax.lower())
		log = self.close(nobody, p_phone, p_mail, p_tax)

		queue.refresh()
		self.assertFalse(frappe.db.exists(QUEUE, self.link(nobody)))
		# the consolidated invoice carries only its last POS Invoice's details: it is queued per POS
		# Invoice, never as a whole
		self.assertFalse(frappe.db.exists(QUEUE, queue.queue_name(log.consolidated_invoice)))
		for invoice, profile, code in (
			(p_phone, by_phone, "same_phone"),
			(p_mail, by_mail, "same_email"),
			(p_tax, by_tax, "same_tax_id"),
		):
			entry = self.entry_of(invoice)
			self.assertEqual(
				(entry.status, entry.reason, entry.voucher_type, entry.consolidated_invoice),
				("Open", "Generic Customer", "POS Invoice", log.consolidated_invoice),
			)
			self.assertEqual(entry.top_profile, profile, invoice.name)
			self.assertIn(code, entry.suggestions[0].evidence_data)
		again = queue.refresh()
		self.assertEqual((again["queued"], again["updated"], again["suggestions_changed"]), (0, 0, 0))

	# -- attribute and undo --------------------------------------------------------------------------
	def test_attribute_splits_the_consolidated_row_and_undo_restores_it(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Split", mobile_no=mobile)
		mine = self.pos_invoice(rate=240, contact_mobile=mobile)
		other = self.pos_invoice(rate=60, customer_name="Someone Else Entirely")
		log = self.close(mine, other)
		si = log.consolidated_invoice
		walk_in_profile = si_row(si).fishpond_lead
		self.assertEqual(si_row(si).base_grand_total, 300)
		queue.refresh()

		frappe.set_user(self.accountant)
		name = api.attribute(self.link(mine), profile, WHY)
		frappe.set_user("Administrator")
		own = pos_row(mine.name)
		self.assertEqual(
			(
				own.fishpond_lead,
				own.customer,
				own.base_grand_total,
				own.docstatus_state,
				own.consolidated_invoice,
			),
			(profile, self.walk_in, 240, "Submitted", si),
		)
		rest = si_row(si)
		self.assertEqual(
			(rest.fishpond_lead, rest.base_grand_total, rest.total_qty), (walk_in_profile, 60, 1)
		)
		entry = self.entry_of(mine)
		self.assertEqual(
			(entry.status, entry.attributed_to, entry.attribution), ("Attributed", profile, name)
		)
		# ERPNext is untouched, and the pond still adds up: per voucher and per customer
		self.assertEqual(frappe.db.get_value("Sales Invoice", si, "customer"), self.walk_in)
		self.assertEqual(differences_of(self.walk_in, customer), [])
		# the purchase is the profile's: its aggregates, the scoring loader and the timeline read it
		purchases = loader.load_purchases([profile])
		self.assertEqual(list(purchases["amount"]), [240])
		self.assertEqual(list(loader.load_purchases([walk_in_profile])["amount"]).count(60), 1)
		from crm_fishpond.sync.aggregates import refresh_profiles

		refresh_profiles([profile])
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "total_purchase"), 240)
		# the per-customer report says where the walk-in's sale went
		from crm_fishpond.crm_fishpond.report.fishpond_reconciliation.fishpond_reconciliation import execute

		_cols, rows = execute({"view": "Per Customer", "customer": self.walk_in, "show_matching": 1})
		invoices = next(r for r in rows if r["voucher_type"] == "Sales Invoice")
		self.assertTrue(invoices["matches"])
		self.assertIn(profile, invoices["attributed_to"])
		# a row changed behind the pond's back is reported and repaired as the sync writes it
		frappe.db.set_value(TX, transaction_name("POS Invoice", mine.name), "base_grand_total", 1)
		self.assertTrue(differences_of(self.walk_in))
		reconcile.repair()
		self.assertEqual(pos_row(mine.name).base_grand_total, 240)
		self.assertEqual(differences_of(self.walk_in, customer), [])
		# one attribution at a time
		frappe.set_user(self.accountant)
		with self.assertRaises(frappe.ValidationError):
			api.attribute(self.link(mine), walk_in_profile, WHY)
		api.undo(name, "wrong Jane")
		frappe.set_user("Administrator")
		self.assertIsNone(pos_row(mine.name))
		self.assertEqual(si_row(si).base_grand_total, 300)
		self.assertEqual(self.entry_of(mine).status, "Open")
		self.assertEqual(differences_of(self.walk_in, customer), [])

	def test_a_pos_invoice_attributed_in_an_open_session_is_split_out_at_pos_closing(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Open Session", mobile_no=mobile)
		sale = self.pos_invoice(rate=80, contact_mobile=mobile)
		queue.refresh()
		entry = self.entry_of(sale)
		self.assertEqual((entry.top_profile, entry.consolidated_invoice), (profile, None))
		attribution.attribute(self.link(sale), profile, WHY)
		self.assertIsNone(pos_row(sale.name))  # not in the books (nor the pond) before POS closing
		self.assertEqual(self.entry_of(sale).status, "Attributed")

		log = self.close(sale, self.pos_invoice(rate=20))
		own = pos_row(sale.name)
		self.assertEqual((own.fishpond_lead, own.base_grand_total), (profile, 80))
		self.assertEqual(si_row(log.consolidated_invoice).base_grand_total, 20)
		self.assertEqual(differences_of(self.walk_in, customer), [])
		queue.refresh()  # the decided entry learns where its invoice went
		self.assertEqual(
			(self.entry_of(sale).status, self.entry_of(sale).consolidated_invoice),
			("Attributed", log.consolidated_invoice),
		)

	def test_create_customer_from_a_pos_invoice(self):
		name = unique("New Shopper")
		sale = self.pos_invoice(rate=55, customer_name=name, contact_mobile=uk_mobile())
		log = self.close(sale)
		queue.refresh()
		frappe.set_user(self.acc_manager)
		with self.assertRaises(frappe.PermissionError):
			api.create_customer(self.link(sale), WHY)  # Accounts roles may not create Customers
		frappe.set_user("Administrator")
		result = api.create_customer(self.link(sale), WHY)
		self.assertEqual(frappe.db.get_value("Customer", result["customer"], "customer_name"), name)
		self.assertEqual(pos_row(sale.name).fishpond_lead, result["profile"])
		self.assertEqual(si_row(log.consolidated_invoice).base_grand_total, 0)
		att = frappe.get_doc("Fishpond Invoice Attribution", result["attribution"])
		self.assertEqual((att.voucher_type, att.action), ("POS Invoice", "Create Customer"))
		self.assertEqual(differences_of(self.walk_in, result["customer"]), [])

	def test_dismiss_a_pos_suggestion_and_the_whole_pos_invoice(self):
		mobile = uk_mobile()
		_c, profile = self.known_customer("Dismiss", mobile_no=mobile)
		sale = self.pos_invoice(contact_mobile=mobile)
		self.close(sale)
		queue.refresh()
		link = self.link(sale)
		self.assertEqual(self.entry_of(sale).top_profile, profile)
		frappe.set_user(self.accountant)
		api.dismiss(link, profile, "the till's own number")
		frappe.set_user("Administrator")
		queue.refresh()
		self.assertNotIn(profile, [s.profile for s in self.entry_of(sale).suggestions])
		frappe.set_user(self.accountant)
		api.dismiss_invoice(link, "a tourist")
		frappe.set_user("Administrator")
		queue.refresh()
		self.assertEqual(self.entry_of(sale).status, "Dismissed")
		api.reopen(link, "she came back")
		self.assertEqual(self.entry_of(sale).status, "Open")

	# -- returns and unconsolidation -----------------------------------------------------------------
	def test_a_pos_return_follows_its_pos_invoice(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Return", mobile_no=mobile)
		sale = self.pos_invoice(rate=150, contact_mobile=mobile)
		bystander = self.pos_invoice(rate=50)
		self.close(sale, bystander)
		queue.refresh()
		attribution.attribute(self.link(sale), profile, WHY)
		ret = self.pos_return(sale)
		other_ret = self.pos_return(bystander)
		log = self.close(ret, other_ret)
		credit_note = log.consolidated_credit_note
		self.assertTrue(credit_note)
		own = pos_row(ret.name)
		self.assertEqual(
			(own.fishpond_lead, own.is_return, own.base_grand_total, own.consolidated_invoice),
			(profile, 1, -150, credit_note),
		)
		self.assertEqual(si_row(credit_note).base_grand_total, -50)
		self.assertFalse(frappe.db.exists(QUEUE, self.link(ret)))  # a return is never queued
		self.assertEqual(differences_of(self.walk_in, customer), [])
		# the profile's purchases net to nothing
		self.assertEqual(sum(loader.load_purchases([profile])["amount"]), 0)
		# undone, the return goes back into the credit note with its invoice
		attribution.undo(frappe.db.get_value(QUEUE, self.link(sale), "attribution"), "wrong person")
		self.assertIsNone(pos_row(ret.name))
		self.assertEqual(si_row(credit_note).base_grand_total, -200)
		self.assertEqual(differences_of(self.walk_in, customer), [])

	def test_cancelling_pos_closing_unbooks_the_row_and_closing_again_books_it(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Unconsolidate", mobile_no=mobile)
		sale = self.pos_invoice(rate=70, contact_mobile=mobile)
		log = self.close(sale, self.pos_invoice(rate=30))
		queue.refresh()
		attribution.attribute(self.link(sale), profile, WHY)
		self.assertEqual(pos_row(sale.name).docstatus_state, "Submitted")

		log.reload()
		log.cancel()  # ERPNext cancels the consolidated invoice and frees its POS Invoices
		self.assertEqual(frappe.db.get_value("Sales Invoice", log.consolidated_invoice, "docstatus"), 2)
		own = pos_row(sale.name)
		self.assertEqual((own.docstatus_state, own.fishpond_lead), ("Cancelled", profile))
		self.assertEqual(si_row(log.consolidated_invoice).docstatus_state, "Cancelled")
		self.assertEqual(list(loader.load_purchases([profile])["amount"]), [])
		self.assertEqual(differences_of(self.walk_in, customer), [])

		sale.reload()
		again = self.close(sale)
		own = pos_row(sale.name)
		self.assertEqual(
			(own.docstatus_state, own.consolidated_invoice, own.base_grand_total),
			("Submitted", again.consolidated_invoice, 70),
		)
		self.assertEqual(si_row(again.consolidated_invoice).base_grand_total, 0)
		self.assertEqual(differences_of(self.walk_in, customer), [])

	def test_deleting_a_cancelled_pos_closing_and_its_invoices_takes_their_rows(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Deleted", mobile_no=mobile)
		sale = self.pos_invoice(rate=45, contact_mobile=mobile)
		log = self.close(sale, self.pos_invoice(rate=5))
		queue.refresh()
		attribution.attribute(self.link(sale), profile, WHY)
		log.reload()
		log.cancel()
		# ERPNext deletes a POS Invoice POS closing consolidated once only after its merge log and its
		# cancelled consolidated invoice (with the ledger entries it posted)
		frappe.db.set_single_value("Accounts Settings", "delete_linked_ledger_entries", 1)
		frappe.delete_doc("POS Invoice Merge Log", log.name)
		frappe.delete_doc("Sales Invoice", log.consolidated_invoice)
		self.assertIsNone(pos_row(sale.name))
		self.assertIsNone(si_row(log.consolidated_invoice))
		sale.reload()
		sale.cancel()
		frappe.delete_doc("POS Invoice", sale.name)
		self.assertFalse(frappe.db.exists(QUEUE, self.link(sale)))
		self.assertEqual(differences_of(self.walk_in, customer), [])

	def test_the_whole_consolidated_invoice_attributed_keeps_its_pos_invoices_rows(self):
		mobile = uk_mobile()
		customer, shopper = self.known_customer("Shopper", mobile_no=mobile)
		_c, shop = self.known_customer("Whole Invoice")
		sale = self.pos_invoice(rate=90, contact_mobile=mobile)
		log = self.close(sale, self.pos_invoice(rate=10))
		queue.refresh()
		attribution.attribute(self.link(sale), shopper, WHY)
		whole = frappe.get_doc(
			{
				"doctype": "Fishpond Invoice Attribution",
				"voucher_type": "Sales Invoice",
				"voucher_no": log.consolidated_invoice,
				"to_profile": shop,
				"reason": "the shop's own till session",
			}
		).insert()
		whole.submit()
		self.assertEqual(pos_row(sale.name).fishpond_lead, shopper)
		rest = si_row(log.consolidated_invoice)
		self.assertEqual((rest.fishpond_lead, rest.base_grand_total), (shop, 10))
		self.assertEqual(differences_of(self.walk_in, customer), [])
		whole.undo_reason = "not the shop's"
		whole.cancel()
		self.assertEqual(pos_row(sale.name).fishpond_lead, shopper)
		self.assertNotEqual(si_row(log.consolidated_invoice).fishpond_lead, shop)
		self.assertEqual(differences_of(self.walk_in, customer), [])

	# -- roles ---------------------------------------------------------------------------------------
	def test_role_matrix_for_pos_entries(self):
		_c, profile = self.known_customer("Roles")
		sale = self.pos_invoice(customer_name="Role Shopper")
		self.close(sale)
		queue.refresh()
		link = self.link(sale)
		for user in (self.rep, self.pond_manager):
			frappe.set_user(user)
			with self.assertRaises(frappe.PermissionError, msg=user):
				api.attribute(link, profile, WHY)
			with self.assertRaises(frappe.PermissionError, msg=user):
				api.dismiss_invoice(link, WHY)
		frappe.set_user(self.rep)
		self.assertFalse(frappe.has_permission(QUEUE, "read"))
		frappe.set_user(self.acc_manager)
		self.assertEqual(api.entry(link)["status"], "Open")
		name = api.attribute(link, profile, WHY)
		api.undo(name, "not her")
		frappe.set_user(self.accountant)
		api.attribute(link, profile, WHY)
		frappe.set_user("Administrator")
		self.assertEqual(pos_row(sale.name).fishpond_lead, profile)

	# -- referrals -----------------------------------------------------------------------------------
	def test_a_pos_invoice_attributed_to_a_referee_qualifies_once_consolidated(self):
		forget_referrals()
		rf.programme(review_days=0)
		_a, referrer = rf.customer_profile(unique("Referrer"))
		_b, referee = rf.customer_profile(unique("Referee"))
		referral = rf.refer(referrer, referee)
		sale = self.pos_invoice(rate=300, customer_name="The Referee At The Till")
		queue.refresh()
		attribution.attribute(self.link(sale), referee, WHY)
		self.assertEqual(rf.reward(referral).reason_code, "awaiting_invoice")  # not booked yet
		log = self.close(sale)
		row = rf.reward(referral)
		self.assertEqual(
			(row.status, row.qualifying_invoice, row.qualifying_invoice_type),
			("Posted", sale.name, "POS Invoice"),
		)
		self.assertEqual(rf.reconcile(), [])
		log.reload()
		log.cancel()  # POS closing cancelled: the sale is no longer booked
		self.assertNotEqual(rf.reward(referral).status, "Posted")
		self.assertEqual(rf.reconcile(), [])

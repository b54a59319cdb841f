"""Integration: Sales Order / Sales Invoice sync, replay, amendment, returns, currencies, conversions."""

import frappe
from frappe.utils import flt

from crm_fishpond.events import sales as sales_events
from crm_fishpond.sync.reconcile import reconcile
from crm_fishpond.sync.transactions import transaction_name
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase


def row(voucher):
	return frappe.get_doc("Fishpond Transaction", transaction_name(voucher.doctype, voucher.name))


def rows_for(customer):
	return frappe.get_all(
		"Fishpond Transaction",
		filters={"customer": customer},
		fields=["name", "voucher_type", "voucher_no", "docstatus_state", "base_grand_total", "is_return"],
	)


class TestSalesSync(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		from crm_fishpond.sync.backfill import apply_chunk
		from crm_fishpond.sync.history import iter_chunks
		from crm_fishpond.sync.transactions import SYNCED_DOCTYPES

		# history that existed before these tests (other apps' tests, a previous run) joins the pond first
		for doctype in SYNCED_DOCTYPES:
			for headers in iter_chunks(doctype):
				apply_chunk(headers)

	def assertReconciled(self):
		result = reconcile()
		self.assertEqual(result["differences"], 0, frappe.as_json(result)[:3000])

	def test_invoice_submit_creates_profile_and_row(self):
		cust = f.customer("_FP Sync Customer A")
		si = f.sales_invoice(cust, rate=250, qty=2)
		tx = row(si)
		self.assertEqual(tx.voucher_type, "Sales Invoice")
		self.assertEqual(tx.docstatus_state, "Submitted")
		self.assertEqual(flt(tx.base_grand_total), flt(si.base_grand_total))
		self.assertEqual(tx.items[0].item_code, si.items[0].item_code)
		self.assertEqual(flt(tx.total_qty), 2)
		profile = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		self.assertEqual(tx.fishpond_lead, profile)
		self.assertEqual(frappe.db.get_value("Customer", cust, "fishpond_lead"), profile)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "purchase_days"), 1)
		self.assertReconciled()

	def test_draft_never_appears(self):
		cust = f.customer("_FP Sync Customer Draft")
		si = f.sales_invoice(cust, submit=False)
		so = f.sales_order(cust, submit=False)
		self.assertFalse(frappe.db.exists("Fishpond Transaction", transaction_name("Sales Invoice", si.name)))
		self.assertFalse(frappe.db.exists("Fishpond Transaction", transaction_name("Sales Order", so.name)))

	def test_replayed_event_adds_nothing(self):
		cust = f.customer("_FP Sync Customer Replay")
		si = f.sales_invoice(cust)
		before = rows_for(cust)
		modified = frappe.db.get_value("Fishpond Transaction", before[0].name, "modified")
		sales_events.on_submit(si)
		sales_events.on_submit(si)
		self.assertEqual(rows_for(cust), before)
		self.assertEqual(frappe.db.get_value("Fishpond Transaction", before[0].name, "modified"), modified)
		self.assertEqual(frappe.db.count("Fishpond Lead", {"customer": cust}), 1)

	def test_a_row_left_behind_is_corrected_when_its_voucher_is_submitted(self):
		"""on_submit inserts without reading first: a row already there (its voucher deleted without
		its events, then the name used again) is compared and corrected, not doubled or kept stale."""
		cust = f.customer("_FP Sync Customer Left Behind")
		so = f.sales_order(cust, rate=100, submit=False)
		name = transaction_name("Sales Order", so.name)
		frappe.get_doc(
			{
				"doctype": "Fishpond Transaction",
				"name": name,
				"voucher_type": "Sales Order",
				"voucher_no": so.name,
				"posting_date": so.transaction_date,
				"docstatus_state": "Cancelled",
				"grand_total": 1,
				"base_grand_total": 1,
				"items": [{"item_code": "_FP stale item", "qty": 9, "base_net_amount": 1}],
			}
		).insert(ignore_permissions=True, ignore_links=True, set_name=name)
		so.submit()
		tx = row(so)
		self.assertEqual(tx.docstatus_state, "Submitted")
		self.assertEqual(flt(tx.base_grand_total), flt(so.base_grand_total))
		self.assertEqual([i.item_code for i in tx.items], [so.items[0].item_code])
		self.assertEqual(len(rows_for(cust)), 1)

	def test_cancel_and_amend_sales_order_and_invoice(self):
		cust = f.customer("_FP Sync Customer Amend")
		for make in (f.sales_order, f.sales_invoice):
			original = make(cust, rate=100)
			amended = f.amend(original)
			self.assertEqual(row(original).docstatus_state, "Cancelled")
			new = row(amended)
			self.assertEqual(new.docstatus_state, "Submitted")
			self.assertEqual(new.amended_from, original.name)
			self.assertEqual(flt(new.base_grand_total), flt(amended.base_grand_total))
		self.assertReconciled()

	def test_credit_note_is_a_negative_row(self):
		cust = f.customer("_FP Sync Customer Return")
		si = f.sales_invoice(cust, rate=300)
		ret = f.credit_note(si.name)
		tx = row(ret)
		self.assertTrue(tx.is_return)
		self.assertEqual(tx.return_against, si.name)
		self.assertLess(flt(tx.base_grand_total), 0)
		profile = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		self.assertAlmostEqual(
			flt(frappe.db.get_value("Fishpond Lead", profile, "total_purchase")), 0, places=2
		)
		self.assertReconciled()

	def test_a_credit_note_against_the_invoice_refreshes_its_outstanding(self):
		"""A return with Update Outstanding for Self off lowers the original invoice's outstanding in
		ERPNext: the pond's row of that invoice follows (it kept the old amount before)."""
		from erpnext.accounts.doctype.sales_invoice.sales_invoice import make_sales_return

		cust = f.customer("_FP Sync Customer Return Against")
		si = f.sales_invoice(cust, rate=100, qty=4)
		ret = make_sales_return(si.name)
		ret.update_outstanding_for_self = 0
		ret.items[0].qty = -1
		ret.insert(ignore_permissions=True)
		ret.submit()
		self.assertAlmostEqual(flt(frappe.db.get_value("Sales Invoice", si.name, "outstanding_amount")), 300)
		self.assertAlmostEqual(flt(row(si).outstanding_amount), 300)
		self.assertReconciled()
		ret.reload()
		ret.cancel()
		self.assertAlmostEqual(flt(row(si).outstanding_amount), 400)
		self.assertReconciled()

	def test_two_currencies_store_company_currency_amounts(self):
		local = f.customer("_FP Sync Customer Local")
		foreign_currency = "EUR" if f.company_currency() != "EUR" else "USD"
		foreign = f.customer("_FP Sync Customer Foreign", currency=foreign_currency)
		si_local = f.sales_invoice(local, rate=100)
		si_foreign = f.sales_invoice(foreign, rate=100, currency=foreign_currency, conversion_rate=1.25)
		so_foreign = f.sales_order(foreign, rate=40, currency=foreign_currency, conversion_rate=1.25)
		self.assertEqual(row(si_local).currency, f.company_currency())
		tx = row(si_foreign)
		self.assertEqual(tx.currency, foreign_currency)
		self.assertAlmostEqual(flt(tx.grand_total), 100, places=2)
		self.assertAlmostEqual(flt(tx.base_grand_total), 125, places=2)
		self.assertAlmostEqual(flt(row(so_foreign).base_grand_total), 50, places=2)
		self.assertReconciled()

	def test_payment_refreshes_outstanding(self):
		from erpnext.accounts.doctype.payment_entry.payment_entry import get_payment_entry

		cust = f.customer("_FP Sync Customer Paid")
		si = f.sales_invoice(cust, rate=90)
		self.assertAlmostEqual(flt(row(si).outstanding_amount), flt(si.outstanding_amount))
		pe = get_payment_entry("Sales Invoice", si.name)
		pe.reference_no = "FP-1"
		pe.reference_date = si.posting_date
		pe.insert(ignore_permissions=True)
		pe.submit()
		self.assertAlmostEqual(flt(row(si).outstanding_amount), 0)
		self.assertReconciled()

	def test_update_after_submit_refreshes_row(self):
		cust = f.customer("_FP Sync Customer Update")
		so = f.sales_order(cust)
		so.reload()
		so.set_status(update=True, status="On Hold")
		sales_events.on_update_after_submit(so)
		self.assertEqual(rows_for(cust)[0].docstatus_state, "Submitted")
		self.assertReconciled()


class TestPartySync(FishpondTestCase):
	def test_lead_insert_creates_profile_in_default_pool(self):
		lead = f.lead("_FP Party Lead One", email_id="fp.lead.one@example.com", company_name="Lead One Ltd")
		profile = frappe.get_doc("Fishpond Lead", {"lead": lead})
		self.assertEqual(profile.fishpond, frappe.db.get_single_value("Fishpond Settings", "default_pool"))
		self.assertEqual(profile.email_id, "fp.lead.one@example.com")
		self.assertEqual(frappe.db.get_value("Lead", lead, "fishpond_lead"), profile.name)

	def test_lead_to_customer_keeps_one_profile(self):
		from erpnext.crm.doctype.lead.lead import make_customer

		lead = f.lead("_FP Party Lead Convert", company_name="Convert Co")
		profile = frappe.db.get_value("Fishpond Lead", {"lead": lead})
		customer = make_customer(lead)
		customer.customer_group = frappe.db.get_value("Customer Group", {"is_group": 0}, "name")
		customer.territory = frappe.db.get_value("Territory", {"is_group": 0}, "name")
		customer.insert(ignore_permissions=True)
		self.assertEqual(frappe.db.count("Fishpond Lead", {"lead": lead}), 1)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", {"customer": customer.name}), profile)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "status"), "Converted")
		si = f.sales_invoice(customer.name)
		self.assertEqual(row(si).fishpond_lead, profile)
		self.assertEqual(frappe.db.count("Fishpond Lead", {"customer": customer.name}), 1)

	def test_customer_without_lead_gets_a_profile(self):
		cust = f.customer("_FP Party Customer Solo")
		self.assertEqual(frappe.db.count("Fishpond Lead", {"customer": cust}), 1)

	def test_communication_becomes_interaction_once(self):
		lead = f.lead("_FP Party Lead Comm")
		profile = frappe.db.get_value("Fishpond Lead", {"lead": lead})
		comm = frappe.get_doc(
			{
				"doctype": "Communication",
				"communication_type": "Communication",
				"communication_medium": "Email",
				"sent_or_received": "Received",
				"subject": "Interested in a quote",
				"content": "Please call me",
				"reference_doctype": "Lead",
				"reference_name": lead,
			}
		).insert(ignore_permissions=True)
		interactions = frappe.get_all(
			"Fishpond Interaction",
			filters={"reference_name": comm.name},
			fields=["fishpond_lead", "interaction_type", "direction"],
		)
		self.assertEqual(len(interactions), 1)
		self.assertEqual(interactions[0].fishpond_lead, profile)
		self.assertEqual(interactions[0].interaction_type, "Email")
		self.assertEqual(interactions[0].direction, "Inbound")
		from crm_fishpond.events.communication import after_insert

		after_insert(comm)  # replay
		self.assertEqual(frappe.db.count("Fishpond Interaction", {"reference_name": comm.name}), 1)
		self.assertIsNotNone(frappe.db.get_value("Fishpond Lead", profile, "last_interaction"))

	def test_deleting_a_customer_still_works(self):
		cust = f.customer("_FP Party Customer Deleted")
		profile = frappe.db.get_value("Fishpond Lead", {"customer": cust})
		frappe.delete_doc("Customer", cust)
		self.assertFalse(frappe.db.exists("Customer", cust))
		self.assertIsNone(frappe.db.get_value("Fishpond Lead", profile, "customer"))

"""The accountant's desk: the link queue, its suggestions, attribute / undo, create a Customer from an
invoice, dismiss, Customer merge through ERPNext's rename-with-merge, the role matrix, and the
reconciliation at zero differences after each."""

import random

import frappe
from frappe.utils import add_days, nowdate

from crm_fishpond import duplicate_pass, duplicates
from crm_fishpond.accounting import attribution, customer_merge, queue
from crm_fishpond.api import accounting as api
from crm_fishpond.crm_fishpond.doctype.fishpond_duplicate_candidate.fishpond_duplicate_candidate import (
	pair_name,
)
from crm_fishpond.sync import reconcile
from crm_fishpond.sync.profiles import profile_for
from crm_fishpond.sync.transactions import transaction_name
from crm_fishpond.tests import factories
from crm_fishpond.tests import pools_factories as pf

LABEL = "_FP Acc"
QUEUE = "Fishpond Invoice Link"
WHY = "the receipt names her"


def unique(label: str) -> str:
	return f"{LABEL} {label} {random.randint(0, 10**9)}"


def uk_mobile() -> str:
	"""A valid UK number in international form (a till in any country reads it the same) that no other
	test uses: the suggestions look at the whole pond."""
	return f"+44 20 7946 {random.randint(0, 9999):04d}"


def typed(invoice, **values) -> str:
	"""What a cashier typed on a walk-in invoice (contact mobile, e-mail, tax id, name)."""
	if values:
		frappe.db.set_value("Sales Invoice", invoice.name, values, update_modified=False)
	return invoice.name


def row_profile(voucher_no: str) -> str | None:
	return frappe.db.get_value(
		"Fishpond Transaction", transaction_name("Sales Invoice", voucher_no), "fishpond_lead"
	)


def differences_of(*customers: str) -> list:
	result = reconcile.reconcile()
	return [d for d in result["vouchers"] + result["customers"] if d.get("customer") in customers]


class TestAccountantsDesk(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		frappe.set_user("Administrator")
		cls.walk_in = factories.customer(f"{LABEL} Walk-in Customer")
		settings = frappe.get_doc("Fishpond Settings")
		settings.set("generic_customers", [{"customer": cls.walk_in}])
		settings.save()
		cls.accountant = pf.user("fp-acc-user@example.com", ["Accounts User"])
		cls.acc_manager = pf.user("fp-acc-manager@example.com", ["Accounts User", "Accounts Manager"])
		# an Accounts Manager who may also change Customers (ERPNext gives Accounts roles no write on them)
		cls.merger = pf.user(
			"fp-acc-merger@example.com", ["Accounts User", "Accounts Manager", "Sales Master Manager"]
		)
		cls.rep = pf.user("fp-acc-rep@example.com", ["Fishpond User"])
		cls.pond_manager = pf.manager("fp-acc-pond-manager@example.com")
		country = frappe.db.get_value("Company", factories.company(), "country")
		cls.region_country = country

	def known_customer(self, label: str, **values) -> tuple[str, str]:
		"""A Customer with a profile (and an e-mail, a mobile, a tax id as given)."""
		name = factories.customer(unique(label), **values)
		profile = profile_for(customer=name)
		self.assertTrue(profile)
		return name, profile

	def walk_in_invoice(self, rate=100, **details):
		inv = factories.sales_invoice(self.walk_in, rate=rate)
		typed(inv, **details)
		return inv

	def entry_of(self, voucher_no: str):
		return frappe.get_doc(QUEUE, queue.queue_name(voucher_no))

	# -- the queue and its suggestions ---------------------------------------------------------------
	def test_walk_in_invoices_get_the_right_top_suggestion(self):
		mobile = uk_mobile()
		_c1, by_phone = self.known_customer("Phone", mobile_no=mobile)
		n = random.randint(0, 10**6)
		_c2, by_mail = self.known_customer("Mail", email_id=f"jane.doe{n}@gmail.com")
		tax = f"GB{random.randint(10**8, 10**9 - 1)}"
		_c3, by_tax = self.known_customer("Tax", tax_id=tax)
		nobody = self.walk_in_invoice()  # names no one: not queued
		i_phone = self.walk_in_invoice(contact_mobile=mobile.replace(" ", "-"))  # +44-20-7946-…
		i_mail = self.walk_in_invoice(contact_email=f"Jane.Doe{n}+till@GoogleMail.com")
		i_tax = self.walk_in_invoice(tax_id=tax.lower()[:4] + " " + tax[4:])

		counts = queue.refresh()
		self.assertGreaterEqual(counts["queued"], 3)
		self.assertFalse(frappe.db.exists(QUEUE, queue.queue_name(nobody.name)))
		for invoice, profile, code in (
			(i_phone, by_phone, "same_phone"),
			(i_mail, by_mail, "same_email"),
			(i_tax, by_tax, "same_tax_id"),
		):
			entry = self.entry_of(invoice.name)
			self.assertEqual((entry.status, entry.reason), ("Open", "Generic Customer"))
			self.assertEqual(entry.top_profile, profile, invoice.name)
			self.assertIn(code, entry.suggestions[0].evidence_data)
			self.assertTrue(entry.suggestions[0].evidence)
		# a second refresh writes nothing new
		again = queue.refresh()
		self.assertEqual((again["queued"], again["updated"], again["suggestions_changed"]), (0, 0, 0))

	def test_the_walk_in_customers_own_details_identify_nobody(self):
		shop_mobile = uk_mobile()
		frappe.db.set_value(
			"Customer", self.walk_in, {"mobile_no": shop_mobile, "email_id": "till@shop.example.com"}
		)
		own = self.walk_in_invoice(contact_mobile=shop_mobile, contact_email="TILL@shop.example.com")
		named = self.walk_in_invoice(contact_mobile=shop_mobile, customer_name="Jane Someone")
		queue.refresh()
		self.assertFalse(frappe.db.exists(QUEUE, queue.queue_name(own.name)))
		entry = self.entry_of(named.name)
		self.assertEqual((entry.contact_mobile, entry.customer_name), (None, "Jane Someone"))

	def test_a_customer_without_a_profile_is_queued(self):
		name = factories.customer(unique("Orphan"))
		inv = factories.sales_invoice(name)
		frappe.db.delete("Fishpond Lead", {"customer": name})
		queue.refresh()
		self.assertEqual(self.entry_of(inv.name).reason, "No Profile")

	def test_a_likely_duplicate_customer_is_queued_with_its_twin(self):
		mobile = uk_mobile()
		old, old_profile = self.known_customer("Twin", mobile_no=mobile)
		new, new_profile = self.known_customer("Twin", mobile_no=mobile)
		for profile in (old_profile, new_profile):
			frappe.db.set_value("Fishpond Lead", profile, {"phone": mobile, "country": "United Kingdom"})
		inv = factories.sales_invoice(new)
		duplicate_pass.run_duplicate_pass()
		self.assertTrue(frappe.db.exists("Fishpond Duplicate Candidate", pair_name(old_profile, new_profile)))
		queue.refresh()
		entry = self.entry_of(inv.name)
		self.assertEqual((entry.reason, entry.duplicate_of), ("Likely Duplicate", old))
		self.assertEqual(entry.top_profile, old_profile)

	def test_suggestion_settings_are_checked_on_save(self):
		settings = frappe.get_doc("Fishpond Settings")
		settings.match_confident_threshold = 0.2
		settings.match_suggest_threshold = 0.5
		with self.assertRaisesRegex(frappe.ValidationError, "Confident From"):
			settings.save()
		settings.reload()
		settings.match_name_threshold = 30
		with self.assertRaisesRegex(frappe.ValidationError, "Name Similarity From"):
			settings.save()

	# -- attribute and undo --------------------------------------------------------------------------
	def test_attribute_moves_the_row_and_its_credit_note_and_undo_moves_them_back(self):
		mobile = uk_mobile()
		customer, profile = self.known_customer("Attr", mobile_no=mobile)
		inv = self.walk_in_invoice(rate=240, contact_mobile=mobile)
		walk_in_profile = row_profile(inv.name)
		queue.refresh()
		link = queue.queue_name(inv.name)
		frappe.set_user(self.accountant)
		name = api.attribute(link, profile, WHY)
		frappe.set_user("Administrator")
		self.assertEqual(row_profile(inv.name), profile)
		entry = self.entry_of(inv.name)
		self.assertEqual(
			(entry.status, entry.attributed_to, entry.attribution), ("Attributed", profile, name)
		)
		# ERPNext's invoice is untouched
		self.assertEqual(frappe.db.get_value("Sales Invoice", inv.name, "customer"), self.walk_in)
		# the credit note follows the invoice, and a resync keeps both
		ret = factories.credit_note(inv.name)
		self.assertEqual(row_profile(ret.name), profile)
		frappe.db.set_value(
			"Fishpond Transaction",
			transaction_name("Sales Invoice", inv.name),
			"fishpond_lead",
			walk_in_profile,
		)
		reconcile.repair()
		self.assertEqual(row_profile(inv.name), profile)
		self.assertEqual(differences_of(self.walk_in, customer), [])
		# the profile's timeline says who and why
		self.assertTrue(
			frappe.db.exists("Comment", {"reference_name": profile, "content": ("like", f"%{WHY}%")})
		)
		# per customer, the reconciliation says where the walk-in's invoice went
		from crm_fishpond.crm_fishpond.report.fishpond_reconciliation.fishpond_reconciliation import execute

		_cols, rows = execute({"view": "Per Customer", "customer": self.walk_in, "show_matching": 1})
		invoices = next(r for r in rows if r["voucher_type"] == "Sales Invoice")
		self.assertTrue(invoices["matches"])
		self.assertGreaterEqual(invoices["attributed_count"], 1)
		self.assertIn(profile, invoices["attributed_to"])
		# a refresh leaves the decision alone
		queue.refresh()
		self.assertEqual(self.entry_of(inv.name).status, "Attributed")

		frappe.set_user(self.accountant)
		with self.assertRaisesRegex(frappe.ValidationError, "reason"):
			api.undo(name, " ")
		api.undo(name, "wrong Jane")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Invoice Attribution", name, "docstatus"), 2)
		self.assertEqual(row_profile(inv.name), walk_in_profile)
		self.assertEqual(row_profile(ret.name), walk_in_profile)
		self.assertEqual(self.entry_of(inv.name).status, "Open")
		self.assertEqual(differences_of(self.walk_in, customer), [])

	def test_an_attributed_invoice_can_still_be_cancelled_and_deleted(self):
		_c, profile = self.known_customer("Cancel")
		inv = self.walk_in_invoice(customer_name="Cancelled Person")
		queue.refresh()
		name = attribution.attribute(queue.queue_name(inv.name), profile, WHY)
		inv.reload()
		inv.cancel()  # ERPNext is never blocked by the pond's records
		self.assertEqual(row_profile(inv.name), profile)
		self.assertEqual(
			frappe.db.get_value(
				"Fishpond Transaction", transaction_name("Sales Invoice", inv.name), "docstatus_state"
			),
			"Cancelled",
		)
		# ERPNext deletes a cancelled invoice when its ledger entries may go with it
		frappe.db.set_single_value("Accounts Settings", "delete_linked_ledger_entries", 1)
		frappe.delete_doc("Sales Invoice", inv.name)
		self.assertFalse(frappe.db.exists(QUEUE, queue.queue_name(inv.name)))
		self.assertFalse(
			frappe.db.exists("Fishpond Transaction", transaction_name("Sales Invoice", inv.name))
		)
		# the attribution stays as the record of the decision
		self.assertEqual(frappe.db.get_value("Fishpond Invoice Attribution", name, "docstatus"), 1)

	def test_the_queue_is_read_only_and_a_forged_from_profile_is_recomputed(self):
		_c, profile = self.known_customer("Forge")
		_c2, other = self.known_customer("Forged")
		inv = self.walk_in_invoice(customer_name="Forged Person")
		queue.refresh()
		link = queue.queue_name(inv.name)
		frappe.set_user(self.accountant)
		self.assertFalse(frappe.has_permission(QUEUE, "write", link))
		with self.assertRaises(frappe.PermissionError):
			frappe.get_doc(QUEUE, link).save()
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Invoice Attribution",
				"voucher_type": "Sales Invoice",
				"voucher_no": inv.name,
				"to_profile": profile,
				"from_profile": other,
				"reason": WHY,
				"docstatus": 1,
			}
		).insert()
		frappe.set_user("Administrator")
		self.assertNotEqual(
			frappe.db.get_value("Fishpond Invoice Attribution", doc.name, "from_profile"), other
		)

	def test_an_attribution_of_a_deleted_invoice_can_be_undone(self):
		_c, profile = self.known_customer("Deleted")
		inv = self.walk_in_invoice(customer_name="Deleted Person")
		queue.refresh()
		name = attribution.attribute(queue.queue_name(inv.name), profile, WHY)
		inv.reload()
		inv.cancel()
		frappe.db.set_single_value("Accounts Settings", "delete_linked_ledger_entries", 1)
		frappe.delete_doc("Sales Invoice", inv.name)
		attribution.undo(name, "the invoice is gone")
		self.assertEqual(frappe.db.get_value("Fishpond Invoice Attribution", name, "docstatus"), 2)

	def test_one_attribution_at_a_time_and_never_a_credit_note(self):
		_c, profile = self.known_customer("Once")
		_c2, other = self.known_customer("Twice")
		inv = self.walk_in_invoice(customer_name="Somebody Else")
		queue.refresh()
		link = queue.queue_name(inv.name)
		frappe.set_user(self.accountant)
		api.attribute(link, profile, WHY)
		with self.assertRaises(frappe.ValidationError):
			api.attribute(link, other, WHY)  # the entry is no longer open
		frappe.set_user("Administrator")
		ret = factories.credit_note(inv.name)
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Invoice Attribution",
				"voucher_type": "Sales Invoice",
				"voucher_no": ret.name,
				"to_profile": other,
				"reason": WHY,
			}
		)
		with self.assertRaisesRegex(frappe.ValidationError, "credit note"):
			doc.insert()

	def test_undo_is_refused_once_the_period_is_closed(self):
		_c, profile = self.known_customer("Closed")
		inv = self.walk_in_invoice(customer_name="Closed Period Person")
		queue.refresh()
		name = attribution.attribute(queue.queue_name(inv.name), profile, WHY)
		period = frappe.get_doc(
			{
				"doctype": "Accounting Period",
				"period_name": unique("Closed"),
				"company": factories.company(),
				"start_date": add_days(nowdate(), -1),
				"end_date": add_days(nowdate(), 1),
				"closed_documents": [{"document_type": "Sales Invoice", "closed": 1}],
			}
		)
		period.db_insert()  # no overlap check: other tests' periods may cover today
		for row in period.closed_documents:
			row.update(
				{"parent": period.name, "parenttype": "Accounting Period", "parentfield": "closed_documents"}
			)
			row.db_insert()
		with self.assertRaisesRegex(frappe.ValidationError, "closed"):
			attribution.undo(name, "too late")
		self.assertEqual(frappe.db.get_value("Fishpond Invoice Attribution", name, "docstatus"), 1)
		self.assertEqual(row_profile(inv.name), profile)

	def test_bulk_attributes_only_confident_entries(self):
		mobile = uk_mobile()
		tax = f"GB{random.randint(10**8, 10**9 - 1)}"
		_c, profile = self.known_customer("Bulk", mobile_no=mobile, tax_id=tax)
		sure = self.walk_in_invoice(contact_mobile=mobile, tax_id=tax)
		unsure = self.walk_in_invoice(customer_name=unique("Nobody Known"))
		queue.refresh()
		links = [queue.queue_name(sure.name), queue.queue_name(unsure.name)]
		self.assertTrue(self.entry_of(sure.name).confident)
		# a confident entry whose invoice was cancelled since the refresh is skipped alone, with why
		stale = self.walk_in_invoice(contact_mobile=mobile, tax_id=tax)
		queue.refresh()
		links.append(queue.queue_name(stale.name))
		self.assertTrue(self.entry_of(stale.name).confident)
		stale.reload()
		stale.cancel()
		frappe.set_user(self.accountant)
		result = api.attribute_confident(frappe.as_json(links), WHY)
		frappe.set_user("Administrator")
		self.assertEqual(len(result["attributed"]), 1)
		self.assertEqual([s["link"] for s in result["skipped"]], links[1:])
		self.assertIn(
			stale.name, result["skipped"][1]["reason"]
		)  # ERPNext refuses to link a cancelled invoice
		self.assertEqual(row_profile(sure.name), profile)

	def test_a_large_bulk_is_attributed_in_a_background_job(self):
		from unittest.mock import patch

		mobile, tax = uk_mobile(), f"GB{random.randint(10**8, 10**9 - 1)}"
		_c, profile = self.known_customer("Bulk Job", mobile_no=mobile, tax_id=tax)
		invoices = [self.walk_in_invoice(contact_mobile=mobile, tax_id=tax) for _ in range(2)]
		queue.refresh()
		links = [queue.queue_name(i.name) for i in invoices]
		frappe.set_user(self.accountant)
		with patch.object(api, "BULK_INLINE", 1):
			result = api.attribute_confident(frappe.as_json(links), WHY)
		frappe.set_user("Administrator")
		self.assertEqual(result, {"queued": 2})
		# (in tests the job runs at once) both are on the profile: confident, no runner-up
		self.assertEqual([row_profile(i.name) for i in invoices], [profile, profile])

	# -- create a Customer, dismiss --------------------------------------------------------------------
	def test_create_customer_from_the_invoice(self):
		name = unique("New Person")
		mobile = uk_mobile()
		inv = self.walk_in_invoice(customer_name=name, contact_mobile=mobile)
		queue.refresh()
		frappe.set_user(self.acc_manager)
		with self.assertRaises(frappe.PermissionError):
			api.create_customer(queue.queue_name(inv.name), WHY)  # Accounts roles may not create Customers
		frappe.set_user("Administrator")
		result = api.create_customer(queue.queue_name(inv.name), WHY)
		self.assertEqual(frappe.db.get_value("Customer", result["customer"], "customer_name"), name)
		self.assertEqual(profile_for(customer=result["customer"]), result["profile"])
		self.assertEqual(row_profile(inv.name), result["profile"])
		att = frappe.get_doc("Fishpond Invoice Attribution", result["attribution"])
		self.assertEqual((att.action, att.created_customer), ("Create Customer", result["customer"]))
		self.assertEqual(differences_of(self.walk_in, result["customer"]), [])

	def test_a_dismissed_suggestion_never_returns(self):
		mobile = uk_mobile()
		_c, profile = self.known_customer("Dismiss", mobile_no=mobile)
		inv = self.walk_in_invoice(contact_mobile=mobile)
		queue.refresh()
		link = queue.queue_name(inv.name)
		self.assertEqual(self.entry_of(inv.name).top_profile, profile)
		frappe.set_user(self.accountant)
		api.dismiss(link, profile, "the till's own number")
		frappe.set_user("Administrator")
		queue.refresh()
		entry = self.entry_of(inv.name)
		self.assertNotIn(profile, [s.profile for s in entry.suggestions])
		self.assertEqual([d.profile for d in entry.dismissals], [profile])
		# the whole invoice dismissed stays out of the queue
		api.dismiss_invoice(link, "a tourist")
		queue.refresh()
		self.assertEqual(self.entry_of(inv.name).status, "Dismissed")
		api.reopen(link, "she came back")
		self.assertEqual(self.entry_of(inv.name).status, "Open")

	# -- Customer merge --------------------------------------------------------------------------------
	def test_customer_merge_moves_the_ledger_and_the_profile(self):
		old, old_profile = self.known_customer("Merge Old")
		new, new_profile = self.known_customer("Merge New")
		frappe.db.set_value("Fishpond Lead", new_profile, {"lead_owner": self.rep, "status": "Claimed"})
		a = factories.sales_invoice(old, rate=70)
		b = factories.sales_invoice(new, rate=30)
		preview = api.preview_customer_merge(new, old)
		self.assertIsNone(preview["refusal"])
		self.assertIn("Sales Invoice", [m["doctype"] for m in preview["moves"]])
		self.assertIn("GL Entry", [m["doctype"] for m in preview["moves"]])
		frappe.set_user(self.acc_manager)  # may not change Customers
		self.assertIn("may not change", api.preview_customer_merge(new, old)["refusal"])
		frappe.set_user(self.merger)  # no Fishpond role, no write on profiles: the profiles follow anyway
		api.merge_customers(new, old, "one shop, two records")
		frappe.set_user("Administrator")
		self.assertFalse(frappe.db.exists("Customer", new))
		self.assertEqual(frappe.db.get_value("Sales Invoice", b.name, "customer"), old)
		self.assertFalse(frappe.db.exists("Fishpond Lead", new_profile))
		self.assertEqual(profile_for(customer=old), old_profile)
		self.assertEqual(row_profile(a.name), old_profile)
		self.assertEqual(row_profile(b.name), old_profile)
		self.assertEqual(duplicates.resolve_profile(new_profile), old_profile)
		# the owner who claimed is kept
		self.assertEqual(frappe.db.get_value("Fishpond Lead", old_profile, "lead_owner"), self.rep)
		self.assertEqual(differences_of(old, new), [])

	def test_customer_merge_is_refused_where_erpnext_would_refuse(self):
		usd, _p1 = self.known_customer("Cur A")
		factories.sales_invoice(usd)
		eur = factories.customer(unique("Cur B"), currency="EUR")
		factories.sales_invoice(eur, currency="EUR", conversion_rate=1.1)
		preview = api.preview_customer_merge(eur, usd)
		self.assertIn("different currencies", preview["refusal"])
		with self.assertRaisesRegex(frappe.ValidationError, "different currencies"):
			api.merge_customers(eur, usd, "test")
		self.assertTrue(frappe.db.exists("Customer", eur))
		# an Accounts User may not merge Customers
		frappe.set_user(self.accountant)
		with self.assertRaisesRegex(frappe.ValidationError, "Accounts Manager"):
			customer_merge.merge(eur, usd, "test")
		frappe.set_user("Administrator")

	def test_a_merge_from_the_customer_form_keeps_one_profile(self):
		old, old_profile = self.known_customer("Form Old")
		new, new_profile = self.known_customer("Form New")
		inv = factories.sales_invoice(new)
		# Desk's Rename dialog runs before_rename once in the request, then renames in a job
		customer_merge.before_rename(new, old, True)
		frappe.flags.pop(customer_merge.FLAG, None)
		frappe.rename_doc("Customer", new, old, merge=True)
		self.assertFalse(frappe.db.exists("Fishpond Lead", new_profile))
		self.assertEqual(row_profile(inv.name), old_profile)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", old_profile, "customer"), old)

	def test_a_merge_that_never_ran_gives_the_profile_back(self):
		from crm_fishpond.sync.profiles import ensure_profile_for_customer

		old, _old_profile = self.known_customer("Never Old")
		new, new_profile = self.known_customer("Never New")
		customer_merge.before_rename(new, old, True)  # the request's check; the job never ran
		frappe.flags.pop(customer_merge.FLAG, None)
		self.assertIsNone(profile_for(customer=new))
		self.assertEqual(ensure_profile_for_customer(new), new_profile)
		self.assertEqual(profile_for(customer=new), new_profile)
		# a Customer naming a profile that is gone (a reinstall drops the pond's tables) gets a new one
		frappe.db.delete("Fishpond Lead", new_profile)
		made = ensure_profile_for_customer(new)
		self.assertNotEqual(made, new_profile)
		self.assertTrue(frappe.db.exists("Fishpond Lead", made))

	# -- roles ------------------------------------------------------------------------------------------
	def test_role_matrix(self):
		_c, profile = self.known_customer("Roles")
		inv = self.walk_in_invoice(customer_name="Role Person")
		queue.refresh()
		link = queue.queue_name(inv.name)
		for user in (self.rep, self.pond_manager):
			frappe.set_user(user)
			with self.assertRaises(frappe.PermissionError, msg=user):
				api.attribute(link, profile, WHY)
			with self.assertRaises(frappe.PermissionError, msg=user):
				api.refresh_queue()
		frappe.set_user(self.rep)
		self.assertFalse(frappe.has_permission(QUEUE, "read"))
		with self.assertRaises(frappe.PermissionError):
			frappe.get_list(QUEUE, limit=1)
		frappe.set_user(self.pond_manager)
		self.assertTrue(frappe.has_permission(QUEUE, "read"))
		frappe.set_user(self.accountant)
		self.assertTrue(frappe.get_list(QUEUE, filters={"name": link}))
		entry = api.entry(link)
		self.assertEqual(entry["status"], "Open")
		with self.assertRaises(frappe.ValidationError):
			api.merge_customers(self.walk_in, _c, WHY)
		frappe.set_user("Administrator")

	# -- the job ----------------------------------------------------------------------------------------
	def test_a_refresh_asked_for_while_one_runs_runs_again(self):
		from unittest.mock import patch

		calls = []

		def refresh():
			calls.append(1)
			if len(calls) == 1:  # an invoice is submitted and a refresh asked for while this one reads
				frappe.cache.set_value(queue.WAITING, 1)
			return {}

		frappe.cache.set_value(queue.WAITING, 1)
		with patch.object(queue, "refresh", side_effect=refresh):
			queue.run()
		self.assertEqual(len(calls), 2)
		self.assertFalse(frappe.cache.exists(queue.WAITING))
		with patch.object(queue, "refresh", side_effect=refresh):
			queue.run()  # the nightly run without a mark still runs once
		self.assertEqual(len(calls), 3)

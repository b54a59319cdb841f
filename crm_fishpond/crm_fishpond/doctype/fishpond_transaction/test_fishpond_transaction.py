import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondTransaction(FishpondTestCase):
	def test_read_only_for_users_readable_by_accounts(self):
		meta = frappe.get_meta("Fishpond Transaction")
		perms = {p.role: p for p in meta.permissions}
		for role in ("Accounts User", "Fishpond User", "Fishpond Manager"):
			self.assertTrue(perms[role].read, role)
			self.assertFalse(perms[role].write or perms[role].create, role)
		self.assertTrue(meta.in_create)

	def test_the_columns_erpnext_searches_on_cancel_are_indexed(self):
		"""Cancelling or deleting a voucher makes Frappe look for documents that link to it, through
		every Link and Dynamic Link field of every doctype: on a pond of 10,000,000 rows an unindexed
		``return_against`` made each Sales Order cancel scan the table (7 s)."""
		for column in ("voucher_no", "return_against", "customer", "fishpond_lead", "consolidated_invoice"):
			self.assertTrue(
				frappe.db.get_column_index("tabFishpond Transaction", column, unique=False),
				f"{column} has no index",
			)

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

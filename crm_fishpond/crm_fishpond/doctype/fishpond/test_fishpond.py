import frappe

from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpond(FishpondTestCase):
	def test_only_one_default_pool(self):
		first = frappe.get_doc({"doctype": "Fishpond", "pool_name": "_FP Pool A", "is_default": 1}).insert()
		second = frappe.get_doc({"doctype": "Fishpond", "pool_name": "_FP Pool B", "is_default": 1}).insert()
		self.assertEqual(frappe.db.get_value("Fishpond", first.name, "is_default"), 0)
		self.assertEqual(frappe.db.get_single_value("Fishpond Settings", "default_pool"), second.name)

	def test_negative_caps_and_duplicate_members_are_refused(self):
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{"doctype": "Fishpond", "pool_name": "_FP Pool C", "max_claimed_per_user": -1}
			).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{
					"doctype": "Fishpond",
					"pool_name": "_FP Pool D",
					"members": [
						{"member_type": "User", "user": "Administrator"},
						{"member_type": "User", "user": "Administrator"},
					],
				}
			).insert()

	def test_default_pool_exists_after_install(self):
		pool = frappe.db.get_single_value("Fishpond Settings", "default_pool")
		self.assertTrue(pool and frappe.db.exists("Fishpond", pool))

	def test_recycling_needs_a_rule_and_an_enabled_target(self):
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc({"doctype": "Fishpond", "pool_name": "_FP Pool E", "recycle_enabled": 1}).insert()
		closed = frappe.get_doc({"doctype": "Fishpond", "pool_name": "_FP Pool F", "enabled": 0}).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{
					"doctype": "Fishpond",
					"pool_name": "_FP Pool G",
					"recycle_enabled": 1,
					"recycle_no_followup_days": 30,
					"recycle_to": closed.name,
				}
			).insert()
		pool = frappe.get_doc(
			{
				"doctype": "Fishpond",
				"pool_name": "_FP Pool H",
				"recycle_enabled": 1,
				"recycle_no_order_days": 14,
			}
		).insert()
		self.assertTrue(pool.exempt_locked and pool.exempt_open_sales_order and pool.exempt_unpaid_invoice)

	def test_pool_form_has_the_dry_run(self):
		meta = frappe.get_meta("Fishpond")
		self.assertEqual(meta.get_field("recycle_preview").fieldtype, "HTML")

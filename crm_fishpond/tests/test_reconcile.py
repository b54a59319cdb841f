"""Integration: the reconciliation names the item rows that differ, and the repair re-syncs them.

A voucher changed behind the hooks' back (a direct database write) is reported, not repaired, by the
scheduled jobs; `repair()` (the report's button, `fishpond-reconcile --repair`) re-syncs it.
"""

import frappe
from frappe.utils import add_days, nowdate

from crm_fishpond.sync import backfill
from crm_fishpond.sync.reconcile import describe, repair, voucher_differences
from crm_fishpond.sync.transactions import transaction_name
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.utils import FishpondTestCase, make_item


def two_item_invoice(cust: str):
	items = [make_item("_FP Recon A"), make_item("_FP Recon B")]
	doc = frappe.get_doc(
		{
			"doctype": "Sales Invoice",
			"company": f.company(),
			"customer": cust,
			"currency": f.company_currency(),
			"debit_to": f.receivable_account(f.company_currency()),
			"posting_date": nowdate(),
			"due_date": add_days(nowdate(), 30),
			"items": [
				{"item_code": items[0], "qty": 10, "rate": 10},
				{"item_code": items[1], "qty": 20, "rate": 10},
			],
		}
	)
	doc.insert(ignore_permissions=True)
	doc.submit()
	return doc


def differences_of(voucher_no: str) -> list[dict]:
	return [d for d in voucher_differences() if d["voucher_no"] == voucher_no]


def pond_items(voucher_no: str) -> dict[str, float]:
	rows = frappe.get_all(
		"Fishpond Transaction Item",
		filters={"parent": transaction_name("Sales Invoice", voucher_no)},
		fields=["item_code", "qty"],
	)
	return {r.item_code: r.qty for r in rows}


class TestReconcileNamesDifferences(FishpondTestCase):
	def test_direct_write_is_named_by_item_row_reported_until_repaired(self):
		si = two_item_invoice(f.customer("_FP Recon Customer"))
		self.assertEqual(differences_of(si.name), [])
		group = frappe.db.get_value("Item", "_FP Recon A", "item_group")

		# behind the hooks' back: the quantities of the two rows swap, the total (30) stays the same
		rows = {d.item_code: d.name for d in si.items}
		frappe.db.set_value("Sales Invoice Item", rows["_FP Recon A"], "qty", 20, update_modified=False)
		frappe.db.set_value("Sales Invoice Item", rows["_FP Recon B"], "qty", 10, update_modified=False)

		[detail] = differences_of(si.name)
		self.assertEqual(detail["kind"], "different")
		self.assertEqual(detail["fields"], {}, "no header field differs (total_qty is 30 on both sides)")
		self.assertEqual(
			[(d["item_code"], d["field"], d["pond"], d["erpnext"]) for d in detail["items"]],
			[("_FP Recon A", "qty", 10.0, 20.0), ("_FP Recon B", "qty", 20.0, 10.0)],
		)
		lines = describe(detail)
		self.assertEqual(len(lines), 2)
		self.assertIn(f"_FP Recon A ({group})", lines[0])
		self.assertIn("10", lines[0])
		self.assertIn("20", lines[0])

		# the hourly job resumes interrupted runs; it does not look for (or repair) such writes
		backfill.resume_stuck_runs()
		self.assertEqual(len(differences_of(si.name)), 1)

		# the repair re-syncs the voucher through the document events' upsert
		self.assertEqual(repair(differences_of(si.name)), {"synced": 1, "removed": 0})
		self.assertEqual(differences_of(si.name), [])
		self.assertEqual(pond_items(si.name), {"_FP Recon A": 20, "_FP Recon B": 10})

	def test_replayed_event_refreshes_item_rows_when_only_items_differ(self):
		"""The document events' upsert compares item rows too, not only the header's totals."""
		from crm_fishpond.events import sales as sales_events

		si = two_item_invoice(f.customer("_FP Recon Customer"))
		rows = {d.item_code: d.name for d in si.items}
		frappe.db.set_value("Sales Invoice Item", rows["_FP Recon A"], "qty", 20, update_modified=False)
		frappe.db.set_value("Sales Invoice Item", rows["_FP Recon B"], "qty", 10, update_modified=False)
		sales_events.on_update_after_submit(frappe.get_doc("Sales Invoice", si.name))
		self.assertEqual(pond_items(si.name), {"_FP Recon A": 20, "_FP Recon B": 10})
		self.assertEqual(differences_of(si.name), [])

	def test_extra_row_is_removed_by_the_repair(self):
		si = two_item_invoice(f.customer("_FP Recon Customer"))
		si.cancel()
		frappe.db.delete("Sales Invoice Item", {"parent": si.name})
		frappe.db.delete("Sales Invoice", si.name)  # deleted behind the hooks' back
		[detail] = differences_of(si.name)
		self.assertEqual(detail["kind"], "extra")
		self.assertTrue(describe(detail))
		self.assertEqual(repair([detail]), {"synced": 0, "removed": 1})
		self.assertFalse(frappe.db.exists("Fishpond Transaction", transaction_name("Sales Invoice", si.name)))

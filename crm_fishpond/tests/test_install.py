"""Shipped defaults survive `bench migrate`: created once when missing, never overwritten.

`bench migrate` runs Frappe's fixture sync and then the app's after_migrate hook. The fixture sync
commits, so these tests restore what they change themselves instead of relying on a rollback.
"""

from __future__ import annotations

import json

import frappe
from frappe.utils.fixtures import sync_fixtures

from crm_fishpond import install
from crm_fishpond.tests.utils import FishpondTestCase

STAGE = "Growth"
NOTIFICATION = "Became at risk"
WORKFLOW = "Fishpond Transfer Approval"
STAGE_FIELDS = ("sequence", "color", "entry_condition", "entry_reason")


def migrate() -> None:
	"""What `bench migrate` does for this app after the schema sync: fixtures, then after_migrate."""
	sync_fixtures("crm_fishpond")
	install.after_migrate()


class TestShippedDefaults(FishpondTestCase):
	def setUp(self):
		install.ensure_defaults()
		self.stage = frappe.db.get_value("Lifecycle Stage", STAGE, STAGE_FIELDS, as_dict=True)
		self.notification_enabled = frappe.db.get_value("Notification", NOTIFICATION, "enabled")
		self.workflow_alert = frappe.db.get_value("Workflow", WORKFLOW, "send_email_alert")
		frappe.db.commit()  # nosemgrep: the fixture sync below commits anyway

	def tearDown(self):
		frappe.db.rollback()
		frappe.db.set_value("Lifecycle Stage", STAGE, dict(self.stage))
		frappe.db.set_value("Notification", NOTIFICATION, "enabled", self.notification_enabled)
		frappe.db.set_value("Workflow", WORKFLOW, "send_email_alert", self.workflow_alert)
		frappe.clear_cache()
		frappe.db.commit()  # nosemgrep: undo what the committed migrate kept

	def test_migrate_keeps_an_admins_edits(self):
		stage = frappe.get_doc("Lifecycle Stage", STAGE)
		stage.sequence = 33
		stage.color = "#123456"
		stage.entry_condition = json.dumps({"field": "churn_risk", "op": ">=", "value": 77})
		stage.entry_reason = "big spender"
		stage.save()
		notification = frappe.get_doc("Notification", NOTIFICATION)
		notification.enabled = 1
		notification.save()
		workflow = frappe.get_doc("Workflow", WORKFLOW)
		workflow.send_email_alert = 1
		workflow.save()
		frappe.db.commit()  # nosemgrep: an admin's saved edit, as Desk would commit it

		migrate()

		stage = frappe.db.get_value("Lifecycle Stage", STAGE, STAGE_FIELDS, as_dict=True)
		self.assertEqual(stage.sequence, 33)
		self.assertEqual(stage.color, "#123456")
		self.assertEqual(json.loads(stage.entry_condition)["value"], 77)
		self.assertEqual(stage.entry_reason, "big spender")
		self.assertEqual(frappe.db.get_value("Notification", NOTIFICATION, "enabled"), 1)
		self.assertEqual(frappe.db.get_value("Workflow", WORKFLOW, "send_email_alert"), 1)

	def test_a_default_the_app_never_shipped_here_is_created_once(self):
		"""A site that predates a default (or this bookkeeping) gets it from the next migrate."""
		shipped = frappe.db.get_single_value("Fishpond Settings", "shipped_defaults")
		frappe.delete_doc("Notification", NOTIFICATION, ignore_permissions=True, force=True)
		frappe.db.set_single_value("Fishpond Settings", "shipped_defaults", "[]")
		frappe.db.commit()  # nosemgrep: the migrate below commits
		try:
			migrate()
			notification = frappe.get_doc("Notification", NOTIFICATION)
			self.assertEqual(notification.enabled, 0)
			self.assertEqual(notification.document_type, "Fishpond Lead")
			self.assertEqual(install.ensure_defaults(), [], "a second run inserts nothing")
		finally:
			frappe.db.set_single_value("Fishpond Settings", "shipped_defaults", shipped)
			frappe.db.commit()  # nosemgrep: restore

	def test_a_default_an_admin_deleted_stays_deleted(self):
		"""Turning approvals off by deleting the shipped workflow survives migrate."""
		workflow = frappe.get_doc("Workflow", WORKFLOW).as_dict()
		frappe.delete_doc("Workflow", WORKFLOW, ignore_permissions=True, force=True)
		frappe.db.commit()  # nosemgrep: an admin's delete, as Desk would commit it
		try:
			migrate()
			self.assertFalse(frappe.db.exists("Workflow", WORKFLOW))
		finally:
			if not frappe.db.exists("Workflow", WORKFLOW):
				frappe.get_doc(workflow).insert(ignore_permissions=True)
			frappe.db.commit()  # nosemgrep: restore the shipped workflow for the other tests

	def test_every_default_exists_after_install(self):
		for doctype, records in install.default_records():
			for data in records:
				self.assertTrue(install.default_exists(doctype, data), f"{doctype} {data.get('name')}")
		keys = frappe.get_all("Lifecycle Stage", filters={"stage_key": ("is", "set")}, pluck="stage_key")
		self.assertEqual(set(keys) & set(install.DEFAULT_STAGE_KEYS), set(install.DEFAULT_STAGE_KEYS))

"""The *Fishpond CRM* onboarding: shipped with the app, shown on its workspace, and its steps ticked off
when the work is done.

Frappe itself marks a step complete only from the onboarding widget in the browser (after the form
the widget opened saves, or when a "Go to Page" step is clicked, it calls
``frappe.desk.desktop.update_onboarding_step``). The app also marks the three steps that leave a record
behind (a pool with a rep, a rule tag, a rescore run) from doc events, whichever way the record was
made. Nothing here commits: every test is rolled back.
"""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import patch

import frappe
from frappe.desk.desktop import get_desktop_page, update_onboarding_step
from frappe.modules.import_file import import_file_by_path

from crm_fishpond.events.onboarding import (
	ONBOARDING,
	POOL_STEP,
	RESCORE_STEP,
	STAGES_STEP,
	STEPS,
	TAG_RULE_STEP,
	WORKSPACE_STEP,
)
from crm_fishpond.tests.pools_factories import user
from crm_fishpond.tests.utils import FishpondTestCase

WORKSPACE = "Fishpond CRM"
MODULE_PATH = Path(__file__).resolve().parents[1] / "crm_fishpond"
RULE = {"field": "churn_risk", "op": ">=", "value": 70}


def is_complete(step: str) -> int:
	return frappe.db.get_value("Onboarding Step", step, "is_complete")


def onboarding_on_the_workspace() -> list[dict]:
	"""What Desk's workspace page asks the server for, with onboarding enabled in System Settings
	(the setup wizard enables it; a test site may not have run it)."""
	real = frappe.get_system_settings

	def settings(key):
		return 1 if key == "enable_onboarding" else real(key)

	with patch.object(frappe, "get_system_settings", side_effect=settings):
		page = get_desktop_page(json.dumps({"name": WORKSPACE, "title": WORKSPACE, "public": 1}))
	return page["onboardings"]["items"]


class TestOnboarding(FishpondTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		frappe.db.set_value("Module Onboarding", ONBOARDING, "is_complete", 0, update_modified=False)
		for step in STEPS:
			frappe.db.set_value(
				"Onboarding Step", step, {"is_complete": 0, "is_skipped": 0}, update_modified=False
			)

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()

	def test_the_app_ships_the_onboarding_with_its_five_steps(self):
		onboarding = frappe.get_doc("Module Onboarding", ONBOARDING)
		self.assertEqual(onboarding.module, "CRM Fishpond")
		self.assertEqual([row.step for row in onboarding.steps], list(STEPS))
		self.assertIn("Fishpond Manager", onboarding.get_allowed_roles())
		workspace = frappe.get_doc("Workspace", WORKSPACE)
		blocks = [b for b in json.loads(workspace.content) if b["type"] == "onboarding"]
		self.assertEqual([b["data"]["onboarding_name"] for b in blocks], [ONBOARDING])

	def test_every_step_opens_something_that_exists(self):
		workspaces = {frappe.scrub(w).replace("_", "-") for w in frappe.get_all("Workspace", pluck="name")}
		for step in STEPS:
			doc = frappe.get_doc("Onboarding Step", step)
			self.assertTrue(doc.title and doc.description and doc.action_label, step)
			if doc.action == "Create Entry":
				self.assertTrue(frappe.db.exists("DocType", doc.reference_document), step)
				self.assertTrue(frappe.has_permission(doc.reference_document, "create"), step)
				self.assertTrue(doc.show_full_form, f"{step}: a quick entry has no child tables or code")
			else:
				self.assertEqual(doc.action, "Go to Page", step)
				prefix, route = doc.path.split("/")
				self.assertEqual(prefix, "app", step)
				doctype = frappe.db.get_value("DocType", {"name": route.replace("-", " ").title()})
				self.assertTrue(doctype or route in workspaces, f"{step}: nothing at /app/{route}")

	def test_the_workspace_shows_the_onboarding_to_a_fishpond_manager(self):
		items = onboarding_on_the_workspace()
		self.assertEqual(len(items), 1)
		self.assertEqual([s.title for s in items[0]["items"]], list(STEPS))
		manager = user("fp-onboarding-manager@example.com", ["Fishpond Manager"])
		frappe.set_user(manager)
		self.assertEqual(len(onboarding_on_the_workspace()), 1)
		rep = user("fp-onboarding-rep@example.com", ["Fishpond User"])
		frappe.set_user(rep)
		self.assertEqual(onboarding_on_the_workspace(), [], "a rep is not walked through the setup")

	def test_a_pool_completes_its_step_once_it_has_a_rep(self):
		rep = user("fp-onboarding-rep@example.com", ["Fishpond User"])
		pool = frappe.get_doc(
			{
				"doctype": "Fishpond",
				"pool_name": "_Test Onboarding Pool",
				"members": [{"member_type": "Role", "role": "Fishpond User"}],
			}
		).insert()
		self.assertEqual(is_complete(POOL_STEP), 0, "a role is not a rep (the default pool has one)")
		pool.append("members", {"member_type": "User", "user": rep})
		pool.save()
		self.assertEqual(is_complete(POOL_STEP), 1)

	def test_a_rule_tag_completes_its_step_and_a_manual_tag_does_not(self):
		manual = {"doctype": "Fishpond Tag", "tag_name": "_Test Onboarding VIP", "tag_type": "Manual"}
		frappe.get_doc(manual).insert()
		self.assertEqual(is_complete(TAG_RULE_STEP), 0)
		frappe.get_doc(
			{
				"doctype": "Fishpond Tag",
				"tag_name": "_Test Onboarding At Risk",
				"tag_type": "Rule",
				"condition": json.dumps(RULE),
			}
		).insert()
		self.assertEqual(is_complete(TAG_RULE_STEP), 1)

	def test_starting_a_rescore_completes_its_step(self):
		from crm_fishpond.api.scoring import start_rescore
		from crm_fishpond.scoring import runner
		from crm_fishpond.sync import runs

		# start_rescore returns an active run instead of starting one; none is active in this test
		frappe.db.delete("Fishpond Run", {"run_type": runner.RUN_TYPE, "status": ("in", runs.ACTIVE)})
		shipped = frappe.db.get_value("Onboarding Step", RESCORE_STEP, "modified")
		with patch.object(runner, "enqueue_run") as enqueue:
			run = start_rescore()
		enqueue.assert_called_once_with(run)
		self.assertEqual(is_complete(RESCORE_STEP), 1)
		# a newer modified than the step file's would make `bench migrate` skip the file from now on
		self.assertEqual(frappe.db.get_value("Onboarding Step", RESCORE_STEP, "modified"), shipped)

	def test_the_page_steps_are_completed_by_the_widget(self):
		"""Frappe's widget marks a "Go to Page" step complete when it is clicked, through this call."""
		for step in (STAGES_STEP, WORKSPACE_STEP):
			self.assertEqual(is_complete(step), 0)
			update_onboarding_step(step, "is_complete", 1)
			self.assertEqual(is_complete(step), 1)

	def test_a_completed_onboarding_is_no_longer_shown(self):
		frappe.db.set_value("Module Onboarding", ONBOARDING, "is_complete", 1, update_modified=False)
		self.assertEqual(onboarding_on_the_workspace(), [])

	def test_migrate_keeps_the_progress(self):
		"""`bench migrate` re-imports a changed step file; the step stays complete (Frappe keeps
		is_complete and is_skipped of an imported Onboarding Step)."""
		frappe.db.set_value("Onboarding Step", POOL_STEP, "is_complete", 1, update_modified=False)
		frappe.db.set_value("Onboarding Step", TAG_RULE_STEP, "is_skipped", 1, update_modified=False)
		for step in (POOL_STEP, TAG_RULE_STEP):
			path = MODULE_PATH / "onboarding_step" / frappe.scrub(step) / f"{frappe.scrub(step)}.json"
			self.assertTrue(import_file_by_path(str(path), force=True))
		self.assertEqual(is_complete(POOL_STEP), 1)
		self.assertEqual(frappe.db.get_value("Onboarding Step", TAG_RULE_STEP, "is_skipped"), 1)

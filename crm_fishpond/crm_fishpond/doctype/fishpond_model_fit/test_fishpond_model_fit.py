import json

import frappe
import pandas as pd

from crm_fishpond.engine.pipeline import FittedModels
from crm_fishpond.engine.rfm import RFMThresholds
from crm_fishpond.scoring import models
from crm_fishpond.tests.utils import FishpondTestCase


def fitted(monetary=(100.0, 200.0, 300.0, 400.0)) -> FittedModels:
	thresholds = RFMThresholds("quantile", 5, (1.0, 2.0, 3.0, 4.0), (1.0, 2.0, 3.0, 4.0), monetary, n=10)
	return FittedModels(thresholds, None, None, pd.Timestamp("2026-01-31"), 10)


class TestFishpondModelFit(FishpondTestCase):
	def test_fits_are_stored_once_and_say_what_changed(self):
		first, created = models.save_fit(fitted(), run=None, profiles=20, purchase_rows=40)
		self.assertTrue(created)
		again, created = models.save_fit(fitted(), run=None, profiles=20, purchase_rows=40)
		self.assertEqual((again, created), (first, False))
		second, created = models.save_fit(
			fitted((1.0, 2.0, 3.0, 4.0)), run=None, profiles=20, purchase_rows=40
		)
		self.assertTrue(created)
		doc = frappe.get_doc("Fishpond Model Fit", second)
		self.assertEqual(doc.previous_fit, first)
		self.assertIn("RFM thresholds", doc.changes)
		self.assertEqual((doc.profiles, doc.buyers, str(doc.as_of)), (20, 10, "2026-01-31"))
		self.assertEqual(json.loads(doc.rfm_thresholds)["monetary"], [1.0, 2.0, 3.0, 4.0])
		self.assertEqual(models.latest_fit(), second)
		self.assertEqual(models.load_fit(second).rfm.monetary, (1.0, 2.0, 3.0, 4.0))

	def test_managers_read_fits_nobody_edits_them(self):
		name, _created = models.save_fit(fitted((5.0, 6.0, 7.0, 8.0)), run=None, profiles=1, purchase_rows=1)
		for email, roles in (
			("fp-fit-manager@example.com", ["Fishpond Manager"]),
			("fp-fit-rep@example.com", ["Fishpond User"]),
		):
			if not frappe.db.exists("User", email):
				frappe.get_doc(
					{"doctype": "User", "email": email, "first_name": "Fit", "send_welcome_email": 0}
				).insert(ignore_permissions=True)
			frappe.get_doc("User", email).add_roles(*roles)
		try:
			frappe.set_user("fp-fit-manager@example.com")
			self.assertTrue(frappe.has_permission("Fishpond Model Fit", "read", name))
			self.assertFalse(frappe.has_permission("Fishpond Model Fit", "write", name))
			self.assertFalse(frappe.has_permission("Fishpond Model Fit", "create"))
			frappe.set_user("fp-fit-rep@example.com")
			self.assertFalse(frappe.has_permission("Fishpond Model Fit", "read", name))
		finally:
			frappe.set_user("Administrator")

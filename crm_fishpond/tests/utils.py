"""Integration-test helpers: a v15/v16 compatible base class and get-or-create factories."""

from __future__ import annotations

import frappe

try:  # Frappe 16
	from frappe.tests import IntegrationTestCase as FishpondTestCase
except ImportError:  # Frappe 15
	from frappe.tests.utils import FrappeTestCase as FishpondTestCase

__all__ = ["FishpondTestCase", "before_tests", "make_item", "manual_rescores_only"]


def before_tests():
	"""ERPNext's test set-up (setup wizard, _Test Company), then the pond's defaults."""
	from erpnext.setup.utils import before_tests as erpnext_before_tests

	erpnext_before_tests()
	from crm_fishpond.install import after_migrate

	after_migrate()
	frappe.db.commit()  # nosemgrep: test bootstrap


def manual_rescores_only() -> None:
	"""Fishpond Settings as scoring tests expect them: no scheduled full rescore, no JSON overrides."""
	settings = frappe.get_single("Fishpond Settings")
	settings.rescore_frequency = "Manual Only"
	settings.engine_config = None
	settings.save()


def make_item(item_code: str = "_Test Fishpond Item", item_group: str | None = None) -> str:
	if frappe.db.exists("Item", item_code):
		return item_code
	item_group = item_group or frappe.db.get_value("Item Group", {"is_group": 0}, "name")
	frappe.get_doc(
		{
			"doctype": "Item",
			"item_code": item_code,
			"item_name": item_code,
			"item_group": item_group,
			"stock_uom": "Nos",
			"is_stock_item": 0,
			"include_item_in_manufacturing": 0,
		}
	).insert(ignore_permissions=True)
	return item_code

"""Integration-test helpers: a v15/v16 compatible base class and get-or-create factories."""

from __future__ import annotations

import frappe
from frappe.utils import add_days, nowdate

try:  # Frappe 16
	from frappe.tests import IntegrationTestCase as FishpondTestCase
except ImportError:  # Frappe 15
	from frappe.tests.utils import FrappeTestCase as FishpondTestCase

__all__ = ["FishpondTestCase", "before_tests", "make_customer", "make_item", "make_lead", "test_company"]

COMPANY = "_Test Company"


def before_tests():
	"""ERPNext's test set-up (setup wizard, _Test Company), then the pond's defaults."""
	from erpnext.setup.utils import before_tests as erpnext_before_tests

	erpnext_before_tests()
	from crm_fishpond.install import after_migrate

	after_migrate()
	frappe.db.commit()  # nosemgrep: test bootstrap


def test_company() -> str:
	if frappe.db.exists("Company", COMPANY):
		return COMPANY
	return frappe.db.get_value("Company", {}, "name")


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


def make_customer(name: str, **values) -> str:
	if frappe.db.exists("Customer", name):
		return name
	doc = frappe.get_doc(
		{
			"doctype": "Customer",
			"customer_name": name,
			"customer_type": "Company",
			"customer_group": frappe.db.get_value("Customer Group", {"is_group": 0}, "name"),
			"territory": frappe.db.get_value("Territory", {"is_group": 0}, "name"),
			**values,
		}
	).insert(ignore_permissions=True)
	return doc.name


def make_lead(first_name: str, **values) -> str:
	existing = frappe.db.get_value("Lead", {"first_name": first_name})
	if existing:
		return existing
	doc = frappe.get_doc({"doctype": "Lead", "first_name": first_name, **values}).insert(ignore_permissions=True)
	return doc.name


def make_sales_invoice(customer: str, rate: float = 100, qty: float = 1, currency: str | None = None,
		conversion_rate: float = 1, posting_date: str | None = None, submit: bool = True, **kwargs):
	from erpnext.accounts.doctype.sales_invoice.test_sales_invoice import create_sales_invoice

	return create_sales_invoice(
		company=test_company(),
		customer=customer,
		item_code=make_item(),
		qty=qty,
		rate=rate,
		currency=currency or frappe.get_cached_value("Company", test_company(), "default_currency"),
		conversion_rate=conversion_rate,
		posting_date=posting_date or nowdate(),
		do_not_submit=not submit,
		**kwargs,
	)


def make_sales_order(customer: str, rate: float = 100, qty: float = 1, currency: str | None = None,
		conversion_rate: float = 1, submit: bool = True, **kwargs):
	from erpnext.selling.doctype.sales_order.test_sales_order import make_sales_order as erpnext_make_so

	return erpnext_make_so(
		company=test_company(),
		customer=customer,
		item_code=make_item(),
		qty=qty,
		rate=rate,
		currency=currency or frappe.get_cached_value("Company", test_company(), "default_currency"),
		conversion_rate=conversion_rate,
		delivery_date=add_days(nowdate(), 7),
		do_not_submit=not submit,
		**kwargs,
	)

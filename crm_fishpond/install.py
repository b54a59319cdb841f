"""Install, migrate and uninstall hooks."""

import frappe
from frappe import _

from crm_fishpond.setup import create_custom_fields, delete_custom_fields

DEFAULT_POOL = "General Pool"


def after_install() -> None:
	create_custom_fields()
	ensure_default_pool()
	frappe.db.commit()  # nosemgrep: the backfill job below must see the pool and fields
	from crm_fishpond.sync.backfill import start_backfill

	start_backfill(triggered_by="Administrator", reason="installed")


def after_migrate() -> None:
	create_custom_fields()
	ensure_default_pool()


def ensure_default_pool() -> str:
	settings = frappe.get_single("Fishpond Settings")
	if settings.default_pool and frappe.db.exists("Fishpond", settings.default_pool):
		return settings.default_pool
	pool = frappe.db.get_value("Fishpond", {"is_default": 1}) or frappe.db.get_value("Fishpond", DEFAULT_POOL)
	if not pool:
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond",
				"pool_name": DEFAULT_POOL,
				"is_default": 1,
				"description": _("Where new Leads and Customers land until a rep claims them."),
				"members": [{"member_type": "Role", "role": "Fishpond User"}],
			}
		).insert(ignore_permissions=True)
		pool = doc.name
	frappe.db.set_single_value("Fishpond Settings", "default_pool", pool)
	return pool


def before_uninstall() -> None:
	"""Remove what the app added to ERPNext doctypes; every ERPNext record stays."""
	delete_custom_fields()

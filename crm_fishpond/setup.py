"""Custom fields on ERPNext doctypes: created in code, idempotent, removed on uninstall."""

import frappe
from frappe.custom.doctype.custom_field.custom_field import create_custom_fields as _create_custom_fields


def get_custom_fields() -> dict[str, list[dict]]:
	profile_link = {
		"fieldname": "fishpond_lead",
		"label": "Fishpond Profile",
		"fieldtype": "Link",
		"options": "Fishpond Lead",
		"read_only": 1,
		"no_copy": 1,
		"search_index": 1,
		"translatable": 0,
	}
	referral_code = {
		"fieldname": "fishpond_referral_code",
		"label": "Referral Code",
		"fieldtype": "Data",
		"length": 40,
		"no_copy": 1,
		"translatable": 0,
		"description": "The referrer's code: recorded as a referral when this is submitted.",
	}
	reward_link = {
		"fieldname": "fishpond_referral_reward",
		"label": "Referral Reward",
		"fieldtype": "Link",
		"options": "Referral Reward",
		"read_only": 1,
		"no_copy": 1,
		"search_index": 1,
	}
	return {
		"Customer": [{**profile_link, "insert_after": "lead_name"}],
		"Lead": [
			{**profile_link, "insert_after": "customer"},
			# typed on the public join form (crm_fishpond.api.capture) or the Lead form: a referral
			{
				"fieldname": "fishpond_referral_code",
				"label": "Referral Code",
				"fieldtype": "Data",
				"length": 40,
				"insert_after": "fishpond_lead",
				"no_copy": 1,
				"translatable": 0,
			},
			{
				"fieldname": "fishpond_consent",
				"label": "Consented to Contact",
				"fieldtype": "Check",
				"insert_after": "fishpond_referral_code",
				"no_copy": 1,
			},
		],
		"Sales Order": [{**referral_code, "insert_after": "customer_name"}],
		"Sales Invoice": [{**referral_code, "insert_after": "customer_name"}],
		# the ledger rows a referral reward made (crm_fishpond.referrals.ledgers)
		"Loyalty Point Entry": [{**reward_link, "insert_after": "invoice"}],
		"Coupon Code": [
			{**reward_link, "insert_after": "used"},
			{
				"fieldname": "fishpond_withdrawn",
				"label": "Withdrawn by a Referral Claw-back",
				"fieldtype": "Check",
				"read_only": 1,
				"no_copy": 1,
				"insert_after": "fishpond_referral_reward",
			},
		],
		"Pricing Rule": [
			{
				"fieldname": "fishpond_referral_rule",
				"label": "Referral Reward Rule",
				"fieldtype": "Check",
				"read_only": 1,
				"no_copy": 1,
				"insert_after": "coupon_code_based",
			}
		],
	}


def create_custom_fields() -> None:
	_create_custom_fields(get_custom_fields(), ignore_validate=True)


def delete_custom_fields() -> None:
	for doctype, fields in get_custom_fields().items():
		names = [f["fieldname"] for f in fields]
		frappe.db.delete("Custom Field", {"dt": doctype, "fieldname": ("in", names)})
		frappe.db.delete("Property Setter", {"doc_type": doctype, "field_name": ("in", names)})
		for fieldname in names:
			if frappe.db.has_column(doctype, fieldname):
				frappe.db.sql_ddl(f"alter table `tab{doctype}` drop column `{fieldname}`")  # nosemgrep
		frappe.cache.hdel("table_columns", f"tab{doctype}")
		frappe.clear_cache(doctype=doctype)


def present_columns() -> list[str]:
	"""The app's custom fields that have a column, as "Doctype.field" (CI: none after an uninstall)."""
	return [f for f, present in _columns() if present]


def missing_columns() -> list[str]:
	"""The app's custom fields without a column (CI: none after an install)."""
	return [f for f, present in _columns() if not present]


def _columns() -> list[tuple[str, bool]]:
	return [
		(f"{doctype}.{f['fieldname']}", bool(frappe.db.has_column(doctype, f["fieldname"])))
		for doctype, fields in get_custom_fields().items()
		for f in fields
	]

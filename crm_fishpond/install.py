"""Install, migrate and uninstall hooks.

The default records an admin tunes in Desk (roles, lifecycle stages, the *Became at risk*
notification, the transfer-approval workflow with its states and actions) are not fixtures: Frappe
re-imports fixtures on every `bench migrate`, overwriting the admin's edits. They ship in
``setup_data/`` and :func:`ensure_defaults` inserts each one once, the first time the app meets the
site without it, and never updates one: an admin's edits survive every migrate, and a default an admin
deleted (the transfer-approval workflow, say) stays deleted. What was shipped is kept in the hidden
*Shipped Defaults* field of Fishpond Settings, which goes with the app on uninstall.
"""

import json
from pathlib import Path

import frappe
from frappe import _

from crm_fishpond.scoring.settings_form import ensure_default_rows
from crm_fishpond.setup import create_custom_fields, delete_custom_fields

DEFAULT_POOL = "General Pool"
SETUP_DATA = Path(__file__).parent / "setup_data"
# (doctype, file) in insert order: a workflow needs its roles, states and actions first
DEFAULT_FILES = (
	("Role", "role.json"),
	("Workflow State", "workflow_state.json"),
	("Workflow Action Master", "workflow_action_master.json"),
	("Lifecycle Stage", "lifecycle_stage.json"),
	("Notification", "notification.json"),
	("Workflow", "workflow.json"),
	# the win-back follow-up plan (disabled) and its email (docs/nurture.md)
	("Email Template", "email_template.json"),
	("Fishpond Follow-up Plan", "fishpond_follow_up_plan.json"),
	# NPS and CSAT surveys (disabled; their emails are in email_template.json), and the rule tags
	# their answers feed
	("Fishpond Survey", "fishpond_survey.json"),
	("Fishpond Tag", "fishpond_tag.json"),
)
DEFAULT_STAGE_KEYS = ("acquisition", "conversion", "growth", "retention", "churn")


def after_install() -> None:
	create_custom_fields()
	# the settings first: a shipped follow-up plan's rule is checked against them when it is inserted
	ensure_settings()
	ensure_defaults()
	ensure_default_pool()
	frappe.db.commit()  # nosemgrep: the backfill job below must see the pool and fields
	from crm_fishpond.sync.backfill import start_backfill

	start_backfill(triggered_by="Administrator", reason="installed")


def after_migrate() -> None:
	create_custom_fields()
	ensure_settings()
	ensure_defaults()
	ensure_default_pool()
	# customers' profiles that have no referral code yet get one (also nightly)
	from crm_fishpond.jobs import enqueue

	enqueue("crm_fishpond.referrals.codes.codes_for_customers", job_id="crm_fishpond:referral_codes")


def ensure_settings() -> None:
	"""Store every Fishpond Settings default that is not stored yet; never change a stored value,
	except a rescore time Frappe made up.

	A Single reads its field defaults only while nothing of it is stored, and Frappe fills a never-saved
	Time field with the current time, microseconds included, ignoring the field's default
	(frappe.model.create_new.set_dynamic_default_values). The nightly rescore then ran at whatever
	time the app was installed, and the stored microseconds turned the settings form dirty the moment
	it opened. A time with a fraction of a second never comes from a person, so it is replaced."""
	singles = frappe.qb.DocType("Singles")
	stored = dict(
		frappe.qb.from_(singles)
		.select(singles.field, singles.value)
		.where(singles.doctype == "Fishpond Settings")
		.run()
	)
	missing = {
		df.fieldname: df.default
		for df in frappe.get_meta("Fishpond Settings").fields
		if df.default is not None and df.fieldname not in stored
	}
	if "." in str(stored.get("rescore_time") or ""):
		missing["rescore_time"] = frappe.get_meta("Fishpond Settings").get_field("rescore_time").default
	if missing:
		frappe.db.set_single_value("Fishpond Settings", missing, update_modified=False)
		frappe.clear_document_cache("Fishpond Settings", "Fishpond Settings")
	ensure_scoring_tables()


def ensure_scoring_tables() -> list[str]:
	"""Fill the scoring tables of Fishpond Settings (qualification answers per framework, engagement
	points) with the engine's defaults once each, like the other shipped defaults: a table an admin
	edited or emptied is never refilled (crm_fishpond.scoring.settings_form.ensure_default_rows)."""
	raw = frappe.db.get_single_value("Fishpond Settings", "shipped_defaults")
	shipped = set(json.loads(raw or "[]"))
	before = len(shipped)
	filled = ensure_default_rows(shipped)
	if len(shipped) != before:
		frappe.db.set_single_value(
			"Fishpond Settings", "shipped_defaults", json.dumps(sorted(shipped)), update_modified=False
		)
	return filled


def default_records() -> list[tuple[str, list[dict]]]:
	return [(doctype, json.loads((SETUP_DATA / name).read_text())) for doctype, name in DEFAULT_FILES]


def default_exists(doctype: str, data: dict) -> bool:
	"""A default counts as present under its name, and a stage also under its key (an admin may
	have renamed *Growth*; the renamed stage is still the growth stage)."""
	if frappe.db.exists(doctype, data["name"]):
		return True
	return doctype == "Lifecycle Stage" and bool(
		frappe.db.exists("Lifecycle Stage", {"stage_key": data["stage_key"]})
	)


def ensure_defaults() -> list[str]:
	"""Insert each shipped default once: one that exists or was shipped before is left alone, so
	whatever an admin changed (a stage's rule, order or colour, enabling the notification, deleting the
	workflow) survives every migrate. A default added by a later version of the app is inserted by the
	first migrate after the upgrade. Returns the inserted records as "Doctype: name"."""
	shipped = set(json.loads(frappe.db.get_single_value("Fishpond Settings", "shipped_defaults") or "[]"))
	inserted = []
	for doctype, records in default_records():
		for data in records:
			key = f"{doctype}: {data['name']}"
			if key in shipped:
				continue
			if not default_exists(doctype, data):
				frappe.get_doc(data).insert(ignore_permissions=True, set_name=data["name"])
				inserted.append(key)
			shipped.add(key)
	frappe.db.set_single_value(
		"Fishpond Settings", "shipped_defaults", json.dumps(sorted(shipped)), update_modified=False
	)
	return inserted


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

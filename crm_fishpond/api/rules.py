"""Rule forms: preview an unsaved tag or stage rule (crm_fishpond.scoring.preview).

Only people who may write the rule may preview it: the preview reads the whole pond."""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.scoring import preview as rule_preview
from crm_fishpond.scoring.rules import PLAN, STAGE, TAG

RULE_DOCTYPES = (TAG, STAGE, PLAN)


def _require_rule_editor(doctype: str) -> None:
	if doctype not in RULE_DOCTYPES:
		frappe.throw(_("Only tag, stage and follow-up plan rules have a preview."))
	if not frappe.has_permission(doctype, "write"):
		frappe.throw(
			_("Only those who may edit {0} may preview its rules.").format(_(doctype)), frappe.PermissionError
		)


@frappe.whitelist(methods=["POST"])
def preview(doctype: str, doc: str | dict) -> dict:
	"""Start the preview of the form's unsaved rule; returns ``{"key", "status"}`` and, once the
	background job has run, ``count``, ``total``, ``sample`` and (stages) ``moves``."""
	_require_rule_editor(doctype)
	values = frappe.parse_json(doc) if isinstance(doc, str) else doc
	if not isinstance(values, dict):
		frappe.throw(_("The rule to preview must be the form's values."))
	return rule_preview.request(doctype, values)


@frappe.whitelist(methods=["GET"])
def preview_result(doctype: str, key: str) -> dict:
	"""The result of a preview started by :func:`preview` (``status`` queued, done, failed or expired)."""
	_require_rule_editor(doctype)
	return rule_preview.result(key)

"""Lead doc event: the join form's Leads come only through crm_fishpond.api.capture.submit_lead."""

import frappe
from frappe import _

from crm_fishpond.api.capture import WEB_FORM


def lead_before_insert(doc, method=None):
	"""The form's page posts to submit_lead (consent, honeypot, per-IP limit); a bot posting the same
	form to Frappe's generic web form endpoint would skip those checks, so that path is refused."""
	if frappe.flags.in_web_form and frappe.form_dict.get("web_form") == WEB_FORM:
		frappe.throw(_("Please send the join form from its page."), frappe.PermissionError)

"""The language a profile is written to in: its Customer's, else its ERPNext Lead's, else the site's.

``rendered_in(lang)`` renders templates in that language: Frappe's ``_()`` (and so ``{{ _("...") }}``
inside an Email Template) reads ``frappe.local.lang``, which is set for the block and restored after.
Follow-up step e-mails (crm_fishpond.nurture.steps) and surveys (crm_fishpond.feedback) both use it.
"""

from __future__ import annotations

from contextlib import contextmanager

import frappe


def site_language() -> str:
	return frappe.db.get_single_value("System Settings", "language") or "en"


def recipient_languages(profiles: list[str]) -> dict[str, str]:
	"""Each profile's language, in one query: its Customer's, else its ERPNext Lead's (ERPNext's
	``language`` fields), else the site's. A language that is not enabled counts as none."""
	if not profiles:
		return {}
	site = site_language()
	lead = frappe.qb.DocType("Fishpond Lead")
	customer = frappe.qb.DocType("Customer")
	erp_lead = frappe.qb.DocType("Lead")
	rows = (
		frappe.qb.from_(lead)
		.left_join(customer)
		.on(customer.name == lead.customer)
		.left_join(erp_lead)
		.on(erp_lead.name == lead.lead)
		.select(lead.name, customer.language, erp_lead.language)
		.where(lead.name.isin(profiles))
		.run()
	)
	language = frappe.qb.DocType("Language")
	enabled = set(
		frappe.qb.from_(language).select(language.name).where(language.enabled == 1).run(pluck=True)
	)
	return {
		name: next((lang for lang in (customer_lang, lead_lang) if lang and lang in enabled), site)
		for name, customer_lang, lead_lang in rows
	}


def recipient_language(profile: str) -> str:
	"""One profile's language (see ``recipient_languages``)."""
	return recipient_languages([profile]).get(profile) or site_language()


@contextmanager
def rendered_in(lang: str | None):
	previous = frappe.local.lang
	frappe.local.lang = lang or previous
	try:
		yield
	finally:
		frappe.local.lang = previous

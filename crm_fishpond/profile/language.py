"""The language a profile is written to in: its Customer's, else its ERPNext Lead's, else the site's.

``rendered_in(lang)`` renders templates in that language: Frappe's ``_()`` (and so ``{{ _("...") }}``
inside an Email Template) reads ``frappe.local.lang``, which is set for the block and restored after.
"""

from __future__ import annotations

from contextlib import contextmanager

import frappe


def site_language() -> str:
	return frappe.db.get_single_value("System Settings", "language") or "en"


def recipient_language(profile: str) -> str:
	"""The language of ``profile``'s Customer, else of its Lead, else the site's."""
	lead = frappe.db.get_value("Fishpond Lead", profile, ["customer", "lead"], as_dict=True) or {}
	for doctype, name in (("Customer", lead.get("customer")), ("Lead", lead.get("lead"))):
		lang = name and frappe.db.get_value(doctype, name, "language")
		if lang and frappe.db.exists("Language", {"name": lang, "enabled": 1}):
			return lang
	return site_language()


@contextmanager
def rendered_in(lang: str | None):
	previous = frappe.local.lang
	frappe.local.lang = lang or previous
	try:
		yield
	finally:
		frappe.local.lang = previous

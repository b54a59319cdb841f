"""Referral codes: short, unique, easy to read aloud, one per profile; and the link that shares one.

A code is 8 characters of Crockford's base 32 (no I, L, O or U, so nothing reads as 1, 0 or V), in two
groups of four (``K7QM-4XPD``): about 10^12 codes, so a random one collides with an existing one almost
never, and a collision is simply drawn again. Customers get theirs automatically; a prospect gets one
on demand. Codes are compared without case, spaces or dashes, as people type them."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlencode

import frappe
from frappe import _

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8
_TYPED_ALIASES = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})
_NOT_CODE = re.compile(r"[\s\-_]+")
SHARE_ROUTE = "join-the-pond"
SHARE_FIELD = "fishpond_referral_code"


def new_code() -> str:
	raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
	return f"{raw[:4]}-{raw[4:]}"


def normalise(code: str | None) -> str | None:
	"""The stored form of a typed code (``k7qm 4xpd`` and ``K7QM4XPD`` are ``K7QM-4XPD``); None when it
	cannot be one of ours."""
	if not code or not isinstance(code, str):
		return None
	raw = _NOT_CODE.sub("", code.strip().upper()).translate(_TYPED_ALIASES)
	if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
		return None
	return f"{raw[:4]}-{raw[4:]}"


def resolve(code: str | None) -> str | None:
	"""The profile that owns ``code`` (None: no such code)."""
	code = normalise(code)
	return frappe.db.get_value("Fishpond Lead", {"referral_code": code}, "name") if code else None


def resolve_or_throw(code: str) -> str:
	profile = resolve(code)
	if not profile:
		frappe.throw(
			_("Referral code {0} is not known. Please check it, or leave the field empty.").format(
				frappe.bold(frappe.utils.escape_html(str(code)[:40]))
			),
			frappe.ValidationError,
			title=_("Unknown referral code"),
		)
	return profile


def ensure_code(profile: str) -> str:
	"""The profile's code, created when it has none (safe to call again: the first code stays)."""
	code = frappe.db.get_value("Fishpond Lead", profile, "referral_code")
	if code:
		return code
	for _attempt in range(10):
		code = new_code()
		if not frappe.db.exists("Fishpond Lead", {"referral_code": code}):
			frappe.db.set_value("Fishpond Lead", profile, "referral_code", code, update_modified=False)
			return code
	frappe.throw(_("Could not create a unique referral code; please try again."))  # pragma: no cover


def share_link(code: str) -> str:
	"""The public sign-up page with the code filled in."""
	return frappe.utils.get_url(f"/{SHARE_ROUTE}/new?{urlencode({SHARE_FIELD: code})}")


def codes_for_customers(limit: int = 5000) -> int:
	"""Give a code to every profile with a Customer that has none (after install, and nightly)."""
	lead = frappe.qb.DocType("Fishpond Lead")
	names = (
		frappe.qb.from_(lead)
		.select(lead.name)
		.where(lead.customer.isnotnull() & (lead.customer != "") & lead.referral_code.isnull())
		.limit(limit)
		.run(pluck=True)
	)
	for name in names:
		ensure_code(name)
	return len(names)

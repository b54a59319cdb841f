"""Referral actions from Desk: a profile's code and link, a rep recording a referral, a manager's
override or cancellation, and a run on demand. Each checks who may do it; the work itself is in
crm_fishpond.referrals."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import escape_html

from crm_fishpond.referrals import capture, codes
from crm_fishpond.referrals.sync import enqueue_company

MAX_REASON = 500
MANAGERS = ("Fishpond Manager", "System Manager")


def _profile(name, ptype: str):
	if not isinstance(name, str) or not name or not frappe.db.exists("Fishpond Lead", name):
		frappe.throw(
			_("Profile {0} does not exist.").format(frappe.bold(str(name)[:140])), frappe.DoesNotExistError
		)
	doc = frappe.get_doc("Fishpond Lead", name)
	if not doc.has_permission(ptype):
		frappe.throw(_("You may not change profile {0}.").format(name), frappe.PermissionError)
	return doc


def _referral(name):
	if not isinstance(name, str) or not name or not frappe.db.exists("Fishpond Referral", name):
		frappe.throw(
			_("Referral {0} does not exist.").format(frappe.bold(escape_html(str(name)[:140]))),
			frappe.DoesNotExistError,
		)
	return frappe.get_doc("Fishpond Referral", name)


def _manager() -> None:
	if not set(MANAGERS) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager may do this."), frappe.PermissionError)


def _reason(reason) -> str:
	text = (reason if isinstance(reason, str) else "").strip()
	if not text:
		frappe.throw(_("Please give a reason."), frappe.ValidationError)
	if len(text) > MAX_REASON:
		frappe.throw(
			_("The reason is too long: at most {0} characters.").format(MAX_REASON), frappe.ValidationError
		)
	return text


@frappe.whitelist(methods=["POST"])
def referral_code(profile: str) -> dict:
	"""The profile's referral code (made now if it has none) and the link to share."""
	_profile(profile, "read")
	code = codes.ensure_code(profile)
	return {"code": code, "link": codes.share_link(code)}


@frappe.whitelist(methods=["POST"])
def record(referee: str, code: str | None = None, referrer: str | None = None) -> str:
	"""A rep records who referred ``referee``: by the referrer's code, or the referrer's profile."""
	_profile(referee, "write")
	if referrer:
		_profile(referrer, "read")
	elif not code or not isinstance(code, str):
		frappe.throw(_("Give the referrer's referral code or choose the referrer."), frappe.ValidationError)
	return capture.capture(referee, code=code, referrer=referrer or None, source="Rep")


@frappe.whitelist(methods=["POST"])
def override(referral: str, reason: str) -> None:
	"""A manager accepts a refused referral against the fraud rules, with a reason."""
	_manager()
	text = _reason(reason)
	doc = _referral(referral)
	doc.db_set({"override_reason": text, "overridden_by": frappe.session.user})
	doc.add_comment("Info", _("Override: {0}").format(frappe.utils.escape_html(text)))
	enqueue_company(doc.company)


@frappe.whitelist(methods=["POST"])
def cancel(referral: str, reason: str) -> None:
	"""A manager withdraws a referral: its rewards are cancelled, or reversed if already given."""
	_manager()
	text = _reason(reason)
	doc = _referral(referral)
	doc.db_set({"cancelled": 1, "cancel_reason": text})
	doc.add_comment("Info", _("Cancelled: {0}").format(frappe.utils.escape_html(text)))
	enqueue_company(doc.company)


@frappe.whitelist(methods=["POST"])
def run_now(company: str) -> None:
	"""Queue the company's referral run (it also runs nightly and after every payment)."""
	_manager()
	if not isinstance(company, str) or not company or not frappe.db.exists("Company", company):
		frappe.throw(
			_("Company {0} does not exist.").format(escape_html(str(company)[:140])), frappe.DoesNotExistError
		)
	enqueue_company(company)

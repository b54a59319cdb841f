"""Whitelisted pool actions for the form, the list view and REST clients.

Thin: parse, check, call crm_fishpond.pools. Writes are POST only. Single-lead calls raise a translated
error when the action fails; bulk calls return ``{"done": [...], "failed": {name: message}}``.
"""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.permissions import pond_scope
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools import recycle, requests
from crm_fishpond.pools.masking import contact_views

LEAD = "Fishpond Lead"


def _names(names: str | list[str]) -> list[str]:
	if isinstance(names, str):
		names = frappe.parse_json(names) if names.strip().startswith("[") else [names]
	return [str(n) for n in names or []]


def _require_pond_user() -> None:
	if not frappe.has_permission(LEAD, "read"):
		frappe.throw(_("You have no access to the pond."), frappe.PermissionError)


def _single(outcome: pool_claim.Outcome) -> dict:
	outcome.raise_first()
	return outcome.as_dict()


# -- one lead (the form) -----------------------------------------------------------------------------
@frappe.whitelist(methods=["POST"])
def claim(name: str, reason: str | None = None) -> dict:
	_require_pond_user()
	return _single(pool_claim.claim([name], reason=reason))


@frappe.whitelist(methods=["POST"])
def release(name: str, reason: str | None = None) -> dict:
	_require_pond_user()
	return _single(pool_claim.release([name], reason=reason))


@frappe.whitelist(methods=["POST"])
def assign(name: str, user: str, reason: str | None = None) -> dict:
	_require_pond_user()
	return _single(pool_claim.assign([name], user, reason=reason))


@frappe.whitelist(methods=["POST"])
def transfer(name: str, to_pool: str, keep_owner: int = 0, reason: str | None = None) -> dict:
	_require_pond_user()
	return _single(pool_claim.transfer([name], to_pool, keep_owner=bool(int(keep_owner)), reason=reason))


@frappe.whitelist(methods=["POST"])
def mark_lost(name: str, reason: str) -> dict:
	_require_pond_user()
	return _single(pool_claim.mark_lost([name], reason=reason))


# -- many leads (the list view) ----------------------------------------------------------------------
@frappe.whitelist(methods=["POST"])
def bulk_claim(names: str | list[str], reason: str | None = None) -> dict:
	_require_pond_user()
	return pool_claim.claim(_names(names), reason=reason).as_dict()


@frappe.whitelist(methods=["POST"])
def bulk_release(names: str | list[str], reason: str | None = None) -> dict:
	_require_pond_user()
	return pool_claim.release(_names(names), reason=reason).as_dict()


@frappe.whitelist(methods=["POST"])
def bulk_assign(names: str | list[str], user: str, reason: str | None = None) -> dict:
	_require_pond_user()
	return pool_claim.assign(_names(names), user, reason=reason).as_dict()


@frappe.whitelist(methods=["POST"])
def bulk_transfer(
	names: str | list[str], to_pool: str, keep_owner: int = 0, reason: str | None = None
) -> dict:
	_require_pond_user()
	return pool_claim.transfer(
		_names(names), to_pool, keep_owner=bool(int(keep_owner)), reason=reason
	).as_dict()


@frappe.whitelist(methods=["POST"])
def bulk_mark_lost(names: str | list[str], reason: str) -> dict:
	_require_pond_user()
	return pool_claim.mark_lost(_names(names), reason=reason).as_dict()


# -- reads ---------------------------------------------------------------------------------------------
@frappe.whitelist(methods=["GET"])
def actions_for(name: str) -> dict:
	"""Which pool buttons the form shows the session user for this lead."""
	doc = frappe.get_doc(LEAD, name)
	doc.check_permission("read")
	scope = pond_scope()
	owner, pool = doc.lead_owner, doc.fishpond
	mine = bool(owner) and owner.casefold() == scope.user.casefold()
	rules = recycle.RecycleRules.for_pool(pool) if pool and frappe.db.exists("Fishpond", pool) else None
	from crm_fishpond.pools.protection import protections

	return {
		"can_claim": not owner and scope.may_claim_from(pool),
		"can_release": bool(owner) and scope.can_write(owner, pool),
		"can_mark_lost": doc.status not in ("Lost", "Converted") and scope.can_write(owner, pool),
		"can_assign": scope.manages(pool),
		"can_transfer": scope.manages(pool),
		"can_request_transfer": mine and not scope.manages(pool),
		"is_mine": mine,
		"protected_by": protections(name, rules) if (rules and rules.active and owner) else [],
	}


@frappe.whitelist(methods=["GET"])
def contact_details(names: str | list[str]) -> dict:
	"""The email and phones the session user may see for these leads (raw or masked)."""
	_require_pond_user()
	return contact_views(_names(names)[: pool_claim.MAX_BULK])


@frappe.whitelist(methods=["POST"])
def recycle_preview(pool: str | dict) -> dict:
	"""The dry run: what the next run would recycle with these (unsaved) rules."""
	values = frappe.parse_json(pool) if isinstance(pool, str) and pool.strip().startswith("{") else pool
	if isinstance(values, str):
		values = frappe.get_doc("Fishpond", values).as_dict()
	values = frappe._dict(values)
	name = values.get("name")
	if name and frappe.db.exists("Fishpond", name):
		if not (frappe.has_permission("Fishpond", "write", name) or pond_scope().manages(name)):
			frappe.throw(
				_("Only managers of pool {0} may preview its rules.").format(name), frappe.PermissionError
			)
	elif not frappe.has_permission("Fishpond", "create"):
		frappe.throw(_("You may not create pools."), frappe.PermissionError)
	return recycle.preview(values)


# -- request to claim (crm_fishpond.pools.requests) -------------------------------------------------
@frappe.whitelist(methods=["POST"])
def request_claim(
	reason: str, email: str | None = None, phone: str | None = None, profile: str | None = None
) -> dict:
	"""Ask for the leads a colleague holds with this e-mail or phone (or for ``profile``)."""
	region = frappe.db.get_value("Country", frappe.db.get_default("country"), "code") if phone else None
	return requests.request_claim(
		reason,
		email=email or None,
		phone=phone or None,
		profile=profile or None,
		region=(region or "").upper() or None,
	)


@frappe.whitelist(methods=["POST"])
def decide_claim_request(request: str, approve: int | str, note: str | None = None) -> dict:
	return requests.decide(request, approve=frappe.utils.cint(approve) == 1, note=note)


@frappe.whitelist(methods=["GET"])
def my_claim_requests() -> list[dict]:
	"""The session user's own requests (reason, status, dates): nothing about the leads."""
	return requests.my_requests()


@frappe.whitelist(methods=["POST"])
def withdraw_claim_request(request: str) -> None:
	requests.withdraw(request)

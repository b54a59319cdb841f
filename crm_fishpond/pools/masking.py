"""Masked contact details: until a lead is claimed, non-owners see its email and phones masked.

How (see docs/pools.md, "Masking"):

- The raw ``email_id``, ``phone`` and ``mobile_no`` of Fishpond Lead sit at permlevel 1, readable and
  writable by Fishpond Manager and System Manager only. Frappe itself drops permlevel-1 columns for
  everyone else in every query path (list and report views, exports, ``frappe.get_list``,
  ``frappe.client.get_list/get_value``, link search, ``GET /api/resource/Fishpond Lead``), so a rep
  can never page through the pool's raw contact details.
- One document at a time, reps see three read-only virtual fields (``visible_email``,
  ``visible_phone``, ``visible_mobile``): the raw value when they own the lead or manage its pool, a
  masked one otherwise. Every framework path that hands a document to a user (form load and save,
  ``frappe.client.get``, ``/api/resource/<doctype>/<name>`` v1 and v2) calls
  ``Document.apply_fieldlevel_read_permissions`` first; :class:`ContactMaskMixin` computes the view
  there, before the raw fields are stripped, and the virtual fields serve it.
- Since another rep's claimed lead is not readable at all (crm_fishpond.permissions), "masked for
  non-owners" and "masked until claimed" are the same rule.
"""

from __future__ import annotations

import re

import frappe

CONTACT_FIELDS = ("email_id", "phone", "mobile_no")
VISIBLE_FIELDS = {"email_id": "visible_email", "phone": "visible_phone", "mobile_no": "visible_mobile"}


def mask_email(value: str | None) -> str | None:
	"""jane.doe@example.com -> ja***@ex*****.com"""
	if not value:
		return value
	local, _, domain = value.partition("@")
	if not domain:
		return _mask_middle(value, 2, 0)
	host, dot, tld = domain.rpartition(".")
	if not dot:
		host, tld = domain, ""
	masked_domain = _mask_middle(host, 2, 0) + (f".{tld}" if tld else "")
	return f"{_mask_middle(local, 2, 0)}@{masked_domain}"


def mask_phone(value: str | None) -> str | None:
	"""+86 138 1234 5678 -> +86 138 **** 5678: the last four digits (and a leading prefix) stay."""
	if not value:
		return value
	digits = [i for i, ch in enumerate(value) if ch.isdigit()]
	if len(digits) <= 4:
		return re.sub(r"\d", "*", value)
	keep_head = 3 if len(digits) >= 10 else 0
	hidden = set(digits[keep_head:-4])
	return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def _mask_middle(text: str, head: int, tail: int) -> str:
	if len(text) <= head + tail:
		return text[:1] + "*" * max(len(text) - 1, 1)
	return text[:head] + "*" * (len(text) - head - tail) + (text[len(text) - tail :] if tail else "")


def mask_values(values: dict) -> dict:
	return {
		"email_id": mask_email(values.get("email_id")),
		"phone": mask_phone(values.get("phone")),
		"mobile_no": mask_phone(values.get("mobile_no")),
	}


def sees_contact(scope, lead_owner: str | None, fishpond: str | None) -> bool:
	"""Raw details for managers of the pool and for the lead's owner; masked for everyone else."""
	if scope.everything or scope.manages(fishpond):
		return True
	return bool(lead_owner) and lead_owner.casefold() == scope.user.casefold()


def can_see_contact(lead_owner: str | None, fishpond: str | None, user: str | None = None) -> bool:
	from crm_fishpond.permissions import pond_scope

	return sees_contact(pond_scope(user), lead_owner, fishpond)


def contact_view(values: dict, user: str | None = None) -> dict:
	"""The contact details `user` may see for one profile (raw or masked)."""
	raw = {f: values.get(f) for f in CONTACT_FIELDS}
	if can_see_contact(values.get("lead_owner"), values.get("fishpond"), user):
		return raw
	return mask_values(raw)


def contact_views(names: list[str], user: str | None = None) -> dict[str, dict]:
	"""name -> visible contact details, for profiles `user` may read (others are left out)."""
	from crm_fishpond.permissions import pond_scope

	scope = pond_scope(user)
	lead = frappe.qb.DocType("Fishpond Lead")
	query = frappe.qb.from_(lead).select(
		lead.name, lead.lead_owner, lead.fishpond, *[lead[f] for f in CONTACT_FIELDS]
	)
	rows = query.where(lead.name.isin(list(names) or [""])).run(as_dict=True)
	out = {}
	for row in rows:
		if not scope.can_read(row.lead_owner, row.fishpond):
			continue
		raw = {f: row.get(f) for f in CONTACT_FIELDS}
		out[row.name] = raw if sees_contact(scope, row.lead_owner, row.fishpond) else mask_values(raw)
	return out


class ContactMaskMixin:
	"""Mixed into the Fishpond Lead controller: the per-document half of the masking."""

	def _fishpond_contact_view(self) -> dict:
		# cached per user: a document can outlive a request (document cache) and meet another user
		user = _session_user()
		cached = self.__dict__.get("_fp_contact_cache")
		if cached is None or cached[0] != user:
			values = {f: self.__dict__.get(f) for f in (*CONTACT_FIELDS, "lead_owner", "fishpond")}
			cached = (user, contact_view(values, user))
			self.__dict__["_fp_contact_cache"] = cached
		return cached[1]

	def apply_fieldlevel_read_permissions(self):
		# compute the user's view from the raw values before Frappe strips the permlevel-1 fields
		self.__dict__.pop("_fp_contact_cache", None)
		self._fishpond_contact_view()
		super().apply_fieldlevel_read_permissions()

	def validate_higher_perm_levels(self):
		# whoever may create a profile may type its contact details; afterwards only permlevel-1 roles
		# change them (an owner's form never carries the raw values, so it cannot clear them either)
		if self.is_new():
			self.flags.ignore_permlevel_for_fields = list(CONTACT_FIELDS)
		super().validate_higher_perm_levels()

	@property
	def visible_email(self):
		return self._fishpond_contact_view().get("email_id")

	@property
	def visible_phone(self):
		return self._fishpond_contact_view().get("phone")

	@property
	def visible_mobile(self):
		return self._fishpond_contact_view().get("mobile_no")


def _session_user() -> str:
	session = getattr(frappe.local, "session", None)
	return (session and session.get("user")) or "Administrator"

"""Whitelisted duplicate actions for the profile form: its open pairs, dismiss, merge.

Thin: check, call crm_fishpond.duplicates. Reads are GET, writes POST only. Every read goes through
the pond's permission criterion (a pair is listed only when the user may see both profiles).
"""

from __future__ import annotations

import frappe

from crm_fishpond import duplicates

LEAD = "Fishpond Lead"


@frappe.whitelist(methods=["GET"])
def profile_candidates(profile: str) -> dict:
	"""The open pairs of a profile, for its form, and whether the user may merge them."""
	frappe.get_doc(LEAD, profile).check_permission("read")
	return {
		"candidates": duplicates.open_candidates(profile),
		"can_merge": duplicates.permissions.is_pond_manager(),
	}


@frappe.whitelist(methods=["POST"])
def dismiss(candidate: str) -> None:
	duplicates.dismiss(candidate)


@frappe.whitelist(methods=["POST"])
def merge(candidate: str, survivor: str | None = None, owner: str | None = None) -> dict:
	return duplicates.merge(candidate, survivor=survivor or None, owner=owner or None)


@frappe.whitelist(methods=["GET"])
def resolve_profile(name: str) -> str | None:
	"""Where a profile name now lives (itself, or the profile it was merged into), if the user may see it."""
	target = duplicates.resolve_profile(name)
	if target and frappe.has_permission(LEAD, "read", target):
		return target
	return None

"""The matcher's evidence in the user's language (the engine words it in English only)."""

from __future__ import annotations

import json

from frappe import _


def _line(code: str, p: dict) -> str:
	if code == "same_tax_id":
		return _("Same tax id {0}").format(p.get("tax_id"))
	if code == "same_email":
		return _("Same e-mail address {0}").format(p.get("email"))
	if code == "same_phone":
		return _("Same phone number {0}").format(p.get("phone"))
	if code == "past_contact":
		via = _("e-mail address") if p.get("via") == "email" else _("phone number")
		return _("The same {0} {1} is on {2} earlier invoice(s) of this profile, the last {3}").format(
			via, p.get("value"), p.get("count"), p.get("last_invoice")
		)
	if code == "similar_name":
		return _("Similar name: {0} ~ {1} ({2}%; profiles with a similar name: {3})").format(
			p.get("invoice_name"), p.get("profile_name"), p.get("similarity"), p.get("shared_by")
		)
	if code == "same_address":
		return _("Same address {0} (profiles at this address: {1})").format(
			p.get("address"), p.get("shared_by")
		)
	if code == "different_tax_id":
		return _("Different tax id: {0} on the invoice, {1} on the profile").format(
			p.get("invoice_tax_id"), p.get("profile_tax_id")
		)
	if code == "duplicate_customer":
		return _("The booked Customer is a likely duplicate of this profile's: {0}").format(p.get("reason"))
	return code


def evidence_lines(items: list[dict]) -> list[str]:
	"""One line per evidence item, with its points: "Same phone number +4420… (+0.60)"."""
	return [f"{_line(i['code'], i.get('params') or {})} ({i.get('points', 0):+.2f})" for i in items]


def evidence_text(data: str | list | None) -> str:
	items = json.loads(data) if isinstance(data, str) else (data or [])
	return "\n".join(evidence_lines(items))

"""Recording a referral, wherever it is captured: the shared link (the public sign-up page), a
Referral Code on an ERPNext Lead, Sales Order or Sales Invoice, or a rep on the profile.

Every capture is recorded as a Fishpond Referral; the screening (crm_fishpond.engine.referrals, run by
crm_fishpond.referrals.sync) decides which one counts: the first valid referral of a referee wins, and
later ones stay visible, refused with the rule. Capturing the same referrer for the same referee
again records nothing new, so a replayed event is harmless.

A referee who is a new, unclaimed lead lands in the referrer's pool, with a ToDo for the rep who owns
the referrer ("referred by ...")."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import getdate, nowdate

from crm_fishpond.referrals import codes

SOURCES = ("Rep", "Referral Link", "Lead", "Sales Order", "Sales Invoice")


def capture(
	referee: str,
	*,
	code: str | None = None,
	referrer: str | None = None,
	source: str = "Rep",
	source_doctype: str | None = None,
	source_name: str | None = None,
	company: str | None = None,
	referred_on=None,
) -> str | None:
	"""Record that ``referrer`` (or the owner of ``code``) referred ``referee``; returns the Fishpond
	Referral (an existing one when this pair was recorded before)."""
	if source not in SOURCES:
		frappe.throw(_("Unknown referral source {0}.").format(source))
	if not referrer:
		referrer = codes.resolve_or_throw(code)
	code = codes.normalise(code) or frappe.db.get_value("Fishpond Lead", referrer, "referral_code")
	existing = frappe.db.get_value(
		"Fishpond Referral", {"referee": referee, "referrer": referrer, "cancelled": 0}, "name"
	)
	if existing:
		return existing
	company = (
		company
		or frappe.db.get_value("Fishpond Lead", referee, "company")
		or frappe.defaults.get_user_default("Company")
		or frappe.db.get_single_value("Global Defaults", "default_company")
	)
	if not company:
		frappe.throw(_("Set a default Company before recording referrals."))
	doc = frappe.get_doc(
		{
			"doctype": "Fishpond Referral",
			"referee": referee,
			"referrer": referrer,
			"referral_code": code,
			"company": company,
			"referred_on": getdate(referred_on or nowdate()),
			"source": source,
			"source_doctype": source_doctype,
			"source_name": source_name,
			"status": "Pending",
		}
	)
	doc.flags.ignore_permissions = True
	doc.insert()
	follow_up(doc)
	from crm_fishpond.referrals.sync import enqueue_company

	enqueue_company(company)
	return doc.name


def follow_up(referral) -> None:
	"""A new, unclaimed referee joins the referrer's pool, and the referrer's rep gets a ToDo."""
	referee = frappe.db.get_value(
		"Fishpond Lead",
		referral.referee,
		["name", "lead_owner", "fishpond", "status", "lead_name"],
		as_dict=True,
	)
	referrer = frappe.db.get_value(
		"Fishpond Lead", referral.referrer, ["name", "lead_owner", "fishpond", "lead_name"], as_dict=True
	)
	if not referee or not referrer or referee.name == referrer.name or referee.lead_owner:
		return
	if referrer.fishpond and referee.fishpond != referrer.fishpond and referee.status == "In Pool":
		from crm_fishpond.pools.claim import transfer

		transfer(
			[referee.name],
			referrer.fishpond,
			reason=_("Referred by {0}").format(referrer.lead_name or referrer.name),
			by="Administrator",
		)
	if referrer.lead_owner:
		from frappe.desk.form.assign_to import add as assign

		assign(
			{
				"assign_to": [referrer.lead_owner],
				"doctype": "Fishpond Lead",
				"name": referee.name,
				"description": _("{0} was referred by {1}, whom you look after. Get in touch.").format(
					referee.lead_name or referee.name, referrer.lead_name or referrer.name
				),
				"date": nowdate(),
				"priority": "Medium",
			},
			ignore_permissions=True,
		)


def check_code_field(doc, method=None) -> None:
	"""validate of Lead, Sales Order and Sales Invoice: a Referral Code must be one we know."""
	code = (doc.get("fishpond_referral_code") or "").strip()
	if not code:
		return
	if not doc.is_new() and not doc.has_value_changed("fishpond_referral_code"):
		return
	codes.resolve_or_throw(code)
	doc.fishpond_referral_code = codes.normalise(code)

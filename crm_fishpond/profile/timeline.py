"""One chronological feed on the profile form: transactions, interactions, behaviour events, stage
changes, claims, tags and referral rewards, through Frappe's own form timeline (the
``additional_timeline_content`` hook), next to the form's comments, emails and edits.

Each source gives its most recent rows (``LIMIT`` each, newest first); the form merges them by time.
Only rows of the profile being opened are read, and the form only loads for someone who may read it;
every satellite follows its profile's visibility (crm_fishpond.permissions)."""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _
from frappe.utils import escape_html, fmt_money, get_datetime

LEAD = "Fishpond Lead"
LIMIT = 30


def timeline_content(doctype: str, docname: str) -> list[dict[str, Any]]:
	if doctype != LEAD:
		return []
	items: list[dict[str, Any]] = []
	for source in (transactions, interactions, events, stage_changes, claims, tags, rewards):
		items.extend(source(docname))
	return items


def _item(icon: str, when, html: str) -> dict[str, Any]:
	return {"icon": icon, "creation": str(get_datetime(when)), "content": html}


def _link(doctype: str, name: str, label: str | None = None) -> str:
	route = frappe.scrub(doctype).replace("_", "-")
	return f'<a href="/app/{route}/{escape_html(name)}">{escape_html(label or name)}</a>'


def transactions(profile: str) -> list[dict]:
	t = frappe.qb.DocType("Fishpond Transaction")
	rows = (
		frappe.qb.from_(t)
		.select(
			t.voucher_type,
			t.voucher_no,
			t.posting_date,
			t.creation,
			t.grand_total,
			t.currency,
			t.is_return,
			t.docstatus_state,
		)
		.where(t.fishpond_lead == profile)
		.orderby(t.posting_date, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	out = []
	for r in rows:
		amount = fmt_money(r.grand_total, currency=r.currency)
		kind = _("Credit Note") if r.is_return else _(r.voucher_type)
		text = _("{0} {1} for {2}").format(kind, _link(r.voucher_type, r.voucher_no), amount)
		if r.docstatus_state == "Cancelled":
			text += " " + _("(cancelled)")
		out.append(_item("income", r.posting_date, text))
	return out


def interactions(profile: str) -> list[dict]:
	i = frappe.qb.DocType("Fishpond Interaction")
	rows = (
		frappe.qb.from_(i)
		.select(i.name, i.interaction_type, i.direction, i.interaction_time, i.subject, i.user)
		.where(i.fishpond_lead == profile)
		.orderby(i.interaction_time, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	return [
		_item(
			"call"
			if r.interaction_type == "Call"
			else "mail"
			if r.interaction_type == "Email"
			else "es-line-chat-alt",
			r.interaction_time,
			_("{0} {1}: {2}").format(
				_(r.interaction_type or "Interaction"),
				_(r.direction) if r.direction else "",
				_link("Fishpond Interaction", r.name, r.subject or _("(no subject)")),
			),
		)
		for r in rows
	]


def events(profile: str) -> list[dict]:
	e = frappe.qb.DocType("Fishpond Behaviour Event")
	rows = (
		frappe.qb.from_(e)
		.select(e.name, e.event_type, e.channel, e.event_time, e.url)
		.where(e.fishpond_lead == profile)
		.orderby(e.event_time, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	return [
		_item(
			"es-line-link",
			r.event_time,
			_("Behaviour: {0}{1}").format(
				_link("Fishpond Behaviour Event", r.name, _(str(r.event_type or "").replace("_", " "))),
				f" ({escape_html(r.channel)})" if r.channel else "",
			),
		)
		for r in rows
	]


def stage_changes(profile: str) -> list[dict]:
	h = frappe.qb.DocType("Fishpond Stage History")
	rows = (
		frappe.qb.from_(h)
		.select(h.from_stage, h.to_stage, h.changed_on, h.reason)
		.where((h.parent == profile) & (h.parenttype == LEAD))
		.orderby(h.changed_on, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	return [
		_item(
			"milestone",
			r.changed_on,
			_("Stage {0} → {1}").format(
				escape_html(_(r.from_stage or "-")), f"<b>{escape_html(_(r.to_stage or '-'))}</b>"
			)
			+ (f" <span class='text-muted'>{escape_html(r.reason)}</span>" if r.reason else ""),
		)
		for r in rows
		if r.changed_on
	]


def claims(profile: str) -> list[dict]:
	c = frappe.qb.DocType("Fishpond Claim Log")
	rows = (
		frappe.qb.from_(c)
		.select(c.action, c.action_by, c.action_on, c.to_user, c.to_pool, c.reason)
		.where(c.profile == profile)
		.orderby(c.action_on, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	out = []
	for r in rows:
		who = escape_html(frappe.utils.get_fullname(r.action_by)) if r.action_by else _("The pond")
		text = _("{0}: {1}").format(_(r.action), who)
		if r.to_user and r.to_user != r.action_by:
			text += " → " + escape_html(frappe.utils.get_fullname(r.to_user))
		if r.to_pool:
			text += " (" + escape_html(r.to_pool) + ")"
		if r.reason:
			text += f" <span class='text-muted'>{escape_html(r.reason)}</span>"
		out.append(_item("assign", r.action_on, text))
	return out


def tags(profile: str) -> list[dict]:
	t = frappe.qb.DocType("Fishpond Lead Tag")
	rows = (
		frappe.qb.from_(t)
		.select(t.tag, t.tag_source, t.creation)
		.where((t.parent == profile) & (t.parenttype == LEAD))
		.orderby(t.creation, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	return [
		_item(
			"tag",
			r.creation,
			_("Tagged {0}").format(f"<b>{escape_html(r.tag)}</b>")
			+ (f" <span class='text-muted'>({escape_html(_(r.tag_source))})</span>" if r.tag_source else ""),
		)
		for r in rows
	]


def rewards(profile: str) -> list[dict]:
	r = frappe.qb.DocType("Referral Reward")
	rows = (
		frappe.qb.from_(r)
		.select(r.name, r.referrer, r.referee, r.status, r.creation)
		.where((r.referrer == profile) | (r.referee == profile))
		.orderby(r.creation, order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)
	out = []
	for row in rows:
		if row.referrer == profile:
			text = _("Referred {0}: reward {1}").format(
				_link(LEAD, row.referee), _link("Referral Reward", row.name, _(row.status))
			)
		else:
			text = _("Referred by {0}: reward {1}").format(
				_link(LEAD, row.referrer), _link("Referral Reward", row.name, _(row.status))
			)
		out.append(_item("share", row.creation, text))
	return out

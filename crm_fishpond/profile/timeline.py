"""One chronological feed on the profile form: transactions, interactions, behaviour events, stage
changes, claims, tags, referral rewards and feedback (survey answers, surveys sent), through Frappe's own form timeline (the
``additional_timeline_content`` hook), next to the form's comments, emails and edits.

Each source gives its most recent rows (``LIMIT`` each, newest first); the form merges them by time.
Only rows of the profile being opened are read, and the form only loads for someone who may read it;
every satellite follows its profile's visibility (crm_fishpond.permissions)."""

from __future__ import annotations

from typing import Any

import frappe
from frappe import _
from frappe.utils import escape_html, fmt_money, get_datetime
from frappe.utils.html_utils import sanitize_html

LEAD = "Fishpond Lead"
LIMIT = 30


def timeline_content(doctype: str, docname: str) -> list[dict[str, Any]]:
	if doctype != LEAD:
		return []
	items: list[dict[str, Any]] = []
	for source in (transactions, interactions, events, stage_changes, claims, tags, rewards, feedback):
		items.extend(source(docname))
	return items


def _item(icon: str, when, html: str) -> dict[str, Any]:
	return {"icon": icon, "creation": str(get_datetime(when)), "content": html}


def _latest(doctype: str, fields: list[str], where, newest_first: str) -> list[dict]:
	"""The ``LIMIT`` most recent rows of ``doctype`` matching ``where(table)``, explicit columns."""
	table = frappe.qb.DocType(doctype)
	return (
		frappe.qb.from_(table)
		.select(*(table[f] for f in fields))
		.where(where(table))
		.orderby(table[newest_first], order=frappe.qb.desc)
		.limit(LIMIT)
		.run(as_dict=True)
	)


def _link(doctype: str, name: str, label: str | None = None) -> str:
	route = frappe.scrub(doctype).replace("_", "-")
	return f'<a href="/app/{route}/{escape_html(name)}">{escape_html(label or name)}</a>'


def transactions(profile: str) -> list[dict]:
	rows = _latest(
		"Fishpond Transaction",
		[
			"voucher_type",
			"voucher_no",
			"posting_date",
			"creation",
			"grand_total",
			"currency",
			"is_return",
			"docstatus_state",
		],
		lambda t: t.fishpond_lead == profile,
		"posting_date",
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
	rows = _latest(
		"Fishpond Interaction",
		["name", "interaction_type", "direction", "interaction_time", "subject", "user"],
		lambda i: i.fishpond_lead == profile,
		"interaction_time",
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
	rows = _latest(
		"Fishpond Behaviour Event",
		["name", "event_type", "channel", "event_time", "url"],
		lambda e: e.fishpond_lead == profile,
		"event_time",
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
	rows = _latest(
		"Fishpond Stage History",
		["from_stage", "to_stage", "changed_on", "reason"],
		lambda h: (h.parent == profile) & (h.parenttype == LEAD),
		"changed_on",
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
	rows = _latest(
		"Fishpond Claim Log",
		["action", "action_by", "action_on", "to_user", "to_pool", "reason"],
		lambda c: c.profile == profile,
		"action_on",
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
	rows = _latest(
		"Fishpond Lead Tag",
		["tag", "tag_source", "creation"],
		lambda t: (t.parent == profile) & (t.parenttype == LEAD),
		"creation",
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
	rows = _latest(
		"Referral Reward",
		["name", "referrer", "referee", "status", "creation"],
		lambda r: (r.referrer == profile) | (r.referee == profile),
		"creation",
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


def feedback(profile: str) -> list[dict]:
	"""Survey answers and feedback logged by reps, with the comment; and surveys sent."""
	out = []
	for row in _latest(
		"Fishpond Feedback",
		["name", "survey_type", "score", "category", "comment", "answered_on"],
		lambda f: f.fishpond_lead == profile,
		"answered_on",
	):
		text = _("Answered {0}: {1}").format(
			escape_html(row.survey_type),
			_link("Fishpond Feedback", row.name, f"{row.score} ({_(row.category)})"),
		)
		if row.comment:
			# stored as Frappe sanitises a Small Text: safe HTML, shown as it was stored
			text += f"<br><i>{sanitize_html(row.comment)}</i>"
		out.append(_item("star", row.answered_on, text))
	for row in _latest(
		"Fishpond Survey Invitation",
		["name", "survey", "status", "sent_on"],
		lambda i: i.fishpond_lead == profile,
		"sent_on",
	):
		label = _("Survey {0} sent") if row.status != "Not Sent" else _("Survey {0} not sent")
		out.append(
			_item(
				"mail", row.sent_on, label.format(_link("Fishpond Survey Invitation", row.name, row.survey))
			)
		)
	return out

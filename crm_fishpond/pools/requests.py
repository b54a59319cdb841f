"""Request to claim: a rep asks for a lead a colleague already holds (docs/pools.md).

A rep cannot see a colleague's lead, so the request starts from what the rep knows: the lead's
e-mail address or phone number (the profile too, when the rep may see it, e.g. a pool manager's
view). The server looks for leads held by *someone else* with that e-mail or phone (the duplicate
finder's normalisation: case, Gmail dots and +tags, E.164) and records one *Fishpond Claim Request*
per lead. The answer tells the rep only whether a colleague holds such a lead, never who or which:
the rep cannot open the request either (it follows its lead's permissions), and sees their own
requests through ``my_requests`` as their reason, status and dates only.

The owner, a manager of the lead's pool or a Fishpond Manager approves or declines. Approving hands
the lead over (crm_fishpond.pools.claim.hand_over: the requester's caps hold, the claim log records
it); declining keeps it where it is. Each step notifies through Frappe's Notification Log (the bell,
and e-mail as each user's notification settings say): the deciders with the lead, the requester with
the lead once it is theirs, or with their own reason when declined. The requester may withdraw a
pending request.
"""

from __future__ import annotations

import frappe
import pandas as pd
from frappe import _
from frappe.utils import now_datetime

from crm_fishpond.engine.dedupe import DedupeConfig, normalise_email, phone_e164
from crm_fishpond.permissions import pond_scope
from crm_fishpond.pools import claim as pool_claim

LEAD = "Fishpond Lead"
REQUEST = "Fishpond Claim Request"
PENDING, APPROVED, DECLINED, WITHDRAWN = "Pending", "Approved", "Declined", "Withdrawn"


def _reason(reason: str | None) -> str:
	reason = (reason or "").strip()
	if not reason:
		frappe.throw(_("Say why you should hold this lead: its owner reads it."), title=_("Reason missing"))
	return reason[:1000]


def _require_rep() -> None:
	if not frappe.has_permission(LEAD, "read"):
		frappe.throw(_("Only pond users may request leads."), frappe.PermissionError)


def _email_key(value: str | None) -> str | None:
	return normalise_email(value, DedupeConfig())


MAX_CANDIDATES = 500


def _like(value: str) -> str:
	"""``value`` for a LIKE pattern, its wildcards taken literally."""
	return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _e164_many(values: list[str | None], region: str | None) -> list[str | None]:
	if not values:
		return []
	found = phone_e164(
		pd.Series(values, dtype=object),
		pd.Series([region] * len(values), dtype=object),
		DedupeConfig(phone_prefilter=False),
	)
	return [v or None for v in found.tolist()]


def _held_leads(email: str | None, phone: str | None, region: str | None) -> list[frappe._dict]:
	"""Leads held by someone with this e-mail or phone (normalised as the duplicate finder does)."""
	lead = frappe.qb.DocType(LEAD)
	query = frappe.qb.from_(lead).select(
		lead.name, lead.lead_owner, lead.fishpond, lead.email_id, lead.phone, lead.mobile_no
	)
	query = query.where(lead.lead_owner.isnotnull() & (lead.lead_owner != ""))
	conditions = []
	want_email = _email_key(email)
	want_phone = _e164_many([phone], region)[0] if phone else None
	if want_email:
		local, domain = want_email.split("@", 1)
		domains = ("gmail.com", "googlemail.com") if domain == "gmail.com" else (domain,)
		# candidates: the same first letter and domain (dots and +tags are compared after normalising)
		for d in domains:
			conditions.append(lead.email_id.like(f"{_like(local[:1])}%@{_like(d)}"))
	if want_phone:
		# candidates by the last four digits (written together in every format), then compared in E.164
		tail = f"%{want_phone[-4:]}"
		conditions.append(lead.phone.like(tail) | lead.mobile_no.like(tail))
	if not conditions:
		frappe.throw(_("Give the lead's e-mail address or phone number."))
	condition = conditions[0]
	for extra in conditions[1:]:
		condition = condition | extra
	rows = query.where(condition).limit(MAX_CANDIDATES).run(as_dict=True)
	phones = _e164_many([v for r in rows for v in (r.phone, r.mobile_no)], region) if want_phone else []
	found = []
	for k, r in enumerate(rows):
		email_hit = want_email and _email_key(r.email_id) == want_email
		phone_hit = want_phone and want_phone in phones[2 * k : 2 * k + 2]
		if email_hit or phone_hit:
			found.append(r)
	return found


def request_claim(
	reason: str,
	email: str | None = None,
	phone: str | None = None,
	profile: str | None = None,
	region: str | None = None,
) -> dict:
	"""Record a request for each lead a colleague holds with this e-mail / phone (or for ``profile``).
	Returns how many requests were sent, and nothing about the leads."""
	_require_rep()
	reason = _reason(reason)
	user = frappe.session.user
	if profile:
		if not frappe.has_permission(LEAD, "read", profile):
			frappe.throw(_("Lead {0} not found.").format(profile), frappe.DoesNotExistError)
		row = frappe.db.get_value(LEAD, profile, ["name", "lead_owner", "fishpond"], as_dict=True)
		leads = [row] if row and row.lead_owner else []
	else:
		leads = _held_leads(email, phone, region)
	leads = [r for r in leads if r.lead_owner.casefold() != user.casefold()]
	sent = 0
	for r in leads:
		if frappe.db.exists(REQUEST, {"fishpond_lead": r.name, "requested_by": user, "status": PENDING}):
			continue
		doc = frappe.get_doc(
			{
				"doctype": REQUEST,
				"fishpond_lead": r.name,
				"fishpond": r.fishpond,
				"current_owner": r.lead_owner,
				"requested_by": user,
				"reason": reason,
				"status": PENDING,
			}
		)
		doc.insert(ignore_permissions=True)
		_notify(
			_deciders(r.lead_owner, r.fishpond),
			doc,
			_("{0} asks for lead {1}: {2}").format(user, doc.lead_name or r.name, reason),
		)
		sent += 1
	return {"sent": sent}


def _deciders(owner: str, pool: str | None) -> list[str]:
	"""The owner and the users who manage the pool by name (role-based managers see it in the list)."""
	users = [owner]
	if pool:
		users += frappe.get_all(
			"Fishpond Member",
			filters={"parent": pool, "parenttype": "Fishpond", "is_pool_manager": 1, "member_type": "User"},
			pluck="user",
		)
	return list(dict.fromkeys(u for u in users if u))


def _notify(users: list[str], doc, subject: str) -> None:
	from frappe.desk.doctype.notification_log.notification_log import enqueue_create_notification

	users = [u for u in users if u and u != frappe.session.user]
	if not users:
		return
	values = {"type": "Alert", "subject": subject, "from_user": frappe.session.user}
	if doc is not None:
		values.update(document_type=doc.doctype, document_name=doc.name)
	enqueue_create_notification(users, values)


def _may_decide(doc) -> bool:
	owner, pool = frappe.db.get_value(LEAD, doc.fishpond_lead, ["lead_owner", "fishpond"]) or (None, None)
	scope = pond_scope()
	is_owner = bool(owner) and owner.casefold() == scope.user.casefold()
	return is_owner or scope.manages(pool)


def decide(request: str, approve: bool, note: str | None = None) -> dict:
	doc = frappe.get_doc(REQUEST, request, for_update=True)
	if doc.status != PENDING:
		frappe.throw(_("This request is already {0}.").format(_(doc.status)))
	if not _may_decide(doc):
		frappe.throw(
			_("Only the lead's owner or a manager of its pool may decide this request."),
			frappe.PermissionError,
		)
	note = (note or "").strip()[:1000] or None
	if approve:
		outcome = pool_claim.hand_over(
			doc.fishpond_lead,
			doc.requested_by,
			reason=_("Claim request {0}: {1}").format(doc.name, doc.reason),
		)
		outcome.raise_first()
	doc.db_set(
		{
			"status": APPROVED if approve else DECLINED,
			"decided_by": frappe.session.user,
			"decided_on": now_datetime(),
			"decision_note": note,
		},
		notify=True,
	)
	if approve:  # the lead is theirs now: they may see which it is
		subject = _("Your request for lead {0} was approved: it is yours now.").format(
			doc.lead_name or doc.fishpond_lead
		)
		_notify([doc.requested_by], doc, subject + (f" {note}" if note else ""))
	else:  # still a colleague's lead: their own reason says which request, nothing names the lead
		subject = _("Your request ({0}) was declined.").format(doc.reason)
		_notify([doc.requested_by], None, subject + (f" {note}" if note else ""))
	return {"status": doc.status}


def withdraw(request: str) -> None:
	doc = frappe.get_doc(REQUEST, request, for_update=True)
	if doc.requested_by != frappe.session.user:
		frappe.throw(_("Only who asked may withdraw a request."), frappe.PermissionError)
	if doc.status != PENDING:
		frappe.throw(_("This request is already {0}.").format(_(doc.status)))
	doc.db_set({"status": WITHDRAWN, "decided_on": now_datetime()}, notify=True)


def my_requests() -> list[dict]:
	"""The session user's own requests: their reason, status and dates, nothing about the lead."""
	_require_rep()
	return frappe.get_all(
		REQUEST,
		filters={"requested_by": frappe.session.user},
		fields=["name", "reason", "status", "creation", "decided_on"],
		order_by="creation desc",
		limit=100,
	)

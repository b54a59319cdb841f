"""Sending surveys: one invitation per profile and survey, with a personal link, in the profile's language.

Three ways send a survey:

* **automatically** (hourly, ``run``): for each enabled survey sent after a *Paid Sales Invoice* or a
  *Delivered Sales Order*, the vouchers that became paid (their last Payment Ledger Entry) or
  delivered (their last submitted Delivery Note) in the last ``LOOKBACK_DAYS`` days, on or after the
  survey's *For Vouchers From* day, at least *Days After* ago, read set-based; the pure
  ``choose_invitations`` keeps one per profile, none for a voucher surveyed before and none within the
  quiet period (*Fishpond Settings → Survey Quiet Period*, default 90 days) after the profile's last
  survey;
* **by a follow-up plan step** of action *Survey* (crm_fishpond.nurture.steps);
* **by hand**, from the profile's *Send Survey* button.

Each invitation is a Fishpond Survey Invitation row (unique ``invite_key`` per voucher or plan step, so
nothing is sent twice) and one e-mail through Frappe's queue, with the unsubscribe link, rendered in the
recipient's language. A profile without an e-mail address, or unsubscribed, gets a *Not Sent* row, so
the same voucher is not tried again.
"""

from __future__ import annotations

import datetime as dt

import frappe
import pandas as pd
from frappe import _
from frappe.query_builder import functions as fn
from frappe.utils import add_days, add_to_date, format_date, get_datetime, getdate, now_datetime
from pypika.terms import ExistsCriterion

from crm_fishpond import jobs
from crm_fishpond.engine import feedback as rules
from crm_fishpond.feedback import links
from crm_fishpond.profile.language import recipient_language, rendered_in

LEAD = "Fishpond Lead"
SURVEY = "Fishpond Survey"
INVITATION = "Fishpond Survey Invitation"
PAID_INVOICE = "Paid Sales Invoice"
DELIVERED_ORDER = "Delivered Sales Order"
ONLY_WHEN_ASKED = "Only When Asked"
PLAN_STEP = "Plan Step"
BY_HAND = "By Hand"
LOOKBACK_DAYS = 30
# Journal Entries that settle an invoice without the customer paying it
NOT_PAYMENTS = ("Write Off Entry", "Credit Note", "Debit Note")
JOB = "crm_fishpond.feedback.invitations.run"
JOB_ID = "crm_fishpond:surveys"


class QuietPeriod(frappe.ValidationError):
	pass


def quiet_days() -> int:
	value = frappe.db.get_single_value("Fishpond Settings", "survey_quiet_days")
	return rules.DEFAULT_QUIET_DAYS if value is None else int(value)


def last_surveyed(profiles: list[str] | None = None) -> pd.Series:
	"""When each profile was last sent a survey (invitations not sent do not count)."""
	i = frappe.qb.DocType(INVITATION)
	query = (
		frappe.qb.from_(i)
		.select(i.fishpond_lead, fn.Max(i.sent_on))
		.where(i.status != "Not Sent")
		.groupby(i.fishpond_lead)
	)
	if profiles is not None:
		query = query.where(i.fishpond_lead.isin(profiles or [""]))
	return pd.Series(dict(query.run()), dtype=object)


# --------------------------------------------------------------------------------------------------
# sending one


def invite(
	profile: str,
	survey: str,
	via: str,
	reference: tuple[str, str] | None = None,
	key: str | None = None,
	now: dt.datetime | None = None,
) -> dict:
	"""Send ``survey`` to ``profile``; returns ``{"invitation", "status", "reason"}``.

	A survey sent by hand within the quiet period is refused with a translated error; a plan step's
	survey within it is recorded as *Not Sent* (the step is done), as is one to a profile without an
	e-mail address or unsubscribed."""
	now = now or now_datetime()
	if key and frappe.db.exists(INVITATION, {"invite_key": key}):
		name = frappe.db.get_value(INVITATION, {"invite_key": key}, "name")
		return {"invitation": name, "status": "Duplicate", "reason": None}
	s = frappe.get_cached_doc(SURVEY, survey)
	reason = None
	if not s.enabled:
		if via == BY_HAND:
			frappe.throw(_("Survey {0} is disabled.").format(survey), title=_("Survey"))
		reason = _("The survey is disabled")
	lead = frappe.db.get_value(LEAD, profile, ["name", "lead_name", "email_id"], as_dict=True)
	if lead is None:
		frappe.throw(_("Fishpond Lead {0} not found").format(profile), frappe.DoesNotExistError)
	last = last_surveyed([profile]).get(profile)
	quiet = quiet_days()
	if not reason and last is not None and get_datetime(last) > add_to_date(now, days=-quiet):
		ends = format_date(add_days(getdate(last), quiet))
		if via == BY_HAND:
			frappe.throw(
				_("{0} was sent a survey on {1}; the quiet period ends on {2}.").format(
					lead.lead_name or profile, format_date(getdate(last)), ends
				),
				QuietPeriod,
				title=_("Survey"),
			)
		reason = _("Quiet period until {0}").format(ends)
	email = (lead.email_id or "").strip()
	if not reason and not email:
		reason = _("No email address")
	lang = recipient_language(profile)
	expires_on = add_to_date(now, days=int(s.link_valid_days or 14))
	doc = frappe.get_doc(
		{
			"doctype": INVITATION,
			"fishpond_lead": profile,
			"survey": survey,
			"survey_type": s.survey_type,
			"status": "Sent",
			"sent_via": via,
			"reference_doctype": reference[0] if reference else None,
			"reference_name": reference[1] if reference else None,
			"invite_key": key,
			"sent_on": now,
			"expires_on": expires_on,
			"language": lang,
		}
	)
	doc.insert(ignore_permissions=True)
	queue = None
	if not reason:
		queue = _send(s, lead, email, links.survey_url(doc.name, expires_on), lang)
		if not queue:
			reason = _("Unsubscribed or not a valid address")
	values = {"email_queue": queue} if queue else {"status": "Not Sent", "not_sent_reason": reason}
	frappe.db.set_value(INVITATION, doc.name, values, update_modified=False)
	return {"invitation": doc.name, "status": "Sent" if queue else "Not Sent", "reason": reason}


def _send(survey, lead, email: str, url: str, lang: str) -> str | None:
	context = frappe.get_doc(LEAD, lead.name).as_dict()
	context.update(
		{"survey_link": url, "survey_question": survey.question, "survey_type": survey.survey_type}
	)
	template = frappe.get_cached_doc("Email Template", survey.email_template)
	with rendered_in(lang):
		subject = frappe.render_template(template.subject or "", context)
		body = template.response_html if template.use_html else (template.response or "")
		message = frappe.render_template(body, context)
		unsubscribe = _("Unsubscribe")
	queued = frappe.sendmail(
		recipients=[email],
		subject=subject,
		message=message,
		reference_doctype=LEAD,
		reference_name=lead.name,
		unsubscribe_message=unsubscribe,
		delayed=True,
	)
	return getattr(queued, "name", None)


# --------------------------------------------------------------------------------------------------
# sending automatically


def scheduled() -> None:
	"""Hourly: look for profiles ready for a survey, in a background job (deduplicated)."""
	if frappe.db.exists(SURVEY, {"enabled": 1, "send_after": ["!=", ONLY_WHEN_ASKED]}):
		jobs.enqueue(JOB, job_id=JOB_ID, queue="long", timeout=1500)


def run(now: str | dt.datetime | None = None) -> dict:
	"""Send every survey that is due now; returns the counts."""
	now = get_datetime(now) if now else now_datetime()
	surveys = frappe.get_all(
		SURVEY,
		filters={"enabled": 1, "send_after": ["in", [PAID_INVOICE, DELIVERED_ORDER]]},
		fields=["name", "send_after", "delay_days", "active_from"],
		order_by="name",
	)
	frames = [candidates(s, now) for s in surveys]
	frames = [f for f in frames if len(f)]
	if not frames:
		return {"candidates": 0, "sent": 0, "not_sent": 0}
	frame = pd.concat(frames, ignore_index=True)
	profiles = sorted(set(frame["profile"]))
	chosen = rules.choose_invitations(
		frame, last_surveyed(profiles), surveyed_vouchers(frame), now, quiet_days()
	)
	sent = not_sent = 0
	via = {PAID_INVOICE: PAID_INVOICE, DELIVERED_ORDER: DELIVERED_ORDER}
	send_after = {s.name: s.send_after for s in surveys}
	for row in chosen.itertuples(index=False):
		frappe.db.savepoint("fishpond_survey")
		try:
			out = invite(
				row.profile,
				row.survey,
				via[send_after[row.survey]],
				reference=(row.reference_doctype, row.reference_name),
				key=voucher_key(row.survey, row.reference_doctype, row.reference_name),
				now=now,
			)
		except frappe.OutgoingEmailError:
			# nothing can be sent: the vouchers wait for the next run, once an account is set up
			frappe.db.rollback(save_point="fishpond_survey")
			frappe.log_error(title=_("Set up a default outgoing Email Account to send surveys."))
			break
		except Exception:
			frappe.db.rollback(save_point="fishpond_survey")
			frappe.log_error(
				title=_("Survey {0} could not be sent").format(row.survey),
				reference_doctype=LEAD,
				reference_name=row.profile,
			)
			continue
		sent += out["status"] == "Sent"
		not_sent += out["status"] == "Not Sent"
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a background job commits what it sent
	return {"candidates": len(frame), "sent": sent, "not_sent": not_sent}


def voucher_key(survey: str, doctype: str, name: str) -> str:
	return f"{survey}|{doctype}|{name}"


def surveyed_vouchers(frame: pd.DataFrame) -> list[tuple]:
	i = frappe.qb.DocType(INVITATION)
	names = sorted(set(frame["reference_name"]))
	rows = (
		frappe.qb.from_(i)
		.select(i.survey, i.reference_doctype, i.reference_name)
		.where(i.reference_name.isin(names or [""]))
		.run()
	)
	return [tuple(r) for r in rows]


def candidates(survey, now: dt.datetime) -> pd.DataFrame:
	"""(profile, survey, voucher, ready_on) for one survey, read set-based."""
	delay = int(survey.delay_days or 0)
	until = getdate(add_days(now, -delay))
	since = getdate(add_days(until, -LOOKBACK_DAYS))
	if survey.active_from:
		since = max(since, getdate(survey.active_from))
	if survey.send_after == PAID_INVOICE:
		rows = _paid_invoices(since, until)
		doctype = "Sales Invoice"
	else:
		rows = _delivered_orders(since, until)
		doctype = "Sales Order"
	frame = pd.DataFrame.from_records(rows, columns=["profile", "reference_name", "done_on"])
	frame["survey"] = survey.name
	frame["reference_doctype"] = doctype
	frame["ready_on"] = pd.to_datetime(frame["done_on"]) + pd.Timedelta(days=int(survey.delay_days or 0))
	return frame


def _paid_invoices(since, until) -> list[tuple]:
	"""Profiles' submitted, non-return invoices settled in full whose last payment falls in
	[since, until]. A payment is a Payment Entry, a Journal Entry that is not a write-off, credit or
	debit note, or a POS invoice's own payment at the till. An invoice with a submitted return, or with
	no such payment (settled by an allocated credit note or a write-off), is not paid business."""
	si = frappe.qb.DocType("Sales Invoice")
	ple = frappe.qb.DocType("Payment Ledger Entry")
	je = frappe.qb.DocType("Journal Entry")
	ret = frappe.qb.DocType("Sales Invoice").as_("ret")
	lead = frappe.qb.DocType(LEAD)
	paid_on = fn.Max(ple.posting_date)
	returned = (
		frappe.qb.from_(ret).select(ret.name).where((ret.return_against == si.name) & (ret.docstatus == 1))
	)
	paid_by_payment = (ple.amount < 0) & (
		(ple.voucher_type == "Payment Entry")
		| ((ple.voucher_type == "Journal Entry") & je.voucher_type.notin(NOT_PAYMENTS))
	)
	paid_at_till = (ple.voucher_no == si.name) & (si.is_pos == 1)
	return (
		frappe.qb.from_(si)
		.join(ple)
		.on(
			(ple.against_voucher_type == "Sales Invoice")
			& (ple.against_voucher_no == si.name)
			& (ple.delinked == 0)
		)
		.left_join(je)
		.on((ple.voucher_type == "Journal Entry") & (je.name == ple.voucher_no))
		.join(lead)
		.on(lead.customer == si.customer)
		.select(lead.name, si.name, paid_on)
		.where(
			(si.docstatus == 1) & (si.is_return == 0) & (si.outstanding_amount <= 0) & (si.grand_total > 0)
		)
		.where(ple.posting_date <= until)
		.where(paid_by_payment | paid_at_till)
		.where(ExistsCriterion(returned).negate())
		.groupby(lead.name, si.name)
		.having((paid_on >= since) & (paid_on <= until))
		.run()
	)


def _delivered_orders(since, until) -> list[tuple]:
	"""Profiles' submitted Sales Orders delivered in full whose last Delivery Note falls in [since, until]."""
	so = frappe.qb.DocType("Sales Order")
	dni = frappe.qb.DocType("Delivery Note Item")
	dn = frappe.qb.DocType("Delivery Note")
	lead = frappe.qb.DocType(LEAD)
	delivered_on = fn.Max(dn.posting_date)
	return (
		frappe.qb.from_(so)
		.join(dni)
		.on(dni.against_sales_order == so.name)
		.join(dn)
		.on((dn.name == dni.parent) & (dn.docstatus == 1) & (dn.is_return == 0))
		.join(lead)
		.on(lead.customer == so.customer)
		.select(lead.name, so.name, delivered_on)
		.where((so.docstatus == 1) & (so.per_delivered >= 100))
		.groupby(lead.name, so.name)
		.having((delivered_on >= since) & (delivered_on <= until))
		.run()
	)

"""Surveys: the public answer endpoint behind the survey page, and sending a survey by hand.

``submit_survey`` is a guest endpoint: it trusts nothing. The link's signature, expiry and state are
checked (crm_fishpond.feedback.links), then the answer's type and length; a bad request gets a clear,
translated error (HTTP 417) and writes nothing. Frappe's rate limiter caps it per IP. A filled honeypot
is answered like a success and writes nothing."""

from __future__ import annotations

import frappe
import numpy as np
from frappe import _
from frappe.rate_limiter import rate_limit
from frappe.utils import add_days, now_datetime

from crm_fishpond.engine import feedback as rules
from crm_fishpond.feedback import answers, invitations
from crm_fishpond.permissions import pond_scope

SUBMIT_LIMIT = 10  # requests per IP
SUBMIT_WINDOW = 60  # seconds
HONEYPOT = "website"
CARD_DAYS = 90  # the Net Promoter Score card's window


@frappe.whitelist(allow_guest=True, methods=["POST"])
@rate_limit(limit=SUBMIT_LIMIT, seconds=SUBMIT_WINDOW)
def submit_survey(i=None, e=None, s=None, score=None, comment=None, website=None) -> dict:
	"""Store the answer of survey link (``i``, ``e``, ``s``: invitation, expiry, signature)."""
	thanks = {"message": _("Thank you for your answer!")}
	if website not in (None, ""):
		return thanks
	answers.answer_link(i, e, s, score, comment)
	return thanks


@frappe.whitelist(methods=["POST"])
def send_survey(profile: str, survey: str) -> dict:
	"""Send ``survey`` to ``profile`` now (a rep who may change the profile; managers any)."""
	if not isinstance(profile, str) or not isinstance(survey, str):
		frappe.throw(_("Pass a profile and a survey by name."))
	row = frappe.db.get_value("Fishpond Lead", profile, ["lead_owner", "fishpond"], as_dict=True)
	if row is None:
		frappe.throw(_("Fishpond Lead {0} not found").format(profile), frappe.DoesNotExistError)
	if not pond_scope().can_write(row.lead_owner, row.fishpond):
		frappe.throw(_("You may not send surveys to {0}.").format(profile), frappe.PermissionError)
	if not frappe.db.exists("Fishpond Survey", survey):
		frappe.throw(_("Survey {0} not found").format(survey), frappe.DoesNotExistError)
	out = invitations.invite(profile, survey, invitations.BY_HAND)
	if out["status"] != "Sent":
		frappe.throw(_("The survey was not sent: {0}.").format(out["reason"]), title=_("Survey"))
	return out


@frappe.whitelist()
def nps_card(filters=None) -> dict | str:
	"""The workspace's *Net Promoter Score* card: the NPS of the answers of the last CARD_DAYS days
	the user may read (a rep: their pond's), or "No answers" when there are none."""
	rows = frappe.get_list(
		"Fishpond Feedback",
		filters={"survey_type": rules.NPS, "answered_on": (">=", add_days(now_datetime(), -CARD_DAYS))},
		fields=["score", "count(name) as answers"],
		group_by="score",
	)
	scores = np.repeat([int(r.score) for r in rows], [int(r.answers) for r in rows])
	value = rules.nps(scores)
	if value is None:
		return _("No answers")
	return {"value": round(value), "fieldtype": "Int"}  # NPS is told in whole points

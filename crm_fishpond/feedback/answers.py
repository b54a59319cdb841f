"""An answer to a survey: checked, stored as Fishpond Feedback, and acted on.

An answer (from the public survey page, or logged by a rep on the profile) becomes one Fishpond Feedback.
Inserting it

* updates the profile's last NPS or CSAT (``nps_score``/``nps_answered_on``,
  ``csat_score``/``csat_answered_on``), unless a later answer is already there;
* marks the profile for an incremental rescore: the engine reads the two scores as profile columns,
  so tag and stage rules, crowds of follow-up plans and fit factors may use them (the shipped
  *Detractor* and *Promoter* rule tags do);
* for a detractor (NPS 0-6, CSAT 1-2) of a survey that follows detractors up, gives the owner rep (else
  the survey's fallback user) a ToDo on the profile with the score and the comment.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import add_days, escape_html, get_datetime, getdate, now_datetime
from frappe.utils.html_utils import sanitize_html

from crm_fishpond import jobs
from crm_fishpond.engine import feedback as rules
from crm_fishpond.feedback import links

LEAD = "Fishpond Lead"
FEEDBACK = "Fishpond Feedback"
SURVEY = "Fishpond Survey"
SCORE_FIELDS = {rules.NPS: ("nps_score", "nps_answered_on"), rules.CSAT: ("csat_score", "csat_answered_on")}


def check_answer(survey_type, score, comment=None) -> None:
	"""Throw a translated error naming what is wrong with an answer."""
	problem = rules.check_score(survey_type, score)
	if problem == "bad_type":
		frappe.throw(_("Type must be NPS or CSAT."), title=_("Invalid value"))
	if problem:
		low, high = rules.SCALES[survey_type]
		frappe.throw(_("Please choose a score from {0} to {1}.").format(low, high), title=_("Invalid value"))
	if comment is not None and not isinstance(comment, str):
		frappe.throw(_("The comment must be text."), title=_("Invalid value"))
	if comment and len(comment) > rules.MAX_COMMENT:
		frappe.throw(
			_("The comment is too long: at most {0} characters.").format(rules.MAX_COMMENT),
			title=_("Invalid value"),
		)
	if comment and (_has_control(comment) or not _encodes(comment)):
		frappe.throw(_("The comment holds characters that cannot be stored."), title=_("Invalid value"))


def _has_control(text: str) -> bool:
	return any(ord(c) < 32 and c not in "\n\r\t" for c in text)


def _encodes(text: str) -> bool:
	try:
		text.encode("utf-8")
	except UnicodeEncodeError:  # a lone surrogate: no valid text
		return False
	return True


def answer_link(invitation, expires, signature, score, comment=None) -> dict:
	"""Store the answer given through a survey link; throws a LinkError or a ValidationError, writing
	nothing, for a bad link or a bad answer. The invitation is locked, so a link is answered once even
	when it is sent twice at the same moment."""
	row = links.verify(invitation, expires, signature)
	check_answer(row.survey_type, score, comment)
	locked = frappe.db.sql(
		"select status from `tabFishpond Survey Invitation` where name=%s for update", row.name
	)
	if not locked or locked[0][0] == "Answered":
		raise links.LinkError(_("This survey has already been answered. Thank you!"))
	values = frappe.db.get_value(
		"Fishpond Survey Invitation", row.name, ["reference_doctype", "reference_name"], as_dict=True
	)
	now = now_datetime()
	doc = frappe.get_doc(
		{
			"doctype": FEEDBACK,
			"fishpond_lead": row.fishpond_lead,
			"survey": row.survey,
			"survey_type": row.survey_type,
			"score": int(str(score).strip()),
			"comment": (comment or "").strip() or None,
			"answered_on": now,
			"source": "Survey Link",
			"invitation": row.name,
			"reference_doctype": values.reference_doctype,
			"reference_name": values.reference_name,
		}
	)
	doc.insert(ignore_permissions=True)
	frappe.db.set_value(
		"Fishpond Survey Invitation",
		row.name,
		{"status": "Answered", "feedback": doc.name, "answered_on": now},
		update_modified=False,
	)
	return {"category": doc.category}


def apply(doc) -> None:
	"""What a stored answer does (Fishpond Feedback.after_insert)."""
	score_field, date_field = SCORE_FIELDS[doc.survey_type]
	current = frappe.db.get_value(LEAD, doc.fishpond_lead, date_field)
	if not current or get_datetime(current) <= get_datetime(doc.answered_on):
		frappe.db.set_value(
			LEAD,
			doc.fishpond_lead,
			{score_field: doc.score, date_field: doc.answered_on},
			update_modified=False,
		)
	if rules.is_detractor(doc.survey_type, doc.score):
		follow_up(doc)
	jobs.mark_dirty([doc.fishpond_lead])


def follow_up(doc) -> str | None:
	"""A ToDo for the owner rep (else the survey's fallback user) about a detractor; its name, or None
	when the survey does not follow up or nobody can be assigned."""
	if not doc.survey:
		return None
	survey = frappe.db.get_value(
		SURVEY, doc.survey, ["follow_up_detractors", "follow_up_days", "fallback_user"], as_dict=True
	)
	if not survey or not survey.follow_up_detractors:
		return None
	lead = frappe.db.get_value(LEAD, doc.fishpond_lead, ["lead_name", "lead_owner"], as_dict=True)
	user = (lead.lead_owner if lead else None) or survey.fallback_user
	if not user or not frappe.db.get_value("User", user, "enabled"):
		return None
	text = _("{0} answered {1} {2} ({3}): please follow up.").format(
		lead.lead_name or doc.fishpond_lead, doc.survey_type, doc.score, _(doc.category)
	)
	description = f"<p>{escape_html(text)}</p>"
	if doc.comment:
		# stored as Frappe sanitises a Small Text: safe HTML, shown as it was stored
		description += f"<blockquote>{sanitize_html(doc.comment)}</blockquote>"
	todo = frappe.get_doc(
		{
			"doctype": "ToDo",
			"status": "Open",
			"priority": "High",
			"date": add_days(getdate(doc.answered_on), int(survey.follow_up_days or 0)),
			"allocated_to": user,
			"description": description,
			"reference_type": LEAD,
			"reference_name": doc.fishpond_lead,
			"assigned_by": "Administrator",
		}
	).insert(ignore_permissions=True)
	return todo.name

"""The public survey page: /fishpond-survey?i=...&e=...&_signature=... (no login).

It shows the survey's question in the recipient's language with one button per score; the answer is
posted to crm_fishpond.api.feedback.submit_survey. A link that is not valid, expired or answered shows
why, and nothing else (nothing about the profile)."""

import frappe
from frappe import _

from crm_fishpond.engine import feedback as rules
from crm_fishpond.feedback import links
from crm_fishpond.profile.language import rendered_in

no_cache = 1


def get_context(context):
	args = frappe.form_dict
	invitation, expires, signature = args.get("i"), args.get("e"), args.get("_signature")
	context.no_breadcrumbs = True
	context.show_sidebar = False
	try:
		row = links.verify(invitation, expires, signature)
	except links.LinkError as e:
		context.title = _("Survey")
		context.problem = str(e)
		return context
	survey = frappe.db.get_value(
		"Fishpond Survey", row.survey, ["survey_type", "question", "comment_label"], as_dict=True
	)
	if row.language:
		# the page speaks the recipient's language, as their invitation did
		frappe.local.lang = row.language
	with rendered_in(row.language):
		low, high = rules.SCALES[row.survey_type]
		context.title = _("Survey")
		context.question = _(survey.question)
		context.comment_label = _(survey.comment_label or "What is the main reason for your score?")
		context.scores = list(range(low, high + 1))
		context.low_label = _("Not at all likely") if row.survey_type == rules.NPS else _("Very unsatisfied")
		context.high_label = _("Extremely likely") if row.survey_type == rules.NPS else _("Very satisfied")
		context.send_label = _("Send")
		context.choose_label = _("Please choose a score.")
		context.failed_label = _("Your answer could not be sent. Please try again.")
	context.params = {"i": invitation, "e": expires, "s": signature}
	return context

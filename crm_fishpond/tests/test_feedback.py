"""Integration: NPS/CSAT surveys (crm_fishpond.feedback): signed expiring links answered once, the quiet
period, detractor follow-up and tags, automatic sending after paid invoices and delivered orders, the
recipient's language, the public page and endpoint (rate limit, bad-input sweep), and the feedback in
the profile's timeline."""

import email
import random
from urllib.parse import parse_qs, urlparse

import frappe
from frappe.utils import add_days, add_to_date, get_datetime, now_datetime, nowdate

from crm_fishpond.api import feedback as api
from crm_fishpond.feedback import answers, invitations, links
from crm_fishpond.tests import factories as f
from crm_fishpond.tests.test_capture import http_request
from crm_fishpond.tests.test_nurture import outgoing_email_account
from crm_fishpond.tests.utils import FishpondTestCase

NPS = "Net Promoter Score"
CSAT = "Customer Satisfaction"
PREFIX = "_FP Survey"
WRITTEN = ("Fishpond Feedback", "Fishpond Survey Invitation", "ToDo", "Email Queue")


def counts() -> dict:
	return {d: frappe.db.count(d) for d in WRITTEN}


def rep(email: str) -> str:
	if not frappe.db.exists("User", email):
		user = frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": email.split("@")[0], "send_welcome_email": 0}
		)
		user.append("roles", {"role": "Fishpond User"})
		user.insert(ignore_permissions=True)
	return email


def profile(name: str, email: str | None = "", owner: str | None = None, language: str | None = None) -> str:
	from crm_fishpond.sync.profiles import ensure_profile_for_customer

	customer = f.customer(f"{PREFIX} {name}")
	if language:
		frappe.db.set_value("Customer", customer, "language", language)
	lead = ensure_profile_for_customer(customer)
	email = email if email != "" else f"{frappe.scrub(name)}.survey@example.com"
	frappe.db.set_value("Fishpond Lead", lead, {"email_id": email, "lead_owner": owner})
	return lead


def body(queue: str) -> str:
	"""The decoded text of a queued e-mail (Frappe stores it MIME-encoded)."""
	message = email.message_from_string(frappe.db.get_value("Email Queue", queue, "message"))
	return " ".join(
		part.get_payload(decode=True).decode()
		for part in message.walk()
		if part.get_content_maintype() == "text"
	)


def params(invitation: str) -> dict:
	"""The link's query, as the page and the endpoint receive it."""
	doc = frappe.get_doc("Fishpond Survey Invitation", invitation)
	url = links.survey_url(doc.name, doc.expires_on)
	query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
	return {"i": query["i"], "e": query["e"], "s": query["_signature"]}


class SurveyCase(FishpondTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		outgoing_email_account(True)
		for name in (NPS, CSAT):
			frappe.db.set_value("Fishpond Survey", name, {"enabled": 1, "fallback_user": None})
		frappe.db.set_single_value("Fishpond Settings", "survey_quiet_days", 90)
		frappe.clear_document_cache("Fishpond Survey", NPS)
		frappe.clear_document_cache("Fishpond Survey", CSAT)

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback()
		frappe.local.outgoing_email_account = {}


class TestSurveyLinks(SurveyCase):
	def test_a_link_is_signed_expires_and_is_answered_once(self):
		lead = profile("Link")
		out = invitations.invite(lead, NPS, invitations.BY_HAND)
		self.assertEqual(out["status"], "Sent")
		inv = frappe.get_doc("Fishpond Survey Invitation", out["invitation"])
		self.assertTrue(inv.email_queue)
		self.assertIn(
			"/fishpond-survey?", frappe.db.get_value("Email Queue", inv.email_queue, "message") or ""
		)
		p = params(inv.name)
		# a changed signature, another expiry or another invitation's name: refused, nothing written
		other = invitations.invite(profile("Link Other"), NPS, invitations.BY_HAND)["invitation"]
		before = counts()
		for bad in (
			{**p, "s": p["s"][:-1] + ("0" if p["s"][-1] != "0" else "1")},
			{**p, "e": str(int(p["e"]) + 86400)},
			{**p, "i": other},
			{**p, "s": ""},
			{"i": None, "e": None, "s": None},
		):
			with self.assertRaises(links.LinkError):
				answers.answer_link(bad["i"], bad["e"], bad["s"], 9)
		self.assertEqual(counts(), before)
		# a bad score on a good link: refused, the link still works after
		with self.assertRaises(frappe.ValidationError):
			answers.answer_link(p["i"], p["e"], p["s"], 11)
		self.assertEqual(counts(), before)
		answers.answer_link(p["i"], p["e"], p["s"], "9", "  Great service  ")
		inv.reload()
		self.assertEqual(inv.status, "Answered")
		fb = frappe.get_doc("Fishpond Feedback", inv.feedback)
		self.assertEqual(
			(fb.score, fb.category, fb.comment, fb.source), (9, "Promoter", "Great service", "Survey Link")
		)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "nps_score"), 9)
		# replay: the same link again is refused
		with self.assertRaisesRegex(links.LinkError, "already"):
			answers.answer_link(p["i"], p["e"], p["s"], 3)
		self.assertEqual(frappe.db.count("Fishpond Feedback", {"invitation": inv.name}), 1)

	def test_an_expired_link_is_refused(self):
		lead = profile("Expired")
		inv = invitations.invite(lead, NPS, invitations.BY_HAND)["invitation"]
		p = params(inv)
		expires = get_datetime(frappe.db.get_value("Fishpond Survey Invitation", inv, "expires_on"))
		self.assertEqual((expires - now_datetime()).days, 13)  # 14 days, less the seconds since
		with self.freeze_time(add_to_date(expires, minutes=1)):
			with self.assertRaisesRegex(links.LinkError, "expired"):
				answers.answer_link(p["i"], p["e"], p["s"], 8)
		with self.freeze_time(add_to_date(expires, minutes=-1)):
			answers.answer_link(p["i"], p["e"], p["s"], 8)

	def test_the_page_shows_the_question_or_why_not(self):
		from crm_fishpond.www import fishpond_survey

		lead = profile("Page")
		inv = invitations.invite(lead, CSAT, invitations.BY_HAND)["invitation"]
		p = params(inv)
		frappe.local.form_dict = frappe._dict({"i": p["i"], "e": p["e"], "_signature": p["s"]})
		context = fishpond_survey.get_context(frappe._dict())
		self.assertEqual(context.scores, [1, 2, 3, 4, 5])
		self.assertIn("satisfied", context.question)
		self.assertFalse(context.get("problem"))
		frappe.local.form_dict = frappe._dict({"i": p["i"], "e": p["e"], "_signature": "forged"})
		context = fishpond_survey.get_context(frappe._dict())
		self.assertTrue(context.problem)
		self.assertFalse(context.get("question"))
		frappe.local.form_dict = frappe._dict()


class TestSending(SurveyCase):
	def test_the_quiet_period(self):
		lead = profile("Quiet")
		invitations.invite(lead, NPS, invitations.BY_HAND)
		with self.assertRaises(invitations.QuietPeriod):
			invitations.invite(lead, CSAT, invitations.BY_HAND)
		# a plan step in the quiet period is recorded, not sent
		out = invitations.invite(lead, CSAT, invitations.PLAN_STEP, key=f"step|{lead}|1")
		self.assertEqual(out["status"], "Not Sent")
		self.assertIn("Quiet", out["reason"])
		with self.freeze_time(add_days(now_datetime(), 91)):
			self.assertEqual(invitations.invite(lead, CSAT, invitations.BY_HAND)["status"], "Sent")

	def test_no_email_address_is_recorded_not_sent_and_a_disabled_survey_is_refused(self):
		lead = profile("No Email", email=None)
		out = invitations.invite(lead, NPS, invitations.PLAN_STEP, key=f"step|{lead}|9")
		self.assertEqual((out["status"], out["reason"]), ("Not Sent", "No email address"))
		# the same key again sends nothing more
		self.assertEqual(
			invitations.invite(lead, NPS, invitations.PLAN_STEP, key=f"step|{lead}|9")["status"], "Duplicate"
		)
		frappe.db.set_value("Fishpond Survey", NPS, "enabled", 0)
		frappe.clear_document_cache("Fishpond Survey", NPS)
		with self.assertRaises(frappe.ValidationError):
			invitations.invite(profile("Disabled"), NPS, invitations.BY_HAND)

	def test_a_paid_invoice_sends_the_nps_survey_once(self):
		from crm_fishpond.tests.referral_factories import pay

		frappe.db.set_value(
			"Fishpond Survey",
			NPS,
			{"send_after": "Paid Sales Invoice", "delay_days": 0, "active_from": add_days(nowdate(), -1)},
		)
		frappe.db.set_value("Fishpond Survey", CSAT, "enabled", 0)
		lead = profile("Paid")
		customer = frappe.db.get_value("Fishpond Lead", lead, "customer")
		si = f.sales_invoice(customer, rate=120)
		invitations.run()
		self.assertFalse(frappe.db.exists("Fishpond Survey Invitation", {"fishpond_lead": lead}))
		pay(si.name)
		out = invitations.run()
		self.assertGreaterEqual(out["sent"], 1)
		rows = frappe.get_all(
			"Fishpond Survey Invitation",
			filters={"fishpond_lead": lead},
			fields=["survey", "reference_doctype", "reference_name", "sent_via", "status"],
		)
		self.assertEqual(
			[tuple(r.values()) for r in rows], [(NPS, "Sales Invoice", si.name, "Paid Sales Invoice", "Sent")]
		)
		invitations.run()
		self.assertEqual(frappe.db.count("Fishpond Survey Invitation", {"fishpond_lead": lead}), 1)

	def test_a_returned_invoice_is_no_paid_business_and_a_blank_start_day_still_sends(self):
		from crm_fishpond.tests.referral_factories import pay

		frappe.db.set_value(
			"Fishpond Survey", NPS, {"send_after": "Paid Sales Invoice", "delay_days": 0, "active_from": None}
		)
		frappe.db.set_value("Fishpond Survey", CSAT, "enabled", 0)
		returned, paid = profile("Returned"), profile("Paid Blank Start")
		si = f.sales_invoice(frappe.db.get_value("Fishpond Lead", returned, "customer"), rate=90)
		pay(si.name)
		f.credit_note(si.name)  # paid, then the whole of it came back: no paid business to ask about
		other = f.sales_invoice(frappe.db.get_value("Fishpond Lead", paid, "customer"), rate=90)
		pay(other.name)
		invitations.run()
		self.assertFalse(frappe.db.exists("Fishpond Survey Invitation", {"fishpond_lead": returned}))
		self.assertEqual(
			frappe.db.get_value("Fishpond Survey Invitation", {"fishpond_lead": paid}, "reference_name"),
			other.name,
		)

	def test_a_delivered_order_sends_the_csat_survey_after_its_delay(self):
		from erpnext.selling.doctype.sales_order.sales_order import make_delivery_note

		frappe.db.set_value(
			"Fishpond Survey",
			CSAT,
			{"send_after": "Delivered Sales Order", "delay_days": 2, "active_from": add_days(nowdate(), -1)},
		)
		frappe.db.set_value("Fishpond Survey", NPS, "enabled", 0)
		lead = profile("Delivered")
		customer = frappe.db.get_value("Fishpond Lead", lead, "customer")
		so = f.sales_order(customer, rate=80)
		dn = make_delivery_note(so.name)
		dn.insert(ignore_permissions=True)
		dn.submit()
		self.assertEqual(frappe.db.get_value("Sales Order", so.name, "per_delivered"), 100)
		invitations.run()
		self.assertFalse(frappe.db.exists("Fishpond Survey Invitation", {"fishpond_lead": lead}))
		invitations.run(add_days(now_datetime(), 2))
		self.assertEqual(
			frappe.db.get_value(
				"Fishpond Survey Invitation", {"fishpond_lead": lead}, ["survey", "reference_name"]
			),
			(CSAT, so.name),
		)

	def test_the_email_is_written_in_the_recipients_language(self):
		if not frappe.db.exists("Translation", {"source_text": "Answer the survey", "language": "zh"}):
			frappe.get_doc(
				{
					"doctype": "Translation",
					"language": "zh",
					"source_text": "Answer the survey",
					"translated_text": "回答调查",
				}
			).insert(ignore_permissions=True)
		frappe.cache.delete_value("lang_user_translations")
		frappe.clear_cache()
		lead = profile("Chinese", language="zh")
		inv = invitations.invite(lead, NPS, invitations.BY_HAND)["invitation"]
		row = frappe.db.get_value(
			"Fishpond Survey Invitation", inv, ["language", "email_queue"], as_dict=True
		)
		self.assertEqual(row.language, "zh")
		self.assertIn("回答调查", body(row.email_queue))
		self.assertEqual(frappe.local.lang, "en")
		english = invitations.invite(profile("English"), NPS, invitations.BY_HAND)["invitation"]
		queue = frappe.db.get_value("Fishpond Survey Invitation", english, "email_queue")
		self.assertIn("Answer the survey", body(queue))


class TestPlanStep(SurveyCase):
	def test_a_survey_step_sends_the_survey_once_and_a_quiet_period_lets_the_plan_move_on(self):
		from crm_fishpond.nurture import enrol, steps
		from crm_fishpond.tests.test_nurture import plan, step_rows

		name = plan(
			"Survey Step",
			[
				{"after_days": 0, "action": "Survey", "survey": CSAT},
				{"after_days": 0, "action": "Survey", "survey": NPS},
			],
			stop_on_stage_change=0,
			stop_on_purchase=0,
		)
		lead = profile("Plan Step")
		enrol.enrol(name, [lead])
		steps.process_due()
		enrolment = frappe.db.get_value(
			"Fishpond Plan Enrolment", {"fishpond_lead": lead, "plan": name}, "name"
		)
		sent = frappe.get_all(
			"Fishpond Survey Invitation",
			filters={"fishpond_lead": lead},
			fields=["survey", "status", "sent_via", "invite_key", "email_queue", "not_sent_reason"],
			order_by="creation",
		)
		first = sent[0]
		self.assertEqual((first.survey, first.status, first.sent_via), (CSAT, "Sent", "Plan Step"))
		self.assertEqual(sent[0].invite_key, f"{enrolment}:1")
		rows = step_rows(enrolment)
		self.assertEqual(
			(rows[0].action, rows[0].status, rows[0].email_queue), ("Survey", "Sent", sent[0].email_queue)
		)
		# the second step falls in the quiet period: recorded as not sent, the plan completes
		steps.process_due()
		self.assertEqual(
			(
				sent := frappe.get_all(
					"Fishpond Survey Invitation",
					filters={"fishpond_lead": lead},
					pluck="status",
					order_by="creation",
				)
			),
			["Sent", "Not Sent"],
		)
		self.assertEqual(frappe.db.get_value("Fishpond Plan Enrolment", enrolment, "status"), "Completed")
		# replayed: nothing more
		steps.process_due()
		self.assertEqual(frappe.db.count("Fishpond Survey Invitation", {"fishpond_lead": lead}), 2)

	def test_a_survey_step_needs_a_survey(self):
		from crm_fishpond.tests.test_nurture import plan

		with self.assertRaisesRegex(frappe.ValidationError, "Survey"):
			plan("Survey Step Missing", [{"after_days": 0, "action": "Survey"}])


class TestAnswers(SurveyCase):
	def setUp(self):
		super().setUp()
		from crm_fishpond.scoring import models

		if not models.latest_fit():  # an answer rescores with the stored fit: a first full run makes one
			from crm_fishpond.tests.test_rules import full_run

			full_run()

	def test_a_detractor_gets_a_follow_up_and_the_tag_a_promoter_loses_it(self):
		owner = rep("survey.rep@example.com")
		lead = profile("Detractor", owner=owner)
		p = params(invitations.invite(lead, NPS, invitations.BY_HAND)["invitation"])
		answers.answer_link(p["i"], p["e"], p["s"], 3, "Late delivery <b>twice</b>")
		todo = frappe.get_all(
			"ToDo",
			filters={"reference_type": "Fishpond Lead", "reference_name": lead, "allocated_to": owner},
			fields=["description", "date", "priority"],
		)
		self.assertEqual(len(todo), 1)
		self.assertIn("<b>twice</b>", todo[0].description)
		self.assertEqual(str(todo[0].date), add_days(nowdate(), 2))
		self.assertIn("Detractor", self.tags(lead))
		# a later promoter answer, logged by a rep: the rule tags follow the last answer
		frappe.get_doc(
			{
				"doctype": "Fishpond Feedback",
				"fishpond_lead": lead,
				"survey_type": "NPS",
				"score": 10,
				"survey": NPS,
			}
		).insert()
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "nps_score"), 10)
		tags = self.tags(lead)
		self.assertIn("Promoter", tags)
		self.assertNotIn("Detractor", tags)

	def test_an_unsatisfied_csat_without_an_owner_goes_to_the_fallback_user(self):
		fallback = rep("survey.fallback@example.com")
		frappe.db.set_value("Fishpond Survey", CSAT, "fallback_user", fallback)
		lead = profile("Unsatisfied")
		p = params(invitations.invite(lead, CSAT, invitations.BY_HAND)["invitation"])
		answers.answer_link(p["i"], p["e"], p["s"], 2)
		self.assertTrue(frappe.db.exists("ToDo", {"reference_name": lead, "allocated_to": fallback}))
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "csat_score"), 2)
		self.assertIn("Detractor", self.tags(lead))

	def test_an_older_answer_does_not_replace_a_newer_one(self):
		lead = profile("Older")
		new = {"doctype": "Fishpond Feedback", "fishpond_lead": lead, "survey_type": "NPS"}
		frappe.get_doc({**new, "score": 8}).insert()
		frappe.get_doc({**new, "score": 2, "answered_on": add_days(now_datetime(), -10)}).insert()
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "nps_score"), 8)

	def test_a_rep_logs_feedback_on_their_profile_only_and_bad_scores_are_refused(self):
		owner = rep("survey.rep@example.com")
		mine, other = profile("Mine", owner=owner), profile("Other", owner=rep("survey.other@example.com"))
		frappe.set_user(owner)
		frappe.get_doc(
			{"doctype": "Fishpond Feedback", "fishpond_lead": mine, "survey_type": "CSAT", "score": 4}
		).insert()
		with self.assertRaises(frappe.ValidationError):
			frappe.get_doc(
				{"doctype": "Fishpond Feedback", "fishpond_lead": mine, "survey_type": "CSAT", "score": 9}
			).insert()
		with self.assertRaises(frappe.PermissionError):
			frappe.get_doc(
				{"doctype": "Fishpond Feedback", "fishpond_lead": other, "survey_type": "NPS", "score": 4}
			).insert()
		visible = {r.fishpond_lead for r in frappe.get_list("Fishpond Feedback", fields=["fishpond_lead"])}
		self.assertIn(mine, visible)
		self.assertNotIn(other, visible)
		with self.assertRaises(frappe.PermissionError):
			api.send_survey(other, NPS)
		frappe.set_user("Administrator")

	def test_the_timeline_shows_answers_and_surveys_sent(self):
		from crm_fishpond.profile.timeline import timeline_content

		lead = profile("Timeline")
		p = params(invitations.invite(lead, NPS, invitations.BY_HAND)["invitation"])
		answers.answer_link(p["i"], p["e"], p["s"], 7, "Fine <script>x</script>")
		html = " ".join(i["content"] for i in timeline_content("Fishpond Lead", lead))
		self.assertIn("7 (Passive)", html)
		self.assertIn("&lt;script&gt;", html)
		self.assertNotIn("<script>", html)
		self.assertNotIn("&amp;lt;", html)
		self.assertIn("Net Promoter Score", html)

	def tags(self, lead: str) -> set[str]:
		return set(frappe.get_all("Fishpond Lead Tag", filters={"parent": lead}, pluck="tag"))


class TestPublicEndpoint(SurveyCase):
	def test_the_page_answers_any_query_with_the_question_or_why_not_and_writes_nothing(self):
		from crm_fishpond.www import fishpond_survey

		good = params(invitations.invite(profile("Page Fuzz"), NPS, invitations.BY_HAND)["invitation"])
		rng = random.Random(20261204)
		nasty = [
			None,
			"",
			"\x00",
			"\ud800",
			"x" * 100_000,
			"<script>alert(1)</script>",
			"9" * 40,
			"-1",
			"1e9",
		]
		frappe.set_user("Guest")
		try:
			for _i in range(200):
				query = {
					"i": rng.choice([good["i"], *nasty]),
					"e": rng.choice([good["e"], *nasty]),
					"_signature": rng.choice([good["s"], *nasty]),
				}
				frappe.local.form_dict = frappe._dict({k: v for k, v in query.items() if v is not None})
				before = counts()
				context = fishpond_survey.get_context(frappe._dict())
				self.assertEqual(counts(), before)
				valid = (query["i"], query["e"], query["_signature"]) == (good["i"], good["e"], good["s"])
				self.assertEqual(bool(context.get("question")), valid, query)
				self.assertEqual(bool(context.get("problem")), not valid, query)
		finally:
			frappe.local.form_dict = frappe._dict()
			frappe.set_user("Administrator")

	def test_the_endpoint_is_rate_limited_per_ip(self):
		cmd = "crm_fishpond.api.feedback.submit_survey"
		with http_request(cmd, "203.0.113.21"):
			for _i in range(api.SUBMIT_LIMIT):
				api.submit_survey(website="bot")
			with self.assertRaises(frappe.RateLimitExceededError):
				api.submit_survey(website="bot")
		with http_request(cmd, "203.0.113.22"):
			api.submit_survey(website="bot")

	def test_bad_input_sweep_raises_only_clean_errors_and_writes_nothing(self):
		lead = profile("Fuzz")
		good = params(invitations.invite(lead, NPS, invitations.BY_HAND)["invitation"])
		rng = random.Random(20261203)
		nasty = [
			None,
			"",
			" ",
			"\x00",
			"\ud800",
			"x" * 200_000,
			"' or 1=1 --",
			10**30,
			-1,
			3.5,
			[1],
			{"a": 1},
			"١٠",
		]
		frappe.set_user("Guest")
		for _i in range(300):
			values = {
				"i": rng.choice([good["i"], *nasty]),
				"e": rng.choice([good["e"], *nasty]),
				"s": rng.choice([good["s"], good["s"].upper(), *nasty]),
				"score": rng.choice([5, 11, *nasty]),
				"comment": rng.choice(["ok", *nasty]),
			}
			if values["i"] == good["i"] and values["e"] == good["e"] and values["s"] == good["s"]:
				values["score"] = rng.choice([11, -1, "x", None])
			before = counts()
			with self.assertRaises((frappe.ValidationError, frappe.PermissionError), msg=values):
				api.submit_survey(**values)
			self.assertEqual(counts(), before, values)
		frappe.set_user("Administrator")

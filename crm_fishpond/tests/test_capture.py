"""Integration: the public join form (crm_fishpond.api.capture) and its bad-input sweep."""

import json
import random
from contextlib import contextmanager

import frappe
from frappe.website.doctype.web_form.web_form import accept
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from crm_fishpond.api import capture
from crm_fishpond.tests.utils import FishpondTestCase

WRITTEN = ("Lead", "Fishpond Lead", "Fishpond Behaviour Event", "Comment", "Fishpond Ingest Batch")
CLEAN_ERRORS = (frappe.ValidationError, frappe.PermissionError)


def counts() -> dict[str, int]:
	return {doctype: frappe.db.count(doctype) for doctype in WRITTEN}


@contextmanager
def http_request(cmd: str, ip: str):
	"""Run the block as if inside a POST from ``ip``: Frappe's rate limiter only counts real requests."""
	saved = {k: getattr(frappe.local, k, None) for k in ("request", "request_ip")}
	saved_cmd = frappe.local.form_dict.get("cmd")
	frappe.local.request = Request(EnvironBuilder(method="POST", path="/api/method/" + cmd).get_environ())
	frappe.local.request_ip = ip
	frappe.local.form_dict.cmd = cmd
	key = frappe.cache.make_key(f"rl:{cmd}:{ip}")
	frappe.cache.delete(key)
	try:
		yield
	finally:
		frappe.cache.delete(key)
		for k, v in saved.items():
			setattr(frappe.local, k, v)
		frappe.local.form_dict.cmd = saved_cmd


class TestCapture(FishpondTestCase):
	def setUp(self):
		frappe.set_user("Guest")

	def tearDown(self):
		frappe.set_user("Administrator")

	def submit(self, **values):
		data = {"first_name": "Ada", "email": "ada.capture@example.com", "consent": 1, **values}
		return capture.submit_lead(**data)

	def test_a_signup_creates_a_lead_and_its_profile_in_the_default_pool(self):
		frappe.set_user("Administrator")
		code = referral_code_of_a_customer()
		frappe.set_user("Guest")
		answer = self.submit(
			email="Ada.Capture@Example.com",
			company="Analytical Engines",
			mobile="+44 20 7946 0000",
			referral_code=code.lower(),
			message="<b>Call me</b> on Tuesday",
		)
		self.assertIn("message", answer)
		lead = frappe.db.get_value(
			"Lead",
			{"email_id": "ada.capture@example.com"},
			[
				"name",
				"first_name",
				"company_name",
				"fishpond_referral_code",
				"fishpond_consent",
				"lead_owner",
			],
			as_dict=True,
		)
		self.assertEqual(
			(lead.first_name, lead.company_name, lead.fishpond_referral_code, lead.fishpond_consent),
			("Ada", "Analytical Engines", code, 1),
		)
		# the code records a referral from the link (crm_fishpond.referrals.capture)
		self.assertEqual(
			frappe.db.get_value("Fishpond Referral", {"source_name": lead.name}, "source"), "Referral Link"
		)
		self.assertFalse(lead.lead_owner, "a visitor's Lead belongs to nobody until a rep claims it")
		pool = frappe.db.get_value("Fishpond Lead", {"lead": lead.name}, "fishpond")
		self.assertEqual(pool, frappe.db.get_single_value("Fishpond Settings", "default_pool"))
		comment = frappe.db.get_value(
			"Comment", {"reference_doctype": "Lead", "reference_name": lead.name}, "content"
		)
		self.assertIn("&lt;b&gt;Call me", comment)

	def test_a_filled_honeypot_is_thanked_and_writes_nothing(self):
		before = counts()
		answer = self.submit(email="bot.capture@example.com", website="http://spam.example.com")
		self.assertIn("message", answer)
		self.assertEqual(counts(), before)

	def test_consent_is_required(self):
		before = counts()
		for consent in (None, 0, "0", "", "no", "false"):
			with self.assertRaises(frappe.ValidationError):
				self.submit(email="noconsent.capture@example.com", consent=consent)
		self.assertEqual(counts(), before)

	def test_a_known_email_adds_its_message_to_the_lead_instead_of_a_duplicate(self):
		self.submit(email="twice.capture@example.com")
		lead = frappe.db.get_value("Lead", {"email_id": "twice.capture@example.com"})
		self.submit(email="twice.capture@example.com", message="Second visit")
		self.assertEqual(frappe.db.count("Lead", {"email_id": "twice.capture@example.com"}), 1)
		self.assertTrue(
			frappe.db.exists(
				"Comment",
				{"reference_doctype": "Lead", "reference_name": lead, "content": ("like", "%Second visit%")},
			)
		)

	def test_the_form_cannot_be_posted_around_its_checks(self):
		"""The generic web form endpoint would insert the Lead without consent or honeypot checks."""
		before = counts()
		frappe.local.form_dict.web_form = capture.WEB_FORM
		try:
			with self.assertRaises(frappe.PermissionError):
				accept(
					capture.WEB_FORM, json.dumps({"first_name": "Eve", "email_id": "eve.capture@example.com"})
				)
		finally:
			frappe.local.form_dict.pop("web_form", None)
			frappe.flags.in_web_form = False
		self.assertEqual(counts(), before)

	def test_the_web_form_is_public_on_lead(self):
		form = frappe.get_doc("Web Form", capture.WEB_FORM)
		self.assertEqual((form.doc_type, form.login_required, form.published), ("Lead", 0, 1))

	def test_the_endpoint_is_rate_limited_per_ip(self):
		cmd = "crm_fishpond.api.capture.submit_lead"
		with http_request(cmd, "203.0.113.7"):
			for _i in range(capture.CAPTURE_LIMIT):
				self.submit(website="bot")  # honeypot calls: counted, nothing written
			with self.assertRaises(frappe.RateLimitExceededError):
				self.submit(website="bot")
		with http_request(cmd, "203.0.113.8"):
			self.submit(website="bot")  # another IP has its own allowance

	def test_bad_input_sweep_raises_only_clean_errors_and_writes_nothing(self):
		rng = random.Random(20261203)
		fields = (
			"first_name",
			"email",
			"company",
			"mobile",
			"message",
			"referral_code",
			"consent",
			"website",
		)
		accepted = 0
		for _i in range(300):
			values = {f: fuzz_value(rng, f) for f in fields if rng.random() < 0.85}
			before = counts()
			try:
				capture.submit_lead(**values)
			except CLEAN_ERRORS:
				self.assertEqual(counts(), before, values)
				continue
			accepted += 1
		self.assertLess(accepted, 300)


def referral_code_of_a_customer() -> str:
	"""A real referrer's code (a typed code must be one the pond knows)."""
	from crm_fishpond.referrals.codes import ensure_code
	from crm_fishpond.sync.profiles import ensure_profile_for_customer
	from crm_fishpond.tests import factories

	return ensure_code(ensure_profile_for_customer(factories.customer("_FP Capture Referrer")))


def fuzz_value(rng: random.Random, field: str):
	good = {
		"first_name": "Fuzz",
		"email": f"fuzz{rng.randint(0, 10**6)}@example.com",
		"company": "Fuzz Ltd",
		"mobile": "+1 555 0100",
		"message": "hello",
		"referral_code": "ABC-1",
		"consent": 1,
		"website": "",
	}[field]
	return rng.choice(
		[
			good,
			None,
			"",
			" ",
			"\x00",
			"\ud800",
			"x" * 200_000,
			"".join(chr(rng.randint(1, 0x2FFF)) for _i in range(rng.randint(1, 60))),
			"'; drop table tabLead; --",
			"<script>alert(1)</script>",
			"a@b",
			"a@example.com, b@example.com",
			rng.randint(-(10**12), 10**12),
			rng.random(),
			True,
			[1, 2],
			{"a": 1},
		]
	)

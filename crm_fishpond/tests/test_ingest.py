"""Integration: the behaviour-event ingest API (crm_fishpond.api.ingest) and its bad-input sweep."""

import json
import random

import frappe
from frappe.utils import add_days, now_datetime

from crm_fishpond.api import ingest as api
from crm_fishpond.sync import ingest
from crm_fishpond.tests.test_api_sync import user_with_roles
from crm_fishpond.tests.test_capture import CLEAN_ERRORS, counts, http_request
from crm_fishpond.tests.utils import FishpondTestCase

INTEGRATION = "fp.integration.ingest@example.com"
KNOWN = "known.ingest@example.com"
REP = "fp.rep.ingest@example.com"


def event(email=KNOWN, **values):
	return {"email": email, "event_type": "page_view", "event_time": "2026-11-30 10:00:00", **values}


class TestIngest(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		user_with_roles(INTEGRATION, "Fishpond Integration")
		user_with_roles(REP, "Fishpond User")
		lead = frappe.get_doc({"doctype": "Lead", "first_name": "Known Ingest", "email_id": KNOWN}).insert(
			ignore_permissions=True
		)
		cls.profile = frappe.db.get_value("Fishpond Lead", {"lead": lead.name})

	def setUp(self):
		frappe.set_user(INTEGRATION)

	def tearDown(self):
		frappe.set_user("Administrator")

	def events_of(self, profile):
		return frappe.get_all(
			"Fishpond Behaviour Event",
			filters={"fishpond_lead": profile},
			fields=["event_type", "channel", "url", "payload", "weight"],
			order_by="event_time",
		)

	def test_good_rows_are_stored_on_the_matched_profile(self):
		before = len(self.events_of(self.profile))
		answer = api.behaviour_events(
			[
				event(channel="app", url="https://example.com/p", payload={"sku": "A1"}),
				event(email="KNOWN.INGEST@example.com", event_type="signup", weight=3),
				{"profile": self.profile, "event_type": "email_open", "event_time": "2026-11-29T08:00:00Z"},
			],
			"good-1",
		)
		self.assertEqual((answer["accepted"], answer["parked"], answer["errors"]), (3, 0, []))
		rows = self.events_of(self.profile)
		self.assertEqual(len(rows), before + 3)
		self.assertIn(
			("page_view", "App", "https://example.com/p"), [(r.event_type, r.channel, r.url) for r in rows]
		)
		self.assertIn({"sku": "A1"}, [json.loads(r.payload) for r in rows if r.payload])
		self.assertEqual(frappe.db.get_value("Fishpond Ingest Batch", answer["batch"], "accepted"), 3)

	def test_every_bad_row_gets_its_error_and_the_good_rows_are_still_written(self):
		bad = [
			"not an object",
			{"event_type": "x", "event_time": "2026-11-30"},
			event(email="not-an-email"),
			event(event_type=""),
			event(event_time="yesterday-ish"),
			event(event_time=str(add_days(now_datetime(), 5))),
			event(channel="Fax"),
			event(payload="a string"),
			event(weight=-1),
			event(colour="blue"),
			event(url="u" * 5000),
			{"profile": "NO-SUCH-PROFILE", "event_type": "x", "event_time": "2026-11-30 10:00:00"},
		]
		before = len(self.events_of(self.profile))
		answer = api.behaviour_events([event(), *bad], "mixed-1")
		self.assertEqual(answer["accepted"], 1)
		self.assertEqual([e["row"] for e in answer["errors"]], list(range(1, len(bad) + 1)))
		self.assertTrue(all(isinstance(e["error"], str) and e["error"] for e in answer["errors"]))
		self.assertEqual(len(self.events_of(self.profile)), before + 1)

	def test_a_repeated_idempotency_key_returns_the_first_answer_and_writes_nothing(self):
		first = api.behaviour_events([event(), event(email="stranger.ingest@example.com")], "replay-1")
		before = counts()
		again = api.behaviour_events([event(), event(), event()], "replay-1")
		self.assertEqual(counts(), before)
		self.assertTrue(again.pop("replayed"))
		self.assertEqual(again, first)
		# another sender's key of the same text is its own batch
		frappe.set_user("Administrator")
		self.assertEqual(api.behaviour_events([event()], "replay-1")["accepted"], 1)

	def test_unknown_emails_are_parked_then_matched_when_their_profile_appears(self):
		answer = api.behaviour_events(
			[event(email="later.ingest@example.com", event_type="pricing")], "park-1"
		)
		self.assertEqual((answer["accepted"], answer["parked"]), (0, 1))
		parked = json.loads(frappe.db.get_value("Fishpond Ingest Batch", answer["batch"], "parked_rows"))
		self.assertEqual(parked[0]["email"], "later.ingest@example.com")
		frappe.set_user("Administrator")
		lead = frappe.get_doc(
			{"doctype": "Lead", "first_name": "Later", "email_id": "later.ingest@example.com"}
		).insert(ignore_permissions=True)
		profile = frappe.db.get_value("Fishpond Lead", {"lead": lead.name})
		self.assertEqual(ingest.rematch_parked(), 1)
		self.assertEqual([r.event_type for r in self.events_of(profile)], ["pricing"])
		self.assertEqual(frappe.db.get_value("Fishpond Ingest Batch", answer["batch"], "parked"), 0)

	def test_bad_requests_write_nothing(self):
		before = counts()
		for events, key in (
			([event()] * (ingest.MAX_ROWS + 1), "too-many"),
			([], "empty"),
			("{not json", "bad-json"),
			({"email": KNOWN}, "not-a-list"),
			([event()], None),
			([event()], "k" * 500),
			([event(email="")], "all-bad"),
		):
			try:
				answer = api.behaviour_events(events, key)
			except frappe.ValidationError:
				continue
			self.assertEqual((answer["accepted"], answer["parked"], answer["batch"]), (0, 0, None))
		self.assertEqual(counts(), before)
		self.assertEqual(len([event()] * ingest.MAX_ROWS), 1000)

	def test_only_integration_users_may_send(self):
		for user in ("Guest", REP):
			frappe.set_user(user)
			with self.assertRaises(frappe.PermissionError):
				api.behaviour_events([event()], "perm-1")

	def test_the_endpoint_is_rate_limited(self):
		with http_request("crm_fishpond.api.ingest.behaviour_events", "198.51.100.4"):
			for _i in range(api.INGEST_LIMIT):
				self.assertRaises(frappe.ValidationError, api.behaviour_events, [], "rl")
			with self.assertRaises(frappe.RateLimitExceededError):
				api.behaviour_events([event()], "rl-2")

	def test_bad_input_sweep_raises_only_clean_errors_and_bad_requests_write_nothing(self):
		rng = random.Random(31)
		users = ["Guest", INTEGRATION]
		for i in range(200):
			frappe.set_user(rng.choice(users))
			events = fuzz_events(rng)
			key = rng.choice([f"fuzz-{i}", None, "", 7, ["k"], "x" * 1000, "\x00"])
			before = counts()
			try:
				answer = api.behaviour_events(events, key)
			except CLEAN_ERRORS:
				self.assertEqual(counts(), before)
				continue
			self.assertIsInstance(answer["errors"], list)
			if not answer["accepted"] and not answer["parked"]:
				self.assertEqual(counts(), before)


def fuzz_events(rng: random.Random):
	def value():
		return rng.choice(
			[
				None,
				"",
				"x" * 100_000,
				"\x00",
				"\ud800",
				"".join(chr(rng.randint(1, 0x2FFF)) for _i in range(rng.randint(1, 50))),
				rng.randint(-(10**15), 10**15),
				rng.random() * 1e9,
				float("nan"),
				True,
				[value_leaf()],
				{"k": value_leaf()},
				"2026-11-30 10:00:00",
				"9999-12-31 23:59:59",
				"0001-01-01",
				KNOWN,
				"someone.fuzz@example.com",
				"Web",
			]
		)

	def value_leaf():
		return rng.choice([1, "a", None, 2.5])

	def row():
		keys = ["email", "profile", "event_type", "event_time", "channel", "url", "payload", "weight"]
		if rng.random() < 0.1:
			keys.append(rng.choice(["junk", "", "0"]))
		return {k: value() for k in keys if rng.random() < 0.7}

	shape = rng.random()
	if shape < 0.1:
		return rng.choice([None, "", "[", "x" * 10_000, 5, {"a": 1}, json.dumps([{"a": 1}])])
	if shape < 0.15:
		return [{"email": KNOWN} for _i in range(1001)]
	return [row() if rng.random() < 0.9 else value() for _i in range(rng.randint(1, 20))]

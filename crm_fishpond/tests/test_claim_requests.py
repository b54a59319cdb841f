"""Request to claim: a rep asks for a lead a colleague holds by its e-mail or phone; the owner or a
pool manager approves (the lead moves, within caps, with a claim log) or declines; each side is
notified; nobody learns more than they may see."""

import random

import frappe

from crm_fishpond.api import pools as api
from crm_fishpond.tests import pools_factories as pf

LABEL = "_FP Req"
REQUEST = "Fishpond Claim Request"


class TestClaimRequests(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP Req Pool")
		cls.owner = pf.rep("fp-req-owner@example.com", pools=[cls.pool])
		cls.asker = pf.rep("fp-req-asker@example.com", pools=[cls.pool])
		cls.other = pf.rep("fp-req-other@example.com", pools=[cls.pool])
		cls.pool_manager = pf.rep("fp-req-manager@example.com", manages=[cls.pool])
		cls.stranger = pf.user("fp-req-stranger@example.com", ["Sales User"])

	def held(self, **values) -> str:
		n = random.randint(0, 10**6)
		email = values.pop("email_id", f"Jane.Held{n}@Example.com")
		return pf.lead(LABEL, self.pool, owner=self.owner, email_id=email, **values)

	def ask(self, user, **kwargs) -> dict:
		frappe.set_user(user)
		try:
			return api.request_claim(**{"reason": "she called me back", **kwargs})
		finally:
			frappe.set_user("Administrator")

	def request_of(self, lead: str) -> frappe._dict:
		return frappe.db.get_value(
			REQUEST,
			{"fishpond_lead": lead},
			["name", "status", "requested_by", "current_owner"],
			as_dict=True,
		)

	def test_a_request_by_email_reaches_the_owner_and_approval_hands_the_lead_over(self):
		lead = self.held()
		email = frappe.db.get_value("Fishpond Lead", lead, "email_id")
		self.assertEqual(self.ask(self.asker, email=email.upper()), {"sent": 1})
		req = self.request_of(lead)
		self.assertEqual(
			(req.status, req.requested_by, req.current_owner), ("Pending", self.asker, self.owner)
		)
		# the owner is told (Frappe's Notification Log: the bell, and e-mail by their settings)
		self.assertTrue(
			frappe.db.exists("Notification Log", {"for_user": self.owner, "document_name": req.name})
		)
		# the asker learns nothing about the lead: not the request's record, only their own reason
		frappe.set_user(self.asker)
		self.assertFalse(frappe.has_permission(REQUEST, "read", req.name))
		self.assertNotIn(req.name, frappe.get_list(REQUEST, pluck="name"))
		self.assertFalse(frappe.has_permission("Fishpond Lead", "read", lead))
		mine = api.my_claim_requests()
		self.assertEqual(
			[(r["name"], r["reason"], r["status"]) for r in mine],
			[(req.name, "she called me back", "Pending")],
		)
		self.assertFalse({"fishpond_lead", "lead_name", "current_owner", "fishpond"} & set(mine[0]))
		# a colleague who is neither owner nor manager sees neither and may not decide
		frappe.set_user(self.other)
		self.assertNotIn(req.name, frappe.get_list(REQUEST, pluck="name"))
		with self.assertRaises(frappe.PermissionError):
			api.decide_claim_request(req.name, 1)
		frappe.set_user(self.owner)
		api.decide_claim_request(req.name, 1, "take good care of her")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "lead_owner"), self.asker)
		self.assertEqual(self.request_of(lead).status, "Approved")
		log = frappe.get_all(
			"Fishpond Claim Log",
			filters={"profile": lead, "action": "Assign"},
			fields=["from_user", "to_user", "action_by", "reason"],
		)
		self.assertEqual(
			(log[0].from_user, log[0].to_user, log[0].action_by), (self.owner, self.asker, self.owner)
		)
		self.assertIn(req.name, log[0].reason)
		self.assertTrue(
			frappe.db.exists("Notification Log", {"for_user": self.asker, "document_name": req.name})
		)
		# a decided request is decided
		frappe.set_user(self.asker)
		with self.assertRaises(frappe.ValidationError):
			api.withdraw_claim_request(req.name)

	def test_a_pool_manager_declines_and_the_lead_stays(self):
		lead = self.held(phone="+44 20 7946 0571")
		self.assertEqual(self.ask(self.asker, phone="+44 (20) 7946-0571"), {"sent": 1})
		req = self.request_of(lead)
		frappe.set_user(self.pool_manager)
		api.decide_claim_request(req.name, 0, "she is mid-deal")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "lead_owner"), self.owner)
		self.assertEqual(self.request_of(lead).status, "Declined")
		# the asker is told by their own reason; nothing names the lead
		told = frappe.get_all(
			"Notification Log",
			filters={"for_user": self.asker, "subject": ("like", "%declined%")},
			fields=["subject", "document_name"],
		)
		self.assertTrue(told)
		lead_name = frappe.db.get_value("Fishpond Lead", lead, "lead_name")
		self.assertTrue(all(lead_name not in t.subject and not t.document_name for t in told))

	def test_wildcards_in_an_email_match_nothing_but_themselves(self):
		self.held()
		self.assertEqual(self.ask(self.asker, email="j%@example.com"), {"sent": 0})
		self.assertEqual(self.ask(self.asker, email="_%@%.com"), {"sent": 0})

	def test_the_asker_learns_nothing_when_nobody_holds_it(self):
		self.assertEqual(
			self.ask(self.asker, email=f"nobody{random.randint(0, 10**6)}@example.com"), {"sent": 0}
		)
		# one's own lead is no request either, and asking twice sends one request
		mine = pf.lead(LABEL, self.pool, owner=self.asker, email_id="mine@example.com")
		self.assertEqual(self.ask(self.asker, email="mine@example.com"), {"sent": 0})
		lead = self.held()
		email = frappe.db.get_value("Fishpond Lead", lead, "email_id")
		self.ask(self.asker, email=email)
		self.assertEqual(self.ask(self.asker, email=email), {"sent": 0})
		self.assertIsNone(frappe.db.get_value(REQUEST, {"fishpond_lead": mine}))
		with self.assertRaises(frappe.ValidationError):
			self.ask(self.asker)  # no e-mail, no phone
		with self.assertRaises(frappe.ValidationError):
			self.ask(self.asker, email=email, reason=" ")

	def test_a_stranger_may_not_ask_and_the_asker_may_withdraw(self):
		lead = self.held()
		email = frappe.db.get_value("Fishpond Lead", lead, "email_id")
		with self.assertRaises(frappe.PermissionError):
			self.ask(self.stranger, email=email)
		self.ask(self.asker, email=email)
		req = self.request_of(lead)
		frappe.set_user(self.other)
		with self.assertRaises(frappe.PermissionError):
			api.withdraw_claim_request(req.name)
		frappe.set_user(self.asker)
		api.withdraw_claim_request(req.name)
		frappe.set_user("Administrator")
		self.assertEqual(self.request_of(lead).status, "Withdrawn")

	def test_approval_respects_the_askers_cap(self):
		pf.pool("_FP Req Pool", max_claimed_per_user=1)
		try:
			pf.lead(LABEL, self.pool, owner=self.asker)  # the asker is at the cap
			lead = self.held()
			self.ask(self.asker, email=frappe.db.get_value("Fishpond Lead", lead, "email_id"))
			req = self.request_of(lead)
			frappe.set_user(self.owner)
			with self.assertRaisesRegex(frappe.ValidationError, "limit"):
				api.decide_claim_request(req.name, 1)
			frappe.set_user("Administrator")
			self.assertEqual(frappe.db.get_value("Fishpond Lead", lead, "lead_owner"), self.owner)
			self.assertEqual(self.request_of(lead).status, "Pending")
		finally:
			frappe.set_user("Administrator")
			pf.pool("_FP Req Pool")

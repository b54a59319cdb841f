"""Masking: until a lead is claimed, non-owners see its email and phones masked, through the REST API,
the form and the reports; owners and managers see them whole."""

import frappe

from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools.masking import mask_email, mask_phone
from crm_fishpond.tests import pools_factories as pf

EMAIL, PHONE, MOBILE = "jane.doe@example.com", "+86 10 8888 1234", "13812345678"


class TestMaskingFunctions(pf.PoolTestCase):
	def test_email(self):
		self.assertEqual(mask_email("jane.doe@example.com"), "ja******@ex*****.com")
		self.assertEqual(mask_email("a@b.cn"), "a*@b*.cn")
		self.assertIsNone(mask_email(None))

	def test_phone_keeps_the_last_four_digits(self):
		self.assertEqual(mask_phone("13812345678"), "138****5678")
		self.assertEqual(mask_phone("+86 10 8888 1234"), "+86 1* **** 1234")
		self.assertEqual(mask_phone("1234"), "****")


class TestMasking(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.pool = pf.pool("_FP Mask Pool")
		cls.rep_a = pf.rep("fp-mask-a@example.com", pools=[cls.pool])
		cls.rep_b = pf.rep("fp-mask-b@example.com", pools=[cls.pool])
		cls.pool_manager = pf.rep("fp-mask-pm@example.com", manages=[cls.pool])
		cls.manager = pf.manager("fp-mask-manager@example.com")

	def setUp(self):
		super().setUp()
		self.lead = pf.lead("_FP Mask", self.pool, email_id=EMAIL, phone=PHONE, mobile_no=MOBILE)

	def as_user(self, user, fn):
		frappe.set_user(user)
		try:
			return fn()
		finally:
			frappe.set_user("Administrator")

	def rest_doc(self):
		from frappe.api import v1

		frappe.local.form_dict = frappe._dict()
		return frappe.parse_json(frappe.as_json(v1.read_doc("Fishpond Lead", self.lead)))

	def form_doc(self):
		from frappe.desk.form.load import getdoc

		frappe.local.response = frappe._dict(docs=[])
		getdoc("Fishpond Lead", self.lead)
		return frappe.parse_json(frappe.as_json(frappe.local.response.docs[0]))

	def client_doc(self):
		return frappe.parse_json(frappe.as_json(frappe.client.get("Fishpond Lead", self.lead)))

	def report_rows(self):
		from frappe.desk.reportview import execute

		return execute(
			"Fishpond Lead",
			fields=["name", "email_id", "phone", "mobile_no"],
			filters=[["Fishpond Lead", "name", "=", self.lead]],
		)

	def assertMasked(self, doc, channel):
		for raw in ("email_id", "phone", "mobile_no"):
			self.assertFalse(doc.get(raw), f"{channel}: raw {raw} leaked")
		self.assertEqual(doc["visible_email"], mask_email(EMAIL), channel)
		self.assertEqual(doc["visible_phone"], mask_phone(PHONE), channel)
		self.assertEqual(doc["visible_mobile"], mask_phone(MOBILE), channel)
		self.assertNotIn(EMAIL, frappe.as_json(doc), channel)

	def assertWhole(self, doc, channel):
		self.assertEqual(doc.get("visible_email"), EMAIL, channel)
		self.assertEqual(doc.get("visible_mobile"), MOBILE, channel)

	def test_pool_members_see_unclaimed_leads_masked_everywhere(self):
		for channel, fetch in (("rest", self.rest_doc), ("form", self.form_doc), ("client", self.client_doc)):
			self.assertMasked(self.as_user(self.rep_a, fetch), channel)
		rows = self.as_user(self.rep_a, self.report_rows)
		self.assertEqual(len(rows), 1)
		self.assertNotIn(EMAIL, frappe.as_json(rows))
		self.assertFalse(any(rows[0].get(f) for f in ("email_id", "phone", "mobile_no")), rows)

	def test_adjacent_raw_fields_stay_hidden_in_every_query(self):
		"""Frappe's own stripping skips the field after a removed one; the app's guard closes that."""
		from frappe.api import v1

		fields = ["email_id", "phone", "mobile_no", "name"]

		def listed():
			return frappe.get_list("Fishpond Lead", filters={"name": self.lead}, fields=fields)

		def rest():
			frappe.local.form_dict = frappe._dict(
				fields=frappe.as_json(fields), filters=frappe.as_json([["name", "=", self.lead]])
			)
			return v1.document_list("Fishpond Lead")

		for channel, fetch in (("get_list", listed), ("rest", rest)):
			rows = self.as_user(self.rep_a, fetch)
			self.assertEqual(len(rows), 1, channel)
			self.assertNotIn(PHONE, frappe.as_json(rows), channel)
			self.assertNotIn(MOBILE, frappe.as_json(rows), channel)
			self.assertNotIn(EMAIL, frappe.as_json(rows), channel)

	def test_the_owner_sees_the_details_once_claimed(self):
		pool_claim.claim([self.lead], user=self.rep_a).raise_first()
		for channel, fetch in (("rest", self.rest_doc), ("form", self.form_doc), ("client", self.client_doc)):
			self.assertWhole(self.as_user(self.rep_a, fetch), channel)

	def test_managers_see_everything(self):
		doc = self.as_user(self.manager, self.rest_doc)
		self.assertEqual((doc["email_id"], doc["phone"]), (EMAIL, PHONE))
		rows = self.as_user(self.manager, self.report_rows)
		self.assertEqual(rows[0].email_id, EMAIL)
		self.assertWhole(self.as_user(self.pool_manager, self.form_doc), "pool manager form")

	def test_contact_details_api(self):
		from crm_fishpond.api.pools import contact_details

		masked = self.as_user(self.rep_b, lambda: contact_details(frappe.as_json([self.lead])))
		self.assertEqual(masked[self.lead]["email_id"], mask_email(EMAIL))
		pool_claim.claim([self.lead], user=self.rep_a).raise_first()
		self.assertEqual(self.as_user(self.rep_b, lambda: contact_details(self.lead)), {})
		self.assertEqual(
			self.as_user(self.rep_a, lambda: contact_details(self.lead))[self.lead]["email_id"], EMAIL
		)

	def test_an_owner_saving_the_form_keeps_the_stored_details(self):
		pool_claim.claim([self.lead], user=self.rep_a).raise_first()

		def save_from_form():
			doc = frappe.get_doc(self.form_doc())  # what the browser sends back: no raw fields
			doc.need = "High"
			doc.save()

		self.as_user(self.rep_a, save_from_form)
		stored = frappe.db.get_value("Fishpond Lead", self.lead, ["email_id", "phone", "need"], as_dict=True)
		self.assertEqual((stored.email_id, stored.phone, stored.need), (EMAIL, PHONE, "High"))

	def test_a_rep_creating_a_profile_may_type_its_details(self):
		def create():
			return frappe.get_doc(
				{
					"doctype": "Fishpond Lead",
					"lead_name": "_FP Mask New",
					"fishpond": self.pool,
					"email_id": "new@example.com",
				}
			).insert()

		doc = self.as_user(self.rep_a, create)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", doc.name, "email_id"), "new@example.com")

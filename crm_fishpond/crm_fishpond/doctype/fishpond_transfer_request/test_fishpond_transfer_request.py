import frappe

from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondTransferRequest(FishpondTestCase):
	def setUp(self):
		self.source = pf.pool("_FP TR Source")
		self.target = pf.pool("_FP TR Target")
		self.rep = pf.rep("fp-tr-rep@example.com", pools=[self.source])
		self.manager = pf.manager("fp-tr-manager@example.com")
		self.lead = pf.lead("_FP TR Lead", self.source)
		pool_claim.claim([self.lead], user=self.rep).raise_first()

	def tearDown(self):
		frappe.set_user("Administrator")

	def request(self, **values):
		frappe.set_user(self.rep)
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Transfer Request",
				"fishpond_lead": self.lead,
				"to_pool": self.target,
				"reason": "customer moved region",
				**values,
			}
		).insert()
		return doc

	def test_request_records_source_pool_and_requester(self):
		doc = self.request()
		self.assertEqual(doc.from_pool, self.source)
		self.assertEqual(doc.requested_by, self.rep)
		self.assertFalse(doc.transferred)

	def test_approval_by_a_manager_moves_the_lead(self):
		doc = self.request()
		frappe.set_user(self.manager)
		doc.reload()
		doc.workflow_state = "Approved"
		doc.save()
		lead = frappe.db.get_value("Fishpond Lead", self.lead, ["fishpond", "lead_owner"], as_dict=True)
		self.assertEqual(lead.fishpond, self.target)
		self.assertIsNone(lead.lead_owner)  # released into the target pool
		doc.reload()
		self.assertTrue(doc.transferred)
		self.assertEqual(doc.decided_by, self.manager)

	def test_a_rep_cannot_approve_their_own_request(self):
		doc = self.request()
		doc.workflow_state = "Approved"
		self.assertRaises(frappe.ValidationError, doc.save)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.lead, "fishpond"), self.source)

	def test_shipped_workflow_fixture(self):
		import json
		from pathlib import Path

		import crm_fishpond

		path = Path(crm_fishpond.__file__).parent / "fixtures" / "workflow.json"
		workflow = next(w for w in json.loads(path.read_text()) if w["name"] == "Fishpond Transfer Approval")
		self.assertEqual(workflow["document_type"], "Fishpond Transfer Request")
		actions = {(t["state"], t["action"], t["next_state"], t["allowed"]) for t in workflow["transitions"]}
		self.assertIn(("Pending Approval", "Approve", "Approved", "Fishpond Manager"), actions)

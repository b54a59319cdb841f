import json
from pathlib import Path

import frappe
from frappe.model.workflow import apply_workflow

import crm_fishpond
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.tests import pools_factories as pf

WORKFLOW = "Fishpond Transfer Approval"


class TestFishpondTransferRequest(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.source = pf.pool("_FP TR Source")
		cls.target = pf.pool("_FP TR Target")
		cls.rep = pf.rep("fp-tr-rep@example.com", pools=[cls.source])
		cls.manager = pf.manager("fp-tr-manager@example.com")

	def setUp(self):
		super().setUp()
		self.lead = pf.lead("_FP TR Lead", self.source)
		pool_claim.claim([self.lead], user=self.rep).raise_first()

	def request(self, **values):
		frappe.set_user(self.rep)
		return frappe.get_doc(
			{
				"doctype": "Fishpond Transfer Request",
				"fishpond_lead": self.lead,
				"to_pool": self.target,
				"reason": "customer moved region",
				**values,
			}
		).insert()

	def test_request_records_source_pool_and_requester(self):
		doc = self.request()
		self.assertEqual(doc.from_pool, self.source)
		self.assertEqual(doc.requested_by, self.rep)
		self.assertEqual(doc.workflow_state, "Draft")
		self.assertFalse(doc.transferred)

	def test_approval_through_the_workflow_moves_the_lead(self):
		doc = self.request()
		doc = apply_workflow(doc, "Submit for Approval")
		self.assertEqual(doc.workflow_state, "Pending Approval")
		frappe.set_user(self.manager)
		doc = apply_workflow(frappe.get_doc(doc.doctype, doc.name), "Approve")
		lead = frappe.db.get_value("Fishpond Lead", self.lead, ["fishpond", "lead_owner"], as_dict=True)
		self.assertEqual(lead.fishpond, self.target)
		self.assertIsNone(lead.lead_owner)  # released into the target pool
		doc.reload()
		self.assertTrue(doc.transferred)
		self.assertEqual(doc.decided_by, self.manager)
		log = frappe.get_all(
			"Fishpond Claim Log", filters={"profile": self.lead, "action": "Transfer"}, fields=["action_by"]
		)
		self.assertEqual([r.action_by for r in log], [self.manager])

	def test_rejection_leaves_the_lead_alone(self):
		doc = apply_workflow(self.request(), "Submit for Approval")
		frappe.set_user(self.manager)
		apply_workflow(frappe.get_doc(doc.doctype, doc.name), "Reject")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.lead, "fishpond"), self.source)

	def test_a_rep_cannot_approve(self):
		doc = apply_workflow(self.request(), "Submit for Approval")
		self.assertRaises(frappe.ValidationError, apply_workflow, doc, "Approve")
		doc = frappe.get_doc(doc.doctype, doc.name)
		doc.workflow_state = "Approved"  # bypassing the workflow's buttons changes nothing either
		self.assertRaises((frappe.ValidationError, frappe.PermissionError), doc.save)
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.lead, "fishpond"), self.source)

	def test_a_rep_cannot_request_a_lead_they_do_not_hold(self):
		other = pf.lead("_FP TR Someone Else", self.source, owner=self.manager)
		frappe.set_user(self.rep)
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Transfer Request",
				"fishpond_lead": other,
				"to_pool": self.target,
				"reason": "x",
			}
		)
		self.assertRaises(frappe.PermissionError, doc.insert)

	def test_shipped_workflow_fixture(self):
		path = Path(crm_fishpond.__file__).parent / "setup_data" / "workflow.json"
		workflow = next(w for w in json.loads(path.read_text()) if w["name"] == WORKFLOW)
		self.assertEqual(workflow["document_type"], "Fishpond Transfer Request")
		transitions = {
			(t["state"], t["action"], t["next_state"], t["allowed"]) for t in workflow["transitions"]
		}
		self.assertIn(("Pending Approval", "Approve", "Approved", "Fishpond Manager"), transitions)
		self.assertTrue(frappe.db.exists("Workflow", WORKFLOW))

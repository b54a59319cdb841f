import frappe

from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.tests import pools_factories as pf


class TestFishpondClaimLog(pf.PoolTestCase):
	def test_claim_and_release_are_logged_with_who_when_why(self):
		pool = pf.pool("_FP Log Pool")
		rep = pf.rep("fp-log-rep@example.com", pools=[pool])
		lead = pf.lead("_FP Log Lead", pool)
		pool_claim.claim([lead], user=rep).raise_first()
		pool_claim.release([lead], reason="not interested", by=rep).raise_first()
		rows = frappe.get_all(
			"Fishpond Claim Log",
			filters={"profile": lead},
			fields=["action", "from_user", "to_user", "from_pool", "to_pool", "reason", "action_by"],
			order_by="action_on asc, action asc",
		)
		self.assertEqual([r.action for r in rows], ["Claim", "Release"])
		self.assertEqual(rows[0].to_user, rep)
		self.assertEqual(rows[1].from_user, rep)
		self.assertEqual(rows[1].reason, "not interested")
		self.assertTrue(all(r.action_by == rep and r.from_pool == pool for r in rows))

	def test_log_is_read_only_for_everyone(self):
		# no role may create, change or delete a log row (the doctype-level "read_only" flag is off: it
		# would hide the list from roles that can only read it)
		meta = frappe.get_meta("Fishpond Claim Log")
		self.assertTrue(meta.in_create)
		self.assertFalse(any(p.write or p.create or p.delete for p in meta.permissions))
		rep = pf.rep("fp-log-reader@example.com")
		self.assertFalse(frappe.has_permission("Fishpond Claim Log", "write", user=rep))
		self.assertFalse(frappe.has_permission("Fishpond Claim Log", "create", user=rep))

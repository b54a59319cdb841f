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
		meta = frappe.get_meta("Fishpond Claim Log")
		self.assertTrue(meta.read_only and meta.in_create)
		self.assertFalse(any(p.write or p.create for p in meta.permissions))

"""A rep cannot escape caps, recycling or exemptions by writing a profile's fields.

Rep A holds leads of a capped, recycling pool. For EVERY field of Fishpond Lead, A writes a tempting value
(another status, owner, pool, a fresh claim date, a locked flag, a customer with an open Sales Order, an
exempt grade or stage, ...) through every channel a user writes through: the form (``Document.save``),
``frappe.client.set_value``, ``PUT /api/resource`` (the v1 handler), the list view's bulk edit and Data
Import (the importer's update path, which runs with ``frappe.flags.in_import``). After each attempt the
lead's pool state, A's held count, the recycler's selection and the lead's exemptions are what they were.
Pool actions (claim, release, Mark Lost) are then the only way to change them, and they keep the caps.
"""

from __future__ import annotations

from unittest.mock import patch

import frappe
from frappe.utils import add_days, now_datetime

from crm_fishpond.api import pools as api
from crm_fishpond.pools import claim as pool_claim
from crm_fishpond.pools import recycle
from crm_fishpond.pools.protection import protections
from crm_fishpond.pools.recycle import RecycleRules
from crm_fishpond.tests import factories as f
from crm_fishpond.tests import pools_factories as pf

POOL_STATE = (
	"lead_owner",
	"fishpond",
	"status",
	"lost_reason",
	"claimed_on",
	"previous_owner",
	"released_on",
	"locked",
	"customer",
	"lead",
	"lifecycle_stage",
	"value_grade",
)
LAYOUT = frozenset({"Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading", "Fold"})


class RepWriteCase(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.exempt_stage = frappe.db.get_value("Lifecycle Stage", {}, "name", order_by="sequence desc")
		cls.settings = {
			"max_claimed_per_user": 2,
			"recycle_enabled": 1,
			"recycle_no_followup_days": 3,
			"exempt_value_grades": "High",
			"exempt_stages": [cls.exempt_stage] if cls.exempt_stage else [],
		}
		cls.pool = pf.pool("_FP Write P", **cls.settings)
		cls.other = pf.pool("_FP Write Q")
		cls.rep_a = pf.rep("fp-write-a@example.com", pools=[cls.pool, cls.other])
		cls.rep_b = pf.rep("fp-write-b@example.com", pools=[cls.pool])
		# a customer with an open Sales Order: linking it would exempt a lead from recycling
		cls.protected_customer = f.customer("_FP Write Protected Customer")
		if not frappe.db.exists("Sales Order", {"customer": cls.protected_customer, "docstatus": 1}):
			f.sales_order(cls.protected_customer)
		# ...that no profile holds (a new Customer may get one of its own). Nothing here is committed:
		# the class's fixtures roll back when it ends, so the site's reconciliation stays clean.
		frappe.db.set_value(
			"Fishpond Lead", {"customer": cls.protected_customer}, "customer", None, update_modified=False
		)

	def setUp(self):
		super().setUp()
		past = add_days(now_datetime(), -10)
		self.held = pf.lead("_FP Write held", self.pool, owner=self.rep_a, claimed_on=past)
		self.held_too = pf.lead("_FP Write held too", self.pool, owner=self.rep_a, claimed_on=past)
		self.free = pf.lead("_FP Write free", self.pool)
		self.rules = RecycleRules.for_pool(self.pool)

	# -- what must not move ------------------------------------------------------------------------
	def state(self, name):
		row = frappe.db.get_value("Fishpond Lead", name, POOL_STATE, as_dict=True)
		return {
			"row": {k: (str(v) if v is not None else None) for k, v in row.items()},
			"held": pool_claim._held_count(self.rep_a, pool_claim.pool_caps([self.pool])[self.pool]),
			"due": name in {r.name for r in recycle.select(self.rules).due},
			"protected_by": protections(name, self.rules),
		}


class TestEveryFieldEveryChannel(RepWriteCase):
	def tempting_values(self, df) -> list:
		"""Values a rep could hope would free a cap place, stop the recycler or exempt the lead."""
		special = {
			"lead_owner": [self.rep_b, None],
			"fishpond": [self.other, None],
			"status": ["In Pool", "Converted", "Lost", "Churned"],
			"lost_reason": ["gave up"],
			"claimed_on": [now_datetime(), add_days(now_datetime(), 365), None],
			"previous_owner": [self.rep_b],
			"released_on": [now_datetime()],
			"locked": [1],
			"customer": [self.protected_customer],
			"value_grade": ["High"],
			"lifecycle_stage": [self.exempt_stage],
			"last_interaction": [now_datetime()],
			"stage_history": [[{"from_stage": None, "to_stage": self.exempt_stage, "reason": "x"}]],
		}
		if df.fieldname in special:
			return special[df.fieldname]
		by_type = {
			"Select": [o for o in (df.options or "").split("\n") if o][-1:],
			"Check": [1],
			"Int": [7],
			"Float": [99.0],
			"Currency": [12345.0],
			"Percent": [99.0],
			"Datetime": [now_datetime()],
			"Date": [now_datetime().date()],
			"Data": ["rep@example.com" if df.options == "Email" else "+1 555 0100"],
			"Small Text": ["text"],
			"Text": ["text"],
			"JSON": ['{"x": 1}'],
		}
		return by_type.get(df.fieldtype, [])

	def channels(self):
		from frappe.api import v1
		from frappe.desk.doctype.bulk_update.bulk_update import submit_cancel_or_update_docs

		def form(name, field, value):
			doc = frappe.get_doc("Fishpond Lead", name)
			doc.set(field, value)
			doc.save()

		def set_value(name, field, value):
			frappe.client.set_value("Fishpond Lead", name, field, value)

		def rest_put(name, field, value):
			frappe.local.form_dict = frappe._dict(data=frappe.as_json({field: value}))
			try:
				v1.update_doc("Fishpond Lead", name)
			finally:
				frappe.local.form_dict = frappe._dict()

		def bulk_edit(name, field, value):
			# the list view's Edit action; its per-document commit would end the test's transaction
			with patch.object(frappe.db, "commit"), patch.object(frappe.db, "rollback"):
				failed = submit_cancel_or_update_docs(
					"Fishpond Lead", [name], action="update", data={field: value}
				)
			if failed:
				raise frappe.ValidationError(failed)

		def data_import(name, field, value):
			# the importer's update path (frappe.core.doctype.data_import.importer.Importer.update_record)
			frappe.flags.in_import = True
			try:
				doc = frappe.get_doc("Fishpond Lead", name)
				doc.update({field: value})
				doc.flags.updater_reference = {"doctype": "Data Import", "docname": "x", "label": "import"}
				doc.save()
			finally:
				frappe.flags.in_import = False

		return {
			"form": form,
			"frappe.client.set_value": set_value,
			"PUT /api/resource": rest_put,
			"bulk edit": bulk_edit,
			"Data Import": data_import,
		}

	def test_no_field_through_any_channel_moves_the_pool_state(self):
		meta = frappe.get_meta("Fishpond Lead")
		fields = [df for df in meta.fields if df.fieldtype not in LAYOUT and not df.is_virtual]
		self.assertGreater(len(fields), 40)
		escapes = []
		for target in (self.held, self.free):
			baseline = self.state(target)
			for channel, write in self.channels().items():
				for df in fields:
					for value in self.tempting_values(df):
						frappe.db.savepoint("fp_attempt")
						frappe.set_user(self.rep_a)
						try:
							write(target, df.fieldname, value)
						except Exception:
							pass  # refused: what counts is what is stored afterwards
						finally:
							frappe.set_user("Administrator")
							frappe.clear_messages()
						after = self.state(target)
						frappe.db.rollback(save_point="fp_attempt")
						if after != baseline:
							escapes.append(f"{channel}: {df.fieldname}={value!r} on {target}: {after}")
		self.assertEqual(escapes, [], "\n".join(escapes[:20]))

	def test_the_reported_escape_is_closed(self):
		"""PUT {"status": "Lost"} on a held lead, then claim one more beyond the cap."""
		self.assertTrue(self.state(self.held)["due"])
		frappe.set_user(self.rep_a)
		frappe.local.form_dict = frappe._dict(data=frappe.as_json({"status": "Lost"}))
		from frappe.api import v1

		with self.assertRaises(pool_claim.ClaimError):
			v1.update_doc("Fishpond Lead", self.held)
		frappe.local.form_dict = frappe._dict()
		outcome = pool_claim.claim([self.free])
		frappe.set_user("Administrator")
		self.assertEqual(outcome.done, [])
		self.assertIn("limit per rep", outcome.failed[self.free])
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.held, "status"), "Claimed")
		self.assertTrue(self.state(self.held)["due"])

	def test_a_new_profile_starts_in_the_pool(self):
		frappe.set_user(self.rep_a)
		tempting = (
			{"status": "Converted"},
			{"status": "Lost"},
			{"lead_owner": self.rep_a},
			{"locked": 1},
			# a cool-down that would keep rep B from claiming it
			{"previous_owner": self.rep_b, "released_on": now_datetime()},
			{"claimed_on": now_datetime()},
			{"lost_reason": "never"},
		)
		for values in tempting:
			doc = frappe.get_doc(
				{"doctype": "Fishpond Lead", "lead_name": "_FP Write new", "fishpond": self.pool, **values}
			)
			with self.assertRaises(pool_claim.ClaimError, msg=values):
				doc.insert()
		frappe.set_user("Administrator")

	def test_a_future_interaction_cannot_hold_off_the_recycler(self):
		frappe.set_user(self.rep_a)
		doc = frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": self.held,
				"interaction_type": "Call",
				"direction": "Outbound",
				"interaction_time": add_days(now_datetime(), 400),
			}
		)
		with self.assertRaises(frappe.ValidationError):
			doc.insert()
		frappe.set_user("Administrator")
		self.assertTrue(self.state(self.held)["due"])

	def test_an_internal_note_is_not_a_follow_up(self):
		frappe.set_user(self.rep_a)
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": self.held,
				"interaction_type": "Note",
				"direction": "Internal",
				"interaction_time": now_datetime(),
			}
		).insert()
		frappe.set_user("Administrator")
		self.assertTrue(self.state(self.held)["due"])

	def test_managers_may_still_correct_any_field(self):
		frappe.set_user(pf.manager("fp-write-manager@example.com"))
		frappe.client.set_value("Fishpond Lead", self.held, "status", "Lost")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.held, "status"), "Lost")


class TestMarkLost(RepWriteCase):
	def test_a_lead_converted_meanwhile_is_not_marked_lost(self):
		"""mark_lost read the lead as Claimed; an invoice converts it before the UPDATE."""
		real_load = pool_claim._load

		def load_then_convert(names):
			rows = real_load(names)
			frappe.db.set_value("Fishpond Lead", self.held, "status", "Converted", update_modified=False)
			return rows

		with patch.object(pool_claim, "_load", load_then_convert):
			outcome = pool_claim.mark_lost([self.held], reason="too late", by=self.rep_a)
		self.assertEqual(outcome.done, [])
		row = frappe.db.get_value("Fishpond Lead", self.held, ["status", "lead_owner"], as_dict=True)
		self.assertEqual((row.status, row.lead_owner), ("Converted", self.rep_a))

	def log(self, lead):
		return frappe.get_all(
			"Fishpond Claim Log",
			filters={"profile": lead, "action": "Lost"},
			fields=["from_user", "to_user", "reason", "action_by"],
		)

	def test_release_to_pool_ends_the_claim_and_frees_a_place(self):
		pf.pool(self.pool, **self.settings, lost_handling="Release to Pool", claim_cooldown_days=5)
		frappe.set_user(self.rep_a)
		api.mark_lost(self.held, reason="Bought from a competitor")
		frappe.set_user("Administrator")
		row = frappe.db.get_value(
			"Fishpond Lead",
			self.held,
			["status", "lead_owner", "previous_owner", "lost_reason"],
			as_dict=True,
		)
		self.assertEqual(
			(row.status, row.lead_owner, row.previous_owner, row.lost_reason),
			("Lost", None, self.rep_a, "Bought from a competitor"),
		)
		self.assertEqual(
			self.log(self.held),
			[
				{
					"from_user": self.rep_a,
					"to_user": None,
					"reason": "Bought from a competitor",
					"action_by": self.rep_a,
				}
			],
		)
		# the place is free: A claims another lead; the lost one waits in the pool for others, and
		# the cool-down keeps A from taking it straight back
		self.assertEqual(pool_claim.claim([self.free], user=self.rep_a).done, [self.free])
		self.assertIn("again from", pool_claim.claim([self.held], user=self.rep_a).failed[self.held])
		# another rep who claims it reopens it
		self.assertEqual(pool_claim.claim([self.held], user=self.rep_b).done, [self.held])
		row = frappe.db.get_value("Fishpond Lead", self.held, ["status", "lost_reason"], as_dict=True)
		self.assertEqual((row.status, row.lost_reason), ("Claimed", None))

	def test_keep_with_owner_keeps_the_claim_counted_and_recyclable(self):
		pf.pool(self.pool, **self.settings, lost_handling="Keep with Owner")
		self.rules = RecycleRules.for_pool(self.pool)
		frappe.set_user(self.rep_a)
		api.mark_lost(self.held, reason="No budget this year")
		outcome = pool_claim.claim([self.free])
		frappe.set_user("Administrator")
		state = self.state(self.held)
		self.assertEqual((state["row"]["status"], state["row"]["lead_owner"]), ("Lost", self.rep_a))
		self.assertEqual(state["held"], 2)
		self.assertIn("limit per rep", outcome.failed[self.free])
		self.assertTrue(state["due"], "a lost lead its owner keeps is still recycled")
		self.assertEqual(self.log(self.held)[0]["to_user"], self.rep_a)

	def test_needs_a_reason_and_the_right_person(self):
		frappe.set_user(self.rep_a)
		with self.assertRaises(pool_claim.ClaimError):
			api.mark_lost(self.held, reason="  ")
		with self.assertRaises(pool_claim.ClaimError):
			api.mark_lost(self.free, reason="not mine")  # visible in the pool, but not A's
		frappe.set_user(self.rep_b)
		with self.assertRaises(pool_claim.ClaimError):
			api.mark_lost(self.held, reason="not mine either")
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Fishpond Lead", self.held, "status"), "Claimed")
		self.assertEqual(self.log(self.held), [])

	def test_converted_follows_from_erpnext_not_from_a_click(self):
		frappe.db.set_value("Fishpond Lead", self.held, "status", "Converted")
		frappe.set_user(self.rep_a)
		with self.assertRaises(pool_claim.ClaimError):
			api.mark_lost(self.held, reason="changed my mind")
		frappe.set_user("Administrator")

	def test_the_form_offers_mark_lost_to_the_owner_only(self):
		frappe.set_user(self.rep_a)
		self.assertTrue(api.actions_for(self.held)["can_mark_lost"])
		self.assertFalse(api.actions_for(self.free)["can_mark_lost"])
		frappe.set_user("Administrator")

	def test_bulk_mark_lost_reports_each_lead(self):
		frappe.set_user(self.rep_a)
		out = api.bulk_mark_lost(frappe.as_json([self.held, self.held_too, self.free]), reason="Closed")
		frappe.set_user("Administrator")
		self.assertEqual(sorted(out["done"]), sorted([self.held, self.held_too]))
		self.assertEqual(list(out["failed"]), [self.free])

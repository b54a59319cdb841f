"""The permission matrix: rep A, rep B, a rep of another pool, a pool manager, a Fishpond Manager and an
accounts user, each through list, count, get, report view, script report, link search, global search and
the REST handlers, on profiles and on their satellites. Every channel must return exactly the expected
set: zero leaks, and nothing legitimately visible goes missing."""

import frappe
from frappe.utils import now_datetime

from crm_fishpond import permissions
from crm_fishpond.pools.claim import insert_logs
from crm_fishpond.tests import pools_factories as pf

PREFIX = "_FP Matrix"


class TestPermissionMatrix(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.p = pf.pool("_FP Matrix P")
		cls.q = pf.pool("_FP Matrix Q")
		cls.r = pf.pool("_FP Matrix R", visibility="Managers Assign")
		cls.rep_a = pf.rep("fp-matrix-a@example.com", pools=[cls.p, cls.r])
		cls.rep_b = pf.rep("fp-matrix-b@example.com", pools=[cls.p])
		cls.rep_c = pf.rep("fp-matrix-c@example.com", pools=[cls.q])
		cls.pool_manager = pf.rep("fp-matrix-pm@example.com", manages=[cls.p])
		cls.manager = pf.manager("fp-matrix-manager@example.com")
		cls.accountant = pf.user("fp-matrix-accounts@example.com", ["Accounts User"])
		cls.leads = {
			"p_free": pf.lead(PREFIX, cls.p),
			"a_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_a),
			"b_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_b),
			"q_free": pf.lead(PREFIX, cls.q),
			"r_free": pf.lead(PREFIX, cls.r),
			"r_a": pf.lead(PREFIX, cls.r, owner=cls.rep_a),
			"c_in_p": pf.lead(PREFIX, cls.p, owner=cls.rep_c),
		}
		cls.all = set(cls.leads.values())
		cls.interactions, cls.transactions = {}, {}
		for key, lead in cls.leads.items():
			cls.interactions[key] = (
				frappe.get_doc(
					{
						"doctype": "Fishpond Interaction",
						"fishpond_lead": lead,
						"interaction_type": "Note",
						"interaction_time": now_datetime(),
						"subject": f"{PREFIX} note",
					}
				)
				.insert(ignore_permissions=True)
				.name
			)
			cls.transactions[key] = (
				frappe.get_doc(
					{
						"doctype": "Fishpond Transaction",
						"fishpond_lead": lead,
						"voucher_type": "Sales Invoice",
						"voucher_no": f"{PREFIX}-{key}",
						"docstatus_state": "Submitted",
					}
				)
				.insert(ignore_permissions=True, ignore_links=True)
				.name
			)
		insert_logs(
			[
				{
					"action": "Claim",
					"profile": lead,
					"to_user": frappe.db.get_value("Fishpond Lead", lead, "lead_owner"),
					"from_pool": frappe.db.get_value("Fishpond Lead", lead, "fishpond"),
					"to_pool": frappe.db.get_value("Fishpond Lead", lead, "fishpond"),
					"action_by": "Administrator",
					"action_on": now_datetime(),
				}
				for lead in cls.all
			]
		)
		L = cls.leads
		cls.expected = {
			cls.rep_a: {L["p_free"], L["a_owned"], L["r_a"]},
			cls.rep_b: {L["p_free"], L["b_owned"]},
			cls.rep_c: {L["q_free"], L["c_in_p"]},
			cls.pool_manager: {L["p_free"], L["a_owned"], L["b_owned"], L["c_in_p"]},
			cls.manager: set(cls.all),
			cls.accountant: set(),
		}

	def keys_of(self, names):
		inverse = {v: k for k, v in self.leads.items()}
		return sorted(inverse[n] for n in names if n in inverse)

	def assertSame(self, user, channel, got, expected):
		self.assertEqual(
			self.keys_of(got),
			self.keys_of(expected),
			f"{user} via {channel}: {sorted(got)} vs {sorted(expected)}",
		)

	def visible(self, channel, fetch):
		"""Run `fetch` as every user; a PermissionError means 'sees nothing'."""
		for user, expected in self.expected.items():
			frappe.set_user(user)
			try:
				got = set(fetch())
			except frappe.PermissionError:
				got = set()
			finally:
				frappe.set_user("Administrator")
			self.assertSame(user, channel, got & self.all, expected)

	# -- profiles ------------------------------------------------------------------------------
	def test_list(self):
		self.visible(
			"frappe.get_list",
			lambda: frappe.get_list(
				"Fishpond Lead", filters={"name": ["in", list(self.all)]}, pluck="name", limit_page_length=0
			),
		)

	def test_count(self):
		for user, expected in self.expected.items():
			frappe.set_user(user)
			try:
				count = frappe.client.get_count("Fishpond Lead", filters={"name": ["in", list(self.all)]})
			except frappe.PermissionError:
				count = 0
			frappe.set_user("Administrator")
			self.assertEqual(count, len(expected), user)

	def test_get_and_has_permission(self):
		def readable():
			out = []
			for name in self.all:
				try:
					frappe.client.get("Fishpond Lead", name)
				except frappe.PermissionError:
					continue
				out.append(name)
			return out

		self.visible("frappe.client.get", readable)
		self.visible(
			"has_permission",
			lambda: [n for n in self.all if frappe.has_permission("Fishpond Lead", "read", doc=n)],
		)

	def test_report_view(self):
		from frappe.desk.reportview import execute

		self.visible(
			"reportview.execute",
			lambda: [
				r.name
				for r in execute(
					"Fishpond Lead",
					fields=["name", "lead_name", "lead_owner"],
					filters=[["Fishpond Lead", "name", "in", list(self.all)]],
					limit_page_length=0,
				)
			],
		)

	def test_link_search(self):
		from frappe.desk.search import search_link

		self.visible(
			"search_link", lambda: [r["value"] for r in search_link("Fishpond Lead", PREFIX, page_length=100)]
		)

	def test_global_search_never_lists_profiles(self):
		from frappe.utils.global_search import search

		for user in self.expected:
			frappe.set_user(user)
			hits = [r.name for r in search(PREFIX, limit=100) if r.doctype == "Fishpond Lead"]
			frappe.set_user("Administrator")
			self.assertEqual(set(hits) - self.expected[user], set(), user)

	def test_rest_v1(self):
		from frappe.api import v1

		def listed():
			frappe.local.form_dict = frappe._dict(
				fields=frappe.as_json(["name"]),
				filters=frappe.as_json([["name", "in", list(self.all)]]),
				limit_page_length=100,
			)
			return [r.name for r in v1.document_list("Fishpond Lead")]

		def read():
			out = []
			for name in self.all:
				frappe.local.form_dict = frappe._dict()
				try:
					doc = v1.read_doc("Fishpond Lead", name)
				except frappe.PermissionError:
					continue
				out.append(frappe.parse_json(frappe.as_json(doc))["name"])
			return out

		self.visible("GET /api/resource (list)", listed)
		self.visible("GET /api/resource/<name>", read)

	def test_writes_need_ownership_or_management(self):
		L = self.leads
		cases = {
			(self.rep_a, "p_free"): False,  # visible, but claimed first
			(self.rep_a, "a_owned"): True,
			(self.rep_a, "b_owned"): False,
			(self.pool_manager, "b_owned"): True,
			(self.manager, "q_free"): True,
		}
		for (user, key), allowed in cases.items():
			self.assertEqual(
				bool(frappe.has_permission("Fishpond Lead", "write", doc=L[key], user=user)),
				allowed,
				(user, key),
			)

	def test_one_criterion_serves_both_hooks(self):
		"""The SQL condition and the per-document check agree on every profile for every user."""
		for user in self.expected:
			scope = permissions.pond_scope(user)
			condition = scope.sql() or "1=1"
			by_sql = set(
				frappe.db.sql_list(
					f"select name from `tabFishpond Lead` where {condition} and name in %(names)s",
					{"names": tuple(self.all)},
				)
			)
			by_python = {
				n
				for n in self.all
				if scope.can_read(*frappe.db.get_value("Fishpond Lead", n, ["lead_owner", "fishpond"]))
			}
			if user != self.accountant:
				self.assertEqual(by_sql, by_python, user)
				self.assertSame(user, "criterion", by_sql, self.expected[user])

	# -- satellites ----------------------------------------------------------------------------
	def satellite_visible(self, doctype, names_by_key, expected_for=None):
		names = set(names_by_key.values())
		to_key = {v: k for k, v in names_by_key.items()}
		for user, expected in self.expected.items():
			want = expected_for(user, expected) if expected_for else expected
			frappe.set_user(user)
			try:
				got = set(frappe.get_list(doctype, filters={"name": ["in", list(names)]}, pluck="name"))
				readable = {n for n in names if frappe.has_permission(doctype, "read", doc=n)}
			except frappe.PermissionError:
				got, readable = set(), set()
			frappe.set_user("Administrator")
			want_keys = sorted(k for k, v in self.leads.items() if v in want)
			self.assertEqual(sorted(to_key[n] for n in got), want_keys, f"{user} lists {doctype}")
			self.assertEqual(sorted(to_key[n] for n in readable), want_keys, f"{user} reads {doctype}")

	def test_interactions_follow_their_profile(self):
		self.satellite_visible("Fishpond Interaction", self.interactions)

	def test_transactions_follow_their_profile_except_for_accountants(self):
		self.satellite_visible(
			"Fishpond Transaction",
			self.transactions,
			expected_for=lambda user, expected: set(self.all) if user == self.accountant else expected,
		)

	def test_an_accountant_opens_the_transaction_list_but_reads_no_profile(self):
		"""The list view of Fishpond Transaction joins each row's profile (Fishpond Lead shows its title
		in links), which Frappe allows only with select permission on profiles: without it an
		accountant's list failed with "No permission for Fishpond Lead". Select is not read."""
		frappe.set_user(self.accountant)
		try:
			rows = frappe.get_list(
				"Fishpond Transaction",
				fields=["name", "fishpond_lead.lead_name as profile_title"],
				filters={"name": ("in", list(self.transactions.values()))},
			)
			self.assertEqual(len(rows), len(self.transactions))
			self.assertEqual(frappe.get_list("Fishpond Lead", filters={"name": ("in", list(self.all))}), [])
			self.assertFalse(frappe.has_permission("Fishpond Lead", "read", doc=next(iter(self.all))))
		finally:
			frappe.set_user("Administrator")

	def test_claim_logs_follow_their_profile(self):
		logs = {
			key: frappe.db.get_value("Fishpond Claim Log", {"profile": lead, "action": "Claim"})
			for key, lead in self.leads.items()
		}
		self.satellite_visible("Fishpond Claim Log", logs)

	def test_reports_follow_the_criterion(self):
		from frappe.desk.query_report import run

		for user, expected in self.expected.items():
			if user == self.accountant:
				continue
			frappe.set_user(user)
			result = run("Fishpond Time to Claim", filters={"detail": 1})
			frappe.set_user("Administrator")
			seen = {row.get("profile") for row in result["result"] if isinstance(row, dict)}
			self.assertEqual(seen & self.all - expected, set(), f"{user} sees foreign rows in a report")

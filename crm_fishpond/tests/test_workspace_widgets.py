"""The Number Cards and Dashboard Charts of the Fishpond CRM workspace: every one the app ships is on
the workspace, runs for an admin and for a rep without an error (also on an empty pond), and a rep
counts only what they may see (Document Type cards and Group By charts read through frappe.get_list,
so the pond's permission query applies). Charts on the metrics history are for managers only."""

from __future__ import annotations

import json
from pathlib import Path

import frappe
from frappe.desk.desktop import get_desktop_page
from frappe.desk.doctype.dashboard_chart import dashboard_chart
from frappe.desk.doctype.number_card import number_card
from frappe.utils import add_days, nowdate

from crm_fishpond.tests import pools_factories as pf
from crm_fishpond.tests.factories import reward_row

MODULE = Path(__file__).resolve().parents[1] / "crm_fishpond"
WORKSPACE = "Fishpond CRM"
PREFIX = "_FP Widgets"
# the JavaScript expressions the shipped cards use in dynamic filters, as Desk evaluates them
DYNAMIC = {"frappe.datetime.get_today()": nowdate}
# cards on doctypes a rep does not read at all (the accountant's link queue)
ACCOUNTING_CARDS = {"Queued Invoices"}
# a card whose value is a score, not a count (a Custom card: its method computes it)
NPS_CARD = "Net Promoter Score"


def shipped(folder: str) -> list[str]:
	return sorted(json.loads(p.read_text())["name"] for p in MODULE.glob(f"{folder}/*/*.json"))


def card_filters(card) -> list:
	filters = json.loads(card.filters_json or "[]")
	for f in json.loads(card.dynamic_filters_json or "[]"):
		if f[3] not in DYNAMIC:
			raise AssertionError(f"{card.name}: no test value for the dynamic filter {f[3]!r}")
		filters.append([f[0], f[1], f[2], DYNAMIC[f[3]]()])
	return filters


def card_result(name: str) -> float:
	card = frappe.get_doc("Number Card", name)
	if card.type == "Custom":  # what the widget calls, with the card's filters
		result = frappe.get_attr(card.method)(filters=card_filters(card))
		return result["value"] if isinstance(result, dict) else result
	filters = card_filters(card)
	result = number_card.get_result(card.as_json(), json.dumps(filters))
	if card.show_percentage_stats:
		number_card.get_percentage_difference(card.as_json(), json.dumps(filters), result)
	return result


def chart_result(name: str):
	return dashboard_chart.get(chart_name=name, refresh=1)


class WidgetCase(pf.PoolTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.p = pf.pool(f"{PREFIX} P")
		cls.q = pf.pool(f"{PREFIX} Q")
		pf.forget_profiles(PREFIX, pools=[cls.p, cls.q])
		cls.rep_a = pf.rep("fp-widgets-a@example.com", pools=[cls.p])
		cls.rep_b = pf.rep("fp-widgets-b@example.com", pools=[cls.p])
		cls.manager = pf.manager("fp-widgets-manager@example.com")
		L = cls.leads = {
			"p_free": pf.lead(PREFIX, cls.p),
			"a_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_a),
			"b_owned": pf.lead(PREFIX, cls.p, owner=cls.rep_b),
			"q_free": pf.lead(PREFIX, cls.q),
		}
		# NPS answers (before the derived fields below: an answer rescores its profile): a promoter on
		# the rep's own lead, a detractor on another rep's, a passive in another pool, and an old
		# detractor on the rep's lead, outside the card's 90 days
		for lead, score, days_ago in (
			(L["a_owned"], 10, 3),
			(L["b_owned"], 3, 5),
			(L["q_free"], 8, 1),
			(L["a_owned"], 0, 200),
		):
			frappe.get_doc(
				{
					"doctype": "Fishpond Feedback",
					"fishpond_lead": lead,
					"survey_type": "NPS",
					"score": score,
					"source": "Logged by Rep",
					"answered_on": add_days(nowdate(), -days_ago),
				}
			).insert(ignore_permissions=True)
		# derived fields as a rescore leaves them (set after the insert's own refresh)
		derived = {
			"p_free": {"churn_band": None, "value_grade": None, "lifecycle_stage": "Acquisition"},
			"a_owned": {"churn_band": "High", "value_grade": "High", "lifecycle_stage": "Retention"},
			"b_owned": {"churn_band": "High", "value_grade": "High", "lifecycle_stage": "Retention"},
			"q_free": {"churn_band": "High", "value_grade": "Low", "lifecycle_stage": "Churn"},
		}
		for key, values in derived.items():
			frappe.db.set_value("Fishpond Lead", L[key], values, update_modified=False)
		for lead, user, due in (
			(L["a_owned"], cls.rep_a, add_days(nowdate(), -1)),  # overdue
			(L["a_owned"], cls.rep_a, add_days(nowdate(), 1)),  # not yet due
			(L["b_owned"], cls.rep_b, add_days(nowdate(), -1)),  # another rep's
		):
			frappe.get_doc(
				{
					"doctype": "ToDo",
					"allocated_to": user,
					"reference_type": "Fishpond Lead",
					"reference_name": lead,
					"date": due,
					"description": f"{PREFIX} follow up",
				}
			).insert(ignore_permissions=True)
		for referrer, referee in ((L["a_owned"], L["p_free"]), (L["b_owned"], L["q_free"])):
			reward_row(referrer, referee)

	def as_user(self, user, fn):
		frappe.set_user(user)
		try:
			return fn()
		finally:
			frappe.set_user("Administrator")


class TestShippedWidgets(WidgetCase):
	def test_every_card_and_chart_is_installed_and_on_the_workspace(self):
		cards, charts = shipped("number_card"), shipped("dashboard_chart")
		self.assertEqual(len(cards), 8)
		self.assertEqual(len(charts), 4)
		self.assertEqual(
			sorted(frappe.get_all("Number Card", {"module": "CRM Fishpond"}, pluck="name")), cards
		)
		self.assertEqual(
			sorted(frappe.get_all("Dashboard Chart", {"module": "CRM Fishpond"}, pluck="name")), charts
		)
		ws = frappe.get_doc("Workspace", WORKSPACE)
		blocks = json.loads(ws.content)
		self.assertEqual(sorted(r.number_card_name for r in ws.number_cards), cards)
		self.assertEqual(sorted(r.chart_name for r in ws.charts), charts)
		self.assertEqual(
			sorted(b["data"]["number_card_name"] for b in blocks if b["type"] == "number_card"), cards
		)
		# Desk finds a block's widget by the row's label: each must equal the block's name
		self.assertEqual(sorted(r.label for r in ws.number_cards), cards)
		self.assertEqual(sorted(r.label for r in ws.charts), charts)
		self.assertEqual(sorted(b["data"]["chart_name"] for b in blocks if b["type"] == "chart"), charts)

	def test_every_card_and_chart_runs_for_an_admin_a_manager_and_a_rep(self):
		errors = []
		for user in ("Administrator", self.manager, self.rep_a):
			page = self.as_user(
				user, lambda: get_desktop_page(json.dumps({"name": WORKSPACE, "title": WORKSPACE}))
			)
			shown_cards = [c.number_card_name for c in page["number_cards"]["items"]]
			shown_charts = [c.chart_name for c in page["charts"]["items"]]
			# the link queue is the accountants' (and managers'): a rep's workspace leaves its card out
			expected = [c for c in shipped("number_card") if user != self.rep_a or c not in ACCOUNTING_CARDS]
			self.assertEqual(sorted(shown_cards), expected, user)
			for name in shown_cards:
				try:
					result = self.as_user(user, lambda name=name: card_result(name))
					if name == NPS_CARD:
						self.assertTrue(-100 <= result <= 100, result)
					else:
						self.assertGreaterEqual(result, 0)
				except Exception as exc:
					errors.append(f"{user} card {name}: {exc!r}")
			for name in shown_charts:
				try:
					self.as_user(user, lambda name=name: chart_result(name))
				except Exception as exc:
					errors.append(f"{user} chart {name}: {exc!r}")
			if user == self.rep_a:
				# the metrics history is pond-wide: a rep's workspace leaves those charts out
				self.assertEqual(sorted(shown_charts), ["Lifecycle Stage Mix", "Value Grade Mix"])
			else:
				self.assertEqual(sorted(shown_charts), shipped("dashboard_chart"))
		self.assertEqual(errors, [])

	def test_a_rep_counts_what_they_may_see(self):
		rep = {
			name: self.as_user(self.rep_a, lambda name=name: card_result(name))
			for name in shipped("number_card")
			if name not in ACCOUNTING_CARDS
		}
		self.assertEqual(
			rep,
			{
				"Pond Size": 2,  # the unclaimed lead of their pool and their own
				"Unclaimed Leads": 1,
				"Leads Claimed Today": 1,
				"Customers at Risk": 1,
				"Overdue Follow-ups": 1,  # their own, past due
				"Pending Referral Rewards": 1,
				NPS_CARD: 100.0,  # the promoter on their own lead; the old detractor is outside 90 days
			},
		)
		admin = {name: card_result(name) for name in shipped("number_card")}
		self.assertGreaterEqual(admin["Pond Size"], 4)
		self.assertGreaterEqual(admin["Customers at Risk"], 3)
		self.assertGreaterEqual(admin["Overdue Follow-ups"], 2)
		self.assertGreaterEqual(admin["Pending Referral Rewards"], 2)

	def test_a_rep_charts_what_they_may_see(self):
		def series(chart):
			data = chart_result(chart) or {"labels": [], "datasets": [{"values": []}]}
			return dict(zip(data["labels"], data["datasets"][0]["values"], strict=True))

		self.assertEqual(self.as_user(self.rep_a, lambda: series("Value Grade Mix")), {"High": 1})
		self.assertEqual(
			self.as_user(self.rep_a, lambda: series("Lifecycle Stage Mix")),
			{"Acquisition": 1, "Retention": 1},
		)
		admin = series("Value Grade Mix")
		self.assertGreaterEqual(admin.get("High", 0), 2)
		self.assertGreaterEqual(admin.get("Low", 0), 1)
		for chart in ("New Customers per Month", "Retention Trend"):
			# (Frappe's check reads the session user's doctypes, whatever user it is given)
			self.assertFalse(
				self.as_user(
					self.rep_a, lambda chart=chart: frappe.has_permission("Dashboard Chart", doc=chart)
				)
			)
			with self.assertRaises(frappe.PermissionError):
				self.as_user(self.rep_a, lambda chart=chart: chart_result(chart))

	def test_nothing_errors_on_an_empty_pond(self):
		for doctype in (
			"Fishpond Lead",
			"Fishpond Feedback",
			"ToDo",
			"Referral Reward",
			"Fishpond Metrics Snapshot",
			"Fishpond Invoice Link",
		):
			frappe.db.delete(doctype)
		for name in shipped("number_card"):
			expected = "No answers" if name == NPS_CARD else 0
			self.assertEqual(card_result(name), expected, name)
		for name in shipped("dashboard_chart"):
			data = chart_result(name)
			if data:  # a Group By chart without rows has no data; a time series is all zeros
				self.assertFalse(any(data["datasets"][0]["values"]), name)

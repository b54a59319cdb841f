import json

import frappe
from frappe.utils import add_days, add_to_date, now_datetime, nowdate

from crm_fishpond.engine.activity import DEFAULT_EVENT_CAPS, DEFAULT_EVENT_POINTS, EngagementConfig
from crm_fishpond.engine.category import CategoryConfig
from crm_fishpond.engine.rfm import RFMConfig
from crm_fishpond.engine.scoring import default_fit_factors
from crm_fishpond.scoring import models, runner
from crm_fishpond.scoring.config import engine_config, settings_dict
from crm_fishpond.scoring.loader import SALES_ORDER_EVENT
from crm_fishpond.sync import runs
from crm_fishpond.tests.utils import FishpondTestCase, manual_rescores_only


class TestFishpondSettings(FishpondTestCase):
	def test_weights_must_add_up_to_100(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.weight_fit, settings.weight_engagement, settings.weight_value = 50, 50, 50
		with self.assertRaises(frappe.ValidationError):
			settings.save()

	def test_engine_overrides_must_be_json(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.engine_config = "{nope"
		with self.assertRaises(frappe.ValidationError):
			settings.save()

	def test_rescore_time_is_kept_to_the_minute(self):
		settings = frappe.get_single("Fishpond Settings")
		settings.rescore_time = "03:15:27.512345"
		settings.save()
		self.assertEqual(_stored_rescore_time(), "03:15:00")

	def test_the_current_time_frappe_gives_an_unsaved_time_field_becomes_the_default(self):
		"""Frappe fills a never-saved Time field with the current time, microseconds included, instead
		of its default: the rescore then ran at install time and the form turned dirty on open."""
		from crm_fishpond.install import ensure_settings

		frappe.db.set_single_value("Fishpond Settings", "rescore_time", "02:43:42.693408")
		ensure_settings()
		self.assertEqual(_stored_rescore_time(), "02:00:00")
		frappe.db.set_single_value("Fishpond Settings", "rescore_time", "04:30:00")
		ensure_settings()
		self.assertEqual(_stored_rescore_time(), "04:30:00", "a time an admin set is kept")

	def test_defaults_that_were_never_stored_are_stored(self):
		from crm_fishpond.install import ensure_settings

		frappe.db.delete("Singles", {"doctype": "Fishpond Settings", "field": "weight_fit"})
		ensure_settings()
		frappe.clear_document_cache("Fishpond Settings", "Fishpond Settings")
		self.assertEqual(frappe.get_single("Fishpond Settings").weight_fit, 30)


def _stored_rescore_time() -> str:
	return frappe.db.get_value(
		"Singles", {"doctype": "Fishpond Settings", "field": "rescore_time"}, "value", order_by=None
	)


# --------------------------------------------------------------------------------------------------
# scoring settings as forms: qualification answers, engagement points, categories, RFM

LABEL = "_FP Settings Form"
KEEP = ("name", "owner", "creation", "modified", "modified_by", "docstatus", "idx", "doctype", "parent")


def restore_settings(snapshot: dict) -> None:
	"""Put Fishpond Settings back as ``snapshot`` (a rescore commits, so a rollback would not)."""
	doc = frappe.get_single("Fishpond Settings")
	for key, value in snapshot.items():
		if key in KEEP or key.startswith("_"):
			continue
		if isinstance(value, list):
			value = [{k: v for k, v in row.items() if k not in KEEP} for row in value]
		doc.set(key, value)
	doc.save()


def make_profile(label: str, meetings: int = 0, **values) -> str:
	name = frappe.db.get_value("Fishpond Lead", {"lead_name": f"{LABEL} {label}"})
	if name:
		frappe.delete_doc("Fishpond Lead", name, force=True, ignore_permissions=True)
	doc = frappe.get_doc({"doctype": "Fishpond Lead", "lead_name": f"{LABEL} {label}", **values})
	doc.insert(ignore_permissions=True)
	for i in range(meetings):
		frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": doc.name,
				"interaction_type": "Meeting",
				"interaction_time": add_to_date(now_datetime(), days=-(i + 1)),
				"subject": "settings form test",
			}
		).insert(ignore_permissions=True)
	return doc.name


def scores(profile: str) -> frappe._dict:
	row = frappe.db.get_value(
		"Fishpond Lead",
		profile,
		["lead_score", "score_fit", "score_engagement", "score_breakdown", "r_score", "f_score", "m_score"],
		as_dict=True,
	)
	row.factors = json.loads(row.score_breakdown or "{}").get("factors", {})
	return row


def full_run() -> dict:
	return runner.run_rescore(runs.create_run("Rescore"))


def answer_row(settings, framework: str, question: str, answer: str):
	return next(
		r
		for r in settings.qualification_answers
		if (r.framework, r.question, r.answer) == (framework, question, answer)
	)


def points_row(settings, activity: str, activity_type: str):
	return next(
		r for r in settings.engagement_points if (r.activity, r.activity_type) == (activity, activity_type)
	)


class TestScoringSettingsForms(FishpondTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		manual_rescores_only()
		cls.snapshot = frappe.get_single("Fishpond Settings").as_dict()
		if not models.latest_fit():
			full_run()

	def setUp(self):
		frappe.set_user("Administrator")
		self.addCleanup(restore_settings, self.snapshot)
		self.settings = frappe.get_single("Fishpond Settings")

	def refused(self, *fragments: str) -> str:
		"""Save and expect a refusal whose message holds every fragment."""
		with self.assertRaises(frappe.ValidationError) as caught:
			self.settings.save()
		message = str(caught.exception)
		for fragment in fragments:
			self.assertIn(fragment, message)
		self.settings = frappe.get_single("Fishpond Settings")
		return message

	# ---------------------------------------------------------------------------------------------
	# defaults

	def test_the_shipped_rows_are_the_engine_defaults(self):
		config = engine_config()
		self.assertEqual(self.settings.qualification_framework, "BANT")
		defaults = {f.name: f for f in default_fit_factors()}
		self.assertEqual(
			[f.name for f in config.score.fit_factors], ["budget", "authority", "need", "timeline"]
		)
		for factor in config.score.fit_factors:
			self.assertEqual(factor.points, defaults[factor.name].points)
			self.assertEqual(factor.weight, defaults[factor.name].weight)
		expected = EngagementConfig.from_dict(
			{
				"event_points": {**DEFAULT_EVENT_POINTS, SALES_ORDER_EVENT: 10.0},
				"event_caps": {**DEFAULT_EVENT_CAPS, SALES_ORDER_EVENT: 20.0},
			}
		)
		self.assertEqual(config.engagement, expected)
		self.assertEqual(config.category, CategoryConfig())
		self.assertEqual(config.rfm, RFMConfig())
		self.assertEqual(config.score.engagement_full_points, 60.0)
		# the CHAMP rows are there too, ready for the switch
		champ = {r.question for r in self.settings.qualification_answers if r.framework == "CHAMP"}
		self.assertEqual(champ, {"Challenges", "Authority", "Money", "Priority"})

	def test_default_rows_are_filled_once_and_never_over_an_admins(self):
		from crm_fishpond.install import ensure_scoring_tables

		key = "Fishpond Settings: engagement points"
		where = {"parent": "Fishpond Settings", "parentfield": "engagement_points"}

		def forget_shipped():
			shipped = set(json.loads(frappe.db.get_single_value("Fishpond Settings", "shipped_defaults")))
			shipped.discard(key)
			frappe.db.set_single_value("Fishpond Settings", "shipped_defaults", json.dumps(sorted(shipped)))

		# an admin empties the table: no migrate refills it
		self.settings.engagement_points = []
		self.settings.save()
		self.assertEqual(ensure_scoring_tables(), [])
		self.assertEqual(frappe.db.count("Fishpond Engagement Points", where), 0)
		# a site that never had the table (an upgrade) gets the defaults once
		forget_shipped()
		self.assertEqual(ensure_scoring_tables(), [key])
		self.assertEqual(frappe.db.count("Fishpond Engagement Points", where), 16)
		# rows an admin made before the upgrade are kept as they are
		frappe.db.delete("Fishpond Engagement Points", where)
		forget_shipped()
		frappe.get_doc(
			{
				"doctype": "Fishpond Engagement Points",
				**where,
				"parenttype": "Fishpond Settings",
				"idx": 1,
				"activity": "Interaction",
				"activity_type": "Call",
				"points": 7,
			}
		).db_insert()
		self.assertEqual(ensure_scoring_tables(), [])
		self.assertEqual(frappe.get_all("Fishpond Engagement Points", filters=where, pluck="points"), [7.0])

	# ---------------------------------------------------------------------------------------------
	# editing the tables changes the scores

	def test_answer_points_change_the_fit_of_a_rescored_profile(self):
		profile = make_profile("Decider", authority="Decision Maker", budget="Approved")
		runner.rescore_profiles([profile])
		before = scores(profile)
		self.assertAlmostEqual(before.score_fit, 16.5)  # 30 * (3 + 2.5) / 10
		answer_row(self.settings, "BANT", "Authority", "Decision Maker").points = 5
		self.settings.save()
		self.assertEqual(settings_dict()["score"]["fit_factors"][1]["points"]["Decision Maker"], 5.0)
		runner.rescore_profiles([profile])
		after = scores(profile)
		# authority is worth 7.5 points at its best (Economic Buyer, 10); Decision Maker now earns half
		self.assertAlmostEqual(after.factors["f_authority"], 3.75)
		self.assertAlmostEqual(after.score_fit, 12.75, delta=0.051)  # stored to 1 dp

	def test_question_weights_change_the_fit(self):
		profile = make_profile("Budget only", budget="Approved")
		self.settings.bant_weight_budget = 7.5  # of 7.5 + 2.5 + 2.5 + 2.5 (timeline)
		self.settings.bant_weight_timeline = 2.5
		self.settings.save()
		runner.rescore_profiles([profile])
		self.assertAlmostEqual(scores(profile).score_fit, 15.0)
		self.settings.bant_weight_budget = 0  # not scored at all
		self.settings.save()
		self.assertNotIn("budget", [f.name for f in engine_config().score.fit_factors])
		runner.rescore_profiles([profile])
		self.assertAlmostEqual(scores(profile).score_fit, 0.0)

	def test_engagement_points_per_type_change_the_engagement(self):
		profile = make_profile("Met once", meetings=1)
		runner.rescore_profiles([profile])
		before = scores(profile).score_engagement
		self.assertGreater(before, 0)
		points_row(self.settings, "Interaction", "Meeting").points = 20
		self.settings.save()
		self.assertEqual(engine_config().engagement.interaction_points["meeting"], 20.0)
		runner.rescore_profiles([profile])
		# Scores are stored to one decimal: doubling the rounded `before` can be 0.1 off
		# the rounded doubled score, and the decay moves on by the seconds between the two.
		self.assertAlmostEqual(scores(profile).score_engagement, 2 * before, delta=0.15)
		points_row(self.settings, "Interaction", "Meeting").points = 0
		self.settings.save()
		runner.rescore_profiles([profile])
		self.assertEqual(scores(profile).score_engagement, 0)

	def test_half_life_caps_and_full_points_reach_the_engine(self):
		self.settings.engagement_half_life_days = 7
		self.settings.engagement_full_points = 80
		self.settings.engagement_default_points = 0.5
		self.settings.engagement_default_cap = 4
		points_row(self.settings, "Behaviour Event", "page_view").cap = 0  # the default cap applies
		self.settings.append(
			"engagement_points",
			{"activity": "Behaviour Event", "activity_type": "App Open", "points": 2, "cap": 6},
		)
		self.settings.save()
		config = engine_config()
		self.assertEqual(config.engagement.half_life_days, 7.0)
		self.assertEqual(config.score.engagement_full_points, 80.0)
		self.assertEqual(config.engagement.default_points, 0.5)
		self.assertEqual(config.engagement.cap("event", "page_view"), 4.0)
		self.assertEqual(config.engagement.event_points["app_open"], 2.0)
		self.assertEqual(config.engagement.cap("event", "app_open"), 6.0)

	def test_category_thresholds_reach_the_engine(self):
		self.settings.loyal_min_orders = 0  # off
		self.settings.loyal_value_grade = "High or Mid"
		self.settings.loyal_value_min_orders = 4
		self.settings.deal_min_orders = 2
		self.settings.intention_min_interactions = 0
		self.settings.intention_min_engagement_points = 25
		self.settings.save()
		category = engine_config().category
		self.assertIsNone(category.loyal_min_orders)
		self.assertEqual(category.loyal_value_grades, ("high", "mid"))
		self.assertEqual(category.loyal_value_min_orders, 4)
		self.assertEqual(category.deal_min_orders, 2)
		self.assertEqual(category.intention_min_interactions, 0)
		self.assertEqual(category.intention_min_engagement_points, 25.0)

	def test_rfm_cut_points_score_the_next_full_rescore(self):
		# afterwards: the settings back, then a full run refits the default bins for the other tests
		self.addCleanup(full_run)
		self.addCleanup(restore_settings, self.snapshot)
		profile = make_profile("Buyer")
		frappe.get_doc(
			{
				"doctype": "Fishpond Transaction",
				"fishpond_lead": profile,
				"voucher_type": "Sales Invoice",
				"voucher_no": f"_FP-SETTINGS-{profile}",
				"posting_date": add_days(nowdate(), -10),
				"docstatus_state": "Submitted",
				"grand_total": 500,
				"base_grand_total": 500,
			}
		).insert(ignore_permissions=True, ignore_links=True)
		self.settings.rfm_method = "Threshold"
		self.settings.rfm_bins = 3
		self.settings.rfm_recency_cuts = "30, 90"
		self.settings.rfm_frequency_cuts = "1; 3"
		self.settings.rfm_monetary_cuts = "100 1000"
		self.settings.rfm_grade_basis = "M Score"
		self.settings.rfm_grade_high_min = 3
		self.settings.rfm_grade_mid_min = 2
		self.settings.save()
		config = engine_config()
		self.assertEqual(config.rfm.bins, 3)
		self.assertEqual(config.rfm.recency_thresholds, (30.0, 90.0))
		self.assertEqual(config.score.value.rfm_max_score, 3, "the value part follows the bins")
		full_run()
		row = scores(profile)
		# 10 days ago: within 30 -> R 3; one purchase: at most 1 -> F 1; 500: over 100 -> M 2 (mid grade)
		self.assertEqual((row.r_score, row.f_score, row.m_score), (3, 1, 2))
		self.assertEqual(frappe.db.get_value("Fishpond Lead", profile, "value_grade"), "Mid")

	# ---------------------------------------------------------------------------------------------
	# CHAMP

	def test_champ_scores_from_the_champ_answers(self):
		profile = make_profile(
			"Champ",
			challenges="Critical",
			priority="Top Priority",
			budget="Approved",
			authority="Decision Maker",
			need="None",
		)
		runner.rescore_profiles([profile])
		self.assertAlmostEqual(scores(profile).score_fit, 16.5, msg="BANT: need None, no timeline")
		self.settings.qualification_framework = "CHAMP"
		self.settings.save()
		self.assertEqual(
			[(f.name, f.field) for f in engine_config().score.fit_factors],
			[
				("challenges", "challenges"),
				("authority", "authority"),
				("money", "budget"),
				("priority", "priority"),
			],
		)
		runner.rescore_profiles([profile])
		row = scores(profile)
		self.assertAlmostEqual(row.score_fit, 30.0)
		self.assertIn("f_challenges", row.factors)
		self.assertIn("f_money", row.factors)
		self.assertNotIn("f_need", row.factors)
		# a BANT-only answer no longer moves the score; a CHAMP answer does (and rescores by itself)
		doc = frappe.get_doc("Fishpond Lead", profile)
		doc.need = "Critical"
		doc.save(ignore_permissions=True)
		self.assertAlmostEqual(scores(profile).score_fit, 30.0)
		doc.priority = "Low"
		doc.save(ignore_permissions=True)
		self.assertAlmostEqual(scores(profile).score_fit, 30.0 - 6.0 * 0.8)  # priority 6 points, Low 2 of 10

	def test_the_profile_form_learns_the_framework(self):
		profile = make_profile("Form")
		doc = frappe.get_doc("Fishpond Lead", profile)
		doc.run_method("onload")
		self.assertEqual(doc.get_onload().qualification_framework, "BANT")
		self.settings.qualification_framework = "CHAMP"
		self.settings.save()
		doc.run_method("onload")
		self.assertEqual(doc.get_onload().qualification_framework, "CHAMP")

	# ---------------------------------------------------------------------------------------------
	# bad rows and fields are refused on save, naming them

	def test_bad_answer_rows_are_refused(self):
		answer_row(self.settings, "BANT", "Need", "High").points = -1
		self.refused("Qualification Answers, row", "negative")

		self.settings.append(
			"qualification_answers",
			{"framework": "BANT", "question": "Authority", "answer": "decision maker", "points": 4},
		)
		self.refused("Decision Maker", "already in row")

		self.settings.append(
			"qualification_answers", {"framework": "BANT", "question": "Need", "answer": "Maybe", "points": 4}
		)
		self.refused("Maybe", "Critical, High, Medium, Low, None")

		self.settings.append(
			"qualification_answers",
			{"framework": "BANT", "question": "Challenges", "answer": "Critical", "points": 4},
		)
		self.refused("Challenges", "BANT asks about Budget, Authority, Need, Timeline")

		self.settings.champ_weight_money = -2
		self.refused("Money Weight", "negative")

		for row in self.settings.qualification_answers:
			if row.framework == "BANT" and row.question == "Timeline":
				row.points = 0
		self.refused("Timeline", "earns points")

		self.settings.qualification_answers = [
			r for r in self.settings.qualification_answers if r.framework != "BANT"
		]
		self.refused("Fit Weight", "no BANT question is scored")
		# with fit weighted 0, no answers are needed
		self.settings.qualification_answers = [
			r for r in self.settings.qualification_answers if r.framework != "BANT"
		]
		self.settings.weight_fit, self.settings.weight_engagement = 0, 70
		self.settings.save()
		self.assertEqual(engine_config().score.fit_factors, ())

	def test_an_answer_is_kept_as_the_form_spells_it(self):
		answer_row(self.settings, "BANT", "Timeline", "1-3 Months").answer = "1-3 months"
		self.settings.save()
		self.assertIn(
			"1-3 Months", {r.answer for r in frappe.get_single("Fishpond Settings").qualification_answers}
		)

	def test_bad_engagement_rows_are_refused(self):
		self.settings.append(
			"engagement_points", {"activity": "Interaction", "activity_type": "Fax", "points": 1}
		)
		self.refused("Engagement Points, row", "Fax", "Email, Call, Meeting")

		points_row(self.settings, "Interaction", "Call").points = -5
		self.refused("negative")

		points_row(self.settings, "Interaction", "Call").cap = -5
		self.refused("cap cannot be negative")

		self.settings.append(
			"engagement_points", {"activity": "Behaviour Event", "activity_type": "Page View", "points": 1}
		)
		self.refused("Page View", "already in row")

		self.settings.append(
			"engagement_points", {"activity": "Behaviour Event", "activity_type": "Other", "points": 1}
		)
		self.refused("Other", "cannot name an event type")

		self.settings.engagement_default_cap = 0
		self.refused("Cap for Other Types", "more than 0")

	def test_bad_category_and_rfm_fields_are_refused(self):
		self.settings.loyal_min_orders, self.settings.deal_min_orders = 2, 3
		self.refused("Loyal From Purchases", "Deal From Purchases")

		self.settings.intention_min_events_30d = -1
		self.refused("...or Events in 30 Days", "negative")

		self.settings.rfm_bins = 12
		self.refused("RFM Bins", "2 to 9")

		self.settings.rfm_grade_mid_min, self.settings.rfm_grade_high_min = 13, 12
		self.refused("Mid Grade From", "High Grade From")

		self.settings.rfm_method = "Threshold"
		self.settings.rfm_recency_cuts = "30, 90, 180, 365"
		self.settings.rfm_frequency_cuts = "1, 2, 4, lots"
		self.settings.rfm_monetary_cuts = "100, 500, 2000, 10000"
		self.refused("Frequency Cut Points", "lots")

		self.settings.rfm_method = "Threshold"
		self.settings.rfm_recency_cuts = "30, 90, 180"
		self.settings.rfm_frequency_cuts = "1, 2, 4, 8"
		self.settings.rfm_monetary_cuts = "100, 500, 2000, 10000"
		self.refused("Recency Cut Points", "needs 4 numbers for 5 bins; it has 3")

		self.settings.rfm_method = "Threshold"
		self.settings.rfm_recency_cuts = "30, 90, 180, 365"
		self.settings.rfm_frequency_cuts = "1, 2, 4, 8"
		self.settings.rfm_monetary_cuts = "100, 5000, 2000, 10000"
		self.refused("Monetary Cut Points", "go up")

		self.settings.rfm_bins = 7
		self.refused("rfm.segment_map")

	# ---------------------------------------------------------------------------------------------
	# the JSON override

	def test_the_json_override_wins_over_the_form(self):
		self.settings.engine_config = json.dumps(
			{
				"engagement": {"half_life_days": 7, "event_points": {"page_view": 2}},
				"rfm": {"bins": 4},
				"category": {"intention_signal_fields": ["open_orders"]},
			}
		)
		self.settings.save()
		config = engine_config()
		self.assertEqual(self.settings.engagement_half_life_days, 30)
		self.assertEqual(config.engagement.half_life_days, 7.0)
		self.assertEqual(config.engagement.event_points["page_view"], 2.0)
		self.assertEqual(config.engagement.event_points["demo_request"], 15.0, "the other rows stay")
		self.assertEqual(config.rfm.bins, 4)
		self.assertEqual(config.score.value.rfm_max_score, 4, "the value part follows the override's bins")
		self.assertEqual(config.category.intention_signal_fields, ("open_orders",))

	def test_a_bad_override_is_refused_naming_the_key(self):
		self.settings.engine_config = json.dumps({"engagement": {"half_life_dayz": 7}})
		self.refused("engagement.half_life_dayz", "half_life_days")

		self.settings.engine_config = json.dumps({"rfm": {"grade_basis": "nope"}})
		self.refused("Engine Config Overrides (JSON)", "rfm.grade_basis")

		self.settings.engine_config = json.dumps(
			{"score": {"weights": {"fit": 50, "engagement": 40, "value": 30}}}
		)
		self.refused("Engine Config Overrides (JSON)", "score.weights")

		self.settings.engine_config = json.dumps(
			{"tags": [{"tag": "X", "condition": {"field": "orders", "op": "~", "value": 1}}]}
		)
		self.refused("Engine Config Overrides (JSON)", "tags[0]")

		self.settings.engine_config = "[1, 2]"
		self.refused("JSON object")

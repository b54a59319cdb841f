"""Fishpond Settings' scoring fields and tables, as the engine's config dict, their defaults and checks.

The form holds what an admin tunes without JSON (:mod:`crm_fishpond.engine.score_tables` has the
pure part):

* **Qualification**: the framework (BANT or CHAMP), a weight per question and the table
  *Qualification Answers* (framework, question, answer, points) → ``score.fit_factors`` of the chosen
  framework. Answers are the options of the Fishpond Lead field the question reads.
* **Engagement**: half-life, the points for full weight, points and cap for other types, and the
  table *Engagement Points* (interaction or behaviour event, type, points, cap) → ``engagement``.
* **Categories**: the thresholds of the built-in category rules → ``category``.
* **RFM**: method, bins, cut points, value-grade basis and cut-offs → ``rfm`` (and the value part's
  ``rfm_max_score``, which follows the bins).

:func:`check` refuses a row or field the engine would refuse later, with a translated message that
names the table row or the field; :func:`describe_error` words an engine error the same way, naming
the form field it came from or the JSON override key.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import frappe
from frappe import _
from frappe.utils import cint, flt

from crm_fishpond.engine.activity import OTHER, type_slug
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.score_tables import (
	DEFAULT_FRAMEWORK,
	FRAMEWORKS,
	QUESTION_FIELDS,
	default_answers,
	default_engagement_rows,
	engagement_settings,
	fit_factors,
)
from crm_fishpond.engine.scoring import normalise_answer
from crm_fishpond.scoring.loader import SALES_ORDER_EVENT

SETTINGS = "Fishpond Settings"
PROFILE = "Fishpond Lead"
INTERACTION = "Fishpond Interaction"
ANSWERS_FIELD = "qualification_answers"
ANSWER_DOCTYPE = "Fishpond Qualification Answer"
ENGAGEMENT_FIELD = "engagement_points"
ENGAGEMENT_DOCTYPE = "Fishpond Engagement Points"

# question key -> the label of the question in the table (its Select option)
QUESTION_LABELS = {
	"budget": "Budget",
	"authority": "Authority",
	"need": "Need",
	"timeline": "Timeline",
	"challenges": "Challenges",
	"money": "Money",
	"priority": "Priority",
}
WEIGHT_FIELDS = {
	"BANT": {q: f"bant_weight_{q}" for q in FRAMEWORKS["BANT"]},
	"CHAMP": {q: f"champ_weight_{q}" for q in FRAMEWORKS["CHAMP"]},
}
KINDS = {"Interaction": "interaction", "Behaviour Event": "event"}
SITE_EVENTS = {SALES_ORDER_EVENT: (10.0, 20.0)}
"""Event types only this site has (a submitted Sales Order), with their default points and cap."""

GRADE_BASES = {"R + F + M": "rfm_sum", "M Score": "m_score", "FM Score": "fm_score"}
LOYAL_GRADES = {"High": ["high"], "High or Mid": ["high", "mid"]}
RFM_CUTS = {
	"rfm_recency_cuts": "recency_thresholds",
	"rfm_frequency_cuts": "frequency_thresholds",
	"rfm_monetary_cuts": "monetary_thresholds",
}
# engine setting (dotted path prefix) -> the settings field that sets it; the longest prefix wins
ENGINE_FIELDS = {
	"score.weights": "weight_fit",
	"score.fit_factors": ANSWERS_FIELD,
	"score.engagement_full_points": "engagement_full_points",
	"score.value.rfm_max_score": "rfm_bins",
	"engagement": ENGAGEMENT_FIELD,
	"engagement.half_life_days": "engagement_half_life_days",
	"engagement.default_points": "engagement_default_points",
	"engagement.default_cap": "engagement_default_cap",
	"churn.horizon_days": "churn_horizon_days",
	"churn.medium_risk": "churn_medium_threshold",
	"churn.high_risk": "churn_high_threshold",
	"category.loyal_min_orders": "loyal_min_orders",
	"category.loyal_max_days_since_last": "loyal_max_days_since_last",
	"category.loyal_value_grades": "loyal_value_grade",
	"category.loyal_value_min_orders": "loyal_value_min_orders",
	"category.deal_min_orders": "deal_min_orders",
	"category.intention_min_interactions": "intention_min_interactions",
	"category.intention_min_events_30d": "intention_min_events_30d",
	"category.intention_min_engagement_points": "intention_min_engagement_points",
	"rfm.method": "rfm_method",
	"rfm.bins": "rfm_bins",
	"rfm.recency_thresholds": "rfm_recency_cuts",
	"rfm.frequency_thresholds": "rfm_frequency_cuts",
	"rfm.monetary_thresholds": "rfm_monetary_cuts",
	"rfm.grade_basis": "rfm_grade_basis",
	"rfm.grade_high_min": "rfm_grade_high_min",
	"rfm.grade_mid_min": "rfm_grade_mid_min",
	"rfm.zero_amount_purchases": "rfm_zero_amount_purchases",
}
_NUMBER_SEP = re.compile(r"[,;\s]+")


# --------------------------------------------------------------------------------------------------
# form -> engine dict


def framework(settings) -> str:
	return settings.get("qualification_framework") or DEFAULT_FRAMEWORK


def question_weights(settings, fw: str) -> dict[str, float]:
	return {q: flt(settings.get(field)) for q, field in WEIGHT_FIELDS[fw].items()}


def answer_rows(settings) -> list[tuple[str, str, str, float]]:
	return [
		(row.framework, row.question, row.answer, flt(row.points))
		for row in settings.get(ANSWERS_FIELD) or []
		if row.framework and row.question and row.answer
	]


def engagement_rows(settings) -> list[tuple[str, str, float, float]]:
	return [
		(KINDS[row.activity], row.activity_type, flt(row.points), flt(row.cap))
		for row in settings.get(ENGAGEMENT_FIELD) or []
		if row.activity in KINDS and type_slug(row.activity_type or "")
	]


def parse_numbers(text: str | None) -> list[float]:
	"""``"30, 90; 180 365"`` -> ``[30.0, 90.0, 180.0, 365.0]``; ValueError names the bad part."""
	out = []
	for part in _NUMBER_SEP.split((text or "").strip()):
		if not part:
			continue
		try:
			out.append(float(part))
		except ValueError:
			raise ValueError(part) from None
	return out


def engine_dict(settings) -> dict[str, Any]:
	"""The engine config sections the form sets (no overrides, stages or tags)."""
	fw = framework(settings)
	bins = cint(settings.get("rfm_bins")) or 5
	method = "threshold" if settings.get("rfm_method") == "Threshold" else "quantile"
	rfm: dict[str, Any] = {
		"method": method,
		"bins": bins,
		"grade_basis": GRADE_BASES.get(settings.get("rfm_grade_basis"), "rfm_sum"),
		"grade_high_min": flt(settings.get("rfm_grade_high_min")),
		"grade_mid_min": flt(settings.get("rfm_grade_mid_min")),
		"zero_amount_purchases": bool(cint(settings.get("rfm_zero_amount_purchases"))),
	}
	if method == "threshold":
		for fieldname, key in RFM_CUTS.items():
			try:
				rfm[key] = parse_numbers(settings.get(fieldname))
			except ValueError as e:
				raise EngineConfigError(f"{key}: {e} is not a number", field=f"rfm.{key}") from e
	return {
		"score": {
			"weights": {
				"fit": flt(settings.weight_fit),
				"engagement": flt(settings.weight_engagement),
				"value": flt(settings.weight_value),
			},
			"fit_factors": fit_factors(fw, answer_rows(settings), question_weights(settings, fw)),
			"engagement_full_points": flt(settings.get("engagement_full_points")) or 60.0,
			"value": {"rfm_max_score": bins},
		},
		"engagement": engagement_settings(
			engagement_rows(settings),
			half_life_days=flt(settings.engagement_half_life_days) or 30.0,
			default_points=flt(settings.get("engagement_default_points")),
			default_cap=flt(settings.get("engagement_default_cap")) or 5.0,
		),
		"churn": {
			"horizon_days": flt(settings.churn_horizon_days) or 90.0,
			"medium_risk": flt(settings.churn_medium_threshold) / 100.0,
			"high_risk": flt(settings.churn_high_threshold) / 100.0,
		},
		"category": {
			"loyal_min_orders": cint(settings.get("loyal_min_orders")) or None,
			"loyal_max_days_since_last": flt(settings.get("loyal_max_days_since_last")) or None,
			"loyal_value_grades": LOYAL_GRADES.get(settings.get("loyal_value_grade") or "", []),
			"loyal_value_min_orders": max(cint(settings.get("loyal_value_min_orders")), 1),
			"deal_min_orders": max(cint(settings.get("deal_min_orders")), 1),
			"intention_min_interactions": max(cint(settings.get("intention_min_interactions")), 0),
			"intention_min_events_30d": max(cint(settings.get("intention_min_events_30d")), 0),
			"intention_min_engagement_points": max(flt(settings.get("intention_min_engagement_points")), 0.0),
		},
		"rfm": rfm,
	}


def follow_bins(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
	"""The value part scores R, F and M on the RFM scale: its ``rfm_max_score`` follows the bins,
	also bins set by an override, unless the override sets ``rfm_max_score`` itself."""
	if _in_overrides(overrides, "score.value.rfm_max_score"):
		return data
	bins = (data.get("rfm") or {}).get("bins")
	score = data.get("score")
	if isinstance(score, dict) and isinstance(score.get("value"), dict) and bins is not None:
		score["value"]["rfm_max_score"] = bins
	return data


# --------------------------------------------------------------------------------------------------
# defaults


def _options(doctype: str, fieldname: str) -> list[str]:
	df = frappe.get_meta(doctype).get_field(fieldname)
	return [o for o in (df.options or "").split("\n") if o.strip()] if df else []


def default_answer_rows(fw: str) -> list[dict[str, Any]]:
	"""The framework's default answer rows, as the profile form spells the answers."""
	rows = []
	for q, points in default_answers(fw).items():
		for option in _options(PROFILE, QUESTION_FIELDS[q]):
			key = normalise_answer(option)
			if key in points:
				rows.append(
					{"framework": fw, "question": QUESTION_LABELS[q], "answer": option, "points": points[key]}
				)
	return rows


def default_engagement_point_rows() -> list[dict[str, Any]]:
	"""The engine's default points and caps, interaction types as Fishpond Interaction spells them."""
	spelled = {type_slug(o): o for o in _options(INTERACTION, "interaction_type")}
	rows = []
	for kind, type_, points, cap in default_engagement_rows(SITE_EVENTS):
		activity = "Interaction" if kind == "interaction" else "Behaviour Event"
		label = spelled.get(type_, type_) if kind == "interaction" else type_
		rows.append({"activity": activity, "activity_type": label, "points": points, "cap": cap})
	return rows


def ensure_default_rows(shipped: set[str]) -> list[str]:
	"""Fill each scoring table of Fishpond Settings with its defaults once: a table (or, for answers,
	a framework's rows) that was filled before, or that already has rows, is left alone, so an
	admin's rows and deletions survive every migrate. ``shipped`` (the *Shipped Defaults* keys) is
	updated in place; returns the keys filled now."""
	tables = [
		(
			f"{SETTINGS}: {fw} answers",
			ANSWER_DOCTYPE,
			ANSWERS_FIELD,
			{"framework": fw},
			default_answer_rows(fw),
		)
		for fw in FRAMEWORKS
	]
	tables.append(
		(
			f"{SETTINGS}: engagement points",
			ENGAGEMENT_DOCTYPE,
			ENGAGEMENT_FIELD,
			{},
			default_engagement_point_rows(),
		)
	)
	filled = []
	for key, doctype, parentfield, match, rows in tables:
		if key in shipped:
			continue
		shipped.add(key)
		where = {"parent": SETTINGS, "parenttype": SETTINGS, "parentfield": parentfield}
		if frappe.db.exists(doctype, {**where, **match}):
			continue
		idx = frappe.db.count(doctype, where)
		for row in rows:
			idx += 1
			frappe.get_doc({"doctype": doctype, **where, "idx": idx, **row}).db_insert()
		filled.append(key)
	if filled:
		frappe.clear_document_cache(SETTINGS, SETTINGS)
	return filled


# --------------------------------------------------------------------------------------------------
# checks on save


def _label(doc, fieldname: str) -> str:
	return frappe.bold(_(doc.meta.get_label(fieldname)))


def _row(table_label: str, row) -> str:
	return _("{0}, row {1}").format(_(table_label), row.idx)


def check(doc) -> None:
	"""Throw a translated error naming the field or row when a scoring field or table row of ``doc``
	(an unsaved Fishpond Settings) is out of range."""
	check_qualification(doc)
	check_engagement(doc)
	check_categories(doc)
	check_rfm(doc)


def check_qualification(doc) -> None:
	fw = framework(doc)
	for fields in WEIGHT_FIELDS.values():
		for fieldname in fields.values():
			if flt(doc.get(fieldname)) < 0:
				frappe.throw(_("{0} cannot be negative.").format(_label(doc, fieldname)))
	seen: dict[tuple, int] = {}
	for row in doc.get(ANSWERS_FIELD) or []:
		where = _row("Qualification Answers", row)
		q = normalise_answer(row.question or "")
		if row.framework not in FRAMEWORKS or q not in FRAMEWORKS[row.framework]:
			asks = ", ".join(_(QUESTION_LABELS[x]) for x in FRAMEWORKS.get(row.framework, ()))
			frappe.throw(
				_("{0}: {1} is not a question of {2}; {2} asks about {3}.").format(
					where, frappe.bold(_(row.question or "")), row.framework, asks
				)
			)
		if flt(row.points) < 0:
			frappe.throw(_("{0}: points cannot be negative ({1}).").format(where, row.points))
		options = {normalise_answer(o): o for o in _options(PROFILE, QUESTION_FIELDS[q])}
		key = normalise_answer(row.answer or "")
		if key not in options:
			frappe.throw(
				_("{0}: {1} is not an answer to {2}; the profile form offers {3}.").format(
					where,
					frappe.bold(row.answer or ""),
					_(QUESTION_LABELS[q]),
					", ".join(_(o) for o in options.values()),
				)
			)
		row.answer = options[key]  # as the form spells it
		if (row.framework, q, key) in seen:
			frappe.throw(
				_("{0}: the {1} answer {2} to {3} is already in row {4}.").format(
					where,
					row.framework,
					frappe.bold(row.answer),
					_(QUESTION_LABELS[q]),
					seen[(row.framework, q, key)],
				)
			)
		seen[(row.framework, q, key)] = row.idx
	weights = question_weights(doc, fw)
	rows = answer_rows(doc)
	for q in FRAMEWORKS[fw]:
		points = [p for f, question, _a, p in rows if f == fw and normalise_answer(question) == q]
		if points and weights[q] > 0 and max(points) <= 0:
			frappe.throw(
				_("No {0} answer to {1} earns points: give one more than 0, or set {2} to 0.").format(
					fw, _(QUESTION_LABELS[q]), _label(doc, WEIGHT_FIELDS[fw][q])
				)
			)
	if flt(doc.weight_fit) > 0 and not fit_factors(fw, rows, weights):
		frappe.throw(
			_(
				"{0} is {1}, but no {2} question is scored: give answers points on the Qualification tab, "
				"or set {0} to 0."
			).format(_label(doc, "weight_fit"), cint(doc.weight_fit), fw)
		)


def check_engagement(doc) -> None:
	if flt(doc.get("engagement_full_points")) <= 0:
		frappe.throw(_("{0} must be more than 0.").format(_label(doc, "engagement_full_points")))
	if flt(doc.get("engagement_default_points")) < 0:
		frappe.throw(_("{0} cannot be negative.").format(_label(doc, "engagement_default_points")))
	if flt(doc.get("engagement_default_cap")) <= 0:
		frappe.throw(_("{0} must be more than 0.").format(_label(doc, "engagement_default_cap")))
	spelled = {type_slug(o): o for o in _options(INTERACTION, "interaction_type")}
	seen: dict[tuple[str, str], int] = {}
	for row in doc.get(ENGAGEMENT_FIELD) or []:
		where = _row("Engagement Points", row)
		if flt(row.points) < 0:
			frappe.throw(_("{0}: points cannot be negative ({1}).").format(where, row.points))
		if flt(row.cap) < 0:
			frappe.throw(
				_("{0}: the cap cannot be negative ({1}); 0 means the {2} applies.").format(
					where, row.cap, _label(doc, "engagement_default_cap")
				)
			)
		kind = KINDS.get(row.activity)
		if not kind:
			frappe.throw(
				_("{0}: the activity must be Interaction or Behaviour Event, not {1}.").format(
					where, frappe.bold(row.activity or "")
				)
			)
		slug = type_slug(row.activity_type or "")
		if kind == "interaction":
			if slug not in spelled:
				frappe.throw(
					_("{0}: {1} is not an interaction type; an interaction is one of {2}.").format(
						where, frappe.bold(row.activity_type or ""), ", ".join(_(o) for o in spelled.values())
					)
				)
			row.activity_type = spelled[slug]
		elif not slug or slug == OTHER:
			frappe.throw(
				_(
					"{0}: {1} cannot name an event type; use letters and digits as the events are recorded, "
					"e.g. page_view ({2} applies to every type not listed)."
				).format(
					where, frappe.bold(row.activity_type or ""), _label(doc, "engagement_default_points")
				)
			)
		if (kind, slug) in seen:
			frappe.throw(
				_("{0}: {1} {2} is already in row {3}.").format(
					where, _(row.activity), frappe.bold(row.activity_type), seen[(kind, slug)]
				)
			)
		seen[(kind, slug)] = row.idx


def check_categories(doc) -> None:
	for fieldname in (
		"loyal_min_orders",
		"loyal_max_days_since_last",
		"loyal_value_min_orders",
		"deal_min_orders",
		"intention_min_interactions",
		"intention_min_events_30d",
		"intention_min_engagement_points",
	):
		if flt(doc.get(fieldname)) < 0:
			frappe.throw(_("{0} cannot be negative.").format(_label(doc, fieldname)))
	if cint(doc.get("deal_min_orders")) < 1:
		frappe.throw(_("{0} must be at least 1.").format(_label(doc, "deal_min_orders")))
	loyal = cint(doc.get("loyal_min_orders"))
	if loyal and loyal < cint(doc.get("deal_min_orders")):
		frappe.throw(
			_("{0} ({1}) cannot be below {2} ({3}): every loyal customer is also a deal.").format(
				_label(doc, "loyal_min_orders"),
				loyal,
				_label(doc, "deal_min_orders"),
				cint(doc.deal_min_orders),
			)
		)
	if doc.get("loyal_value_grade") and cint(doc.get("loyal_value_min_orders")) < 1:
		frappe.throw(
			_("{0} must be at least 1 while {1} is set.").format(
				_label(doc, "loyal_value_min_orders"), _label(doc, "loyal_value_grade")
			)
		)


def check_rfm(doc) -> None:
	bins = cint(doc.get("rfm_bins"))
	if not 2 <= bins <= 9:
		frappe.throw(_("{0} must be from 2 to 9 (it is {1}).").format(_label(doc, "rfm_bins"), bins))
	if doc.get("rfm_method") == "Threshold":
		for fieldname in RFM_CUTS:
			try:
				cuts = parse_numbers(doc.get(fieldname))
			except ValueError as e:
				frappe.throw(
					_("{0}: {1} is not a number.").format(_label(doc, fieldname), frappe.bold(str(e)))
				)
			if len(cuts) != bins - 1:
				frappe.throw(
					_("{0} needs {1} numbers for {2} bins; it has {3}.").format(
						_label(doc, fieldname), bins - 1, bins, len(cuts)
					)
				)
			if any(b <= a for a, b in pairwise(cuts)):
				frappe.throw(
					_("{0} must go up from left to right: {1}").format(
						_label(doc, fieldname), ", ".join(f"{c:g}" for c in cuts)
					)
				)
	if flt(doc.get("rfm_grade_mid_min")) > flt(doc.get("rfm_grade_high_min")):
		frappe.throw(
			_("{0} ({1}) cannot be above {2} ({3}).").format(
				_label(doc, "rfm_grade_mid_min"),
				flt(doc.rfm_grade_mid_min),
				_label(doc, "rfm_grade_high_min"),
				flt(doc.rfm_grade_high_min),
			)
		)


# --------------------------------------------------------------------------------------------------
# engine errors in the form's words


def _in_overrides(overrides: dict[str, Any], path: str) -> bool:
	"""Whether the setting at dotted ``path`` (``a.b[2].c``) was set by the JSON override."""
	value: Any = overrides
	for part in re.findall(r"[^.\[\]]+", path):
		if isinstance(value, dict):
			if part not in value:
				return False
			value = value[part]
		else:
			return True  # the override replaced a list or value above this part
	return True


def describe_error(error: EngineConfigError, overrides: dict[str, Any] | None = None, meta=None) -> str:
	"""An engine config error in the user's language, naming the form field it came from, or the
	key of the JSON override."""
	path = error.field or ""
	if path and overrides and _in_overrides(overrides, path):
		return _("{0} at {1}: {2}").format(
			frappe.bold(_("Engine Config Overrides (JSON)")), frappe.bold(path), str(error)
		)
	fieldname = next(
		(
			ENGINE_FIELDS[p]
			for p in sorted(ENGINE_FIELDS, key=len, reverse=True)
			if path == p or path.startswith(p + ".") or path.startswith(p + "[")
		),
		None,
	)
	if fieldname:
		meta = meta or frappe.get_meta(SETTINGS)
		return _("{0} is invalid: {1}").format(frappe.bold(_(meta.get_label(fieldname))), str(error))
	return _("The scoring settings are invalid at {0}: {1}").format(frappe.bold(path or "-"), str(error))

"""Preview a rule before it is saved: how many profiles match now, a sample of them, and for a stage
rule how many profiles would move from which stage to which.

The preview runs the engine as a rescore would (the same loader, the site's config with the unsaved
rule put in, the latest stored model fit, no duplicate pass), so "N profiles match" is exactly what
the next rescore will do. That reads the whole pond, so it runs as a background job (enqueued through
:func:`crm_fishpond.jobs.enqueue`, deduplicated per rule) and leaves its result in the cache for a few
minutes; the form asks for it until it is there.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import frappe
import pandas as pd
from frappe import _
from frappe.utils import nowdate

from crm_fishpond import jobs
from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError, EngineInputError
from crm_fishpond.engine.pipeline import run_pond
from crm_fishpond.scoring import loader, models, rules
from crm_fishpond.scoring.config import engine_setup, rule_vocabulary
from crm_fishpond.scoring.runner import end_of_day

SAMPLE = 10
CACHE_SECONDS = 300
PREVIEW_TAG = "__preview__"
JOB = "crm_fishpond.scoring.preview.compute"


def request(doctype: str, values: dict[str, Any]) -> dict:
	"""Start (or return) the preview of an unsaved Fishpond Tag or Lifecycle Stage: ``{"key",
	"status"}`` plus the result once computed. The rule is checked first: a bad one throws the same
	translated error saving it would."""
	try:
		rule = _rule(doctype, values)
	except frappe.ValidationError as e:
		# the form asks while the admin types: a rule not finished yet is an answer, not a dialog
		frappe.clear_messages()
		return {"status": "invalid", "error": frappe.utils.strip_html(str(e))}
	if rule.get("empty"):
		return {"status": "empty"}
	key = _key(rule)
	cached = frappe.cache.get_value(key, expires=True)
	if cached:
		return cached
	frappe.cache.set_value(key, {"key": key, "status": "queued"}, expires_in_sec=CACHE_SECONDS)
	jobs.enqueue(JOB, job_id=f"crm_fishpond:rule_preview:{key[-16:]}", key=key, rule=json.dumps(rule))
	return frappe.cache.get_value(key, expires=True) or {"key": key, "status": "queued"}


def result(key: str) -> dict:
	"""What the preview job left for ``key``; ``status`` "expired" when it is gone."""
	if not key.startswith(_prefix()):
		frappe.throw(_("Not a rule preview."))
	return frappe.cache.get_value(key, expires=True) or {"key": key, "status": "expired"}


def compute(key: str, rule: str) -> None:
	"""The job: run the engine with the unsaved rule and cache what it found."""
	spec = json.loads(rule)
	try:
		found = _run(spec)
		out = {"key": key, "status": "done", **found}
	except (EngineConfigError, EngineInputError, frappe.ValidationError) as e:
		out = {"key": key, "status": "failed", "error": str(e)}
	frappe.cache.set_value(key, out, expires_in_sec=CACHE_SECONDS)


# --------------------------------------------------------------------------------------------------


def _rule(doctype: str, values: dict[str, Any]) -> dict:
	"""The rule as the engine will read it, from the form's values (builder rows or JSON)."""
	doc = frappe.get_doc({**values, "doctype": doctype})
	if doctype == rules.TAG:
		field, what = "condition", _("The condition of tag {0}").format(frappe.bold(doc.tag_name or ""))
	elif doctype == rules.PLAN:  # a follow-up plan's crowd runs as a tag rule (crm_fishpond.nurture.crowd)
		field, what = (
			"condition",
			_("The crowd of follow-up plan {0}").format(frappe.bold(doc.plan_name or "")),
		)
	elif doctype == rules.STAGE:
		field, what = (
			"entry_condition",
			_("The entry rule of stage {0}").format(frappe.bold(doc.stage_name or "")),
		)
	else:
		frappe.throw(_("Only tag, stage and follow-up plan rules have a preview."))
	vocab = rule_vocabulary()
	if doc.rule_filters and not doc.advanced_rule:
		doc.set(field, rules.compiled(doc, what))
	raw = doc.get(field)
	if not raw and doctype in (rules.TAG, rules.PLAN):
		return {"doctype": doctype, "empty": True}
	# a stage without an entry rule is previewed too: who the default transitions put there
	condition = rules.check_condition(vocab, raw, what) if raw else None
	spec = {"doctype": doctype, "condition": condition}
	if doctype == rules.PLAN:
		spec["doctype"] = rules.TAG  # previewed as the tag rule it runs as
	if doctype == rules.STAGE:
		name = doc.name if doc.name and not doc.name.startswith("new-") else doc.stage_name
		spec["stage"] = {
			"name": name,
			"values": {
				"sequence": doc.sequence or 0,
				"stage_key": doc.stage_key,
				"entry_condition": raw,
				"entry_reason": doc.entry_reason,
			},
		}
	return spec


def _prefix() -> str:
	# the cache namespaces keys per site (RedisWrapper.make_key)
	return "fishpond:rule_preview:"


def _key(rule: dict) -> str:
	digest = hashlib.sha256(json.dumps(rule, sort_keys=True, default=str).encode()).hexdigest()
	return f"{_prefix()}{digest[:32]}"


def _run(spec: dict) -> dict:
	if spec["doctype"] == rules.STAGE:
		stage = spec["stage"]
		config = engine_setup({stage["name"]: stage["values"]}).config
	else:
		base = engine_setup().config.to_dict()
		base["tags"] = [{"tag": PREVIEW_TAG, "condition": spec["condition"]}]
		config = EngineConfig.from_dict(base)
	inputs = loader.load_inputs()
	total = len(inputs.profiles)
	if not total:
		return {"count": 0, "total": 0, "sample": [], "moves": []}
	fit = models.latest_fit()
	fitted = models.load_fit(fit) if fit else None
	found = run_pond(inputs, config, end_of_day(nowdate()), models=fitted, dedupe=False)
	if spec["doctype"] == rules.STAGE:
		return _stage_moves(found.metrics, inputs.profiles, spec["stage"]["name"], total)
	matched = found.tags.loc[found.tags["tag"] == PREVIEW_TAG, "profile"].astype(str).tolist()
	return {"count": len(matched), "total": total, "sample": _sample(matched), "moves": []}


def _stage_moves(metrics: pd.DataFrame, profiles: pd.DataFrame, stage: str, total: int) -> dict:
	now = profiles.set_index("profile")["stage"].reindex(metrics.index).fillna("").astype(str)
	new = metrics["stage"].fillna("").astype(str)
	entering = new[new == stage].index.astype(str).tolist()
	moved = pd.DataFrame({"from": now, "to": new})
	moved = moved[moved["from"] != moved["to"]]
	counts = moved.groupby(["from", "to"]).size().sort_values(ascending=False)
	moves = [{"from": a or _("(none)"), "to": b, "count": int(n)} for (a, b), n in counts.items()]
	return {"count": len(entering), "total": total, "sample": _sample(entering), "moves": moves[:20]}


def _sample(names: list[str]) -> list[dict]:
	if not names:
		return []
	lead = frappe.qb.DocType("Fishpond Lead")
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.lead_name, lead.company_name, lead.lifecycle_stage, lead.lead_owner)
		.where(lead.name.isin(sorted(names)[:SAMPLE]))
		.orderby(lead.name)
		.run(as_dict=True)
	)
	return [dict(r) for r in rows]

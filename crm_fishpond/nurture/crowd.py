"""A plan's crowd: the profiles its rule matches, found as a rescore finds a rule tag's profiles.

The rule is built with the same builder as tags and stages (Fishpond Profile Facts, compiled by
crm_fishpond.scoring.rules) and run by the engine as a tag rule of its own, over the whole pond with
the site's config and the latest stored model fit (as the rule preview does), so "the crowd" means
exactly what a tag with the same rule would tag. The job runs after each completed full rescore and
when a manager asks (*Enrol the Crowd Now*); profiles that entered the crowd are enrolled in bulk."""

from __future__ import annotations

import json

import frappe
import pandas as pd
from frappe import _
from frappe.utils import now_datetime, nowdate

from crm_fishpond import jobs
from crm_fishpond.engine import nurture as rules
from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.pipeline import run_pond
from crm_fishpond.nurture import enrol as enrolments
from crm_fishpond.nurture.plans import ENROLMENT, PLAN
from crm_fishpond.scoring import loader, models
from crm_fishpond.scoring.config import engine_setup, rule_vocabulary

JOB = "crm_fishpond.nurture.crowd.enrol_crowds"
PREFIX = "__plan__:"


def enqueue(plan: str | None = None) -> None:
	jobs.enqueue(
		JOB,
		job_id=f"crm_fishpond:nurture_crowds:{plan or '*'}"[:140],
		queue="long",
		timeout=3600,
		plan=plan,
	)


def crowd_plans(plan: str | None = None) -> list[dict]:
	filters = {"enabled": 1, "enrol_automatically": 1}
	if plan:
		filters["name"] = plan
	return frappe.get_all(
		PLAN, filters=filters, fields=["name", "condition", "reenrol_after_days"], order_by="name asc"
	)


def enrol_crowds(plan: str | None = None, now=None) -> dict[str, int]:
	"""Enrol every profile that entered the crowd of each plan that enrols automatically (or of
	``plan``); returns plan -> profiles enrolled."""
	plans = [p for p in crowd_plans(plan) if p.condition]
	if not plans:
		return {}
	now = frappe.utils.get_datetime(now) if now else now_datetime()
	vocab = rule_vocabulary()
	tag_rules = []
	for p in plans:
		try:
			tag_rules.append({"tag": PREFIX + p.name, "condition": vocab.to_engine(json.loads(p.condition))})
		except (ValueError, EngineConfigError) as e:
			frappe.log_error(
				title=_("Follow-up plan {0}: its crowd rule cannot run").format(p.name),
				message=str(e),
				reference_doctype=PLAN,
				reference_name=p.name,
			)
	if not tag_rules:
		return {}
	matched = _matches(tag_rules)
	out = {}
	for p in plans:
		crowd = matched.get(PREFIX + p.name)
		if crowd is None:
			continue
		entering = rules.crowd_entries(crowd, _enrolments(p.name), now, p.reenrol_after_days or 0)
		enrolled = enrolments.enrol(p.name, entering, enrolments.CROWD, now) if entering else []
		frappe.db.set_value(
			PLAN, p.name, {"crowd_checked_on": now, "crowd_enrolled": len(enrolled)}, update_modified=False
		)
		out[p.name] = len(enrolled)
	return out


def _matches(tag_rules: list[dict]) -> dict[str, list[str]]:
	"""Tag name -> profiles its rule matches, from one engine run over the pond."""
	from crm_fishpond.scoring.runner import end_of_day

	base = engine_setup().config.to_dict()
	base["tags"] = tag_rules
	config = EngineConfig.from_dict(base)
	inputs = loader.load_inputs()
	if not len(inputs.profiles):
		return {r["tag"]: [] for r in tag_rules}
	fit = models.latest_fit()
	fitted = models.load_fit(fit) if fit else None
	found = run_pond(inputs, config, end_of_day(nowdate()), models=fitted, dedupe=False)
	failed = {e.get("rule") for e in found.rule_errors if e.get("kind") == "tag"}
	out: dict[str, list[str]] = {}
	tags = found.tags
	for r in tag_rules:
		if r["tag"] in failed:
			continue
		out[r["tag"]] = tags.loc[tags["tag"] == r["tag"], "profile"].astype(str).tolist() if len(tags) else []
	return out


def _enrolments(plan: str) -> pd.DataFrame:
	e = frappe.qb.DocType(ENROLMENT)
	rows = frappe.qb.from_(e).select(e.fishpond_lead, e.status, e.ended_on).where(e.plan == plan).run()
	frame = pd.DataFrame.from_records(rows, columns=["profile", "status", "ended_on"])
	frame["active"] = frame["status"] == enrolments.ACTIVE
	return frame

"""Write engine results back: only changed columns, stage transitions and rule tags, in bulk.

For one chunk of profiles the writer reads what is stored (explicit columns, one query per table),
turns the engine's metrics into column values, compares them and writes only the differences:

* changed columns in bulk (see :func:`update_rows`; ``scored_on`` is set on the profiles it touches, so
  an unchanged profile costs nothing and a second run on the same data writes nothing);
* a stage transition sets ``lifecycle_stage`` and ``stage_since`` and appends a Fishpond Stage History
  row with the engine's reason (bulk insert). A transition is only written when the stored stage is
  still the one the engine started from, so a stage a user set meanwhile is never overwritten;
* rule tags (tag_source "Rule") are added and removed to match the enabled Fishpond Tag rules; manual
  tags are never touched. Each profile whose rule tags changed gets one timeline comment with the
  reasons;
* enabled Notifications on Fishpond Lead with event "Value Change" on a written field are evaluated
  for the profiles whose field changed (bulk writes bypass Document.run_notifications, so the writer
  calls the framework's ``evaluate_alert`` itself; a first value is not a change and notifies no one).

Everything happens in the caller's transaction: the runner commits a chunk only after all its writes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass

import frappe
import numpy as np
import pandas as pd
from frappe.query_builder import functions as fn
from frappe.utils import escape_html, now_datetime

from crm_fishpond.bulk import CHILD_COLUMNS, insert_rows, update_rows
from crm_fishpond.engine.vocabulary import DISPLAY_OPTIONS, PERCENT_COLUMNS

DOCTYPE = "Fishpond Lead"
NUMBER_COLUMNS = {
	# column: decimals written
	"lead_score": 2,
	"score_fit": 2,
	"score_engagement": 2,
	"score_value": 2,
	"p_alive": 6,
	"churn_risk": 4,
	"expected_purchases": 6,
	"clv": 2,
	"monetary_value": 2,
}
INT_COLUMNS = ("r_score", "f_score", "m_score")
TEXT_COLUMNS = ("category", "value_grade", "rfm_segment", "churn_band", "churn_method", "score_breakdown")
WRITTEN_COLUMNS = (*NUMBER_COLUMNS, *INT_COLUMNS, *TEXT_COLUMNS)
TOLERANCE = 1e-6
BREAKDOWN_PREFIXES = ("f_", "e_", "v_")
# the engine's values as the form shows them: the same table rules are translated with
BANDS = DISPLAY_OPTIONS["churn_band"]
GRADES = DISPLAY_OPTIONS["value_grade"]
CATEGORIES = DISPLAY_OPTIONS["category"]
CHURN_METHODS = DISPLAY_OPTIONS["churn_method"]


@dataclass
class WriteStats:
	profiles: int = 0
	updated: int = 0
	unchanged: int = 0
	stage_changes: int = 0
	tags_added: int = 0
	tags_removed: int = 0
	notifications: int = 0

	def add(self, other: WriteStats) -> WriteStats:
		for key, value in asdict(other).items():
			setattr(self, key, getattr(self, key) + value)
		return self

	def as_dict(self) -> dict:
		return asdict(self)


# --------------------------------------------------------------------------------------------------
# engine metrics -> column values


def column_values(metrics: pd.DataFrame, model_fit: str | None) -> pd.DataFrame:
	"""The stored form of the engine's metrics: one row per profile, the columns of WRITTEN_COLUMNS."""
	n = len(metrics)
	buyer = _num(metrics, "orders") > 0
	out: dict[str, np.ndarray] = {}
	for column in NUMBER_COLUMNS:
		values = _num(metrics, column)
		if column in PERCENT_COLUMNS:
			values = values * 100.0
		out[column] = np.round(values, decimals(column))
	for column in INT_COLUMNS:
		out[column] = _num(metrics, column).astype(np.int64)
	out["category"] = _mapped(metrics, "category", CATEGORIES.get)
	out["value_grade"] = np.where(buyer, _mapped(metrics, "value_grade", GRADES.get), None)
	out["rfm_segment"] = np.where(buyer, _mapped(metrics, "rfm_segment", lambda v: v or None), None)
	out["churn_band"] = _mapped(metrics, "churn_band", BANDS.get)
	out["churn_method"] = _mapped(metrics, "churn_method", CHURN_METHODS.get)
	out["score_breakdown"] = _breakdowns(metrics, model_fit) if n else np.empty(0, dtype=object)
	return pd.DataFrame(out, index=metrics.index)


def decimals(column: str) -> int:
	"""Decimals a number column keeps: ours, or fewer when the field's precision (its column's scale)
	says so."""
	field = frappe.get_meta(DOCTYPE).get_field(column)
	precision = int(field.precision) if field and field.precision else 9
	return min(NUMBER_COLUMNS[column], precision)


def _num(metrics: pd.DataFrame, column: str) -> np.ndarray:
	if column not in metrics.columns:
		return np.zeros(len(metrics), dtype=float)
	return pd.to_numeric(metrics[column], errors="coerce").fillna(0).to_numpy(dtype=float)


def _mapped(metrics: pd.DataFrame, column: str, convert) -> np.ndarray:
	if column not in metrics.columns:
		return np.full(len(metrics), None, dtype=object)
	values = metrics[column].astype(object).where(metrics[column].notna(), "")
	table = {v: convert(str(v)) for v in pd.unique(values)}
	return values.map(table).to_numpy(dtype=object)


def _breakdowns(metrics: pd.DataFrame, model_fit: str | None) -> np.ndarray:
	"""Canonical JSON per profile: the model fit used, the category's reason and every factor that
	gave points (the 'why' behind a score; a different fit shows here)."""
	factors = [c for c in metrics.columns if c.startswith(BREAKDOWN_PREFIXES)]
	matrix = np.round(metrics[factors].to_numpy(dtype=float), 2) if factors else np.zeros((len(metrics), 0))
	reasons = (
		metrics["category_reason"].astype(object).to_numpy()
		if "category_reason" in metrics.columns
		else np.full(len(metrics), "", dtype=object)
	)
	out = np.empty(len(metrics), dtype=object)
	for i in range(len(metrics)):
		row = matrix[i]
		nonzero = np.flatnonzero(row)
		data = {
			"model_fit": model_fit,
			"category_reason": reasons[i] or None,
			"factors": {factors[j]: float(row[j]) for j in nonzero},
		}
		out[i] = json.dumps(data, sort_keys=True, separators=(",", ":"))
	return out


# --------------------------------------------------------------------------------------------------
# stored values


def stored_values(profiles: list[str]) -> pd.DataFrame:
	lead = frappe.qb.DocType(DOCTYPE)
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.lifecycle_stage, *[lead[c] for c in WRITTEN_COLUMNS])
		.where(lead.name.isin(profiles))
		.for_update()  # the rows stay put (and unedited) until the chunk commits
	).run()
	frame = pd.DataFrame.from_records(
		list(rows), columns=["profile", "lifecycle_stage", *WRITTEN_COLUMNS]
	).set_index("profile")
	for column in (*NUMBER_COLUMNS, *INT_COLUMNS):
		frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
	return frame


def stored_tags(profiles: list[str]) -> list[dict]:
	tag = frappe.qb.DocType("Fishpond Lead Tag")
	return (
		frappe.qb.from_(tag)
		.select(tag.name, tag.parent, tag.tag, tag.tag_source, tag.idx)
		.where(tag.parenttype == DOCTYPE)
		.where(tag.parentfield == "tags")
		.where(tag.parent.isin(profiles))
	).run(as_dict=True)


# --------------------------------------------------------------------------------------------------
# diff and write


def changed_mask(new: pd.DataFrame, old: pd.DataFrame) -> pd.DataFrame:
	"""Boolean frame (profiles x columns): True where the new value differs from the stored one."""
	old = old.reindex(new.index)
	masks = {}
	for column in new.columns:
		a, b = new[column], old[column]
		if column in NUMBER_COLUMNS or column in INT_COLUMNS:
			x = a.to_numpy(dtype=float)
			y = b.to_numpy(dtype=float)
			# the database rounds half away from zero, numpy half to even: half a unit of the last
			# decimal is the same value
			atol = 0.5 * 10.0 ** -decimals(column) + TOLERANCE if column in NUMBER_COLUMNS else TOLERANCE
			same = (np.abs(x - y) <= atol) & ~np.isnan(y)
		else:
			x = a.to_numpy(dtype=object)
			y = b.to_numpy(dtype=object)
			x_empty = pd.isna(x) | (x == "")
			y_empty = pd.isna(y) | (y == "")
			same = (x_empty & y_empty) | (~x_empty & ~y_empty & (x == y))
		masks[column] = ~same
	return pd.DataFrame(masks, index=new.index)


def write_results(
	metrics: pd.DataFrame,
	tags: pd.DataFrame | None = None,
	*,
	model_fit: str | None = None,
	now=None,
	rule_tags: set[str] | None = None,
) -> WriteStats:
	"""Write the differences for the profiles of ``metrics`` (indexed by profile). ``tags`` is the
	engine's long frame of rule tags (profile, tag, reason) for the same profiles; ``rule_tags`` the
	Fishpond Tags allowed as rule tags (default: every enabled rule tag)."""
	stats = WriteStats(profiles=len(metrics))
	if metrics.empty:
		return stats
	now = now or now_datetime()
	profiles = [str(p) for p in metrics.index]
	old = stored_values(profiles)
	metrics = metrics[metrics.index.isin(old.index)]  # profiles deleted since they were read
	new = column_values(metrics, model_fit)
	changed = changed_mask(new, old[list(WRITTEN_COLUMNS)])

	stage_rows, stage_updates = _stage_changes(metrics, old, now)
	updates: dict[str, dict] = defaultdict(dict)
	rows_changed = changed.to_numpy()
	values = {c: new[c].to_numpy(dtype=object) for c in new.columns}
	columns = list(new.columns)
	for i in np.flatnonzero(rows_changed.any(axis=1)):
		name = new.index[i]
		for j in np.flatnonzero(rows_changed[i]):
			updates[name][columns[j]] = _plain(values[columns[j]][i])
	for name, stage in stage_updates.items():
		updates[name].update(stage)
	for name in updates:
		updates[name]["scored_on"] = now
	if updates:
		update_rows(DOCTYPE, updates)
	_insert_stage_history(stage_rows, now)

	added, removed = _write_tags(profiles, tags, now, rule_tags)
	stats.updated = len(updates)
	stats.unchanged = len(metrics) - len(updates)
	stats.stage_changes = len(stage_rows)
	stats.tags_added = added
	stats.tags_removed = removed
	stats.notifications = notify_value_changes(updates, old)
	return stats


def _plain(value):
	if isinstance(value, np.generic):
		return value.item()
	return value


def _stage_changes(metrics: pd.DataFrame, old: pd.DataFrame, now) -> tuple[list[dict], dict[str, dict]]:
	if "stage_changed" not in metrics.columns:
		return [], {}
	moved = metrics["stage_changed"].to_numpy(dtype=bool)
	if not moved.any():
		return [], {}
	sub = metrics[moved]
	stored = old["lifecycle_stage"].reindex(sub.index).fillna("").astype(str).to_numpy()
	previous = sub["previous_stage"].fillna("").astype(str).to_numpy()
	target = sub["stage"].astype(str).to_numpy()
	reasons = sub["stage_reason"].astype(str).to_numpy()
	rows, updates = [], {}
	for name, was, start, to, reason in zip(sub.index, stored, previous, target, reasons, strict=True):
		if was != start or was == to:
			continue  # someone moved the profile since the engine read it: leave their stage alone
		updates[name] = {"lifecycle_stage": to, "stage_since": now}
		rows.append({"parent": name, "from_stage": start or None, "to_stage": to, "reason": reason})
	return rows, updates


def _insert_stage_history(rows: list[dict], now) -> None:
	if not rows:
		return
	history = frappe.qb.DocType("Fishpond Stage History")
	parents = sorted({r["parent"] for r in rows})
	next_idx = dict(
		(
			frappe.qb.from_(history)
			.select(history.parent, fn.Max(history.idx))
			.where(history.parenttype == DOCTYPE)
			.where(history.parent.isin(parents))
			.groupby(history.parent)
		).run()
	)
	user = frappe.session.user
	fields = [
		*CHILD_COLUMNS,
		"from_stage",
		"to_stage",
		"changed_on",
		"reason",
		"changed_by",
	]
	values = []
	for r in rows:
		idx = (next_idx.get(r["parent"]) or 0) + 1
		next_idx[r["parent"]] = idx
		values.append(
			(
				frappe.generate_hash(length=12),
				now,
				now,
				user,
				user,
				0,
				r["parent"],
				DOCTYPE,
				"stage_history",
				idx,
				r["from_stage"],
				r["to_stage"],
				now,
				r["reason"],
				user,
			)
		)
	insert_rows("Fishpond Stage History", fields, values)


def enabled_rule_tags() -> set[str]:
	return set(frappe.get_all("Fishpond Tag", filters={"tag_type": "Rule", "enabled": 1}, pluck="name"))


def _write_tags(
	profiles: list[str], tags: pd.DataFrame | None, now, rule_tags: set[str] | None
) -> tuple[int, int]:
	rule_tags = enabled_rule_tags() if rule_tags is None else rule_tags
	expected: dict[tuple[str, str], str] = {}
	if tags is not None and len(tags):
		wanted = set(profiles)
		for profile, tag, reason in tags[["profile", "tag", "reason"]].itertuples(index=False):
			if profile in wanted and tag in rule_tags:
				expected.setdefault((str(profile), tag), reason or "")
	stored = stored_tags(profiles)
	have = {(r.parent, r.tag) for r in stored}
	last_idx: dict[str, int] = {}
	for r in stored:
		last_idx[r.parent] = max(last_idx.get(r.parent, 0), r.idx or 0)
	to_add = [(p, t, reason) for (p, t), reason in expected.items() if (p, t) not in have]
	to_remove = [r for r in stored if r.tag_source == "Rule" and (r.parent, r.tag) not in expected]
	if not to_add and not to_remove:
		return 0, 0
	user = frappe.session.user
	if to_remove:
		tag_table = frappe.qb.DocType("Fishpond Lead Tag")
		frappe.qb.from_(tag_table).delete().where(tag_table.name.isin([r.name for r in to_remove])).run()
	if to_add:
		values = []
		for profile, tag, _reason in sorted(to_add):
			idx = last_idx.get(profile, 0) + 1
			last_idx[profile] = idx
			values.append(
				(
					frappe.generate_hash(length=12),
					now,
					now,
					user,
					user,
					0,
					profile,
					DOCTYPE,
					"tags",
					idx,
					tag,
					"Rule",
				)
			)
		insert_rows(
			"Fishpond Lead Tag",
			[*CHILD_COLUMNS, "tag", "tag_source"],
			values,
		)
	_tag_comments(to_add, to_remove, rule_tags, now)
	return len(to_add), len(to_remove)


def _tag_comments(to_add: list, to_remove: list, rule_tags: set[str], now) -> None:
	"""One timeline comment per profile whose rule tags changed, with the reasons."""
	from frappe import _

	lines: dict[str, list[str]] = defaultdict(list)
	for profile, tag, reason in sorted(to_add):
		lines[profile].append(_("Tag {0} added: {1}").format(tag, reason))
	for r in to_remove:
		why = _("its rule no longer holds") if r.tag in rule_tags else _("its rule is disabled or removed")
		lines[r.parent].append(_("Tag {0} removed: {1}").format(r.tag, why))
	user = frappe.session.user
	values = [
		(
			frappe.generate_hash(length=12),
			now,
			now,
			user,
			user,
			0,
			"Info",
			DOCTYPE,
			profile,
			"<br>".join(escape_html(line) for line in texts),
			user,
		)
		for profile, texts in lines.items()
	]
	insert_rows(
		"Comment",
		[
			"name",
			"creation",
			"modified",
			"owner",
			"modified_by",
			"docstatus",
			"comment_type",
			"reference_doctype",
			"reference_name",
			"content",
			"comment_email",
		],
		values,
	)


# --------------------------------------------------------------------------------------------------
# notifications


def value_change_notifications() -> list[dict]:
	return frappe.get_all(
		"Notification",
		filters={"enabled": 1, "document_type": DOCTYPE, "event": "Value Change"},
		fields=["name", "value_changed"],
	)


def notify_value_changes(updates: dict[str, dict], old: pd.DataFrame) -> int:
	"""Evaluate "Value Change" Notifications for the written fields that changed from a value.

	Document.run_notifications only runs on save; the bulk write bypasses it, so the few profiles
	whose watched field changed are loaded and handed to the framework's ``evaluate_alert`` with their
	values before the write as ``doc_before_save`` (conditions, recipients and channels all work as
	on a save).
	"""
	if not updates:
		return 0
	alerts = [a for a in value_change_notifications() if a.value_changed]
	if not alerts:
		return 0
	from frappe.email.doctype.notification.notification import evaluate_alert

	watched = {a.value_changed for a in alerts}
	changes: dict[str, dict] = {}
	for name, row in updates.items():
		before = {}
		for field in watched & set(row):
			was = old.at[name, field] if field in old.columns and name in old.index else None
			if was is None or (isinstance(was, float) and np.isnan(was)) or was == "":
				continue  # a first value is not a change
			before[field] = was
		if before:
			changes[name] = before
	sent = 0
	for name, before_values in changes.items():
		doc = frappe.get_doc(DOCTYPE, name)
		before = frappe.get_doc(doc.as_dict())
		for field, value in before_values.items():
			before.set(field, value)
		doc._doc_before_save = before
		for alert in alerts:
			if alert.value_changed not in before_values:
				continue
			try:
				evaluate_alert(doc, alert.name, "Value Change")
				sent += 1
			except Exception:
				frappe.log_error(
					title="Fishpond: notification on a scoring change failed",
					reference_doctype=DOCTYPE,
					reference_name=name,
				)
	return sent

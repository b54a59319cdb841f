"""The recycler: neglected leads flow back to their pool, with a warning to the owner first.

Per pool with *Recycle Neglected Leads* on, one query selects every owned lead (whatever its status:
a rep who marks a lead Lost and keeps it is still its owner) that a rule makes due within the warning horizon and no exemption protects:

- **no follow-up**: no outbound interaction (an inbound one or an internal note is not a follow-up)
  since the claim, for N days
  (due = last follow-up, else the claim, + N days);
- **no order**: no submitted Sales Order of the lead's customer dated on or after the claim day,
  N days after claiming (due = claim + N days).

The earliest due date wins. Due leads are recycled: one locking re-read per chunk confirms owner and
claim date are unchanged, one UPDATE releases the chunk (previous owner and release time kept for
the cool-down; into *Recycle Into Pool* when set), one bulk insert logs it, and the chunk commits.
Leads due within the warning window get one ToDo for their owner per claim (deduplicated by a Warn
entry in the claim log). The dry run calls the same selection with the unsaved form values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import frappe
from frappe import _
from frappe.utils import cint, format_date, get_datetime, getdate, now_datetime

from crm_fishpond.bulk import insert_rows
from crm_fishpond.pools.claim import RECYCLE, WARN, insert_logs
from crm_fishpond.pools.protection import exemption_sql

RECYCLABLE_STATUSES = ("Claimed", "Converted", "Lost", "Churned")
CHUNK = 5000
PREVIEW_ROWS = 200
FOLLOW_UP, NO_ORDER = "no_followup", "no_order"
WARNING_MARK = 'data-fishpond="recycle-warning"'


@dataclass(frozen=True)
class RecycleRules:
	pool: str
	enabled: bool = False
	no_followup_days: int = 0
	no_order_days: int = 0
	warn_days: int = 0
	recycle_to: str | None = None
	exempt_locked: bool = True
	exempt_open_sales_order: bool = True
	exempt_unpaid_invoice: bool = True
	exempt_value_grades: tuple[str, ...] = ()
	exempt_stages: tuple[str, ...] = ()

	@property
	def active(self) -> bool:
		return self.enabled and (self.no_followup_days > 0 or self.no_order_days > 0)

	@property
	def target_pool(self) -> str:
		return self.recycle_to or self.pool

	@classmethod
	def from_values(cls, values) -> RecycleRules:
		"""From a saved Fishpond or the unsaved form's dict (the dry run)."""
		values = frappe._dict(values)
		stages = values.get("exempt_stages") or []
		grades = values.get("exempt_value_grades") or ""
		recycle_to = values.get("recycle_to")
		return cls(
			pool=values.get("name") or values.get("pool_name"),
			enabled=bool(cint(values.get("recycle_enabled"))),
			no_followup_days=max(cint(values.get("recycle_no_followup_days")), 0),
			no_order_days=max(cint(values.get("recycle_no_order_days")), 0),
			warn_days=max(cint(values.get("recycle_warn_days")), 0),
			recycle_to=recycle_to if recycle_to and recycle_to != values.get("name") else None,
			exempt_locked=bool(cint(values.get("exempt_locked", 1))),
			exempt_open_sales_order=bool(cint(values.get("exempt_open_sales_order", 1))),
			exempt_unpaid_invoice=bool(cint(values.get("exempt_unpaid_invoice", 1))),
			exempt_value_grades=tuple(
				g.strip() for g in (grades.splitlines() if isinstance(grades, str) else grades) if g.strip()
			),
			exempt_stages=tuple(
				s.get("lifecycle_stage") if isinstance(s, dict) else s.lifecycle_stage
				for s in stages
				if (s.get("lifecycle_stage") if isinstance(s, dict) else s.lifecycle_stage)
			),
		)

	@classmethod
	def for_pool(cls, pool: str) -> RecycleRules:
		return cls.from_values(frappe.get_doc("Fishpond", pool).as_dict())


@dataclass
class Selection:
	due: list[frappe._dict] = field(default_factory=list)  # recycle now
	upcoming: list[frappe._dict] = field(default_factory=list)  # inside the warning window


# -- selection -------------------------------------------------------------------------------------
def select(rules: RecycleRules, now: datetime | None = None) -> Selection:
	"""Owned leads of the pool that the rules make due by `now` (+ the warning window)."""
	out = Selection()
	if not rules.active or not rules.pool:
		return out
	now = get_datetime(now or now_datetime())
	horizon = now + timedelta(days=rules.warn_days)
	rule_sql = []
	params = {"pool": rules.pool, "statuses": RECYCLABLE_STATUSES}
	if rules.no_followup_days:
		rule_sql.append("coalesce(t.last_followup, t.claimed_on) <= %(followup_cutoff)s")
		params["followup_cutoff"] = horizon - timedelta(days=rules.no_followup_days)
	if rules.no_order_days:
		rule_sql.append("(t.claimed_on <= %(order_cutoff)s and t.has_order = 0)")
		params["order_cutoff"] = horizon - timedelta(days=rules.no_order_days)
	exempt, exempt_params = exemption_sql(rules)
	params.update(exempt_params)
	# Raw SQL: correlated subqueries over ERPNext's tables inside a derived table read more plainly
	# than their query-builder form; every value is a parameter.
	rows = frappe.db.sql(
		f"""
		select t.name, t.lead_name, t.lead_owner, t.claimed_on, t.customer, t.last_followup, t.has_order
		from (
			select fl.name, fl.lead_name, fl.lead_owner, fl.claimed_on, fl.customer,
				(select max(i.interaction_time) from `tabFishpond Interaction` i
					where i.fishpond_lead = fl.name and i.interaction_time >= fl.claimed_on
						and coalesce(i.direction, 'Outbound') = 'Outbound') as last_followup,
				case when fl.customer is not null and exists (
					select 1 from `tabSales Order` so
					where so.customer = fl.customer and so.docstatus = 1
						and so.transaction_date >= cast(fl.claimed_on as date)) then 1 else 0 end as has_order
			from `tabFishpond Lead` fl
			where fl.fishpond = %(pool)s
				and fl.lead_owner is not null and fl.lead_owner != ''
				and fl.claimed_on is not null
				and fl.status in %(statuses)s{exempt}
		) t
		where {" or ".join(rule_sql)}
		order by t.name
		""",
		params,
		as_dict=True,
	)
	for row in rows:
		row.due_on, row.rule = due_date(rules, row)
		if row.due_on is None or row.due_on > horizon:
			continue
		(out.due if row.due_on <= now else out.upcoming).append(row)
	return out


def due_date(rules: RecycleRules, row) -> tuple[datetime | None, str | None]:
	claimed = get_datetime(row.claimed_on)
	candidates = []
	if rules.no_followup_days:
		since = get_datetime(row.last_followup) if row.last_followup else claimed
		candidates.append((since + timedelta(days=rules.no_followup_days), FOLLOW_UP))
	if rules.no_order_days and not cint(row.has_order):
		candidates.append((claimed + timedelta(days=rules.no_order_days), NO_ORDER))
	return min(candidates) if candidates else (None, None)


def rule_label(rule: str | None, rules: RecycleRules) -> str:
	if rule == FOLLOW_UP:
		return _("No follow-up for {0} days").format(rules.no_followup_days)
	if rule == NO_ORDER:
		return _("No Sales Order within {0} days of claiming").format(rules.no_order_days)
	return ""


# -- dry run ---------------------------------------------------------------------------------------
def preview(values, now: datetime | None = None, limit: int = PREVIEW_ROWS) -> dict:
	"""What the next run would do with these (possibly unsaved) rules."""
	rules = RecycleRules.from_values(values)
	selection = select(rules, now)
	return {
		"count": len(selection.due),
		"warn_count": len(selection.upcoming),
		"active": rules.active,
		"message": _("{0} leads would be recycled at the next run").format(len(selection.due)),
		"leads": [_preview_row(r, rules) for r in selection.due[:limit]],
		"upcoming": [_preview_row(r, rules) for r in selection.upcoming[:limit]],
	}


def _preview_row(row, rules: RecycleRules) -> dict:
	return {
		"name": row.name,
		"lead_name": row.lead_name,
		"lead_owner": row.lead_owner,
		"claimed_on": row.claimed_on,
		"last_followup": row.last_followup,
		"due_on": row.due_on,
		"rule": rule_label(row.rule, rules),
	}


# -- the run ---------------------------------------------------------------------------------------
def recycle_pool(rules: RecycleRules, now: datetime | None = None, commit: bool = False) -> dict:
	"""Recycle the due leads of one pool; returns counts (and what was selected)."""
	now = get_datetime(now or now_datetime())
	selection = select(rules, now)
	recycled = 0
	for start in range(0, len(selection.due), CHUNK):
		recycled += _recycle_chunk(selection.due[start : start + CHUNK], rules, now)
		if commit:
			frappe.db.commit()  # nosemgrep: one chunk is one unit of work
	return {"pool": rules.pool, "selected": len(selection.due), "recycled": recycled}


def _recycle_chunk(rows: list, rules: RecycleRules, now: datetime) -> int:
	names = [r.name for r in rows]
	lead = frappe.qb.DocType("Fishpond Lead")
	current = {
		r.name: r
		for r in (
			frappe.qb.from_(lead)
			.select(lead.name, lead.lead_owner, lead.claimed_on, lead.fishpond)
			.where(lead.name.isin(names))
			.for_update()
		).run(as_dict=True)
	}
	# recycle only what nobody touched since the selection (claimed again, released, assigned, moved)
	keep = [
		r
		for r in rows
		if (c := current.get(r.name))
		and c.lead_owner == r.lead_owner
		and c.fishpond == rules.pool
		and get_datetime(c.claimed_on) == get_datetime(r.claimed_on)
	]
	if not keep:
		return 0
	kept = [r.name for r in keep]
	status = frappe.qb.terms.Case().when(lead.status == "Claimed", "In Pool").else_(lead.status)
	(
		frappe.qb.update(lead)
		.set(lead.previous_owner, lead.lead_owner)
		.set(lead.lead_owner, None)
		.set(lead.released_on, now)
		.set(lead.claimed_on, None)
		.set(lead.status, status)
		.set(lead.fishpond, rules.target_pool)
		.set(lead.modified, now)
		.set(lead.modified_by, "Administrator")
		.where(lead.name.isin(kept))
	).run()
	reasons = {FOLLOW_UP: rule_label(FOLLOW_UP, rules), NO_ORDER: rule_label(NO_ORDER, rules)}
	insert_logs(
		[
			{
				"action": RECYCLE,
				"profile": r.name,
				"from_user": r.lead_owner,
				"to_user": None,
				"from_pool": rules.pool,
				"to_pool": rules.target_pool,
				"reason": reasons.get(r.rule),
				"action_by": "Administrator",
				"action_on": now,
			}
			for r in keep
		]
	)
	_close_warnings(kept)
	return len(keep)


def _close_warnings(names: list[str]) -> None:
	todo = frappe.qb.DocType("ToDo")
	(
		frappe.qb.update(todo)
		.set(todo.status, "Closed")
		.where(todo.reference_type == "Fishpond Lead")
		.where(todo.reference_name.isin(names))
		.where(todo.status == "Open")
		.where(todo.description.like(f"%{WARNING_MARK}%"))
	).run()


# -- warnings --------------------------------------------------------------------------------------
def warn_pool(rules: RecycleRules, now: datetime | None = None) -> int:
	"""One ToDo per owner and claim for leads due within the warning window."""
	if not rules.warn_days:
		return 0
	now = get_datetime(now or now_datetime())
	upcoming = select(rules, now).upcoming
	if not upcoming:
		return 0
	warned = _already_warned([r.name for r in upcoming])
	fresh = [
		r
		for r in upcoming
		if not any(
			owner == r.lead_owner and get_datetime(on) >= get_datetime(r.claimed_on)
			for owner, on in warned.get(r.name, ())
		)
	]
	if not fresh:
		return 0
	todo_fields = (
		"name",
		"creation",
		"modified",
		"modified_by",
		"owner",
		"docstatus",
		"idx",
		"status",
		"priority",
		"date",
		"allocated_to",
		"description",
		"reference_type",
		"reference_name",
		"assigned_by",
	)
	insert_rows(
		"ToDo",
		todo_fields,
		(
			(
				frappe.generate_hash(length=10),
				now,
				now,
				"Administrator",
				"Administrator",
				0,
				0,
				"Open",
				"High",
				getdate(r.due_on),
				r.lead_owner,
				_warning_text(r, rules),
				"Fishpond Lead",
				r.name,
				"Administrator",
			)
			for r in fresh
		),
		chunk_size=5000,
	)
	insert_logs(
		[
			{
				"action": WARN,
				"profile": r.name,
				"from_user": r.lead_owner,
				"to_user": r.lead_owner,
				"from_pool": rules.pool,
				"to_pool": rules.pool,
				"reason": rule_label(r.rule, rules),
				"action_by": "Administrator",
				"action_on": now,
			}
			for r in fresh
		]
	)
	return len(fresh)


def _already_warned(names: list[str]) -> dict[str, list[tuple[str, datetime]]]:
	log = frappe.qb.DocType("Fishpond Claim Log")
	out: dict[str, list] = {}
	for start in range(0, len(names), CHUNK):
		for profile, owner, on in (
			frappe.qb.from_(log)
			.select(log.profile, log.to_user, log.action_on)
			.where(log.action == WARN)
			.where(log.profile.isin(names[start : start + CHUNK]))
		).run():
			out.setdefault(profile, []).append((owner, on))
	return out


def _warning_text(row, rules: RecycleRules) -> str:
	text = _("{0} ({1}) goes back to pool {2} on {3} unless you follow it up: {4}.").format(
		row.lead_name or row.name,
		row.name,
		rules.target_pool,
		format_date(row.due_on),
		rule_label(row.rule, rules),
	)
	return f"<p {WARNING_MARK}>{frappe.utils.escape_html(text)}</p>"


# -- scheduler entry points --------------------------------------------------------------------------
def recycle_pools(commit: bool | None = None, now: datetime | None = None) -> list[dict]:
	"""Recycle every pool with active rules; one Fishpond Run records the whole pass."""
	from crm_fishpond.sync.runs import active_run, create_run, save_progress, stale_runs

	commit = (not frappe.flags.in_test) if commit is None else commit
	pools = active_rules()
	if not pools:
		return []  # nothing to do: no run record every hour
	running = active_run("Recycle")
	if running and running not in stale_runs("Recycle"):
		return []  # two passes never overlap
	run = create_run("Recycle", triggered_by="Administrator")
	started = now_datetime()
	save_progress(run, status="Running", started_at=started)
	if commit:
		frappe.db.commit()  # nosemgrep: the run is visible while it works
	results = []
	try:
		for rules in pools:
			results.append(recycle_pool(rules, now=now, commit=commit))
			save_progress(
				run,
				processed=sum(r["selected"] for r in results),
				updated=sum(r["recycled"] for r in results),
			)
	except Exception:
		if commit:
			frappe.db.rollback()
		save_progress(run, status="Failed", finished_at=now_datetime(), log=frappe.get_traceback()[-5000:])
		if commit:
			frappe.db.commit()  # nosemgrep: record the failure
		raise
	save_progress(
		run,
		status="Completed",
		progress=100,
		finished_at=now_datetime(),
		total=sum(r["selected"] for r in results),
		timings=frappe.as_json({"seconds": (now_datetime() - started).total_seconds(), "pools": results}),
	)
	if commit:
		frappe.db.commit()  # nosemgrep: end of the pass
	return results


def warn_pools(now: datetime | None = None) -> int:
	total = 0
	for rules in active_rules():
		total += warn_pool(rules, now=now)
		if not frappe.flags.in_test:
			frappe.db.commit()  # nosemgrep: one pool is one unit of work
	return total


def active_rules() -> list[RecycleRules]:
	pools = frappe.get_all(
		"Fishpond", filters={"recycle_enabled": 1, "enabled": 1}, pluck="name", order_by="name asc"
	)
	rules = [RecycleRules.for_pool(p) for p in pools]
	return [r for r in rules if r.active]


def scheduled_recycle() -> None:
	"""scheduler_events (hourly_long): recycle, then warn."""
	recycle_pools()


def scheduled_warnings() -> None:
	"""scheduler_events (hourly_long): warn owners of leads about to be recycled."""
	warn_pools()

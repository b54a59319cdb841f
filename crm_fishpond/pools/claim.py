"""Claim, release, assign and transfer: atomic, capped and logged.

Atomicity: ownership only ever changes through a conditional UPDATE ("... where lead_owner is null",
or "... where lead_owner = <the owner we checked>") whose row count says who won. When many reps
claim one lead at once, InnoDB serialises the UPDATEs on the row lock; the first commits, every other
UPDATE re-reads the committed row, matches nothing and its rep gets a clear message.

Caps: before counting, the receiving rep's User row is locked FOR UPDATE, so two claims for the same
rep never count at the same time. The counts must then see every claim the previous holder of that
lock committed, which a REPEATABLE READ snapshot opened earlier in the request would not: so the
read-only part of the request is committed first and the counts run in the transaction that begins
with the lock. When the caller has already written in this transaction (a workflow approving a
transfer), nothing may be committed early; the counts are then read through a short-lived second
connection, whose snapshot starts after the lock. (Locking reads would do too, but their gap locks
deadlock concurrent claims of reps whose names sit next to each other in the lead_owner index.)

Every change writes a Fishpond Claim Log row (bulk insert, same transaction).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import frappe
from frappe import _
from frappe.query_builder import Case
from frappe.query_builder.functions import Count
from frappe.utils import add_days, cint, format_datetime, get_datetime, getdate, now_datetime

from crm_fishpond.bulk import insert_rows
from crm_fishpond.permissions import CLAIM_VISIBILITY, PondScope, pond_scope

LEAD = "Fishpond Lead"
LOG = "Fishpond Claim Log"
MAX_BULK = 500
CLAIM, RELEASE, ASSIGN, TRANSFER, RECYCLE, WARN, LOST = (
	"Claim",
	"Release",
	"Assign",
	"Transfer",
	"Recycle",
	"Warn",
	"Lost",
)
LOG_FIELDS = (
	"name",
	"creation",
	"modified",
	"modified_by",
	"owner",
	"docstatus",
	"idx",
	"action",
	"profile",
	"from_user",
	"to_user",
	"from_pool",
	"to_pool",
	"reason",
	"action_by",
	"action_on",
)
# What only the pool actions (and the ERP sync) change. A rep's save through any channel (form, REST,
# frappe.client.set_value, bulk edit, Data Import) may not touch them: each one decides whether a lead
# counts toward a cap, can be recycled or is protected from recycling.
GUARDED_FIELDS = (
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
)
# ...of which a manager of the lead's pool may change these on the form
POOL_MANAGER_FIELDS = ("locked", "customer", "lead")
# ...and these a new profile may be created with (the others are the history of claims)
SETTABLE_ON_INSERT = ("fishpond", "status", "customer", "lead")
# An owned lead counts toward its owner's cap unless it is Converted (and the pool does not count
# converted leads): marking a lead Lost or Churned never frees a place while the rep keeps it.
HELD_STATUSES = ("Claimed", "Lost", "Churned")
# Statuses a claim turns into Claimed: taking a lead from the pool reopens it
REOPENED_BY_CLAIM = ("In Pool", "Lost")
RELEASE_TO_POOL, KEEP_WITH_OWNER = "Release to Pool", "Keep with Owner"


class ClaimError(frappe.ValidationError):
	pass


@dataclass
class Outcome:
	done: list[str] = field(default_factory=list)
	failed: dict[str, str] = field(default_factory=dict)

	def as_dict(self) -> dict:
		return {"done": self.done, "failed": self.failed}

	def raise_first(self) -> None:
		"""For single-lead actions: turn the failure into a translated error."""
		if self.failed:
			frappe.throw(next(iter(self.failed.values())), ClaimError)


@dataclass(frozen=True)
class PoolCaps:
	name: str
	enabled: bool
	visibility: str
	max_held: int
	max_per_day: int
	count_converted: bool
	cooldown_days: int
	lost_handling: str = RELEASE_TO_POOL

	@property
	def held_statuses(self) -> tuple[str, ...]:
		return (*HELD_STATUSES, "Converted") if self.count_converted else HELD_STATUSES


def pool_caps(pools) -> dict[str, PoolCaps]:
	pools = sorted({p for p in pools if p})
	if not pools:
		return {}
	pond = frappe.qb.DocType("Fishpond")
	rows = (
		frappe.qb.from_(pond)
		.select(
			pond.name,
			pond.enabled,
			pond.visibility,
			pond.max_claimed_per_user,
			pond.max_claims_per_day,
			pond.count_converted,
			pond.claim_cooldown_days,
			pond.lost_handling,
		)
		.where(pond.name.isin(pools))
	).run(as_dict=True)
	return {
		r.name: PoolCaps(
			name=r.name,
			enabled=bool(r.enabled),
			visibility=r.visibility or CLAIM_VISIBILITY,
			max_held=cint(r.max_claimed_per_user),
			max_per_day=cint(r.max_claims_per_day),
			count_converted=bool(r.count_converted),
			cooldown_days=cint(r.claim_cooldown_days),
			lost_handling=r.lost_handling or RELEASE_TO_POOL,
		)
		for r in rows
	}


# -- public operations ---------------------------------------------------------------------------
def claim(names, reason: str | None = None, user: str | None = None) -> Outcome:
	"""The session user (or `user`) claims unowned leads of pools they may claim from."""
	user = user or frappe.session.user
	return _take(names, to_user=user, by=user, action=CLAIM, reason=reason)


def assign(names, to_user: str, reason: str | None = None, by: str | None = None) -> Outcome:
	"""A manager of the leads' pool gives them (owned or not) to `to_user`, within `to_user`'s caps."""
	by = by or frappe.session.user
	_check_assignee(to_user)
	return _take(names, to_user=to_user, by=by, action=ASSIGN, reason=reason)


def hand_over(name: str, to_user: str, reason: str | None = None, by: str | None = None) -> Outcome:
	"""The lead's owner (or a manager of its pool) gives it to ``to_user``, within ``to_user``'s caps:
	an approved claim request (crm_fishpond.pools.requests). Logged as an assignment."""
	by = by or frappe.session.user
	_check_assignee(to_user)
	return _take([name], to_user=to_user, by=by, action=ASSIGN, reason=reason, owner_may=True)


def release(names, reason: str | None = None, by: str | None = None) -> Outcome:
	"""The owner (or a manager of the pool) puts leads back into their pool."""
	by = by or frappe.session.user
	names = _clean(names)
	scope = pond_scope(by)
	rows = _load(names)
	now = now_datetime()
	out, logs = Outcome(), []
	for name in names:
		row = rows.get(name)
		if not row or not scope.can_read(row.lead_owner, row.fishpond):
			out.failed[name] = _not_found(name)
		elif not row.lead_owner:
			out.failed[name] = _("{0} is not claimed by anyone.").format(name)
		elif not scope.can_write(row.lead_owner, row.fishpond):
			out.failed[name] = _("Only the owner or a manager of pool {0} may release {1}.").format(
				row.fishpond, name
			)
		elif _update_lead(name, row.lead_owner, row.fishpond, _release_values(row, now, by)):
			out.done.append(name)
			logs.append(_log(RELEASE, row, by, now, reason, from_user=row.lead_owner))
		else:
			out.failed[name] = _changed_meanwhile(name)
	insert_logs(logs)
	return out


def transfer(
	names, to_pool: str, keep_owner: bool = False, reason: str | None = None, by: str | None = None
) -> Outcome:
	"""Move leads to another pool (managers of both pools). Owners are released unless `keep_owner`,
	in which case each owner's cap in the target pool holds."""
	by = by or frappe.session.user
	names = _clean(names)
	scope = pond_scope(by)
	target = pool_caps([to_pool]).get(to_pool)
	if not target:
		frappe.throw(_("Pool {0} does not exist.").format(to_pool), frappe.DoesNotExistError)
	if not target.enabled:
		frappe.throw(_("Pool {0} is disabled.").format(to_pool), ClaimError)
	if not scope.manages(to_pool):
		frappe.throw(
			_("Only managers of pool {0} may move leads into it.").format(to_pool), frappe.PermissionError
		)
	rows = _load(names)
	held: dict[str, int] = {}
	if keep_owner:
		owners = sorted({r.lead_owner for r in rows.values() if r.lead_owner})
		reader = _fresh_snapshot()
		for owner in owners:
			_lock_user(owner)
		with _committed_reads(reader):
			for owner in owners:
				held[owner] = _held_count(owner, target)
	now = now_datetime()
	out, logs = Outcome(), []
	for name in names:
		row = rows.get(name)
		if not row or not scope.can_read(row.lead_owner, row.fishpond):
			out.failed[name] = _not_found(name)
			continue
		if row.fishpond == to_pool:
			out.failed[name] = _("{0} is already in pool {1}.").format(name, to_pool)
			continue
		if not scope.manages(row.fishpond):
			out.failed[name] = _("Only managers of pool {0} may move its leads.").format(row.fishpond or "-")
			continue
		owner = row.lead_owner
		values = {"fishpond": to_pool, "modified": now, "modified_by": by}
		if owner and keep_owner:
			if target.max_held and row.status in target.held_statuses and held[owner] >= target.max_held:
				out.failed[name] = _("{0} already holds {1} leads of pool {2}, its limit per rep.").format(
					owner, target.max_held, to_pool
				)
				continue
		elif owner:
			values.update(_release_values(row, now, by))
		if not _update_lead(name, owner, row.fishpond, values):
			out.failed[name] = _changed_meanwhile(name)
			continue
		if owner and keep_owner and row.status in target.held_statuses:
			held[owner] += 1
		out.done.append(name)
		logs.append(
			_log(
				TRANSFER,
				row,
				by,
				now,
				reason,
				from_user=owner,
				to_user=owner if keep_owner else None,
				to_pool=to_pool,
			)
		)
	insert_logs(logs)
	return out


def mark_lost(names, reason: str, by: str | None = None) -> Outcome:
	"""The owner (or a manager of the pool) marks leads Lost, with a reason. The pool's *When a Lead Is
	Marked Lost* rule decides whether the claim ends (the lead waits in the pool, marked Lost, and the
	cool-down applies) or the owner keeps it (it still counts toward their cap and can be recycled).
	A converted lead is a customer: ERPNext decides that, not a click."""
	by = by or frappe.session.user
	reason = (reason or "").strip()
	if not reason:
		frappe.throw(_("Say why the lead is lost."), ClaimError)
	names = _clean(names)
	scope = pond_scope(by)
	rows = _load(names)
	caps = pool_caps(r.fishpond for r in rows.values())
	now = now_datetime()
	out, logs = Outcome(), []
	for name in names:
		row = rows.get(name)
		if not row or not scope.can_read(row.lead_owner, row.fishpond):
			out.failed[name] = _not_found(name)
			continue
		if not scope.can_write(row.lead_owner, row.fishpond):
			out.failed[name] = _("Only the owner or a manager of pool {0} may mark {1} lost.").format(
				row.fishpond or "-", name
			)
			continue
		if row.status == "Lost":
			out.failed[name] = _("{0} is already marked lost.").format(name)
			continue
		if row.status == "Converted":
			out.failed[name] = _("{0} has bought: a converted lead cannot be marked lost.").format(name)
			continue
		cap = caps.get(row.fishpond)
		release_claim = bool(row.lead_owner) and (not cap or cap.lost_handling != KEEP_WITH_OWNER)
		values = {"status": "Lost", "lost_reason": reason, "modified": now, "modified_by": by}
		if release_claim:
			values.update(_release_values(row, now, by))
			values["status"] = "Lost"
		# an invoice may convert the lead meanwhile: the status we checked must still be there
		if not _update_lead(name, row.lead_owner, row.fishpond, values, expected_status=row.status):
			out.failed[name] = _changed_meanwhile(name)
			continue
		out.done.append(name)
		logs.append(
			_log(
				LOST,
				row,
				by,
				now,
				reason,
				from_user=row.lead_owner,
				to_user=None if release_claim else row.lead_owner,
			)
		)
	insert_logs(logs)
	return out


# -- the claim itself ----------------------------------------------------------------------------
def _take(names, to_user: str, by: str, action: str, reason: str | None, owner_may: bool = False) -> Outcome:
	names = _clean(names)
	reader = _fresh_snapshot()
	_lock_user(to_user)
	rows = _load(names)
	scope = pond_scope(by)
	caps = pool_caps(r.fishpond for r in rows.values())
	with _committed_reads(reader):
		held = {pool: _held_count(to_user, cap) for pool, cap in caps.items() if cap.max_held}
		daily = [p for p, c in caps.items() if c.max_per_day]
		today = _claims_today(to_user, daily) if action == CLAIM else {}
	now = now_datetime()
	out, logs = Outcome(), []
	for name in names:
		row = rows.get(name)
		cap = caps.get(row.fishpond) if row else None
		error = _take_error(name, row, cap, scope, to_user, action, held, today, now, owner_may)
		if error:
			out.failed[name] = error
			continue
		values = {
			"lead_owner": to_user,
			"claimed_on": now,
			"status": Case()
			.when(frappe.qb.DocType(LEAD).status.isin(REOPENED_BY_CLAIM), "Claimed")
			.else_(frappe.qb.DocType(LEAD).status),
			"lost_reason": None,
			"modified": now,
			"modified_by": by,
		}
		if row.lead_owner:  # a manager reassigns an owned lead
			values.update({"previous_owner": row.lead_owner, "released_on": now})
		if not _update_lead(name, row.lead_owner, row.fishpond, values):
			out.failed[name] = (
				_("{0} has just been claimed by someone else.").format(name)
				if not row.lead_owner
				else _changed_meanwhile(name)
			)
			continue
		if cap.max_held and _status_after_take(row.status) in cap.held_statuses:
			held[cap.name] += 1
		if action == CLAIM and cap.max_per_day:
			today[cap.name] = today.get(cap.name, 0) + 1
		out.done.append(name)
		logs.append(_log(action, row, by, now, reason, from_user=row.lead_owner, to_user=to_user))
	insert_logs(logs)
	return out


def _take_error(
	name, row, cap, scope: PondScope, to_user, action, held, today, now, owner_may: bool = False
) -> str | None:
	you = action == CLAIM
	if not row:
		return _not_found(name)
	if row.lead_owner and row.lead_owner.casefold() == to_user.casefold():
		return (
			_("{0} is already yours.").format(name)
			if you
			else _("{0} already holds {1}.").format(to_user, name)
		)
	if action == CLAIM:
		if row.lead_owner:
			return _("{0} has already been claimed by someone else.").format(name)
		if not scope.may_claim_from(row.fishpond):
			if cap and cap.visibility != CLAIM_VISIBILITY and _is_member(cap.name, scope.user):
				return _("Leads of pool {0} are assigned by its managers.").format(cap.name)
			return _("You are not a member of pool {0}.").format(row.fishpond or "-")
	elif not scope.manages(row.fishpond):
		is_owner = bool(row.lead_owner) and row.lead_owner.casefold() == scope.user.casefold()
		if not (owner_may and is_owner):
			if owner_may:
				return _("Only the owner of {0} or a manager of pool {1} may hand it over.").format(
					name, row.fishpond or "-"
				)
			return _("Only managers of pool {0} may assign its leads.").format(row.fishpond or "-")
	if not cap:
		return _("{0} is in no pool: move it into a pool first.").format(name)
	if not cap.enabled:
		return _("Pool {0} is disabled.").format(cap.name)
	if cap.cooldown_days and row.previous_owner and row.released_on:
		if row.previous_owner.casefold() == to_user.casefold():
			until = add_days(get_datetime(row.released_on), cap.cooldown_days)
			if now < until:
				if you:
					return _("You gave {0} up on {1}; you may claim it again from {2}.").format(
						name, format_datetime(row.released_on), format_datetime(until)
					)
				return _("{0} gave {1} up on {2} and may take it again from {3}.").format(
					to_user, name, format_datetime(row.released_on), format_datetime(until)
				)
	counted = _status_after_take(row.status) in cap.held_statuses
	if cap.max_held and counted and held.get(cap.name, 0) >= cap.max_held:
		if you:
			return _("You already hold {0} leads of pool {1}, its limit per rep.").format(
				cap.max_held, cap.name
			)
		return _("{0} already holds {1} leads of pool {2}, its limit per rep.").format(
			to_user, cap.max_held, cap.name
		)
	if action == CLAIM and cap.max_per_day and today.get(cap.name, 0) >= cap.max_per_day:
		return _("You have claimed {0} leads from pool {1} today, its daily limit per rep.").format(
			cap.max_per_day, cap.name
		)
	return None


def _status_after_take(status: str | None) -> str | None:
	return "Claimed" if status in REOPENED_BY_CLAIM else status


def _is_member(pool: str, user: str) -> bool:
	member = frappe.qb.DocType("Fishpond Member")
	roles = frappe.get_roles(user)
	cond = (member.member_type == "User") & (member.user == user)
	if roles:
		cond = cond | ((member.member_type == "Role") & member.role.isin(roles))
	return bool(
		frappe.qb.from_(member)
		.select(member.name)
		.where(member.parenttype == "Fishpond")
		.where(member.parent == pool)
		.where(cond)
		.limit(1)
		.run()
	)


# -- helpers -------------------------------------------------------------------------------------
def _clean(names) -> list[str]:
	if isinstance(names, str):
		names = frappe.parse_json(names) if names.strip().startswith("[") else [names]
	names = sorted({n for n in (names or []) if n})
	if not names:
		frappe.throw(_("Select at least one lead."))
	if len(names) > MAX_BULK:
		frappe.throw(_("Select at most {0} leads at a time.").format(MAX_BULK))
	return names  # sorted: concurrent bulk actions lock rows in one order


def _load(names: list[str]) -> dict[str, frappe._dict]:
	lead = frappe.qb.DocType(LEAD)
	rows = (
		frappe.qb.from_(lead)
		.select(
			lead.name,
			lead.fishpond,
			lead.lead_owner,
			lead.previous_owner,
			lead.released_on,
			lead.claimed_on,
			lead.status,
		)
		.where(lead.name.isin(names))
	).run(as_dict=True)
	return {r.name: r for r in rows}


def _fresh_snapshot() -> bool:
	"""Start a new transaction so the counts after the rep's lock see every committed claim.

	Returns True when that is not possible (the caller already wrote in this transaction): the counts
	must then go through :func:`_committed_reads`. Tests run inside one transaction and one process:
	nothing to refresh."""
	if frappe.flags.in_test:
		return False
	if frappe.db.transaction_writes:
		return True
	frappe.db.commit()  # nosemgrep: nothing written yet; ends the request's read snapshot
	return False


@contextmanager
def _committed_reads(needed: bool):
	"""Run the enclosed queries on a second, short-lived connection (when `needed`): its snapshot begins
	now, after the rep's lock, so it sees every committed claim. Frappe swaps ``frappe.local.db`` the
	same way for its read replica."""
	if not needed:
		yield
		return
	from frappe.database import get_db

	conf = frappe.conf
	reader = get_db(
		socket=conf.db_socket,
		host=conf.db_host,
		port=conf.db_port,
		user=conf.get("db_user") or conf.db_name,
		password=conf.db_password,
		cur_db_name=conf.db_name,
	)
	primary = frappe.local.db
	frappe.local.db = reader
	try:
		yield
	finally:
		frappe.local.db = primary
		reader.close()


def _lock_user(user: str) -> None:
	table = frappe.qb.DocType("User")
	found = frappe.qb.from_(table).select(table.name).where(table.name == user).for_update().run()
	if not found:
		frappe.throw(_("User {0} does not exist.").format(user), frappe.DoesNotExistError)


def _held_count(user: str, cap: PoolCaps) -> int:
	lead = frappe.qb.DocType(LEAD)
	query = (
		frappe.qb.from_(lead)
		.select(Count(lead.name))
		.where(lead.lead_owner == user)
		.where(lead.fishpond == cap.name)
		.where(lead.status.isin(cap.held_statuses))
	)
	return cint(query.run()[0][0])


def _claims_today(user: str, pools: list[str]) -> dict[str, int]:
	if not pools:
		return {}
	log = frappe.qb.DocType(LOG)
	day_start = get_datetime(getdate(now_datetime()))
	query = (
		frappe.qb.from_(log)
		.select(log.to_pool, Count(log.name))
		.where(log.action == CLAIM)
		.where(log.to_user == user)
		.where(log.to_pool.isin(pools))
		.where(log.action_on >= day_start)
		.where(log.action_on < add_days(day_start, 1))
		.groupby(log.to_pool)
	)
	return {pool: cint(n) for pool, n in query.run()}


def _update_lead(
	name: str,
	expected_owner: str | None,
	expected_pool: str | None,
	values: dict,
	expected_status: str | None = None,
) -> bool:
	"""The conditional UPDATE: applies only if the owner and pool (and, when given, the status) are still
	the ones we checked."""
	lead = frappe.qb.DocType(LEAD)
	query = frappe.qb.update(lead)
	for key, value in values.items():
		query = query.set(lead[key], value)
	query = query.where(lead.name == name)
	if expected_owner:
		query = query.where(lead.lead_owner == expected_owner)
	else:
		query = query.where(lead.lead_owner.isnull() | (lead.lead_owner == ""))
	if expected_pool:
		query = query.where(lead.fishpond == expected_pool)
	else:
		query = query.where(lead.fishpond.isnull() | (lead.fishpond == ""))
	if expected_status:
		query = query.where(lead.status == expected_status)
	query.run()
	return frappe.db._cursor.rowcount == 1


def _release_values(row, now, by: str) -> dict:
	lead = frappe.qb.DocType(LEAD)
	return {
		"lead_owner": None,
		"previous_owner": row.lead_owner,
		"released_on": now,
		"claimed_on": None,
		"status": Case().when(lead.status == "Claimed", "In Pool").else_(lead.status),
		"modified": now,
		"modified_by": by,
	}


def _check_assignee(user: str) -> None:
	if not user or not frappe.db.get_value("User", {"name": user, "enabled": 1}):
		frappe.throw(
			_("User {0} does not exist or is disabled.").format(user or "-"), frappe.DoesNotExistError
		)
	if not frappe.has_permission(LEAD, "read", user=user):
		frappe.throw(_("{0} has no access to the pond (give them the Fishpond User role).").format(user))


def _not_found(name: str) -> str:
	return _("Lead {0} was not found or is not visible to you.").format(name)


def _changed_meanwhile(name: str) -> str:
	return _("{0} changed while you were working on it: reload and try again.").format(name)


def _log(action, row, by, now, reason, from_user=None, to_user=None, to_pool=None) -> dict:
	return {
		"action": action,
		"profile": row.name,
		"from_user": from_user,
		"to_user": to_user,
		"from_pool": row.fishpond,
		"to_pool": to_pool or row.fishpond,
		"reason": reason,
		"action_by": by,
		"action_on": now,
	}


def insert_logs(logs: list[dict]) -> None:
	if not logs:
		return
	now = now_datetime()
	user = frappe.session.user if getattr(frappe.local, "session", None) else "Administrator"
	rows = (
		(
			frappe.generate_hash(length=14),
			now,
			now,
			user,
			user,
			0,
			0,
			*(log.get(f) for f in LOG_FIELDS[7:]),
		)
		for log in logs
	)
	insert_rows(LOG, LOG_FIELDS, rows, chunk_size=5000)


# -- the guard: ownership, pool and status change only through the functions above ------------------
def guard_ownership_fields(doc, method=None) -> None:
	"""doc_events validate on Fishpond Lead: a user's save may not change what the pool actions own.

	Every channel a user writes through (the form, ``frappe.client.set_value``, ``PUT /api/resource``,
	the list view's bulk edit, Data Import) ends in ``Document.save``/``insert`` and so here; none of
	them can set ``flags.ignore_permissions``. The pond's own jobs write with the query builder or with
	``ignore_permissions`` and are not checked. Fishpond Managers and System Managers may correct any
	field by hand."""
	if doc.flags.ignore_permissions or frappe.flags.in_install:
		return
	if frappe.flags.in_migrate or frappe.flags.in_patch:
		return
	scope = pond_scope()
	if scope.everything:
		return
	if doc.is_new():
		if doc.lead_owner and doc.lead_owner.casefold() != scope.user.casefold():
			frappe.throw(
				_("A new profile cannot be given to another rep: save it, then assign it."), ClaimError
			)
		if doc.lead_owner or doc.locked:
			frappe.throw(_("Save the profile first, then claim it."), ClaimError)
		if (doc.status or "In Pool") != "In Pool":
			frappe.throw(
				_("A new profile starts In Pool; its status then follows the pool actions and ERPNext."),
				ClaimError,
			)
		preset = [
			_(doc.meta.get_label(f)) for f in GUARDED_FIELDS if f not in SETTABLE_ON_INSERT and doc.get(f)
		]
		if preset:
			frappe.throw(_("A new profile cannot start with: {0}.").format(", ".join(preset)), ClaimError)
		return
	before = doc.get_doc_before_save()
	if not before:
		return
	changed = []
	for fieldname in GUARDED_FIELDS:
		old, new = before.get(fieldname), doc.get(fieldname)
		if fieldname == "claimed_on" and not old and doc.lead_owner and not before.get("lead_owner"):
			continue  # the controller stamps a missing claim date
		if fieldname in POOL_MANAGER_FIELDS and scope.manages(before.fishpond):
			continue  # pool managers lock their leads and fix their ERPNext links
		if _normalise(doc, fieldname, old) != _normalise(doc, fieldname, new):
			changed.append(_(doc.meta.get_label(fieldname)))
	if changed:
		frappe.throw(
			_("Use Claim, Release, Mark Lost, Assign or Transfer to change: {0}.").format(", ".join(changed)),
			ClaimError,
		)


def _normalise(doc, fieldname, value):
	df = doc.meta.get_field(fieldname)
	if value in (None, ""):
		return None
	if df and df.fieldtype == "Datetime":
		return get_datetime(value).replace(microsecond=0)
	if df and df.fieldtype == "Check":
		return cint(value) or None
	return str(value).casefold()

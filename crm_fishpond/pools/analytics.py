"""Pool analytics read from the claim log: time to claim, recycle rate, revenue recaptured.

Each query returns only rows the user may see: the profile must pass the pond criterion
(crm_fishpond.permissions) and, because these are per-rep figures, the row must be the user's own or
belong to a pool they manage (Fishpond Managers see everything). Aggregation by rep and pool happens in
SQL where it is a plain count; medians are taken in Python over the (small) per-claim rows.

Raw SQL: self-joins of the log and correlated subqueries over ERPNext's Sales Invoice read more plainly
than their query-builder form; every value is a parameter and the permission condition comes from
PondScope.sql, which escapes its values.
"""

from __future__ import annotations

from statistics import median

import frappe
from frappe.utils import add_days, get_datetime, getdate, nowdate

from crm_fishpond.permissions import pond_scope

TAKEN = ("Claim", "Assign")
BACK_IN_POOL = ("Release", "Recycle", "Transfer")
FAR_FUTURE = "9999-12-31"


def _period(filters) -> dict:
	to_date = getdate(filters.get("to_date") or nowdate())
	from_date = getdate(filters.get("from_date") or add_days(to_date, -90))
	return {
		"from_date": get_datetime(from_date),
		"to_date": get_datetime(add_days(to_date, 1)),  # exclusive upper bound: the whole last day
		"to_day": to_date,
	}


def _visibility(rep_column: str, pool_column: str, lead_alias: str = "fl") -> str:
	scope = pond_scope()
	if scope.everything:
		return ""
	esc = frappe.db.escape
	own = f"{rep_column} = {esc(scope.user)}"
	managed = (
		f"{pool_column} in ({', '.join(esc(p) for p in sorted(scope.managed))})" if scope.managed else ""
	)
	rows = f"({own} or {managed})" if managed else own
	return f" and {scope.sql(lead_alias)} and {rows}"


def _optional(filters, params, pool_column, rep_column) -> str:
	sql = ""
	if filters.get("fishpond"):
		sql += f" and {pool_column} = %(fishpond)s"
		params["fishpond"] = filters.get("fishpond")
	if filters.get("user"):
		sql += f" and {rep_column} = %(user)s"
		params["user"] = filters.get("user")
	return sql


# -- time to claim ---------------------------------------------------------------------------------------
def claims_with_wait(filters) -> list[frappe._dict]:
	"""Every claim (or assignment) out of a pool in the period, with how long the lead waited there."""
	params = _period(filters)
	where = _optional(filters, params, "c.to_pool", "c.to_user") + _visibility("c.to_user", "c.to_pool")
	rows = frappe.db.sql(
		f"""
		select c.profile, fl.lead_name, c.action, c.to_user as rep, c.to_pool as pool,
			c.action_on as claimed_on, fl.creation as lead_created,
			(select max(r.action_on) from `tabFishpond Claim Log` r
				where r.profile = c.profile and r.action in %(back)s and r.to_user is null
					and r.action_on <= c.action_on) as back_in_pool
		from `tabFishpond Claim Log` c
		join `tabFishpond Lead` fl on fl.name = c.profile
		where c.action in %(taken)s and c.from_user is null
			and c.action_on >= %(from_date)s and c.action_on < %(to_date)s{where}
		order by c.action_on
		""",
		{**params, "taken": TAKEN, "back": BACK_IN_POOL},
		as_dict=True,
	)
	for row in rows:
		entered = row.back_in_pool or row.lead_created
		row.entered_pool = entered
		row.hours_to_claim = (
			max((get_datetime(row.claimed_on) - get_datetime(entered)).total_seconds(), 0) / 3600
		)
	return rows


def time_to_claim(filters) -> list[dict]:
	groups: dict[tuple, list[float]] = {}
	for row in claims_with_wait(filters):
		groups.setdefault((row.pool, row.rep), []).append(row.hours_to_claim)
	return [
		{
			"pool": pool,
			"rep": rep,
			"claims": len(hours),
			"avg_hours": sum(hours) / len(hours),
			"median_hours": median(hours),
			"max_hours": max(hours),
		}
		for (pool, rep), hours in sorted(groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or ""))
	]


# -- recycle rate --------------------------------------------------------------------------------------------
def recycle_rate(filters) -> list[dict]:
	"""Per rep and pool: leads taken, recycled away from them and released by them in the period."""
	params = _period(filters)
	where = _optional(filters, params, "l.pool", "l.rep") + _visibility("l.rep", "l.pool")
	rows = frappe.db.sql(
		f"""
		select l.pool, l.rep,
			sum(case when l.kind = 'taken' then 1 else 0 end) as taken,
			sum(case when l.kind = 'recycled' then 1 else 0 end) as recycled,
			sum(case when l.kind = 'released' then 1 else 0 end) as released
		from (
			select profile, to_pool as pool, to_user as rep, 'taken' as kind, action_on
			from `tabFishpond Claim Log` where action in %(taken)s
			union all
			select profile, from_pool as pool, from_user as rep, 'recycled' as kind, action_on
			from `tabFishpond Claim Log` where action = 'Recycle'
			union all
			select profile, from_pool as pool, from_user as rep, 'released' as kind, action_on
			from `tabFishpond Claim Log` where action = 'Release'
		) l
		join `tabFishpond Lead` fl on fl.name = l.profile
		where l.rep is not null and l.action_on >= %(from_date)s and l.action_on < %(to_date)s{where}
		group by l.pool, l.rep
		order by l.pool, l.rep
		""",
		{**params, "taken": TAKEN},
		as_dict=True,
	)
	for row in rows:
		row.recycle_rate = 100.0 * row.recycled / row.taken if row.taken else None
	return rows


# -- revenue recaptured -----------------------------------------------------------------------------------------
def recaptured(filters) -> list[frappe._dict]:
	"""Leads recycled and then claimed again, with the submitted Sales Invoices of their customer dated
	from the reclaim until the next recycle (net of credit notes, company currency)."""
	params = _period(filters)
	where = _optional(filters, params, "rc.to_pool", "rc.to_user") + _visibility("rc.to_user", "rc.to_pool")
	return frappe.db.sql(
		f"""
		select rec.profile, fl.lead_name, fl.customer, rec.action_on as recycled_on,
			rec.from_user as recycled_from, rc.action_on as reclaimed_on, rc.to_user as rep, rc.to_pool as pool,
			(select count(*) from `tabSales Invoice` si
				where si.customer = fl.customer and si.docstatus = 1 and si.is_return = 0
					and si.posting_date >= cast(rc.action_on as date) and si.posting_date < %(to_day_next)s
					and si.posting_date < coalesce(cast(nxt.action_on as date), %(far)s)) as invoices,
			(select coalesce(sum(si.base_net_total), 0) from `tabSales Invoice` si
				where si.customer = fl.customer and si.docstatus = 1
					and si.posting_date >= cast(rc.action_on as date) and si.posting_date < %(to_day_next)s
					and si.posting_date < coalesce(cast(nxt.action_on as date), %(far)s)) as revenue
		from `tabFishpond Claim Log` rec
		join `tabFishpond Claim Log` rc on rc.profile = rec.profile and rc.action in %(taken)s
			and rc.from_user is null and rc.action_on > rec.action_on
			and rc.action_on = (select min(x.action_on) from `tabFishpond Claim Log` x
				where x.profile = rec.profile and x.action in %(taken)s and x.from_user is null
					and x.action_on > rec.action_on)
		left join `tabFishpond Claim Log` nxt on nxt.profile = rec.profile and nxt.action = 'Recycle'
			and nxt.action_on = (select min(y.action_on) from `tabFishpond Claim Log` y
				where y.profile = rec.profile and y.action = 'Recycle' and y.action_on > rc.action_on)
		join `tabFishpond Lead` fl on fl.name = rec.profile
		where rec.action = 'Recycle' and rc.action_on >= %(from_date)s and rc.action_on < %(to_date)s{where}
		order by rc.action_on
		""",
		{**params, "taken": TAKEN, "far": FAR_FUTURE, "to_day_next": add_days(params["to_day"], 1)},
		as_dict=True,
	)

"""Fill a site with the demo pond, in resumable phases.

``masters`` → ``people`` (a batch of people per transaction, with the cursor in the ledger) →
``pools`` (route the profiles to regional pools, reps claim the warmest) → ``till`` (walk-in sales
at a POS till, one session consolidated by a POS closing) → ``backfill`` (as the install job does) →
``rescore`` (a full rescore, the duplicate pass, the reconciliation summary, the accountant's link
queue) → ``done``. A run that stops part-way carries on from its ledger the next time; a finished
demo is never made twice.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import frappe
from frappe import _
from frappe.query_builder.functions import Count
from frappe.utils import add_days, getdate, nowdate

from crm_fishpond import duplicate_pass
from crm_fishpond.accounting import queue
from crm_fishpond.demo import masters, records, state, till
from crm_fishpond.demo.masters import Context, DemoError
from crm_fishpond.demo.plan import Plan, build_plan
from crm_fishpond.pools import claim
from crm_fishpond.scoring import runner
from crm_fishpond.sync import backfill, reconcile_summary, runs

BATCH = 25  # people per transaction
PHASES = ("masters", "people", "pools", "till", "backfill", "rescore", "done")
CLAIM_SHARE = 0.12  # of a pool's unclaimed prospects, shared by its reps
CLAIM_CAP = 20  # prospects per rep and pool
ACCOUNT_SHARE = 0.15  # of a pool's customers, taken on by its reps as their accounts


def make_demo(customers: int = 300, years: int = 2, seed: int = 0, echo: Callable = print) -> dict:
	"""Make the demo (or finish one that stopped); returns :func:`summary`. Commits as it goes
	(except in tests)."""
	started = time.monotonic()
	company = masters.demo_company()
	ledger = state.load()
	asked = {"customers": customers, "years": years, "seed": seed}
	if ledger and ledger["phase"] == "done":
		if {k: ledger["params"][k] for k in asked} != asked:
			raise DemoError(
				_(
					"This site already has a demo of {0} customers over {1} years (seed {2}). Clear it first with bench --site {3} fishpond-demo --clear."
				).format(
					ledger["params"]["customers"],
					ledger["params"]["years"],
					ledger["params"]["seed"],
					frappe.local.site,
				)
			)
		echo(_("The demo is already on this site: nothing to add."))
		return summary(ledger, created=False)
	if ledger and ledger["phase"] not in PHASES:
		raise DemoError(
			_(
				"The last clear kept {0} records that other records still use. Run bench --site {1} fishpond-demo --clear again once they are free."
			).format(len(ledger.get("kept") or {}), frappe.local.site)
		)
	if ledger:
		if {k: ledger["params"][k] for k in asked} != asked:
			echo(
				_("Finishing the demo started with {0} customers over {1} years (seed {2}).").format(
					ledger["params"]["customers"], ledger["params"]["years"], ledger["params"]["seed"]
				)
			)
		else:
			echo(_("Finishing the demo started earlier."))
	else:
		currency = frappe.get_cached_value("Company", company, "default_currency")
		ledger = state.new(
			{**asked, "as_of": nowdate(), "foreign": masters.foreign_currency(currency)}, company
		)
		state.save(ledger)
		_commit()
	params = ledger["params"]
	plan = build_plan(
		params["customers"],
		params["years"],
		params["seed"],
		as_of=getdate(params["as_of"]),
		foreign_currency=params.get("foreign"),
	)
	echo(
		_("Planned {0} people ({1} customers), {2} invoices from {3} to {4}.").format(
			len(plan.people), len(plan.customers), plan.counts()["invoices"], plan.start, plan.as_of
		)
	)
	flags = {"mute_emails": frappe.flags.mute_emails}
	frappe.flags.mute_emails = True
	try:
		ctx = _timed(ledger, "masters", lambda: masters.prepare(plan, ledger, echo))
		_advance(ledger, "masters")
		if ledger["phase"] == "people":
			_timed(ledger, "people", lambda: make_people(plan, ctx, ledger, echo))
			_advance(ledger, "people")
		if ledger["phase"] == "pools":
			_timed(ledger, "pools", lambda: route_and_claim(ctx, ledger, echo))
			_advance(ledger, "pools")
		if ledger["phase"] == "till":
			_timed(ledger, "till", lambda: till.open_till(ledger, ctx, echo))
			_advance(ledger, "till")
		if ledger["phase"] == "backfill":
			_timed(ledger, "backfill", lambda: run_backfill(ledger, echo))
			_advance(ledger, "backfill")
		if ledger["phase"] == "rescore":
			_timed(ledger, "rescore", lambda: run_rescore(ledger, echo))
			_advance(ledger, "rescore")
	finally:
		frappe.flags.mute_emails = flags["mute_emails"]
	ledger["seconds"]["total"] = round(ledger["seconds"].get("total", 0) + time.monotonic() - started, 1)
	state.save(ledger)
	_commit()
	return summary(ledger, created=True)


def _timed(ledger: dict, phase: str, work: Callable):
	started = time.monotonic()
	result = work()
	ledger["seconds"][phase] = round(ledger["seconds"].get(phase, 0) + time.monotonic() - started, 1)
	return result


def _advance(ledger: dict, phase: str) -> None:
	if ledger["phase"] == phase:
		ledger["phase"] = PHASES[PHASES.index(phase) + 1]
		state.save(ledger)
		_commit()


# --- people --------------------------------------------------------------------------------------


def make_people(plan: Plan, ctx: Context, ledger: dict, echo: Callable) -> None:
	total = len(plan.people)
	next_report = 0
	for start in range(ledger["cursor"], total, BATCH):
		batch = plan.people[start : start + BATCH]
		made: Counter = Counter()
		profiles = []
		for person in batch:
			profile, counts = records.create_person(person, ctx)
			made.update(counts)
			profiles.append((profile, person))
		made["Fishpond Behaviour Event"] += records.send_events(
			profiles, f"{ledger['params']['seed']}:{start}"
		)
		ledger["cursor"] = start + len(batch)
		state.add_counts(ledger, dict(made))
		state.save(ledger)
		_commit()
		if ledger["cursor"] >= next_report or ledger["cursor"] == total:
			echo(_("{0} of {1} people").format(ledger["cursor"], total))
			next_report = ledger["cursor"] + max(BATCH, total // 10)


# --- pools ---------------------------------------------------------------------------------------


def route_and_claim(ctx: Context, ledger: dict, echo: Callable) -> None:
	"""Move every demo profile into its region's pool, then let each pool's reps claim the warmest
	prospects and take on some customers as their accounts (through the pool actions, logged)."""
	demo_pools = set(ctx.pools.values())
	rows = frappe.get_all(
		"Fishpond Lead",
		filters={"name": ("in", state.profiles() or [""])},
		fields=["name", "territory", "fishpond", "status", "lead_owner"],
		order_by="name",
	)
	moves: dict[str, list[str]] = {}
	for row in rows:
		target = ctx.pools.get(row.territory)
		if target and row.fishpond != target and row.fishpond not in demo_pools:
			moves.setdefault(target, []).append(row.name)
	moved = 0
	for pool, names in moves.items():
		for start in range(0, len(names), claim.MAX_BULK):
			outcome = claim.transfer(
				names[start : start + claim.MAX_BULK], pool, reason=_("Routed by region")
			)
			moved += len(outcome.done)
		_commit()
	warmth = _warmth()
	claimed = lost = 0
	for pool in sorted(demo_pools):
		members = [rep for rep, pools in _members(ctx).items() if pool in pools]
		free = frappe.get_all(
			"Fishpond Lead",
			filters={
				"fishpond": pool,
				"lead_owner": ("is", "not set"),
				"name": ("in", state.profiles() or [""]),
			},
			fields=["name", "status"],
		)
		prospects = sorted(
			(r.name for r in free if r.status == "In Pool"), key=lambda n: (-warmth.get(n, 0), n)
		)
		accounts = sorted(
			(r.name for r in free if r.status == "Converted"), key=lambda n: (-warmth.get(n, 0), n)
		)
		if not members:
			continue
		per_rep = min(CLAIM_CAP, max(1, round(len(prospects) * CLAIM_SHARE / len(members))))
		per_rep_accounts = max(0, round(len(accounts) * ACCOUNT_SHARE / len(members)))
		for i, rep in enumerate(members):
			mine = prospects[i :: len(members)][:per_rep] + accounts[i :: len(members)][:per_rep_accounts]
			if not mine:
				continue
			outcome = claim.claim(mine, reason=_("Warm lead"), user=rep)
			claimed += len(outcome.done)
			coldest = [n for n in reversed(prospects[i :: len(members)][:per_rep]) if n in outcome.done]
			if len(coldest) >= 4:  # the rep already gave up on one of them
				lost += len(claim.mark_lost(coldest[:1], _("No budget this year"), by=rep).done)
			_commit()
	state.add_counts(ledger, {"moved": moved, "claimed": claimed, "lost": lost})
	echo(_("{0} profiles routed to the regional pools, {1} claimed by reps").format(moved, claimed))


def _members(ctx: Context) -> dict[str, set[str]]:
	"""Rep -> the pools they belong to."""
	out: dict[str, set[str]] = {}
	for pool, (_territories, members) in masters.POOLS.items():
		for index, _manager in members:
			out.setdefault(ctx.reps[index], set()).add(pool)
	return out


def _warmth() -> dict[str, int]:
	"""Interactions and behaviour events of the last 45 days, per profile."""
	since = add_days(nowdate(), -45)
	counts: Counter = Counter()
	for doctype, field in (
		("Fishpond Interaction", "interaction_time"),
		("Fishpond Behaviour Event", "event_time"),
	):
		table = frappe.qb.DocType(doctype)
		rows = (
			frappe.qb.from_(table)
			.select(table.fishpond_lead, Count("*"))
			.where(table[field] >= since)
			.groupby(table.fishpond_lead)
			.run()
		)
		counts.update(dict(rows))
	return counts


# --- backfill, rescore ---------------------------------------------------------------------------


def run_backfill(ledger: dict, echo: Callable) -> None:
	"""The transaction-history backfill, as the install job runs it (the document events synced each
	voucher already: it finds what they could not, and refreshes every profile's figures)."""
	run = runs.active_run(backfill.RUN_TYPE)
	if not run:
		run = runs.create_run(backfill.RUN_TYPE)
		state.created(ledger, "Fishpond Run", run)
		_commit()
	result = backfill.run_backfill(run, here=True)
	echo(
		_("Backfill: {0} vouchers read, {1} written, {2} updated").format(
			result.get("processed") or 0, result.get("inserted") or 0, result.get("updated") or 0
		)
	)


def _new_run(ledger: dict, run_type: str) -> str:
	run = runs.create_run(run_type)
	state.created(ledger, "Fishpond Run", run)
	return run


def run_rescore(ledger: dict, echo: Callable) -> None:
	run = runs.active_run(runner.RUN_TYPE) or _new_run(ledger, runner.RUN_TYPE)
	# the duplicate pass the rescore's finish starts: made here, so that the demo knows it as its own
	pairs_run = runs.active_run(duplicate_pass.RUN_TYPE) or _new_run(ledger, duplicate_pass.RUN_TYPE)
	_commit()
	result = runner.run_rescore(run, here=True)
	if result.get("status") == "Completed":
		echo(_("Rescore: {0} profiles scored").format(result.get("total", 0)))
	else:
		echo(_("Rescore: {0} (a worker is running it)").format(_(result.get("status") or "")))
	pairs = duplicate_pass.run_duplicate_pass(run=pairs_run)
	echo(_("Duplicates: {0} candidate pairs ({1} new)").format(pairs["found"], pairs["inserted"]))
	queued = queue.refresh()  # as the nightly job does: the till's walk-in sales, the likely duplicates
	echo(_("Link queue: {0} invoices queued for the accountants").format(queued.get("queued", 0)))
	checked = reconcile_summary.refresh()
	echo(_("Reconciliation: {0} differences").format(checked.get("differences", 0)))
	_commit()


# --- what is there -------------------------------------------------------------------------------


def summary(ledger: dict, created: bool) -> dict:
	"""What the demo has on the site now, counted from ERPNext and the pond (not from the plan)."""
	company = ledger["company"]
	currency = frappe.get_cached_value("Company", company, "default_currency")
	invoices = frappe.get_all(
		"Sales Invoice",
		filters={"name": ("like", state.series_prefix("Sales Invoice") + "%"), "docstatus": 1},
		fields=["status", "currency", "count(*) as n"],
		group_by="status, currency",
	)
	by_status = Counter()
	foreign = 0
	for row in invoices:
		by_status[row.status] += row.n
		foreign += row.n if row.currency != currency else 0
	profiles = state.profiles()
	orders = state.names("Sales Order", docstatus=1)
	open_orders = frappe.db.count(
		"Sales Order", {"name": ("in", orders or [""]), "status": ("in", runner.loader.OPEN_ORDER_STATUSES)}
	)
	in_demo = {"fishpond_lead": ("in", profiles or [""])}
	out = {
		"created": created,
		"site": frappe.local.site,
		"company": company,
		"params": ledger["params"],
		"seconds": ledger["seconds"],
		"counts": {
			"Lead": len(state.leads()),
			"Customer": len(state.customers()),
			"Contact": frappe.db.count(
				"Dynamic Link",
				{
					"parenttype": "Contact",
					"link_doctype": "Lead",
					"link_name": ("like", state.series_prefix("Lead") + "%"),
				},
			),
			"Item": frappe.db.count("Item", {"name": ("like", state.PREFIX + "%")}),
			"Sales Order": len(orders),
			"open Sales Order": open_orders,
			"Sales Invoice": sum(by_status.values()),
			"foreign-currency Sales Invoice": foreign,
			"credit note": len(state.names("Sales Invoice", "Credit Note", docstatus=1)),
			"Payment Entry": len(state.names("Payment Entry", docstatus=1)),
			"POS Invoice": len(till.pos_invoices()),
			"queued POS Invoice": frappe.db.count(
				"Fishpond Invoice Link",
				{"voucher_type": "POS Invoice", "voucher_no": ("in", till.pos_invoices() or [""])},
			),
			"Fishpond Lead": len(profiles),
			"Fishpond Interaction": frappe.db.count("Fishpond Interaction", in_demo),
			"Fishpond Behaviour Event": frappe.db.count("Fishpond Behaviour Event", in_demo),
			"Fishpond Feedback": frappe.db.count("Fishpond Feedback", in_demo),
			"Fishpond Transaction": frappe.db.count("Fishpond Transaction", in_demo),
			"Fishpond": len(ledger["created"].get("Fishpond", [])) or len(masters.POOLS),
			"rep": len(masters.REPS),
			"claimed": frappe.db.count(
				"Fishpond Lead", {"name": ("in", profiles or [""]), "lead_owner": ("is", "set")}
			),
			"scored": frappe.db.count(
				"Fishpond Lead", {"name": ("in", profiles or [""]), "scored_on": ("is", "set")}
			),
		},
		"invoice_status": dict(by_status),
	}
	return out


def _commit() -> None:
	if not frappe.flags.in_test:
		frappe.db.commit()  # nosemgrep: a batch of the demo is one unit of work

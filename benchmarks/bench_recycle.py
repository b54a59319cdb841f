"""Benchmark: the scheduler's recycler on 100,000 eligible leads (plus leads it must leave alone).

Bulk-generates profiles claimed 60 days ago in a dedicated pool whose rule is "no follow-up for 30
days", gives a share of them a recent follow-up (so they must stay), runs the dry run and the real
recycle pass (chunked, committing per chunk, as the scheduler does), verifies the outcome and removes
everything it made.

    cd /opt/frappe-bench/sites && ../env/bin/python /work/main/benchmarks/bench_recycle.py \
        --site pools.localhost [--eligible 100000] [--followed 20000]

Prints figures; asserts nothing about time (the target is < 60 s for 100,000 leads).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _site import connect, peak_rss_mib

PREFIX = "BRCY-"
POOL = "_Bench Recycle Pool"
REPS = 50


def options(parser):
	parser.add_argument("--eligible", type=int, default=100_000)
	parser.add_argument("--followed", type=int, default=20_000, help="leads with a recent follow-up")
	parser.add_argument("--keep", action="store_true", help="leave the generated rows in place")


def cleanup(frappe) -> None:
	frappe.db.sql("delete from `tabFishpond Claim Log` where profile like %s", f"{PREFIX}%")
	frappe.db.sql(
		"delete from `tabToDo` where reference_type = 'Fishpond Lead' and reference_name like %s",
		f"{PREFIX}%",
	)
	frappe.db.sql("delete from `tabFishpond Interaction` where fishpond_lead like %s", f"{PREFIX}%")
	frappe.db.sql("delete from `tabFishpond Lead` where name like %s", f"{PREFIX}%")
	if frappe.db.exists("Fishpond", POOL):
		frappe.delete_doc("Fishpond", POOL, force=True, ignore_permissions=True)
	frappe.db.commit()


def generate(frappe, eligible: int, followed: int) -> None:
	from frappe.utils import add_days, now_datetime

	now = now_datetime()
	claimed_on = add_days(now, -60)
	frappe.get_doc(
		{
			"doctype": "Fishpond",
			"pool_name": POOL,
			"recycle_enabled": 1,
			"recycle_no_followup_days": 30,
			"recycle_warn_days": 3,
		}
	).insert(ignore_permissions=True)
	reps = [f"bench-recycle-rep-{i:02d}@example.com" for i in range(REPS)]
	fields = (
		"name",
		"creation",
		"modified",
		"modified_by",
		"owner",
		"docstatus",
		"idx",
		"naming_series",
		"lead_name",
		"status",
		"fishpond",
		"lead_owner",
		"claimed_on",
		"locked",
	)
	total = eligible + followed
	frappe.db.bulk_insert(
		"Fishpond Lead",
		fields,
		(
			(
				f"{PREFIX}{i:07d}",
				claimed_on,
				claimed_on,
				"Administrator",
				"Administrator",
				0,
				0,
				"FPL-.YYYY.-",
				f"Bench Lead {i}",
				"Claimed",
				POOL,
				reps[i % REPS],
				claimed_on,
				0,
			)
			for i in range(total)
		),
		chunk_size=10_000,
	)
	# the last `followed` leads had a follow-up call 5 days ago: not due
	frappe.db.bulk_insert(
		"Fishpond Interaction",
		(
			"name",
			"creation",
			"modified",
			"modified_by",
			"owner",
			"docstatus",
			"idx",
			"fishpond_lead",
			"interaction_type",
			"direction",
			"interaction_time",
			"subject",
		),
		(
			(
				f"{PREFIX}I{i:07d}",
				now,
				now,
				"Administrator",
				"Administrator",
				0,
				0,
				f"{PREFIX}{i:07d}",
				"Call",
				"Outbound",
				add_days(now, -5),
				"follow-up",
			)
			for i in range(eligible, total)
		),
		chunk_size=10_000,
	)
	frappe.db.commit()


def main() -> None:
	args = connect("Recycler benchmark", options)
	import frappe

	from crm_fishpond.pools import recycle

	cleanup(frappe)
	started = time.perf_counter()
	generate(frappe, args.eligible, args.followed)
	print(f"generated {args.eligible + args.followed:,} profiles in {time.perf_counter() - started:.1f} s")

	rules = recycle.RecycleRules.for_pool(POOL)
	started = time.perf_counter()
	preview = recycle.preview(frappe.get_doc("Fishpond", POOL).as_dict())
	preview_s = time.perf_counter() - started
	print(f"dry run: {preview['count']:,} would be recycled, computed in {preview_s:.2f} s")

	started = time.perf_counter()
	results = recycle.recycle_pools(commit=True)  # what the hourly scheduler job runs
	elapsed = time.perf_counter() - started
	recycled = next(r["recycled"] for r in results if r["pool"] == POOL)
	print(
		f"recycle: {recycled:,} leads recycled in {elapsed:.2f} s "
		f"({recycled / elapsed:,.0f} rows/s; target < 60 s for 100,000; {len(results)} pool(s) in the pass)"
	)

	owned_left = frappe.db.count("Fishpond Lead", {"fishpond": POOL, "lead_owner": ("is", "set")})
	logs = frappe.db.sql(
		"select count(*) from `tabFishpond Claim Log` where profile like %s and action = 'Recycle'",
		f"{PREFIX}%",
	)[0][0]
	print(f"check: {owned_left:,} still owned (expected {args.followed:,}), {logs:,} recycle log rows")
	assert recycled == args.eligible and owned_left == args.followed and logs == args.eligible

	started = time.perf_counter()
	again = recycle.recycle_pool(rules, commit=True)
	print(f"second pass: {again['recycled']} recycled in {time.perf_counter() - started:.2f} s (idempotent)")
	print(f"peak RSS {peak_rss_mib():.0f} MiB")

	if not args.keep:
		started = time.perf_counter()
		cleanup(frappe)
		print(f"cleaned up in {time.perf_counter() - started:.1f} s")
	frappe.destroy()


if __name__ == "__main__":
	main()

"""Benchmark: enrolling 100,000 profiles in a follow-up plan, then issuing a day's 10,000 due steps
set-based, against the one-enrolment-at-a-time path in the same run.

Bulk-generates profiles, makes a plan with one Task step for a fixed user, enrols every profile by
hand (one bulk insert), makes ``--due`` of them due now and runs the scheduler's pass
(``crm_fishpond.nurture.steps.process_due``: stops, outcomes, then the due steps a chunk of 500 at a
time: ToDo, assignment Comment and step rows in bulk, ``_assign`` refreshed, committing per chunk),
checks the outcome and runs the pass again (nothing is issued twice). Then it makes ``--baseline``
more due and issues them one enrolment at a time (ToDo documents, ``process_due(set_based=False)``)
and prints the ratio of the two rates. It removes everything it made.

    cd /opt/frappe-bench/sites && ../env/bin/python /work/main/benchmarks/bench_nurture.py \
        --site nurture.localhost [--profiles 100000] [--due 10000] [--baseline 2000]

Prints time and rows/s; asserts the counts, nothing about time.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _site import connect, peak_rss_mib

PREFIX = "BNUR-"
PLAN = "_Bench Nurture Plan"
USER = "bench-nurture@example.com"


def options(parser):
	parser.add_argument("--profiles", type=int, default=100_000)
	parser.add_argument("--due", type=int, default=10_000, help="enrolments whose step is due now")
	parser.add_argument(
		"--baseline", type=int, default=2_000, help="more due steps issued one at a time, for the ratio"
	)
	parser.add_argument("--keep", action="store_true", help="leave the generated rows in place")


def cleanup(frappe) -> None:
	enrolments = "select name from `tabFishpond Plan Enrolment` where plan = %s"
	frappe.db.sql(
		"delete from `tabToDo` where reference_type = 'Fishpond Lead' and reference_name like %s",
		f"{PREFIX}%",
	)
	frappe.db.sql(
		"delete from `tabComment` where reference_doctype = 'Fishpond Lead' and reference_name like %s",
		f"{PREFIX}%",
	)
	frappe.db.sql("delete from `tabNotification Log` where for_user = %s", USER)
	frappe.db.sql(f"delete from `tabFishpond Enrolment Step` where parent in ({enrolments})", PLAN)
	frappe.db.sql("delete from `tabFishpond Plan Enrolment` where plan = %s", PLAN)
	frappe.db.sql("delete from `tabFishpond Lead` where name like %s", f"{PREFIX}%")
	if frappe.db.exists("Fishpond Follow-up Plan", PLAN):
		frappe.delete_doc("Fishpond Follow-up Plan", PLAN, force=True, ignore_permissions=True)
	frappe.db.commit()


def generate(frappe, profiles: int) -> None:
	from frappe.utils import now_datetime

	now = now_datetime()
	if not frappe.db.exists("User", USER):
		frappe.get_doc(
			{"doctype": "User", "email": USER, "first_name": "Bench Nurture", "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	frappe.get_doc(
		{
			"doctype": "Fishpond Follow-up Plan",
			"plan_name": PLAN,
			"steps": [{"after_days": 1, "action": "Task", "assign_to": "User", "assign_user": USER}],
		}
	).insert(ignore_permissions=True)
	fields = (
		"name",
		"creation",
		"modified",
		"modified_by",
		"owner",
		"docstatus",
		"idx",
		"lead_name",
		"status",
	)
	frappe.db.bulk_insert(
		"Fishpond Lead",
		fields,
		(
			(
				f"{PREFIX}{i:07d}",
				now,
				now,
				"Administrator",
				"Administrator",
				0,
				0,
				f"Bench Lead {i}",
				"In Pool",
			)
			for i in range(profiles)
		),
		chunk_size=10_000,
	)
	frappe.db.commit()


def main() -> None:
	args = connect("Follow-up plan benchmark", options)
	import frappe
	from frappe.utils import add_days, now_datetime

	from crm_fishpond.nurture import enrol, steps

	cleanup(frappe)
	started = time.perf_counter()
	generate(frappe, args.profiles)
	print(f"generated {args.profiles:,} profiles in {time.perf_counter() - started:.1f} s")

	names = [f"{PREFIX}{i:07d}" for i in range(args.profiles)]
	started = time.perf_counter()
	enrolled = enrol.enrol(PLAN, names, enrol.BY_HAND)
	frappe.db.commit()
	elapsed = time.perf_counter() - started
	print(f"enrol: {len(enrolled):,} enrolments in {elapsed:.2f} s ({len(enrolled) / elapsed:,.0f} rows/s)")
	assert len(enrolled) == args.profiles

	started = time.perf_counter()
	again = enrol.enrol(PLAN, names, enrol.BY_HAND)
	print(f"enrol again: {len(again)} enrolled in {time.perf_counter() - started:.2f} s (none twice)")

	# the first step falls due tomorrow; make --due of them due now
	now = now_datetime()
	e = frappe.qb.DocType("Fishpond Plan Enrolment")
	order = frappe.qb.from_(e).select(e.name).where(e.plan == PLAN).orderby(e.name)
	due = order.limit(args.due).run(pluck=True)
	frappe.qb.update(e).set(e.next_due, add_days(now, -1)).where(e.name.isin(due)).run()
	frappe.db.commit()

	started = time.perf_counter()
	steps.apply_stops(now)
	steps.apply_outcomes(now)
	checks = time.perf_counter() - started
	print(f"stop and outcome checks alone (part of every pass): {checks:.2f} s")

	started = time.perf_counter()
	out = steps.process_due(now)
	frappe.db.commit()
	elapsed = time.perf_counter() - started
	fast = out["issued"] / elapsed
	print(
		f"process_due, set-based: {out['issued']:,} steps issued (ToDos) in {elapsed:.2f} s "
		f"({fast:,.0f} steps/s), {out['stopped']} stopped, {out['notified']} notified"
	)
	todos = frappe.db.count(
		"ToDo", {"reference_type": "Fishpond Lead", "reference_name": ("like", f"{PREFIX}%")}
	)
	comments = frappe.db.count(
		"Comment",
		{
			"reference_doctype": "Fishpond Lead",
			"reference_name": ("like", f"{PREFIX}%"),
			"comment_type": "Assigned",
		},
	)
	assigned = frappe.db.count(
		"Fishpond Lead", {"name": ("like", f"{PREFIX}%"), "_assign": ("like", f"%{USER}%")}
	)
	print(
		f"check: {todos:,} ToDos, {comments:,} assignment comments, {assigned:,} profiles assigned (expected {args.due:,})"
	)
	assert out["issued"] == args.due == todos == comments == assigned

	started = time.perf_counter()
	again = steps.process_due(now)
	print(f"second pass: {again['issued']} issued in {time.perf_counter() - started:.2f} s (nothing twice)")
	assert again["issued"] == 0

	if args.baseline:
		later = now_datetime()
		more = order.where(e.step_state == "Waiting").limit(args.baseline).run(pluck=True)
		frappe.qb.update(e).set(e.next_due, add_days(now, -1)).where(e.name.isin(more)).run()
		frappe.db.commit()
		started = time.perf_counter()
		slow_out = steps.process_due(later, set_based=False)
		frappe.db.commit()
		elapsed = time.perf_counter() - started
		slow = slow_out["issued"] / elapsed
		print(
			f"process_due, one at a time (baseline): {slow_out['issued']:,} steps issued (ToDo documents) "
			f"in {elapsed:.2f} s ({slow:,.0f} steps/s)"
		)
		assert slow_out["issued"] == len(more)
		print(f"set-based / one at a time: {fast / slow:.1f}x the steps per second")
	print(f"peak RSS {peak_rss_mib():.0f} MiB")

	if not args.keep:
		started = time.perf_counter()
		cleanup(frappe)
		print(f"cleaned up in {time.perf_counter() - started:.1f} s")
	frappe.destroy()


if __name__ == "__main__":
	main()

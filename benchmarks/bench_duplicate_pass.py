"""The duplicate pass at scale, in this process: plan, the signals' chunks, the finish; then again.

Needs a generated pond (the synthetic generator plants duplicates: shared e-mails, reformatted
phones, company-name variants):

	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py generate --site S --profiles 100000
	/opt/frappe-bench/env/bin/python benchmarks/bench_duplicate_pass.py run --site S
	/opt/frappe-bench/env/bin/python benchmarks/bench_duplicate_pass.py cleanup --site S
	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py cleanup --site S

``run`` forgets the stored Open candidates first (so the first pass inserts every pair), then runs
crm_fishpond.duplicate_pass as a worker would, its chunks one after another in this process, twice.
It prints the rows each chunk read and its seconds (the chunks are what workers run in parallel), the
finish (combine and store), the pairs found, inserted, updated and removed, and the peak RSS. The
second pass should write nothing. Budget: within the full rescore's budget (100,000 profiles under 3
minutes for the whole rescore).
"""

from __future__ import annotations

import json
import time

from _site import connect, peak_rss_mib


def _args(parser):
	parser.add_argument("phase", choices=("run", "cleanup"))


def one_pass() -> dict:
	import frappe

	from crm_fishpond.duplicate_pass import run_duplicate_pass
	from crm_fishpond.sync import fanout

	t = time.perf_counter()
	out = run_duplicate_pass(here=True)
	frappe.db.commit()  # nosemgrep: a benchmark outside any request
	out["wall_s"] = round(time.perf_counter() - t, 2)
	timings = json.loads(frappe.db.get_value("Fishpond Run", out["run"], "timings") or "{}")
	out["plan_s"], out["finish_s"] = timings.get("plan"), timings.get("finish")
	out["chunks"] = [
		f"{c.stage} {c.from_name or ''}..{c.to_name or ''}: {c.records:,} rows {c.seconds:.2f} s"
		for c in fanout.chunk_rows(out["run"], ["stage", "from_name", "to_name", "records", "seconds"])
	]
	out["peak_rss_mib"] = round(peak_rss_mib(), 1)
	return out


def run() -> None:
	import frappe

	frappe.db.delete("Fishpond Duplicate Candidate", {"status": "Open"})
	frappe.db.commit()  # nosemgrep: a benchmark outside any request
	print("first pass ", json.dumps(one_pass(), indent=1))
	print("second pass", json.dumps(one_pass(), indent=1))


def cleanup() -> None:
	import frappe

	cand = frappe.qb.DocType("Fishpond Duplicate Candidate")
	(
		frappe.qb.from_(cand).delete().where(cand.profile_a.like("BENCH-%") | cand.profile_b.like("BENCH-%"))
	).run()
	frappe.db.commit()  # nosemgrep: a benchmark outside any request


if __name__ == "__main__":
	args = connect("The nightly duplicate pass at scale", _args)
	if args.phase == "run":
		run()
	else:
		cleanup()

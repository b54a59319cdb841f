"""The nightly duplicate pass at scale: read the pond, match, store; then the same pass again.

Needs a generated pond (the synthetic generator plants duplicates: shared e-mails, reformatted
phones, company-name variants):

	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py generate --site S --profiles 100000
	/opt/frappe-bench/env/bin/python benchmarks/bench_duplicate_pass.py run --site S
	/opt/frappe-bench/env/bin/python benchmarks/bench_duplicate_pass.py cleanup --site S
	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py cleanup --site S

``run`` forgets the stored Open candidates first (so the first pass inserts every pair), then runs
crm_fishpond.duplicates exactly as the job does, phase by phase, twice. It prints the profiles read,
the seconds per phase (load, match, store), the pairs found, inserted, updated and removed, and the
peak RSS. The second pass should write nothing. Budget: within the full rescore's budget (100,000
profiles under 3 minutes for the whole rescore).
"""

from __future__ import annotations

import json
import time

from _site import connect, peak_rss_mib


def _args(parser):
	parser.add_argument("phase", choices=("run", "cleanup"))


def one_pass() -> dict:
	import frappe

	from crm_fishpond import duplicates
	from crm_fishpond.engine.dedupe import duplicate_candidates
	from crm_fishpond.scoring.config import engine_setup

	out = {}
	t = time.perf_counter()
	profiles = duplicates.load_identities()
	out["profiles"] = len(profiles)
	out["load_s"] = round(time.perf_counter() - t, 2)
	t = time.perf_counter()
	pairs = duplicate_candidates(profiles, engine_setup().config.dedupe)
	out["match_s"] = round(time.perf_counter() - t, 2)
	t = time.perf_counter()
	names = dict(zip(profiles["profile"], profiles["person_name"], strict=True))
	out.update(duplicates.store(pairs, names))
	frappe.db.commit()  # nosemgrep: a benchmark outside any request
	out["store_s"] = round(time.perf_counter() - t, 2)
	out["total_s"] = round(out["load_s"] + out["match_s"] + out["store_s"], 2)
	out["peak_rss_mib"] = round(peak_rss_mib(), 1)
	return out


def run() -> None:
	import frappe

	frappe.db.delete("Fishpond Duplicate Candidate", {"status": "Open"})
	frappe.db.commit()  # nosemgrep: a benchmark outside any request
	print("first pass ", json.dumps(one_pass()))
	print("second pass", json.dumps(one_pass()))


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

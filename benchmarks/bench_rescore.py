"""Full rescore at scale and the delay of an incremental rescore after a Sales Order submit.

Phases (run them in order; each is a separate process so every figure is the phase's own):

	generate   write a synthetic pond (crm_fishpond.engine.synth.generate_pond, built once in memory)
	           straight into the pond tables (never through ERPNext documents): --profiles profiles
	           (named BENCH-FPL-...), --transactions Sales Invoice rows, 3 interactions and 4 behaviour
	           events per profile. Every row's name starts with BENCH-. Each table is written 1,000,000
	           rows at a time: the rows go to a temporary TSV file (NULL as \\N; backslash, tab, newline
	           escaped) that one LOAD DATA LOCAL INFILE loads over a pymysql connection of its own,
	           opened with the site's db credentials; if the server has local_infile OFF (the script
	           does not change it), through frappe.db.bulk_insert instead, several times slower, with a
	           printed note. Prints the rows/s of each table.
	rescore    for each count of --workers (default 1,2): start that many real `bench worker --queue
	           long` processes, (with --reset, forget the profiles' scores first, so every profile is
	           written) and run one full rescore, which plans once and fans its chunks out over the
	           workers; then a second run on unchanged data. Prints each run's wall time, the
	           1-worker / N-worker ratio, the writes (the second run's should be none) and the peak
	           RSS of each worker.
	latency    needs a real worker (`bench worker --queue default,long`): submits a Sales Order for a
	           fresh customer, commits, and polls the profile until its rescore is visible (scored_on
	           set after the submit); prints the delay. Target < 5 s.
	cleanup    deletes every BENCH- row (profiles, their history, tags, comments, transactions,
	           interactions, events) and the runs and model fits the benchmark made.

	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py generate --site jobs.localhost
	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py rescore --reset --workers 1,2 --site jobs.localhost
	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py latency --site jobs.localhost
	/opt/frappe-bench/env/bin/python benchmarks/bench_rescore.py cleanup --site jobs.localhost

Target: full rescore of 100,000 profiles / 1,000,000 transactions under 3 minutes.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pandas as pd
from _load import SLICE, infile_connection, load_rows
from _site import Workers, connect, drain_long_queue, peak_rss_mib

PREFIX = "BENCH-"
BENCH_TAGS = {
	"BENCH-VIP": {
		"all": [
			{"field": "total_amount", "op": ">=", "value": 20000},
			{"field": "orders", "op": ">=", "value": 5},
		]
	},
	"BENCH-Hot lead": {
		"all": [{"field": "orders", "op": "=", "value": 0}, {"field": "lead_score", "op": ">=", "value": 30}]
	},
}


def _args(parser):
	parser.add_argument("phase", choices=("generate", "rescore", "latency", "cleanup"))
	parser.add_argument("--profiles", type=int, default=100_000)
	parser.add_argument("--transactions", type=int, default=1_000_000)
	parser.add_argument("--seed", type=int, default=7)
	parser.add_argument(
		"--reset", action="store_true", help="rescore: forget the BENCH- profiles' scores first (a first run)"
	)
	parser.add_argument("--workers", default="1,2", help="rescore: worker counts to compare, e.g. 1,2")
	parser.add_argument("--chunk-size", type=int, default=None, help="rescore: profiles per chunk")


def generate(args) -> None:
	import frappe

	from crm_fishpond.engine.synth import generate_pond

	if frappe.db.exists("Fishpond Lead", {"name": ("like", PREFIX + "%")}):
		sys.exit("BENCH- rows exist already: run the cleanup phase first")
	started = time.perf_counter()
	as_of = pd.Timestamp(frappe.utils.nowdate())
	pond = generate_pond(
		args.profiles,
		args.transactions,
		seed=args.seed,
		as_of=as_of,
		n_interactions=3 * args.profiles,
		n_events=4 * args.profiles,
	)
	print(f"synthetic pond generated in {time.perf_counter() - started:.1f} s")
	rng = np.random.default_rng(args.seed)
	now = frappe.utils.now_datetime()
	pool = frappe.db.get_single_value("Fishpond Settings", "default_pool")
	base = ["name", "creation", "modified", "owner", "modified_by", "docstatus", "idx"]
	connection = infile_connection()

	def meta(name):
		return (name, now, now, "Administrator", "Administrator", 0, 0)

	def pick(options, n):
		return np.asarray(options, dtype=object)[rng.integers(0, len(options), n)]

	def write(doctype: str, frame: pd.DataFrame, names) -> float:
		"""Write one slice: ``frame`` (its columns are the doctype's fields) under the given BENCH- names.
		Returns the seconds of its LOAD DATA statement (0 through bulk_insert)."""
		if connection is None:
			frame = frame.astype(object).where(frame.notna(), None)
			rows = (
				(*meta(name), *values)
				for name, values in zip(names, frame.itertuples(index=False, name=None), strict=True)
			)
			frappe.db.bulk_insert(doctype, [*base, *frame.columns], rows)
			frappe.db.commit()
			return 0.0
		standard = pd.DataFrame(dict(zip(base, meta(None), strict=True)), index=frame.index)
		standard["name"] = list(names)
		return load_rows(connection, doctype, pd.concat([standard, frame], axis=1))

	def insert(doctype: str, n: int, rows) -> None:
		"""Write ``n`` rows SLICE at a time; ``rows(s)`` gives the field frame and the names of slice s."""
		t = time.perf_counter()
		loading = sum(
			write(doctype, *rows(slice(start, min(start + SLICE, n)))) for start in range(0, n, SLICE)
		)
		seconds = time.perf_counter() - t
		if connection is None:
			how = "inserted (bulk_insert)"
		else:
			how = f"loaded (LOAD DATA LOCAL INFILE: {loading:.1f} s, the rest building the TSV)"
		print(f"{n:,} {doctype} rows {how} in {seconds:.1f} s, {n / max(seconds, 1e-9):,.0f} rows/s")

	def numbered(kind: str, s: slice) -> list[str]:
		return [f"{PREFIX}{kind}-{i}" for i in range(s.start, s.stop)]

	p = pond.profiles
	n = len(p)
	leads = pd.DataFrame(
		{
			"naming_series": "FPL-.YYYY.-",
			"lead_name": p["person_name"],
			"company_name": p["company_name"],
			"email_id": p["email"],
			"phone": p["phone"],
			"status": "In Pool",
			"fishpond": pool,
			"budget": pick(["Approved", "Allocated", "Planned", "Exploring", "None", None], n),
			"authority": pick(
				["Decision Maker", "Economic Buyer", "Champion", "Influencer", "User", None], n
			),
			"need": pick(["Critical", "High", "Medium", "Low", "None", None], n),
			"timeline": pick(
				["Immediate", "1-3 Months", "3-6 Months", "6-12 Months", "Over 12 Months", None], n
			),
		}
	)
	lead_names = PREFIX + p["profile"]
	insert("Fishpond Lead", n, lambda s: (leads.iloc[s], lead_names.iloc[s]))

	def transactions(s: slice):
		tx = pond.transactions.iloc[s]
		amount = tx["amount"].round(2)
		frame = pd.DataFrame(
			{
				"fishpond_lead": PREFIX + tx["profile"],
				"voucher_type": "Sales Invoice",
				"voucher_no": numbered("SINV", s),
				"posting_date": tx["date"].dt.date,
				"docstatus_state": "Submitted",
				"is_return": tx["is_return"].astype(int),
				"grand_total": amount,
				"net_total": amount,
				"base_grand_total": amount,
				"base_net_total": amount,
				"conversion_rate": 1,
			}
		)
		return frame, numbered("TX", s)

	insert("Fishpond Transaction", len(pond.transactions), transactions)

	def interactions(s: slice):
		it = pond.interactions.iloc[s]
		frame = pd.DataFrame(
			{
				"fishpond_lead": PREFIX + it["profile"],
				"interaction_type": it["type"].str.title(),
				"direction": it["direction"].fillna("outbound").str.title(),
				# the microseconds a Python datetime keeps (was .dt.to_pydatetime(): same values)
				"interaction_time": it["time"].dt.floor("us"),
				"subject": "bench",
			}
		)
		return frame, numbered("IT", s)

	insert("Fishpond Interaction", len(pond.interactions), interactions)

	def events(s: slice):
		ev = pond.events.iloc[s]
		frame = pd.DataFrame(
			{
				"fishpond_lead": PREFIX + ev["profile"],
				"event_type": ev["type"],
				"channel": "Web",
				"event_time": ev["time"].dt.floor("us"),
				"weight": 1,
			}
		)
		return frame, numbered("EV", s)

	insert("Fishpond Behaviour Event", len(pond.events), events)
	if connection is not None:
		connection.close()
	print(f"generate total {time.perf_counter() - started:.1f} s")


def _reset_scores() -> None:
	import frappe

	t = time.perf_counter()
	like = PREFIX + "%"
	frappe.db.delete("Fishpond Stage History", {"parent": ("like", like)})
	frappe.db.delete("Fishpond Lead Tag", {"parent": ("like", like)})
	frappe.db.delete("Comment", {"reference_name": ("like", like)})
	lead = frappe.qb.DocType("Fishpond Lead")
	query = frappe.qb.update(lead).where(lead.name.like(like))
	for column in (
		"lifecycle_stage",
		"score_breakdown",
		"value_grade",
		"category",
		"churn_band",
		"scored_on",
	):
		query = query.set(lead[column], None)
	query.set(lead.lead_score, 0).run()
	frappe.db.commit()
	print(f"scores of the BENCH- profiles reset in {time.perf_counter() - t:.1f} s")


def _one_run(workers: int, chunk_size: int | None, label: str) -> dict:
	"""Enqueue a full rescore, let `workers` real workers run its plan and chunks, wait for the end."""
	import frappe

	from crm_fishpond.scoring import runner
	from crm_fishpond.sync import fanout, runs

	run = runs.create_run("Rescore", "Administrator")
	runs.append_log(run, "benchmark")
	frappe.db.commit()
	pool = Workers(workers)
	try:
		t = time.perf_counter()
		runner.enqueue_run(run, chunk_size=chunk_size)
		frappe.db.commit()
		while True:
			frappe.db.rollback()
			status = frappe.db.get_value("Fishpond Run", run, "status")
			if status in ("Completed", "Failed", "Cancelled"):
				break
			time.sleep(0.5)
		elapsed = time.perf_counter() - t
		drain_long_queue()  # the run's follow-ups (duplicate pass, plan enrolment), untimed
	finally:
		pool.close()
	result = runner.run_result(run)
	timings = json.loads(frappe.db.get_value("Fishpond Run", run, "timings") or "{}")
	by_worker = {}
	for chunk in fanout.chunk_rows(run, ["worker"]):
		by_worker[chunk.worker] = by_worker.get(chunk.worker, 0) + 1
	print(f"--- {label}: {workers} worker(s), run {run}: {status}")
	print(
		f"wall {elapsed:7.1f} s | {result['total'] / elapsed:9,.0f} profiles/s | plan (names, split) "
		f"{timings.get('plan')} s | {timings.get('chunks')} chunks a stage | summarise: chunk seconds "
		f"summed {timings.get('summarise')} s | fit: read summaries {timings.get('read_summaries')} s, "
		f"engine {timings.get('engine')} s | score: chunk seconds summed {timings.get('write')} s"
	)
	print(f"chunks per worker process: {sorted(by_worker.values(), reverse=True)}")
	print(
		f"writes: {result['updated']:,} profiles updated, {result['stage_changes']:,} stage changes, "
		f"{result['tags_added']:,} tags added, {result['tags_removed']:,} removed"
	)
	print(
		"peak RSS per worker (largest process: worker or work horse): "
		+ ", ".join(f"{m:,.0f} MiB" for m in pool.peak)
	)
	with open("/tmp/bench_rescore_runs.txt", "a") as fh:
		fh.write(run + "\n")
	return {"seconds": elapsed, "status": status, "peak": max(pool.peak), **result}


def rescore(args) -> None:
	"""Full rescores run by real workers: for each worker count (--workers 1,2), forget the scores
	(with --reset) and rescore, then rescore once more with the last count, which must write nothing.
	Prints each run's wall time and the ratio of each against the first."""
	import frappe

	for tag, condition in BENCH_TAGS.items():
		if not frappe.db.exists("Fishpond Tag", tag):
			frappe.get_doc(
				{
					"doctype": "Fishpond Tag",
					"tag_name": tag,
					"tag_type": "Rule",
					"condition": json.dumps(condition),
				}
			).insert(ignore_permissions=True)
	frappe.db.commit()
	counts = [int(n) for n in str(args.workers).split(",")]
	results = []
	for n in counts:
		if args.reset:
			_reset_scores()
		results.append(_one_run(n, args.chunk_size, "full rescore"))
	again = _one_run(counts[-1], args.chunk_size, "second run on unchanged data")
	print("=== summary")
	base = results[0]["seconds"]
	for n, r in zip(counts, results, strict=True):
		print(
			f"{n} worker(s): {r['seconds']:7.1f} s, {r['updated']:,} profiles written; {counts[0]} worker(s) / this: {base / r['seconds']:.2f}x; peak RSS {r['peak']:,.0f} MiB"
		)
	print(f"second run: {again['seconds']:.1f} s, {again['updated']:,} profiles written (goal 0)")


def latency(args) -> None:
	import frappe

	from crm_fishpond.scoring.models import latest_fit
	from crm_fishpond.tests import factories as f

	if not latest_fit():
		sys.exit("no model fit yet: run the rescore phase first")
	delays = []
	for i in range(5):
		customer = f.customer(f"{PREFIX}Latency Customer {int(time.time())}-{i}")
		frappe.db.commit()
		order = f.sales_order(customer, rate=250, submit=False)
		frappe.db.commit()
		profile = frappe.db.get_value("Fishpond Lead", {"customer": customer})
		before = frappe.db.get_value("Fishpond Lead", profile, "scored_on")
		order.submit()
		frappe.db.commit()
		submitted = time.perf_counter()
		stamp = frappe.utils.now_datetime()
		seen = None
		while time.perf_counter() - submitted < 30:
			frappe.db.rollback()  # a fresh snapshot
			scored = frappe.db.get_value("Fishpond Lead", profile, "scored_on")
			if scored and scored != before and scored >= stamp.replace(microsecond=0):
				seen = time.perf_counter() - submitted
				break
			time.sleep(0.05)
		delays.append(seen)
		print(
			f"order {order.name} for {profile}: rescore visible after "
			+ (f"{seen:.2f} s" if seen else "> 30 s")
		)
		with open("/tmp/bench_rescore_orders.txt", "a") as fh:
			fh.write(f"{order.name}\t{customer}\n")
	ok = [d for d in delays if d is not None]
	if ok:
		print(
			f"incremental rescore delay: median {sorted(ok)[len(ok) // 2]:.2f} s, max {max(ok):.2f} s (target < 5 s)"
		)


def cleanup(args) -> None:
	import os

	import frappe

	t = time.perf_counter()
	like = PREFIX + "%"
	for doctype, field in (
		("Fishpond Stage History", "parent"),
		("Fishpond Lead Tag", "parent"),
		("Comment", "reference_name"),
		("Fishpond Transaction", "fishpond_lead"),
		("Fishpond Interaction", "fishpond_lead"),
		("Fishpond Behaviour Event", "fishpond_lead"),
		("Fishpond Lead", "name"),
	):
		frappe.db.delete(doctype, {field: ("like", like)})
		frappe.db.commit()
	for tag in BENCH_TAGS:
		frappe.db.delete("Fishpond Lead Tag", {"tag": tag})
		frappe.db.delete("Fishpond Tag", tag)
	frappe.db.commit()
	if os.path.exists("/tmp/bench_rescore_orders.txt"):
		for line in open("/tmp/bench_rescore_orders.txt").read().split("\n"):
			if not line.strip():
				continue
			order, customer = line.split("\t")
			if frappe.db.exists("Sales Order", order):
				doc = frappe.get_doc("Sales Order", order)
				if doc.docstatus == 1:
					doc.cancel()
				frappe.delete_doc("Sales Order", order, force=True)
			profile = frappe.db.get_value("Fishpond Lead", {"customer": customer})
			frappe.db.delete("Fishpond Transaction", {"customer": customer})
			if profile:
				frappe.delete_doc("Fishpond Lead", profile, force=True, ignore_permissions=True)
			if frappe.db.exists("Customer", customer):
				frappe.delete_doc("Customer", customer, force=True)
			frappe.db.commit()
		os.remove("/tmp/bench_rescore_orders.txt")
	if os.path.exists("/tmp/bench_rescore_runs.txt"):
		bench_runs = [r for r in open("/tmp/bench_rescore_runs.txt").read().split() if r]
		frappe.db.delete("Fishpond Model Fit", {"run": ("in", bench_runs)})
		frappe.db.delete("Fishpond Run", {"name": ("in", bench_runs)})
		frappe.db.commit()
		os.remove("/tmp/bench_rescore_runs.txt")
	print(f"BENCH- rows removed in {time.perf_counter() - t:.1f} s")


def main():
	args = connect(__doc__.splitlines()[0], _args)
	{"generate": generate, "rescore": rescore, "latency": latency, "cleanup": cleanup}[args.phase](args)
	import frappe

	frappe.destroy()


if __name__ == "__main__":
	main()

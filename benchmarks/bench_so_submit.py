"""Sales Order submit time with crm_fishpond's hooks ÷ without them: same site, same data, same process.

The "without" phase removes the app's doc_events from the per-process hook table
(frappe.local.doc_events_hooks), so both phases submit identical orders through identical code but
for the app's handlers. Phases alternate in small rounds to cancel drift; medians are compared.
Each order is committed, as a real request would be (the rescore job lands in the queue, deduplicated).

Run from anywhere:  /opt/frappe-bench/env/bin/python benchmarks/bench_so_submit.py --site fishpond.localhost
Target: ratio ≤ 1.10.
"""

from __future__ import annotations

import copy
import statistics
import time

from _site import connect


def main():
	def options(p):
		p.add_argument("--orders", type=int, default=40)
		p.add_argument("--warmup", type=int, default=10, help="orders per phase submitted before measuring")
		p.add_argument("--profiled", type=int, default=20, help="orders submitted under cProfile afterwards")

	args = connect(__doc__.splitlines()[0], options)
	import frappe

	from crm_fishpond.tests import factories as f

	customer = f.customer("_FP Bench SO Customer")
	frappe.db.commit()

	with_app = frappe.get_doc_hooks()
	without_app = copy.deepcopy(with_app)
	for doctype_events in without_app.values():
		for event, handlers in list(doctype_events.items()):
			doctype_events[event] = [h for h in handlers if not h.startswith("crm_fishpond.")]

	def submit_one(hooks) -> float:
		frappe.local.doc_events_hooks = hooks
		doc = f.sales_order(customer, rate=123, submit=False)
		frappe.db.commit()
		start = time.perf_counter()
		doc.submit()
		frappe.db.commit()
		return time.perf_counter() - start

	# warm caches (meta, hooks, item defaults) and the buffer pool's pages on both paths
	for _ in range(args.warmup):
		for hooks in (with_app, without_app):
			submit_one(hooks)
	times = {"with": [], "without": []}
	for i in range(args.orders):
		order = ("with", "without") if i % 2 == 0 else ("without", "with")
		for phase in order:
			times[phase].append(submit_one(with_app if phase == "with" else without_app))
	frappe.local.doc_events_hooks = with_app

	med_with = statistics.median(times["with"])
	med_without = statistics.median(times["without"])
	# each round submits one order of each phase: the median of the rounds' differences is robust to
	# drift (buffer pool warming, a checkpoint) that moves both phases of a round alike
	paired = statistics.median(w - wo for w, wo in zip(times["with"], times["without"], strict=True))
	print(f"site {args.site}: {args.orders} Sales Orders per phase, alternating")
	print(f"median submit with crm_fishpond    : {med_with * 1000:8.1f} ms")
	print(f"median submit without crm_fishpond : {med_without * 1000:8.1f} ms")
	print(
		f"ratio with / without               : {med_with / med_without:8.3f}   (target <= 1.10; issue 14, 1M: <= 1.05)"
	)
	print(
		f"median difference per round        : {paired * 1000:8.1f} ms, "
		f"1 + difference / without = {1 + paired / med_without:.3f}"
	)
	profile_handlers(submit_one, with_app, args.profiled)

	# clean up: cancel and delete the benchmark's orders and their pond rows
	names = frappe.get_all("Sales Order", filters={"customer": customer}, pluck="name")
	for name in names:
		doc = frappe.get_doc("Sales Order", name)
		if doc.docstatus == 1:
			doc.cancel()
		frappe.delete_doc("Sales Order", name, force=True)
	frappe.db.delete("Fishpond Transaction", {"customer": customer})
	frappe.db.commit()
	frappe.destroy()


def profile_handlers(submit_one, hooks: dict, orders: int) -> None:
	"""Where the difference goes: ``orders`` more submits with the app, under cProfile, and the time
	spent inside each of the app's Sales Order handlers (cumulative, per submit), then the app's
	functions that took the most time of their own. (cProfile slows the code it watches: compare
	the handlers with each other and with the submit under the same profiler, not with the medians
	above.)"""
	import cProfile
	import pstats

	if orders <= 0:
		return
	wanted = {
		tuple(path.rsplit(".", 1))
		for handlers in hooks.get("Sales Order", {}).values()
		for path in handlers
		if path.startswith("crm_fishpond.")
	}
	profiler = cProfile.Profile()
	total = 0.0
	for _ in range(orders):
		profiler.enable()
		total += submit_one(hooks)
		profiler.disable()
	stats = pstats.Stats(profiler).stats
	print(f"under cProfile, {orders} more submits with the app: {total / orders * 1000:.1f} ms each")
	for (filename, _line, function), (_cc, calls, _tt, cumulative, _callers) in sorted(stats.items()):
		module = filename.replace("/", ".").removesuffix(".py")
		if any(module.endswith(m) and function == f for m, f in wanted):
			print(
				f"  {module.rsplit('crm_fishpond.', 1)[-1]}.{function}: {cumulative / orders * 1000:.2f} ms per submit ({calls // orders} calls)"
			)
	ours = sorted(
		(
			(tt, f"{filename.rsplit('crm_fishpond/', 1)[-1]}:{function}")
			for (filename, _l, function), (_c, _n, tt, _ct, _cl) in stats.items()
			if "/crm_fishpond/" in filename and "/tests/" not in filename
		),
		reverse=True,
	)[:8]
	print(
		"  the app's functions with the most time of their own (ms per submit): "
		+ ", ".join(f"{name} {tt / orders * 1000:.2f}" for tt, name in ours)
	)


if __name__ == "__main__":
	main()

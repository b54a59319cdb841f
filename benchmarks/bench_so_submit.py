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
	args = connect(__doc__.splitlines()[0], lambda p: p.add_argument("--orders", type=int, default=40))
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

	# warm caches (meta, hooks, item defaults) on both paths
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
	print(f"site {args.site}: {args.orders} Sales Orders per phase, alternating")
	print(f"median submit with crm_fishpond    : {med_with * 1000:8.1f} ms")
	print(f"median submit without crm_fishpond : {med_without * 1000:8.1f} ms")
	print(f"ratio with / without               : {med_with / med_without:8.3f}   (target <= 1.10)")

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


if __name__ == "__main__":
	main()

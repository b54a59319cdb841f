"""What a call to `reconciliation_summary` costs, before and after it stopped reconciling in the request.

On a generated history (the backfill benchmark's generator: submitted Sales Invoices, cancellations,
credit notes, a second currency, under the prefix FPB-), it times, in one process and alternating:

- A, what every call used to do: a full `reconcile()` (re-reads every Sales Order and Sales Invoice);
- B, what a call does now: `crm_fishpond.api.sync.reconciliation_summary()` reading the stored summary.

Prints the median of each and the ratio A / B. Removes what it generated at the end.

Run:  /opt/frappe-bench/env/bin/python benchmarks/bench_reconcile_summary.py --site fishpond.localhost --invoices 5000
"""

from __future__ import annotations

import statistics
import time

from _site import connect
from bench_backfill import cleanup, generate


def main():
	def options(p):
		p.add_argument("--invoices", type=int, default=5000)
		p.add_argument("--customers", type=int, default=800)
		p.add_argument("--rounds", type=int, default=5)
		p.add_argument("--keep", action="store_true", help="keep the generated history")

	args = connect(__doc__.splitlines()[0], options)
	import frappe

	from crm_fishpond.api import sync as api
	from crm_fishpond.sync import backfill, reconcile_summary, runs
	from crm_fishpond.sync.reconcile import reconcile

	cleanup(frappe)
	generate(frappe, args.invoices, args.customers)
	try:
		run = runs.create_run("Backfill", "Administrator")
		frappe.db.commit()
		backfill.run_backfill(run)
		reconcile_summary.refresh()
		full, read = [], []
		for _ in range(args.rounds):
			t = time.perf_counter()
			reconcile()
			full.append(time.perf_counter() - t)
			t = time.perf_counter()
			summary = api.reconciliation_summary()
			read.append(time.perf_counter() - t)
		a, b = statistics.median(full), statistics.median(read)
		print(f"vouchers in ERPNext     : {args.invoices} invoices (+ cancellations and credit notes)")
		print(f"A full reconcile()      : median {a * 1000:,.1f} ms over {args.rounds} rounds")
		print(f"B reconciliation_summary: median {b * 1000:,.2f} ms (checked_on {summary['checked_on']})")
		print(f"A / B                   : {a / b:,.0f}x")
	finally:
		if not args.keep:
			cleanup(frappe)
			frappe.db.commit()
	frappe.destroy()


if __name__ == "__main__":
	main()

"""Backfill throughput on a generated history: ≥10,000 submitted Sales Invoices (plus cancellations,
credit notes and a second currency), written straight into ERPNext's tables under the prefix FPB-.

Prints documents/s of the first backfill, the reconciliation's difference count (target 0), and the
second run's writes (target 0 inserted, 0 updated). Removes everything it generated at the end.

Run:  /opt/frappe-bench/env/bin/python benchmarks/bench_backfill.py --site fishpond.localhost --invoices 10000
      (add --workers 2 to fan the chunks out to two real workers instead of running them here)
"""

from __future__ import annotations

import random
import time

from _site import Workers, connect, drain_long_queue, peak_rss_mib

PREFIX = "FPB-"


def generate(frappe, invoices: int, customers: int, seed: int = 7) -> None:
	from frappe.utils import add_days, getdate, now_datetime

	from crm_fishpond.tests import factories as f
	from crm_fishpond.tests.utils import make_item

	rng = random.Random(seed)
	company = f.company()
	base_currency = f.company_currency()
	foreign = "EUR" if base_currency != "EUR" else "USD"
	items = [make_item(f"_FP Bench Item {i}") for i in range(5)]
	item_groups = dict(
		frappe.get_all("Item", filters={"name": ("in", items)}, fields=["name", "item_group"], as_list=True)
	)
	group = frappe.db.get_value("Customer Group", {"is_group": 0}, "name")
	territory = frappe.db.get_value("Territory", {"is_group": 0}, "name")
	now, user = now_datetime(), "Administrator"
	cust_rows = [
		[f"{PREFIX}CUST-{i:05d}", now, now, user, user, 0, f"Bench Customer {i}", "Company", group, territory]
		for i in range(customers)
	]
	frappe.db.bulk_insert(
		"Customer",
		[
			"name",
			"creation",
			"modified",
			"owner",
			"modified_by",
			"docstatus",
			"customer_name",
			"customer_type",
			"customer_group",
			"territory",
		],
		cust_rows,
		chunk_size=2000,
	)
	start = getdate("2023-01-01")
	inv_rows, item_rows = [], []
	for i in range(invoices):
		name = f"{PREFIX}SINV-{i:06d}"
		cust = cust_rows[rng.randrange(customers)][0]
		is_foreign = rng.random() < 0.2
		rate = 1.1 if is_foreign else 1.0
		is_return = i > 10 and rng.random() < 0.03
		docstatus = 2 if rng.random() < 0.02 else 1
		lines = []
		for idx in range(1, rng.randint(1, 3) + 1):
			qty = rng.randint(1, 5)
			price = round(rng.uniform(10, 500), 2)
			sign = -1 if is_return else 1
			lines.append((idx, rng.choice(items), sign * qty, sign * qty * price))
		net = round(sum(line[3] for line in lines), 2)
		inv_rows.append(
			[
				name,
				now,
				now,
				user,
				user,
				docstatus,
				cust,
				cust,
				add_days(start, rng.randrange(1000)),
				company,
				foreign if is_foreign else base_currency,
				rate,
				net,
				net,
				round(net * rate, 2),
				round(net * rate, 2),
				1 if is_return else 0,
				f"{PREFIX}SINV-{rng.randrange(i):06d}" if is_return else None,
				0,
			]
		)
		for idx, item, qty, amount in lines:
			item_rows.append(
				[
					f"{name}-{idx}",
					now,
					now,
					user,
					user,
					docstatus,
					name,
					"Sales Invoice",
					"items",
					idx,
					item,
					item,
					item_groups[item],
					qty,
					round(amount / qty, 2),
					round(amount, 2),
					round(amount * rate, 2),
				]
			)
	frappe.db.bulk_insert(
		"Sales Invoice",
		[
			"name",
			"creation",
			"modified",
			"owner",
			"modified_by",
			"docstatus",
			"customer",
			"customer_name",
			"posting_date",
			"company",
			"currency",
			"conversion_rate",
			"grand_total",
			"net_total",
			"base_grand_total",
			"base_net_total",
			"is_return",
			"return_against",
			"outstanding_amount",
		],
		inv_rows,
		chunk_size=2000,
	)
	frappe.db.bulk_insert(
		"Sales Invoice Item",
		[
			"name",
			"creation",
			"modified",
			"owner",
			"modified_by",
			"docstatus",
			"parent",
			"parenttype",
			"parentfield",
			"idx",
			"item_code",
			"item_name",
			"item_group",
			"qty",
			"rate",
			"net_amount",
			"base_net_amount",
		],
		item_rows,
		chunk_size=5000,
	)
	frappe.db.commit()


def cleanup(frappe) -> None:
	like = f"{PREFIX}%"
	tx = frappe.get_all("Fishpond Transaction", filters={"voucher_no": ("like", like)}, pluck="name")
	for i in range(0, len(tx), 5000):
		frappe.db.delete("Fishpond Transaction Item", {"parent": ("in", tx[i : i + 5000])})
	frappe.db.delete("Fishpond Transaction", {"voucher_no": ("like", like)})
	frappe.db.delete("Fishpond Lead", {"customer": ("like", like)})
	frappe.db.delete("Sales Invoice Item", {"parent": ("like", like)})
	frappe.db.delete("Sales Invoice", {"name": ("like", like)})
	frappe.db.delete("Customer", {"name": ("like", like)})
	frappe.db.delete(
		"Fishpond Run", {"run_type": "Backfill", "triggered_by": "Administrator", "log": ("like", "%bench%")}
	)
	frappe.db.commit()


def run_backfill(frappe, backfill, run: str, args) -> tuple[dict, float]:
	"""The backfill in this process (``--workers 0``) or fanned out to that many real workers;
	returns its result and the seconds until it completed (the workers' start included)."""
	t = time.perf_counter()
	if not args.workers:
		result = backfill.run_backfill(run, chunk_size=args.chunk, here=True)
		return result, time.perf_counter() - t
	pool = Workers(args.workers)
	try:
		backfill.enqueue_run(run, chunk_size=args.chunk)
		frappe.db.commit()
		while frappe.db.get_value("Fishpond Run", run, "status") not in ("Completed", "Failed"):
			time.sleep(0.5)
			frappe.db.rollback()
		elapsed = time.perf_counter() - t
		drain_long_queue()  # what the run left queued, untimed
	finally:
		pool.close()
	workers = {c.worker for c in fanout_rows(run)}
	print(
		f"chunks ran in {len(workers)} work horses; peak RSS per worker: "
		+ ", ".join(f"{m:,.0f} MiB" for m in pool.peak)
	)
	return backfill.result(run), elapsed


def fanout_rows(run: str) -> list:
	from crm_fishpond.sync import fanout

	return fanout.chunk_rows(run, ["worker"])


def main():
	def options(p):
		p.add_argument("--invoices", type=int, default=10000)
		p.add_argument("--customers", type=int, default=1500)
		p.add_argument("--chunk", type=int, default=2000)
		p.add_argument("--keep", action="store_true", help="keep the generated history")
		p.add_argument(
			"--workers",
			type=int,
			default=0,
			help="real `bench worker --queue long` processes to fan the chunks out to (0: this process)",
		)

	args = connect(__doc__.splitlines()[0], options)
	import frappe

	from crm_fishpond.sync import backfill, runs
	from crm_fishpond.sync.reconcile import reconcile

	cleanup(frappe)
	t = time.perf_counter()
	generate(frappe, args.invoices, args.customers)
	print(
		f"generated {args.invoices} invoices for {args.customers} customers in {time.perf_counter() - t:.1f} s"
	)
	try:
		run = runs.create_run("Backfill", "Administrator")
		runs.append_log(run, "bench_backfill")
		frappe.db.commit()
		first, elapsed = run_backfill(frappe, backfill, run, args)
		print(
			f"first backfill : {first['processed']} vouchers read, {first['inserted']} inserted, "
			f"{first['updated']} updated in {elapsed:.2f} s -> {first['processed'] / elapsed:,.0f} documents/s"
		)
		t = time.perf_counter()
		result = reconcile()
		print(
			f"reconciliation : {result['differences']} differences over {result['customers_checked']} "
			f"customer/voucher-type totals ({time.perf_counter() - t:.2f} s)"
		)
		run2 = runs.create_run("Backfill", "Administrator")
		runs.append_log(run2, "bench_backfill")
		frappe.db.commit()
		second, elapsed = run_backfill(frappe, backfill, run2, args)
		print(
			f"second backfill: {second['inserted']} inserted, {second['updated']} updated, "
			f"{second['unchanged']} unchanged in {elapsed:.2f} s"
		)
		print(f"peak RSS       : {peak_rss_mib():.0f} MiB")
	finally:
		if not args.keep:
			cleanup(frappe)
	frappe.destroy()


if __name__ == "__main__":
	main()

"""Backfill throughput on a generated history: ≥10,000 submitted Sales Invoices (plus cancellations,
credit notes and a second currency), written straight into ERPNext's tables under the prefix FPB-.

Prints documents/s of the first backfill, the reconciliation's difference count (target 0), and the
second run's writes (target 0 inserted, 0 updated). Removes everything it generated at the end.

The history is built with numpy and written with one LOAD DATA LOCAL INFILE per million rows
(benchmarks/_load.py; through bulk_insert when the server has local_infile OFF).

Run:  /opt/frappe-bench/env/bin/python benchmarks/bench_backfill.py --site fishpond.localhost --invoices 10000
      /opt/frappe-bench/env/bin/python benchmarks/bench_backfill.py --site S --invoices 1000000 --workers 2
      (--workers N fans the chunks out to N real workers instead of running them here; --customers
      defaults to a tenth of the invoices)
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from _load import infile_connection, write_frame
from _site import Workers, connect, drain_long_queue, peak_rss_mib

PREFIX = "FPB-"


def generate(frappe, invoices: int, customers: int, seed: int = 7) -> None:
	"""``customers`` Customers and ``invoices`` submitted Sales Invoices (2% cancelled, 3% credit notes
	against an earlier invoice, 20% in a second currency) of 1-3 lines each, built with numpy and
	written with _load.write_frame (LOAD DATA LOCAL INFILE, or bulk_insert when the server refuses it)."""
	from frappe.utils import getdate, now_datetime

	from crm_fishpond.tests import factories as f
	from crm_fishpond.tests.utils import make_item

	rng = np.random.default_rng(seed)
	company = f.company()
	base_currency = f.company_currency()
	foreign = "EUR" if base_currency != "EUR" else "USD"
	items = [make_item(f"_FP Bench Item {i}") for i in range(5)]
	item_groups = dict(
		frappe.get_all("Item", filters={"name": ("in", items)}, fields=["name", "item_group"], as_list=True)
	)
	group = frappe.db.get_value("Customer Group", {"is_group": 0}, "name")
	territory = frappe.db.get_value("Territory", {"is_group": 0}, "name")
	frappe.db.commit()
	connection = infile_connection()
	now, user = now_datetime(), "Administrator"

	def standard(names: list[str], docstatus=0) -> dict:
		return {
			"name": names,
			"creation": now,
			"modified": now,
			"owner": user,
			"modified_by": user,
			"docstatus": docstatus,
		}

	customer_names = np.array([f"{PREFIX}CUST-{i:06d}" for i in range(customers)], dtype=object)
	customer_frame = pd.DataFrame(
		{
			**standard(list(customer_names)),
			"customer_name": [f"Bench Customer {i}" for i in range(customers)],
			"customer_type": "Company",
			"customer_group": group,
			"territory": territory,
		}
	)
	loading = write_frame(connection, "Customer", customer_frame)

	i = np.arange(invoices)
	names = np.array([f"{PREFIX}SINV-{n:07d}" for n in i], dtype=object)
	customer = customer_names[rng.integers(0, customers, invoices)]
	is_foreign = rng.random(invoices) < 0.2
	rate = np.where(is_foreign, 1.1, 1.0)
	is_return = (i > 10) & (rng.random(invoices) < 0.03)
	docstatus = np.where(rng.random(invoices) < 0.02, 2, 1)
	lines = rng.integers(1, 4, invoices)
	parent = np.repeat(i, lines)
	line_idx = np.arange(len(parent)) - np.repeat(np.cumsum(lines) - lines, lines) + 1
	qty = rng.integers(1, 6, len(parent)) * np.where(is_return[parent], -1, 1)
	price = np.round(rng.uniform(10, 500, len(parent)), 2)
	amount = qty * price
	item = np.array(items, dtype=object)[rng.integers(0, len(items), len(parent))]
	net = np.round(np.bincount(parent, weights=amount, minlength=invoices), 2)
	against = np.where(is_return, (rng.random(invoices) * np.maximum(i, 1)).astype(int), -1)
	start = pd.Timestamp(getdate("2023-01-01"))
	invoice_frame = pd.DataFrame(
		{
			**standard(list(names)),
			"docstatus": docstatus,
			"customer": customer,
			"customer_name": customer,
			"posting_date": (start + pd.to_timedelta(rng.integers(0, 1000, invoices), unit="D")).date,
			"company": company,
			"currency": np.where(is_foreign, foreign, base_currency),
			"conversion_rate": rate,
			"grand_total": net,
			"net_total": net,
			"base_grand_total": np.round(net * rate, 2),
			"base_net_total": np.round(net * rate, 2),
			"is_return": is_return.astype(int),
			"return_against": pd.Series(names[np.maximum(against, 0)]).where(is_return, None),
			"outstanding_amount": 0,
		}
	)
	loading += write_frame(connection, "Sales Invoice", invoice_frame)
	del invoice_frame
	item_frame = pd.DataFrame(
		{
			**standard([f"{names[p]}-{n}" for p, n in zip(parent, line_idx, strict=True)]),
			"docstatus": docstatus[parent],
			"parent": names[parent],
			"parenttype": "Sales Invoice",
			"parentfield": "items",
			"idx": line_idx,
			"item_code": item,
			"item_name": item,
			"item_group": pd.Series(item).map(item_groups).to_numpy(),
			"qty": qty,
			"rate": np.round(amount / qty, 2),
			"net_amount": np.round(amount, 2),
			"base_net_amount": np.round(amount * rate[parent], 2),
		}
	)
	loading += write_frame(connection, "Sales Invoice Item", item_frame)
	if connection is not None:
		connection.close()
		print(f"LOAD DATA statements: {loading:.1f} s")


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
		p.add_argument("--customers", type=int, default=None, help="default: invoices / 10, at least 1,500")
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

	args.customers = args.customers or max(1500, args.invoices // 10)
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

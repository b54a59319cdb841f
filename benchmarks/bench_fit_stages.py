"""The full rescore's fit, in one piece and in stages, on a synthetic pond (no site needed).

A full rescore used to fit in one job that read every purchase; it now summarises the purchases in
chunks (any number of workers) and fits once on the chunks' summaries (crm_fishpond.scoring.runner).
This benchmark runs both on the same pond in one process and prints:

- **one piece**: ``fit_models`` over every purchase: seconds and the memory it adds to the process;
- **stages**: each chunk of ``--chunk`` profiles ``summarise``\\ d and packed (``engine.frames``), as a
  summarise job does: seconds summed and per chunk, the packed text's size; then the fit job's work,
  unpacking every summary, concatenating and ``fit_models_from_summary``: seconds and the memory it
  adds;
- the ratios one piece ÷ the fit job (time of the serial part, memory), and a check that both give the
  same fit.

Memory is the phase's peak resident set above the process's before the phase (what a job doing only
that phase adds to a worker's ~150 MiB of Frappe); the fit job also holds no purchases, so its
figure is its whole data. Runs on one CPU with one BLAS thread (``--cpus``), like the engine's scale
benchmark.

	python benchmarks/bench_fit_stages.py                     # 1M profiles / 10M transactions
	python benchmarks/bench_fit_stages.py --profiles 100000 --transactions 1000000
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

import numpy as np
import pandas as pd
from bench_engine_scale import GIB, PeakRSS
from threadpoolctl import threadpool_limits

from crm_fishpond.engine.config import EngineConfig
from crm_fishpond.engine.frames import pack_frame, unpack_frame
from crm_fishpond.engine.pipeline import PondInputs, fit_models, fit_models_from_summary, summarise
from crm_fishpond.engine.synth import DEFAULT_AS_OF, generate_pond

MIB = 1024**2


def chunks_of(pond: PondInputs, size: int):
	"""The pond's consecutive chunks of ``size`` profiles, each with its purchases (one sort, then
	slices, so that cutting the pond costs no more than a database's range read)."""
	ids = pond.profiles["profile"].to_numpy(dtype=object)
	position = pd.Series(np.arange(len(ids)), index=pd.Index(ids))
	tx = pond.transactions
	where = position.reindex(tx["profile"].to_numpy()).to_numpy()
	order = np.argsort(where, kind="stable")
	tx = tx.iloc[order].reset_index(drop=True)
	bounds = np.searchsorted(where[order], np.arange(0, len(ids) + size, size))
	for k, start in enumerate(range(0, len(ids), size)):
		part = tx.iloc[bounds[k] : bounds[k + 1]]
		yield PondInputs(profiles=pond.profiles.iloc[start : start + size][["profile"]], transactions=part)


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--profiles", type=int, default=1_000_000)
	parser.add_argument("--transactions", type=int, default=10_000_000)
	parser.add_argument("--chunk", type=int, default=5000, help="profiles a chunk (the runner's CHUNK)")
	parser.add_argument("--seed", type=int, default=0)
	parser.add_argument("--cpus", type=int, default=1, help="CPUs and BLAS threads (0: no limit)")
	args = parser.parse_args(argv)
	if args.cpus > 0:
		limits = threadpool_limits(limits=args.cpus)  # noqa: F841 (held until the end of main)
		if hasattr(os, "sched_setaffinity"):
			os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
	print(
		f"fit in stages — {args.profiles:,} profiles, {args.transactions:,} transactions, chunks of "
		f"{args.chunk:,}; Python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}"
	)
	t = time.perf_counter()
	pond = generate_pond(args.profiles, args.transactions, seed=args.seed, n_interactions=0, n_events=0)
	pond = PondInputs(profiles=pond.profiles[["profile"]], transactions=pond.transactions)
	print(f"generated in {time.perf_counter() - t:.1f} s")
	config = EngineConfig()

	gc.collect()
	with PeakRSS() as rss:
		base = rss.peak
		t = time.perf_counter()
		whole = fit_models(pond, config, as_of=DEFAULT_AS_OF)
		one_s = time.perf_counter() - t
	one_mem = rss.peak - base
	print(f"one piece: fit_models over every purchase {one_s:.2f} s, adds {one_mem / MIB:,.0f} MiB")

	packed, seconds = [], []
	for part in chunks_of(pond, args.chunk):
		t = time.perf_counter()
		packed.append(pack_frame(summarise(part, config, as_of=DEFAULT_AS_OF)))
		seconds.append(time.perf_counter() - t)
	size = sum(len(text) for text in packed)
	print(
		f"summarise stage: {len(packed)} chunks, {sum(seconds):.2f} s summed, {np.median(seconds) * 1000:.1f} ms "
		f"a chunk (median), packed {size / MIB:,.1f} MiB ({size / args.profiles:.1f} bytes a profile)"
	)

	del pond
	gc.collect()
	with PeakRSS() as rss:
		base = rss.peak
		t = time.perf_counter()
		summary = pd.concat([unpack_frame(text) for text in packed], ignore_index=True)
		read_s = time.perf_counter() - t
		t = time.perf_counter()
		staged = fit_models_from_summary(summary, config, as_of=DEFAULT_AS_OF)
		fit_s = time.perf_counter() - t
	fit_mem = rss.peak - base
	print(
		f"fit job: unpack + concat {read_s:.2f} s, fit_models_from_summary {fit_s:.2f} s, "
		f"adds {fit_mem / MIB:,.0f} MiB ({rss.peak / GIB:.2f} GiB in this process, which still holds the packed text)"
	)
	same = staged == whole and np.array_equal(staged.clv_reference, whole.clv_reference)
	print(
		f"ratios: one piece ÷ fit job: time {one_s / (read_s + fit_s):.2f}x, memory "
		f"{one_mem / max(fit_mem, 1):.2f}x; same fit: {same}"
	)
	return 0 if same else 1


if __name__ == "__main__":
	sys.exit(main())

"""The whole engine at scale: one full run_pond over a synthetic pond, then an incremental rescore.

Default size is the target workload: 1,000,000 profiles, 10,000,000 transactions, 3,000,000
interactions and 6,000,000 behaviour events. Prints the time to generate the pond, the total and
per-step times of run_pond, the peak resident memory of the process, and the time of an incremental
run over a few profiles with the fitted models reused. Goal on the 2-core reference machine: a full run
under 25 s on one core and a peak RSS under 3 GiB during the run.

The process runs on one CPU (``--cpus``: the first of the CPUs it may use, like ``taskset -c``) with
one BLAS/OpenMP thread (threadpoolctl), so the figures do not depend on how many cores are idle.

	python benchmarks/bench_engine_scale.py                      # 1M profiles / 10M transactions
	python benchmarks/bench_engine_scale.py --profiles 100000 --transactions 1000000
	python benchmarks/bench_engine_scale.py --no-dedupe --no-tags --incremental 0
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import threading
import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from crm_fishpond.engine.config import EngineConfig, example_tag_rules
from crm_fishpond.engine.pipeline import STEPS, run_pond
from crm_fishpond.engine.synth import DEFAULT_AS_OF, generate_pond

GIB = 1024**3


class PeakRSS:
	"""Peak resident set size: the kernel's high-water mark (ru_maxrss) plus a sampling thread, so a
	phase's own peak can be read after resetting the baseline."""

	def __init__(self, interval: float = 0.05):
		self.interval = interval
		self.peak = 0
		self._stop = threading.Event()
		self._thread = threading.Thread(target=self._run, daemon=True)

	@staticmethod
	def current() -> int:
		with open(f"/proc/{os.getpid()}/statm") as f:
			return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

	def _run(self) -> None:
		while not self._stop.is_set():
			self.peak = max(self.peak, self.current())
			time.sleep(self.interval)

	def __enter__(self) -> PeakRSS:
		self.peak = self.current()
		self._thread.start()
		return self

	def __exit__(self, *exc) -> None:
		self._stop.set()
		self._thread.join()
		self.peak = max(self.peak, self.current())


def cpu_seconds() -> float:
	usage = resource.getrusage(resource.RUSAGE_SELF)
	return usage.ru_utime + usage.ru_stime


def lifetime_peak() -> int:
	return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument("--profiles", type=int, default=1_000_000)
	parser.add_argument("--transactions", type=int, default=10_000_000)
	parser.add_argument("--interactions", type=int, default=None, help="default: 3 per profile")
	parser.add_argument("--events", type=int, default=None, help="default: 6 per profile")
	parser.add_argument("--seed", type=int, default=0)
	parser.add_argument("--no-dedupe", action="store_true", help="skip duplicate detection")
	parser.add_argument("--no-tags", action="store_true", help="run without the example tag rules")
	parser.add_argument(
		"--incremental", type=int, default=100, help="profiles to rescore incrementally (0: skip)"
	)
	parser.add_argument(
		"--cpus", type=int, default=1, help="run on this many CPUs with as many BLAS threads (0: no limit)"
	)
	args = parser.parse_args(argv)

	pinned = "no CPU or thread limit"
	limits = None
	if args.cpus > 0:
		limits = threadpool_limits(limits=args.cpus)  # until the end of main
		if hasattr(os, "sched_setaffinity"):
			cpus = sorted(os.sched_getaffinity(0))[: args.cpus]
			os.sched_setaffinity(0, cpus)
			pinned = f"on CPU {', '.join(map(str, cpus))} with {args.cpus} BLAS thread(s)"
		else:  # pragma: no cover - not Linux
			pinned = f"{args.cpus} BLAS thread(s), CPUs not pinned on this OS"
	print(
		f"crm_fishpond engine scale benchmark — {args.profiles:,} profiles, {args.transactions:,} transactions, "
		f"{os.cpu_count()} CPU(s), {pinned}, Python {sys.version.split()[0]}, numpy {np.__version__}, "
		f"pandas {pd.__version__}"
	)
	t0 = time.perf_counter()
	inputs = generate_pond(
		args.profiles,
		args.transactions,
		seed=args.seed,
		n_interactions=args.interactions,
		n_events=args.events,
	)
	gen_s = time.perf_counter() - t0
	sizes = {
		name: len(getattr(inputs, name)) for name in ("profiles", "transactions", "interactions", "events")
	}
	print(f"generated in {gen_s:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
	print(
		f"RSS after generating: {PeakRSS.current() / GIB:.2f} GiB (peak so far {lifetime_peak() / GIB:.2f} GiB)"
	)

	config = EngineConfig(tags=() if args.no_tags else tuple(example_tag_rules()))
	gc.collect()
	base = PeakRSS.current()
	load = os.getloadavg()[0]
	cpu0 = cpu_seconds()
	with PeakRSS() as rss:
		result = run_pond(inputs, config, as_of=DEFAULT_AS_OF, dedupe=not args.no_dedupe)
	cpu = cpu_seconds() - cpu0
	t = result.timings
	print()
	print(
		f"run_pond: {t['total']:.1f} s total, {cpu:.1f} s CPU "
		f"(load average {load:.1f} on {os.cpu_count()} CPUs when it started: other work slows the wall time)"
	)
	for step in STEPS:
		share = t[step] / t["total"] * 100 if t["total"] else 0.0
		print(f"  {step:<10} {t[step]:7.2f} s  {share:5.1f}%")
	print(
		f"peak RSS during run_pond: {rss.peak / GIB:.2f} GiB (inputs alone {base / GIB:.2f} GiB, "
		f"so the run added {(rss.peak - base) / GIB:.2f} GiB); process lifetime peak {lifetime_peak() / GIB:.2f} GiB"
	)
	m = result.metrics
	print(
		f"metrics {m.shape[0]:,} x {m.shape[1]}; tags {len(result.tags):,}; duplicate pairs {len(result.duplicates):,}; "
		f"BG/NBD fitted on {result.models.n:,} buyers"
	)
	numeric = m.select_dtypes("number").to_numpy(dtype=float)
	print(f"NaN in numeric metrics: {int(np.isnan(numeric).sum())}")

	if args.incremental:
		rng = np.random.default_rng(1)
		ids = rng.choice(m.index.to_numpy(), size=min(args.incremental, len(m)), replace=False)
		t1 = time.perf_counter()
		sub = inputs.subset(ids)
		subset_s = time.perf_counter() - t1
		again = run_pond(sub, config, as_of=DEFAULT_AS_OF, models=result.models, dedupe=False)
		same = again.metrics.equals(m.loc[again.metrics.index])
		print(
			f"\nincremental rescore of {len(ids)} profiles with the models reused: {again.timings['total']:.2f} s "
			f"(+ {subset_s:.2f} s to cut their rows out of the full frames); rows equal the full run's: {same}"
		)
	target_ok = t["total"] < 25 and rss.peak < 3 * GIB
	print(f"\ngoal (< 25 s, < 3 GiB peak during the run): {'met' if target_ok else 'NOT met'}")
	if limits is not None:
		limits.restore_original_limits()
	return 0


if __name__ == "__main__":
	raise SystemExit(main())

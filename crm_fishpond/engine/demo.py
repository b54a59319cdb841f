"""The engine demo: a synthetic pond, every computation, an HTML report and a short summary.

	python -m crm_fishpond.engine.demo                       # 20,000 profiles, 200,000 transactions
	python -m crm_fishpond.engine.demo --profiles 50000 --transactions 600000 --out /tmp/pond.html

Nothing here needs Frappe or a database: it exercises the pure engine exactly as the site's jobs do.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .config import EngineConfig, example_tag_rules
from .pipeline import STEPS, PondResult, run_pond
from .report import catch_next, write_report
from .synth import DEFAULT_AS_OF, generate_pond

DEFAULT_OUT = Path("demo") / "report.html"


def summary_text(result: PondResult, generate_s: float | None = None) -> str:
	"""A few lines that say what the run found and how long each step took."""
	m = result.metrics
	buyers = m["orders"].to_numpy() > 0
	lines = [
		f"as of {result.as_of.date()}: {len(m):,} profiles, {int(buyers.sum()):,} customers "
		f"({buyers.mean():.0%}), net revenue {m['total_amount'].sum():,.0f}",
	]
	if result.models.bgnbd is not None:
		bg = result.models.bgnbd
		lines.append(
			f"BG/NBD r={bg.r:.3f} alpha={bg.alpha:.2f} a={bg.a:.3f} b={bg.b:.3f}; "
			f"{int((m['churn_band'] == 'high').sum()):,} customers at high churn risk; "
			f"12-month CLV {m['clv'].sum():,.0f}"
		)
	cats = m["category"].value_counts()
	stages = m["stage"].value_counts()
	lines.append("categories: " + ", ".join(f"{k} {v:,}" for k, v in cats.items()))
	lines.append("stages: " + ", ".join(f"{k} {v:,}" for k, v in stages.items()))
	lines.append(
		f"lead score: mean {m['lead_score'].mean():.1f}, 90th percentile {np.percentile(m['lead_score'], 90):.1f}; "
		f"{len(result.tags):,} tags; {len(result.duplicates):,} duplicate candidate pairs"
	)
	top = catch_next(m, 3)
	if len(top):
		lines.append(
			"catch next: "
			+ ", ".join(f"{pid} ({row.why}, score {row.lead_score:.0f})" for pid, row in top.iterrows())
		)
	t = result.timings
	steps = " ".join(f"{s}={t[s]:.2f}s" for s in STEPS if s in t)
	gen = f"generated in {generate_s:.1f} s; " if generate_s is not None else ""
	lines.append(f"{gen}run_pond {t['total']:.1f} s: {steps}")
	return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
	parser = argparse.ArgumentParser(
		prog="python -m crm_fishpond.engine.demo", description="Run the fish-pond engine on a synthetic pond."
	)
	parser.add_argument("--profiles", type=int, default=20_000, help="profiles to generate (default 20,000)")
	parser.add_argument("--transactions", type=int, default=200_000, help="transactions (default 200,000)")
	parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
	parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report path (default {DEFAULT_OUT})")
	args = parser.parse_args(argv)
	if args.profiles < 1 or args.transactions < 0:
		parser.error("--profiles must be at least 1 and --transactions at least 0")

	print(
		f"generating a synthetic pond: {args.profiles:,} profiles, {args.transactions:,} transactions (seed {args.seed})"
	)
	t0 = time.perf_counter()
	inputs = generate_pond(args.profiles, args.transactions, seed=args.seed)
	generate_s = time.perf_counter() - t0
	config = EngineConfig(tags=tuple(example_tag_rules()))
	result = run_pond(inputs, config, as_of=DEFAULT_AS_OF)
	path = write_report(result, args.out, inputs)
	print(summary_text(result, generate_s))
	print(f"report: {path.resolve()}")
	return 0


if __name__ == "__main__":
	sys.exit(main())

"""The rule-driven engine steps at scale, each timed on its own.

Generates a synthetic pond (default 1,000,000 profiles, 3,000,000 interactions, 6,000,000 events),
builds a metrics frame (activity from the pond; purchase/churn columns drawn with numpy so this
benchmark does not depend on the RFM/BTYD fit) and prints, per step, the wall time, the process CPU
time (the figure to trust on a busy machine) and the rows per second: activity_summary, lead_score,
categorise, assign_stages, evaluate_tags, duplicate_candidates (with the profiles' phones as generated
and with only ~30% of profiles keeping a phone; the phone signal with and without the prefilter) and
duplicate_clusters. All figures are measured in this process.

	python benchmarks/bench_rules.py                      # 1M profiles
	python benchmarks/bench_rules.py --profiles 100000
	python benchmarks/bench_rules.py --skip-dedupe
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from crm_fishpond.engine.activity import EngagementConfig, activity_and_engagement, activity_summary
from crm_fishpond.engine.category import categorise
from crm_fishpond.engine.dedupe import (
	DedupeConfig,
	clear_phone_cache,
	duplicate_candidates,
	duplicate_clusters,
)
from crm_fishpond.engine.lifecycle import DEFAULT_STAGES, assign_stages
from crm_fishpond.engine.scoring import ScoreConfig, lead_score
from crm_fishpond.engine.synth import DEFAULT_AS_OF, generate_pond
from crm_fishpond.engine.tags import evaluate_tags

TAG_RULES = [
	{
		"tag": "dormant",
		"condition": {
			"all": [
				{"field": "orders", "op": ">=", "value": 1},
				{"field": "days_since_last", "op": ">", "value": 180},
			]
		},
	},
	{
		"tag": "at risk",
		"condition": {
			"all": [
				{"field": "churn_risk", "op": ">=", "value": 0.6},
				{"field": "value_grade", "op": "in", "value": ["high", "mid"]},
			]
		},
	},
	{
		"tag": "hot lead",
		"condition": {
			"all": [
				{"field": "orders", "op": "=", "value": 0},
				{"field": "engagement_points", "op": ">=", "value": 20},
			]
		},
	},
	{
		"tag": "big spender",
		"condition": {"field": "total_amount", "op": "between", "value": [10_000, 1e12]},
		"reason": "spent {total_amount:,.0f}",
	},
	{"tag": "no email", "condition": {"field": "territory", "op": "is_not_set"}},
]


def timed(label: str, n: int, fn, *args, **kwargs):
	"""Run ``fn`` once; print its wall time, the process CPU time it used (less sensitive to other work
	on the machine) and rows per wall second."""
	wall, cpu = time.perf_counter(), time.process_time()
	out = fn(*args, **kwargs)
	wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
	print(f"{label:<48} {wall:8.2f} s wall {cpu:8.2f} s cpu   {n / wall:>12,.0f} rows/s", flush=True)
	return out, wall


def synthetic_metrics(index: pd.Index, rng: np.random.Generator, as_of: pd.Timestamp) -> pd.DataFrame:
	n = len(index)
	orders = np.where(rng.random(n) < 0.4, rng.poisson(2.5, n) + 1, 0)
	buyer = orders > 0
	days = np.where(buyer, rng.exponential(200, n).round(), 0.0)
	first = np.where(buyer, days + rng.exponential(300, n).round(), np.nan)
	p_alive = np.where(buyer, np.clip(rng.beta(2, 2, n), 0, 1), np.nan)
	score = lambda: np.where(buyer, rng.integers(1, 6, n), 0)  # noqa: E731
	last = as_of.normalize() - pd.to_timedelta(days, unit="D")
	return pd.DataFrame(
		{
			"stage": rng.choice(np.array(["", *DEFAULT_STAGES], dtype=object), n),
			"orders": orders,
			"total_amount": np.where(buyer, rng.lognormal(7, 1.2, n), 0.0),
			"days_since_last": days,
			"first_purchase": (as_of.normalize() - pd.to_timedelta(first, unit="D")),
			"last_purchase": last.where(buyer),
			"r_score": score(),
			"f_score": score(),
			"m_score": score(),
			"value_grade": np.where(
				buyer, rng.choice(np.array(["high", "mid", "low"], dtype=object), n), "low"
			),
			"p_alive": p_alive,
			"churn_risk": 1 - p_alive,
			"clv": np.where(buyer, rng.lognormal(6, 1, n), np.nan),
		},
		index=index,
	)


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--profiles", type=int, default=1_000_000)
	ap.add_argument("--seed", type=int, default=7)
	ap.add_argument("--skip-dedupe", action="store_true")
	args = ap.parse_args()
	as_of = DEFAULT_AS_OF
	t = time.perf_counter()
	pond = generate_pond(args.profiles, args.profiles, seed=args.seed, as_of=as_of)
	profiles = pond.profiles
	n = len(profiles)
	print(
		f"pond: {n:,} profiles, {len(pond.interactions):,} interactions, {len(pond.events):,} events "
		f"(generated in {time.perf_counter() - t:.1f} s)\n"
	)
	index = pd.Index(profiles["profile"], name="profile")

	inter, events, cfg = pond.interactions, pond.events, EngagementConfig()
	activity, _ = timed("activity_summary", n, activity_summary, inter, events, as_of, cfg, profiles=index)
	metrics = synthetic_metrics(index, np.random.default_rng(args.seed), as_of).join(activity)
	label = "lead_score (reads the activity itself)"
	timed(label, n, lead_score, profiles, inter, events, metrics, ScoreConfig(), as_of)
	label = "activity_and_engagement (summary + points)"
	(_, by_type), _ = timed(label, n, activity_and_engagement, inter, events, as_of, cfg, index)
	label = "lead_score (engagement= precomputed)"
	timed(label, n, lead_score, profiles, None, None, metrics, ScoreConfig(), as_of, engagement=by_type)
	cats, _ = timed("categorise", n, categorise, metrics)
	stages, _ = timed("assign_stages", n, assign_stages, metrics)
	tags, _ = timed(
		f"evaluate_tags ({len(TAG_RULES)} rules)",
		n,
		evaluate_tags,
		metrics.join(profiles.set_index("profile")[["territory"]]),
		TAG_RULES,
	)
	print(
		f"\n  categories: {cats['category'].value_counts().to_dict()}\n"
		f"  stage changes: {int(stages['stage_changed'].sum()):,}; tags: {len(tags):,}\n"
	)
	if args.skip_dedupe:
		return
	with_phone = profiles["phone"].notna().mean()
	rng = np.random.default_rng(args.seed)
	thirty = profiles.assign(phone=profiles["phone"].where(rng.random(n) < 0.30 / with_phone))
	for label, frame in (
		(f"{with_phone:.0%} with a phone", profiles),
		(f"{thirty['phone'].notna().mean():.0%} with a phone", thirty),
	):
		clear_phone_cache()
		pairs, _ = timed(f"duplicate_candidates, {label}", n, duplicate_candidates, frame, DedupeConfig())
		clear_phone_cache()
		_, quick = timed(
			"  phone signal only", n, duplicate_candidates, frame, DedupeConfig(email=False, company=False)
		)
		clear_phone_cache()
		no_pre = DedupeConfig(email=False, company=False, phone_prefilter=False)
		_, slow = timed("  phone signal only, every number parsed", n, duplicate_candidates, frame, no_pre)
		print(f"  phone prefilter speed-up: {slow / quick:.1f}x (wall)")
		timed("  email signal only", n, duplicate_candidates, frame, DedupeConfig(phone=False, company=False))
		timed("  company signal only", n, duplicate_candidates, frame, DedupeConfig(phone=False, email=False))
		print(f"  pairs: {len(pairs):,}\n")
	clusters, _ = timed("duplicate_clusters", len(pairs), duplicate_clusters, pairs)
	print(f"  clusters: {clusters['cluster'].nunique():,} over {len(clusters):,} profiles")


if __name__ == "__main__":
	main()

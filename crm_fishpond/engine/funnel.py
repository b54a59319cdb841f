"""The lifecycle funnel: stage-to-stage conversion and time in stage, from the stage history.

Input:

* ``history`` — one row per stage change, columns ``profile``, ``to_stage``, ``changed_on``
  (datetime-like) and optional ``seq`` (the row's order within its profile, to break ties of equal
  timestamps);
* ``stages`` — the ordered stages, columns ``stage``, ``sequence`` and optional ``is_churn`` (a stage
  profiles fall into when they stop buying: it is an exit, never a step forward).

Definitions (docs/analytics.md, *Fishpond Lifecycle Funnel*):

* a **stay** is a profile's time in one stage: it starts at a history row and ends at the profile's
  next row (a row naming the stage the profile is already in continues the stay);
* **entered**: stays of the stage that started in the period; **profiles**: distinct profiles among
  them;
* each stay ends one way: **moved forward** (next stage has a higher sequence and is not a churn
  stage), **churned** (next stage is a churn stage), **moved back** (any other next stage, e.g. a
  win-back from churn), or **still in stage** (no later row);
* **conversion %** = moved forward / entered x 100;
* **median / mean days in stage**: over the stays that ended (open stays are left out: they have no
  length yet), in days between the two rows.

Stages the history names but ``stages`` lacks (deleted since) come last, in name order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .errors import EngineInputError

__all__ = ["FUNNEL_COLUMNS", "stage_funnel", "stage_stays"]

FUNNEL_COLUMNS = (
	"stage",
	"sequence",
	"is_churn",
	"entered",
	"profiles",
	"moved_forward",
	"churned",
	"moved_back",
	"still_in_stage",
	"conversion",
	"median_days",
	"mean_days",
)
DAY = pd.Timedelta(days=1)


def stage_stays(history: pd.DataFrame) -> pd.DataFrame:
	"""One row per stay: ``profile``, ``stage``, ``entered_on``, ``next_stage`` (None while still
	there), ``left_on`` (NaT while still there) and ``days``."""
	missing = [c for c in ("profile", "to_stage", "changed_on") if c not in history.columns]
	if missing:
		raise EngineInputError(f"history lacks columns {missing}")
	h = pd.DataFrame(
		{
			"profile": history["profile"].to_numpy(),
			"stage": history["to_stage"].to_numpy(),
			"entered_on": pd.to_datetime(history["changed_on"]).to_numpy(),
			"seq": history["seq"].to_numpy() if "seq" in history.columns else np.arange(len(history)),
		}
	)
	h = h[h["profile"].notna() & h["stage"].notna() & h["entered_on"].notna()]
	h = h.sort_values(["profile", "entered_on", "seq"], kind="stable")
	# a row repeating the stage the profile is in continues the stay
	same = (h["profile"] == h["profile"].shift()) & (h["stage"] == h["stage"].shift())
	h = h[~same].reset_index(drop=True)
	nxt = h.groupby("profile", sort=False).shift(-1)
	stays = h[["profile", "stage", "entered_on"]].copy()
	stays["next_stage"] = nxt["stage"].astype(object).where(nxt["stage"].notna(), None)
	stays["left_on"] = pd.to_datetime(nxt["entered_on"])
	stays["days"] = (stays["left_on"] - stays["entered_on"]) / DAY
	return stays


def _order(stages: pd.DataFrame, named: set) -> pd.DataFrame:
	if stages is None or stages.empty:
		stages = pd.DataFrame({"stage": [], "sequence": []})
	missing = [c for c in ("stage", "sequence") if c not in stages.columns]
	if missing:
		raise EngineInputError(f"stages lack columns {missing}")
	order = pd.DataFrame(
		{
			"stage": stages["stage"].to_numpy(),
			"sequence": pd.to_numeric(stages["sequence"], errors="coerce").to_numpy(dtype=float),
			"is_churn": (
				stages["is_churn"].fillna(False).astype(bool).to_numpy()
				if "is_churn" in stages.columns
				else np.zeros(len(stages), dtype=bool)
			),
		}
	)
	known = set(order["stage"])
	extra = sorted(s for s in named if s not in known)
	top = np.nanmax(order["sequence"].to_numpy()) if len(order) and order["sequence"].notna().any() else 0
	if extra:
		order = pd.concat(
			[
				order,
				pd.DataFrame(
					{"stage": extra, "sequence": [top + i + 1 for i in range(len(extra))], "is_churn": False}
				),
			],
			ignore_index=True,
		)
	order["sequence"] = order["sequence"].fillna(top + len(extra) + 1)
	return order.sort_values(["sequence", "stage"], kind="stable").reset_index(drop=True)


def stage_funnel(
	history: pd.DataFrame,
	stages: pd.DataFrame,
	start: Any = None,
	end: Any = None,
) -> pd.DataFrame:
	"""One row per stage (in sequence order) with the columns of :data:`FUNNEL_COLUMNS`, over the
	stays that started in ``[start, end]`` (datetime-like, both optional and inclusive)."""
	stays = stage_stays(history)
	order = _order(stages, set(stays["stage"]))
	if start is not None:
		stays = stays[stays["entered_on"] >= pd.Timestamp(start)]
	if end is not None:
		stays = stays[stays["entered_on"] <= pd.Timestamp(end)]
	seq = dict(zip(order["stage"], order["sequence"], strict=True))
	churn = dict(zip(order["stage"], order["is_churn"], strict=True))
	here = stays["stage"].map(seq).to_numpy(dtype=float)
	has_next = stays["next_stage"].notna().to_numpy()
	next_seq = stays["next_stage"].map(seq).to_numpy(dtype=float)
	next_churn = np.array([bool(churn.get(s, False)) for s in stays["next_stage"]], dtype=bool)
	stays = stays.assign(
		forward=has_next & ~next_churn & (next_seq > here),
		churned=has_next & next_churn,
		back=has_next & ~next_churn & ~(next_seq > here),
		still=~has_next,
	)
	rows = []
	for stage, sequence, is_churn in order[["stage", "sequence", "is_churn"]].itertuples(index=False):
		s = stays[stays["stage"] == stage]
		entered = len(s)
		done = s["days"].dropna()
		rows.append(
			{
				"stage": stage,
				"sequence": float(sequence),
				"is_churn": bool(is_churn),
				"entered": entered,
				"profiles": int(s["profile"].nunique()),
				"moved_forward": int(s["forward"].sum()),
				"churned": int(s["churned"].sum()),
				"moved_back": int(s["back"].sum()),
				"still_in_stage": int(s["still"].sum()),
				"conversion": 100.0 * s["forward"].sum() / entered if entered else np.nan,
				"median_days": float(done.median()) if len(done) else np.nan,
				"mean_days": float(done.mean()) if len(done) else np.nan,
			}
		)
	return pd.DataFrame(rows, columns=list(FUNNEL_COLUMNS))

"""Run every engine computation over a pond (placeholder: filled in when the modules land)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
	return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class PondInputs:
	"""The four input frames of a pond (columns: docs/engine.md and :mod:`.schema`)."""

	profiles: pd.DataFrame
	transactions: pd.DataFrame = field(default_factory=lambda: _empty(("profile", "date", "amount")))
	interactions: pd.DataFrame = field(default_factory=lambda: _empty(("profile", "time", "type")))
	events: pd.DataFrame = field(default_factory=lambda: _empty(("profile", "time", "type")))

"""Column contracts of the engine's input frames.

All frames are plain pandas DataFrames. ``profile`` is the Fishpond Lead name (a string).
Dates are ``datetime64[ns]`` (naive, site time zone). Amounts are floats in company currency.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from .errors import EngineInputError

# profiles: one row per profile
PROFILE_COLUMNS = ("profile",)
PROFILE_OPTIONAL = (
	"created",  # datetime: when the profile entered the pond
	"source",  # str: source channel
	"territory",
	"person_name",
	"company_name",
	"email",
	"phone",
	"country",  # ISO 3166 alpha-2, default region for phone parsing
	"stage",  # str: current lifecycle stage (for transitions)
	"customer",  # str | None: linked ERPNext Customer
)

# transactions: one row per submitted Sales Invoice / Sales Order / credit note
TRANSACTION_COLUMNS = ("profile", "date", "amount")
TRANSACTION_OPTIONAL = ("voucher_type", "voucher_no", "is_return", "items")

# interactions: emails, calls, meetings, visits, chats, notes
INTERACTION_COLUMNS = ("profile", "time", "type")
INTERACTION_OPTIONAL = ("direction",)

# behaviour events (web/app)
EVENT_COLUMNS = ("profile", "time", "type")
EVENT_OPTIONAL = ("weight",)


def require_columns(df: pd.DataFrame, columns: Iterable[str], frame: str) -> None:
	"""Raise EngineInputError naming the frame and every missing column."""
	if not isinstance(df, pd.DataFrame):
		raise EngineInputError(f"{frame} must be a pandas DataFrame, got {type(df).__name__}")
	missing = [c for c in columns if c not in df.columns]
	if missing:
		raise EngineInputError(f"{frame} is missing column(s): {', '.join(missing)}")

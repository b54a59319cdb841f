"""The engine's input frames, read set-based from the pond tables (explicit columns, SQL aggregates).

* **profiles**: one row per Fishpond Lead with its fit answers, current lifecycle stage and a few
  signals tag rules may read (``open_orders``: the customer's submitted Sales Orders not yet
  completed or closed).
* **transactions** (purchases): submitted Sales Invoices and credit notes (negative) in company
  currency, one row per voucher with three columns (an attributed POS Invoice is a row of its own,
  crm_fishpond.sync.pos). The engine nets a profile's amounts per day itself; a ``GROUP BY
  profile, day`` in SQL would return the same figures, but MariaDB answers it with an on-disk
  temporary table and a filesort that cost ~3x the plain read at a million rows.
* **interactions** and **events**: one row each (their decay needs the time); submitted Sales Orders
  join the events as type ``sales_order`` (:data:`SALES_ORDER_EVENT`).

With ``profiles`` given every query is restricted to them (a chunk of a full run, the incremental
rescore); without, the whole pond is read. Nothing loads a Document.
"""

from __future__ import annotations

from collections.abc import Sequence

import frappe
import numpy as np
import pandas as pd
from frappe.query_builder import functions as fn

from crm_fishpond.engine.pipeline import PondInputs
from crm_fishpond.sync.transactions import PURCHASE_VOUCHERS

SALES_ORDER_EVENT = "sales_order"
"""Submitted Sales Orders enter the engine as behaviour events of this type: an order placed is the
strongest intent signal a profile gives before its invoice (purchases are invoices)."""

OPEN_ORDER_STATUSES = ("To Deliver and Bill", "To Bill", "To Deliver", "On Hold")

PROFILE_FIELDS = {
	# engine column: Fishpond Lead column
	"created": "creation",
	"source": "source",
	"territory": "territory",
	"person_name": "lead_name",
	"company_name": "company_name",
	"email": "email_id",
	"phone": "phone",
	"mobile_no": "mobile_no",
	"country": "country",
	"stage": "lifecycle_stage",
	"customer": "customer",
	"industry": "industry",
	"budget": "budget",
	"authority": "authority",
	"need": "need",
	"timeline": "timeline",
	"challenges": "challenges",
	"priority": "priority",
	"status": "status",
	"fishpond": "fishpond",
	"lead_owner": "lead_owner",
}


DERIVED_PROFILE_COLUMNS = ("open_orders", "nps_score", "csat_score")
"""Profile columns the loader computes besides :data:`PROFILE_FIELDS` (rules may read them too).
``nps_score`` and ``csat_score`` are the profile's last survey answers, empty (NaN) when it never
answered one (crm_fishpond.feedback): a rule ``nps_score <= 6`` holds for detractors only."""

FEEDBACK_FIELDS = (("nps_score", "nps_answered_on"), ("csat_score", "csat_answered_on"))


def profile_columns() -> list[str]:
	"""The engine columns of the profiles frame (what rules read from the profile itself)."""
	return [c for c in PROFILE_FIELDS if c != "mobile_no"] + list(DERIVED_PROFILE_COLUMNS)


@frappe.read_only()
def profile_names() -> list[str]:
	"""Every profile's name in the database's order (a full run splits them into chunks). Read from
	the site's read replica when it has one (``read_from_replica``)."""
	lead = frappe.qb.DocType("Fishpond Lead")
	return [row[0] for row in frappe.qb.from_(lead).select(lead.name).orderby(lead.name).run()]


Bounds = tuple[str, str]
"""A chunk's range of profile names, first and last (its profiles are every name between them)."""


@frappe.read_only()
def load_chunk_purchases(profiles: Sequence[str], between: Bounds | None = None) -> PondInputs:
	"""What the first stage of a full run summarises for a chunk: the chunk's profile names (in the
	database's order) and their purchases (``between``: the chunk's range, see :func:`load_inputs`).
	Read from the read replica when the site has one."""
	names = list(dict.fromkeys(profiles))
	frame = pd.DataFrame({"profile": pd.Series(names, dtype=object)})
	if not names:
		return PondInputs(frame)
	return PondInputs(profiles=frame, transactions=load_purchases(names, between))


def profile_names_between(first: str, last: str) -> list[str]:
	"""The profiles from ``first`` to ``last`` in the database's order (a chunk of a full run)."""
	lead = frappe.qb.DocType("Fishpond Lead")
	query = (
		frappe.qb.from_(lead)
		.select(lead.name)
		.where(lead.name >= first)
		.where(lead.name <= last)
		.orderby(lead.name)
	)
	return [row[0] for row in query.run()]


@frappe.read_only()
def load_chunk_inputs(
	profiles: Sequence[str], purchases: bool = True, between: Bounds | None = None
) -> PondInputs:
	""":func:`load_inputs` for a chunk of a full run, read from the site's read replica when it has
	one (``read_from_replica``): plain consistent reads, which take no locks that would hold up order
	entry. A full run's data is as of its plan, so a replica's lag of a moment changes nothing; the
	incremental rescore, which follows an event by milliseconds, reads the primary. ``purchases``
	False: no transactions (a score chunk whose purchase summary its run stored)."""
	return load_inputs(profiles, purchases=purchases, between=between)


def load_inputs(
	profiles: Sequence[str] | None = None, purchases: bool = True, between: Bounds | None = None
) -> PondInputs:
	"""The four frames for ``profiles`` (default: every profile), profiles ordered by name (without
	the purchases when ``purchases`` is False).

	``between``: the range of names the profiles were read from (a chunk of a full run). The queries
	then ask for that range of their index instead of a list of the chunk's 20,000 names, which costs
	a second or more a chunk to build, send and parse; rows of a profile not named (one added to the
	range since its names were read) are left out, so the frames are the same."""
	names = None if profiles is None else sorted(set(profiles))
	if names is not None and not names:
		return PondInputs(profiles=pd.DataFrame({"profile": pd.Series([], dtype=object)}))
	frame = load_profiles(names, between)
	activity = {"interactions": load_interactions(names, between), "events": load_events(names, between)}
	if not purchases:
		return PondInputs(profiles=frame, **activity)  # no transactions
	return PondInputs(profiles=frame, transactions=load_purchases(names, between), **activity)


def _of_profiles(query, column, names: list[str] | None, between: Bounds | None):
	"""``query`` restricted to the profiles: to the range ``between`` when given (the caller keeps
	the named profiles' rows, :func:`_named`), else to ``names`` (None: every profile)."""
	if between is not None:
		return query.where(column >= between[0]).where(column <= between[1])
	if names is not None:
		return query.where(column.isin(names))
	return query


def _named(frame: pd.DataFrame, names: list[str] | None, between: Bounds | None) -> pd.DataFrame:
	"""The rows of ``frame`` read by range (:func:`_of_profiles`) that belong to the named profiles."""
	if between is None or names is None:
		return frame
	keep = frame["profile"].isin(names).to_numpy()
	return frame if keep.all() else frame[keep].reset_index(drop=True)


def load_profiles(names: list[str] | None = None, between: Bounds | None = None) -> pd.DataFrame:
	lead = frappe.qb.DocType("Fishpond Lead")
	query = (
		frappe.qb.from_(lead)
		.select(
			lead.name,
			*[lead[column] for column in PROFILE_FIELDS.values()],
			*[lead[column] for pair in FEEDBACK_FIELDS for column in pair],
		)
		.orderby(lead.name)
	)
	rows = _of_profiles(query, lead.name, names, between).run()
	columns = ["profile", *PROFILE_FIELDS]
	feedback = [column for pair in FEEDBACK_FIELDS for column in pair]
	frame = _named(pd.DataFrame.from_records(list(rows), columns=columns + feedback), names, between)
	for column in columns:
		if column != "created":
			frame[column] = frame[column].astype(object)
	frame["created"] = pd.to_datetime(frame["created"])
	# one phone for the engine: the mobile number when there is one
	mobile = frame.pop("mobile_no")
	frame["phone"] = mobile.where(mobile.notna() & (mobile != ""), frame["phone"])
	frame["stage"] = frame["stage"].where(frame["stage"].notna(), "")
	frame["open_orders"] = _open_orders(frame["customer"], names)
	for score, answered_on in FEEDBACK_FIELDS:
		values = pd.to_numeric(frame[score], errors="coerce").astype(float)
		frame[score] = values.where(frame.pop(answered_on).notna())
	return frame


def _open_orders(customers: pd.Series, names: list[str] | None) -> np.ndarray:
	so = frappe.qb.DocType("Sales Order")
	query = (
		frappe.qb.from_(so)
		.select(so.customer, fn.Count("*"))
		.where(so.docstatus == 1)
		.where(so.status.isin(OPEN_ORDER_STATUSES))
		.groupby(so.customer)
	)
	wanted = [c for c in customers.dropna().unique() if c]
	if names is not None:
		if not wanted:
			return np.zeros(len(customers), dtype=np.int64)
		query = query.where(so.customer.isin(wanted))
	counts = dict(query.run())
	return customers.map(counts).fillna(0).to_numpy(dtype=np.int64)


def load_purchases(names: list[str] | None = None, between: Bounds | None = None) -> pd.DataFrame:
	tx = frappe.qb.DocType("Fishpond Transaction")
	query = (
		frappe.qb.from_(tx)
		.select(tx.fishpond_lead, tx.posting_date, tx.base_grand_total)
		.where(tx.voucher_type.isin(PURCHASE_VOUCHERS))
		.where(tx.docstatus_state == "Submitted")
		.where(tx.fishpond_lead.isnotnull())
	)
	profile, date, amount = _columns(_of_profiles(query, tx.fishpond_lead, names, between).run(), 3)
	frame = pd.DataFrame(
		{
			"profile": np.asarray(profile, dtype=object),
			"date": pd.to_datetime(np.asarray(date, dtype="datetime64[D]")).astype("datetime64[ns]"),
			"amount": np.asarray(amount, dtype=float),
		}
	)
	return _named(frame, names, between)


def load_interactions(names: list[str] | None = None, between: Bounds | None = None) -> pd.DataFrame:
	it = frappe.qb.DocType("Fishpond Interaction")
	query = (
		frappe.qb.from_(it)
		.select(it.fishpond_lead, it.interaction_time, it.interaction_type, it.direction)
		.where(it.fishpond_lead.isnotnull())
		.where(it.interaction_time.isnotnull())
	)
	query = _of_profiles(query, it.fishpond_lead, names, between)
	profile, time, kind, direction = _columns(query.run(), 4)
	frame = pd.DataFrame(
		{
			"profile": np.asarray(profile, dtype=object),
			"time": _datetimes(time),
			"type": _lower(kind),
			"direction": _lower(direction),
		}
	)
	return _named(frame, names, between)


def load_events(names: list[str] | None = None, between: Bounds | None = None) -> pd.DataFrame:
	ev = frappe.qb.DocType("Fishpond Behaviour Event")
	query = (
		frappe.qb.from_(ev)
		.select(ev.fishpond_lead, ev.event_time, ev.event_type, ev.weight)
		.where(ev.fishpond_lead.isnotnull())
		.where(ev.event_time.isnotnull())
	)
	tx = frappe.qb.DocType("Fishpond Transaction")
	orders = (
		frappe.qb.from_(tx)
		.select(tx.fishpond_lead, tx.posting_date)
		.where(tx.voucher_type == "Sales Order")
		.where(tx.docstatus_state == "Submitted")
		.where(tx.fishpond_lead.isnotnull())
	)
	query = _of_profiles(query, ev.fishpond_lead, names, between)
	orders = _of_profiles(orders, tx.fishpond_lead, names, between)
	profile, time, kind, weight = _columns(query.run(), 4)
	order_profile, order_date = _columns(orders.run(), 2)
	frame = pd.DataFrame(
		{
			"profile": np.asarray(list(profile) + list(order_profile), dtype=object),
			"time": np.concatenate(
				[_datetimes(time), pd.to_datetime(np.asarray(order_date, dtype="datetime64[D]")).to_numpy()]
			).astype("datetime64[ns]"),
			"type": np.concatenate(
				[_lower(kind), np.full(len(order_profile), SALES_ORDER_EVENT, dtype=object)]
			),
			"weight": np.concatenate(
				[
					np.asarray([1.0 if w is None else float(w) for w in weight], dtype=float),
					np.ones(len(order_profile), dtype=float),
				]
			),
		}
	)
	return _named(frame, names, between)


def _columns(rows, n: int) -> list[tuple]:
	if not rows:
		return [() for _ in range(n)]
	return list(zip(*rows, strict=True))


def _datetimes(values) -> np.ndarray:
	return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy(dtype="datetime64[ns]")


def _lower(values) -> np.ndarray:
	return np.asarray([v.lower() if isinstance(v, str) else v for v in values], dtype=object)

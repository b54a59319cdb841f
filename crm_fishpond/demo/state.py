"""The demo's ledger: its parameters, how far it got, and the shared records it created.

The ledger is one JSON value stored as a global default (``tabDefaultValue``, parent ``__global``),
written in the same transaction as each batch it describes, so after a crash it names exactly what
was committed. It is read straight from the table, never from the defaults cache (a cached copy could
outlive a rolled-back transaction).

What the demo makes in bulk is recognisable without the ledger: its Leads, Sales Orders, Sales
Invoices, credit notes, Payment Entries and POS Invoices are named by the ``FPDEMO-`` naming series,
its Customers are made from those Leads, its items' codes start with ``FPDEMO-``, and the pond records
hang off their profiles. The ledger lists the rest: the fiscal years, territories, lead sources, account,
exchange rate, reps, pools, runs and the till's walk-in customer, POS Profile and sessions it created
(never one that was there before).
"""

from __future__ import annotations

import json

import frappe

KEY = "fishpond_demo"
PREFIX = "FPDEMO-"
SERIES = {
	"Lead": "FPDEMO-LEAD-.YYYY.-",
	"Sales Order": "FPDEMO-SO-.YYYY.-",
	"Sales Invoice": "FPDEMO-SINV-.YYYY.-",
	"Credit Note": "FPDEMO-CN-.YYYY.-",
	"Payment Entry": "FPDEMO-PE-.YYYY.-",
	"POS Invoice": "FPDEMO-POS-.YYYY.-",
}
INGEST_KEY = "fishpond-demo:"  # prefix of the behaviour-event batches' idempotency keys
VERSION = 1


def load() -> dict | None:
	table = frappe.qb.DocType("DefaultValue")
	rows = (
		frappe.qb.from_(table)
		.select(table.defvalue)
		.where(table.parent == "__global")
		.where(table.defkey == KEY)
		.run()
	)
	return json.loads(rows[0][0]) if rows and rows[0][0] else None


def save(state: dict) -> None:
	frappe.db.set_global(KEY, json.dumps(state, sort_keys=True, default=str))


def delete() -> None:
	frappe.db.set_global(KEY, None)  # a None value deletes the row


def new(params: dict, company: str) -> dict:
	return {
		"version": VERSION,
		"params": params,
		"company": company,
		"phase": "masters",
		"cursor": 0,
		"created": {},
		"counts": {},
		"settings": {},
		"seconds": {},
	}


def created(state: dict, doctype: str, name: str) -> None:
	"""Note a shared record the demo created (clear removes it again)."""
	names = state["created"].setdefault(doctype, [])
	if name not in names:
		names.append(name)


def add_counts(state: dict, counts: dict[str, int]) -> None:
	for key, value in counts.items():
		state["counts"][key] = state["counts"].get(key, 0) + value


# --- what the demo made --------------------------------------------------------------------------


def series_prefix(kind: str) -> str:
	"""``FPDEMO-SINV-`` for ``"Sales Invoice"``: the fixed part of the demo's naming series."""
	return SERIES[kind].split(".")[0]


def names(doctype: str, kind: str | None = None, **filters) -> list[str]:
	"""The demo's documents of a naming series (``kind`` defaults to the doctype)."""
	prefix = series_prefix(kind or doctype)
	return frappe.get_all(
		doctype, filters={"name": ("like", prefix + "%"), **filters}, pluck="name", order_by="name desc"
	)


def leads() -> list[str]:
	return names("Lead")


def customers() -> list[str]:
	return frappe.get_all(
		"Customer",
		filters={"lead_name": ("like", series_prefix("Lead") + "%")},
		pluck="name",
		order_by="name",
	)


def profiles() -> list[str]:
	"""The demo's profiles: those of its Leads and Customers."""
	lead = frappe.qb.DocType("Fishpond Lead")
	customer = frappe.qb.DocType("Customer")
	demo_customers = (
		frappe.qb.from_(customer)
		.select(customer.name)
		.where(customer.lead_name.like(series_prefix("Lead") + "%"))
	)
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name)
		.where(lead.lead.like(series_prefix("Lead") + "%") | lead.customer.isin(demo_customers))
		.orderby(lead.name)
		.run()
	)
	return [r[0] for r in rows]

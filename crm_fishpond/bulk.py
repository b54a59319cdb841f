"""Bulk SQL for derived pond rows: plain parametrised multi-row statements.

frappe.db.bulk_update builds one CASE per column through pypika and frappe.db.bulk_insert renders every
value through pypika too (about 20 µs a value): at 100,000 profiles x 17 columns that was most of a
full rescore, and 30 of the recycler's 40 seconds on 100,000 leads. These helpers send the same
statements as plain parametrised SQL; the driver escapes the values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import islice

import frappe

# the standard columns every document row and every child row carries, in insert order
DOC_COLUMNS = ("name", "creation", "modified", "owner", "modified_by", "docstatus")
CHILD_COLUMNS = (*DOC_COLUMNS, "parent", "parenttype", "parentfield", "idx")


def insert_rows(
	doctype: str, fields: list[str] | tuple[str, ...], rows: Iterable[tuple], chunk_size: int = 2000
) -> None:
	"""Multi-row INSERT of ``rows`` (tuples in the order of ``fields``), one statement per chunk."""
	q = '"' if frappe.db.db_type == "postgres" else "`"
	columns = ", ".join(f"{q}{f}{q}" for f in fields)
	row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
	iterator = iter(rows)
	while chunk := list(islice(iterator, chunk_size)):
		frappe.db.sql(
			f"insert into {q}tab{doctype}{q} ({columns}) values {', '.join([row_sql] * len(chunk))}",
			[v for row in chunk for v in row],
		)


def update_rows(doctype: str, updates: dict[str, dict], chunk_size: int = 2000) -> None:
	"""Set the given columns of existing rows; rows that change the same columns share a statement.

	MariaDB: ``INSERT ... ON DUPLICATE KEY UPDATE`` by primary key, the fastest bulk update it has; the
	caller has read the rows ``FOR UPDATE`` in this transaction, so every name exists and the insert
	branch never runs. Other databases: ``frappe.db.bulk_update``.
	"""
	if not updates:
		return
	if frappe.db.db_type != "mariadb":
		frappe.db.bulk_update(doctype, updates, chunk_size=500, update_modified=False)
		return
	groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
	for name, row in updates.items():
		groups[tuple(sorted(row))].append(name)
	for fields, names in groups.items():
		columns = ", ".join(f"`{f}`" for f in ("name", *fields))
		assign = ", ".join(f"`{f}` = values(`{f}`)" for f in fields)
		row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
		for start in range(0, len(names), chunk_size):
			chunk = names[start : start + chunk_size]
			params = []
			for name in chunk:
				row = updates[name]
				params.append(name)
				params.extend(row[f] for f in fields)
			frappe.db.sql(
				f"insert into `tab{doctype}` ({columns}) values {', '.join([row_sql] * len(chunk))} "
				f"on duplicate key update {assign}",
				params,
			)

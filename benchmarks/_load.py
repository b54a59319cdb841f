"""Write generated rows straight into a site's tables, fast: one LOAD DATA LOCAL INFILE per slice of
rows over a pymysql connection of the benchmark's own (opened with the site's db credentials), or,
when the server has ``local_infile`` OFF (the scripts never change server settings), through
frappe.db.bulk_insert, several times slower.

Used by the benchmarks that generate big sites (bench_rescore.py, bench_backfill.py); never by the app.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd

SLICE = 1_000_000
"""Rows written per statement (one temporary TSV file, one LOAD DATA, one commit)."""
FORMAT_ROWS = 100_000
"""Rows turned into TSV lines at a time (bounds the per-column lists of text)."""
NULL = r"\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def tsv_fields(values: pd.Series) -> list[str]:
	"""One column as LOAD DATA reads it: missing values (None, NaN, NaT) as \\N, datetimes with
	microseconds (the precision the driver sends), text with backslash, tab, newline, CR and NUL
	escaped, anything else (numbers, dates) as str()."""
	if values.dtype.kind == "M":
		text = pd.Series(
			np.datetime_as_string(values.to_numpy().astype("datetime64[us]"), unit="us"), index=values.index
		).str.replace("T", " ", regex=False)
	elif values.dtype == object:
		text = values.astype(str).str.translate(_ESCAPES)
	else:
		text = values.astype(str)
	return text.where(values.notna(), NULL).tolist()


def load_rows(connection, doctype: str, frame: pd.DataFrame) -> float:
	"""Load ``frame`` (its columns are columns of the doctype's table, its first the unique name) with
	one LOAD DATA LOCAL INFILE from a temporary TSV file, then commit.

	A column that holds one value on every row (owner, creation, voucher_type...) is sent once, in the
	statement's SET clause, as the driver would send it to bulk_insert; the rest go to the file,
	FORMAT_ROWS rows at a time, and the lines are sorted by the name so that the primary key (and the
	indexes that end in it) grow at one end. LOCAL turns row errors into warnings and duplicate keys
	into skipped rows, so any warning or a short count is raised as an error. Returns the seconds the
	LOAD DATA statement took (the server's share)."""
	constants = {
		column: value for column in frame.columns[1:] if (value := _constant(frame[column])) is not _VARIES
	}
	varying = [column for column in frame.columns if column not in constants]
	lines = []
	for start in range(0, len(frame), FORMAT_ROWS):
		part = frame.iloc[start : start + FORMAT_ROWS]
		lines.extend(map("\t".join, zip(*(tsv_fields(part[column]) for column in varying), strict=True)))
	lines.sort()  # by the name: "\t" sorts before any character of a name
	columns = ", ".join(f"`{column}`" for column in varying)
	assignments = "".join(f", `{column}` = %s" for column in constants)[1:]
	with tempfile.NamedTemporaryFile("w", encoding="utf-8", prefix="fishpond_bench_", suffix=".tsv") as fh:
		fh.writelines(line + "\n" for line in lines)
		fh.flush()
		del lines
		t = time.perf_counter()
		with connection.cursor() as cursor:
			loaded = cursor.execute(
				f"LOAD DATA LOCAL INFILE %s INTO TABLE `tab{doctype}` CHARACTER SET utf8mb4 "
				f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({columns})"
				+ (f" SET{assignments}" if constants else ""),
				(fh.name, *constants.values()),
			)
			cursor.execute("SHOW WARNINGS LIMIT 5")
			warnings = cursor.fetchall()
		seconds = time.perf_counter() - t
	if warnings or loaded != len(frame):
		connection.rollback()
		raise RuntimeError(f"{doctype}: {loaded:,} of {len(frame):,} rows loaded; warnings: {warnings}")
	connection.commit()
	return seconds


_VARIES = object()


def _constant(values: pd.Series):
	"""The value every row of ``values`` holds (None for missing), as bulk_insert would be given it,
	or _VARIES."""
	first = values.iloc[:1]
	if len(values) < 2 or not (
		values.isna().all() if first.isna().all() else (values == first.iloc[0]).all()
	):
		return _VARIES
	return first.astype(object).where(first.notna(), None).iloc[0]


def infile_connection():
	"""A connection of its own that may send LOAD DATA LOCAL INFILE, or None when the server refuses
	it (``local_infile`` OFF; the script does not change server settings)."""
	import frappe
	import pymysql

	if not frappe.db.sql("select @@global.local_infile")[0][0]:
		print("note: the server has local_infile OFF: writing with frappe.db.bulk_insert (much slower)")
		return None
	return pymysql.connect(
		host=frappe.conf.db_host or "127.0.0.1",
		port=int(frappe.conf.db_port or 3306),
		user=frappe.conf.db_user or frappe.conf.db_name,
		password=frappe.conf.db_password,
		database=frappe.conf.db_name,
		charset="utf8mb4",
		local_infile=True,
	)


def write_frame(connection, doctype: str, frame: pd.DataFrame) -> float:
	"""Write ``frame`` (its columns are columns of the doctype's table, its first the unique name) in
	slices of SLICE rows: LOAD DATA through ``connection``, or bulk_insert when it is None. Returns
	the seconds the LOAD DATA statements took (0 through bulk_insert)."""
	import frappe

	seconds = 0.0
	for start in range(0, len(frame), SLICE):
		part = frame.iloc[start : start + SLICE]
		if connection is None:
			rows = part.astype(object).where(part.notna(), None).itertuples(index=False, name=None)
			frappe.db.bulk_insert(doctype, list(part.columns), rows, chunk_size=5000)
			frappe.db.commit()
		else:
			seconds += load_rows(connection, doctype, part)
	return seconds

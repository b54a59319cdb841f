"""Durable run records (Fishpond Run): status, cursor, counts, heartbeat; one active run per type."""

from __future__ import annotations

import json

import frappe
from frappe.utils import add_to_date, now_datetime

ACTIVE = ("Queued", "Running")
STALE_AFTER_MINUTES = 15


def active_run(run_type: str) -> str | None:
	return frappe.db.get_value("Fishpond Run", {"run_type": run_type, "status": ("in", ACTIVE)}, "name")


def create_run(run_type: str, triggered_by: str | None = None, cursor: dict | None = None) -> str:
	doc = frappe.get_doc(
		{
			"doctype": "Fishpond Run",
			"run_type": run_type,
			"status": "Queued",
			"triggered_by": triggered_by or frappe.session.user,
			"cursor": json.dumps(cursor or {}),
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


def get_cursor(run: str) -> dict:
	raw = frappe.db.get_value("Fishpond Run", run, "cursor")
	return json.loads(raw) if raw else {}


def save_progress(run: str, cursor: dict | None = None, **values) -> None:
	"""Persist counters/cursor with a heartbeat; callers commit with the chunk they belong to."""
	values["heartbeat"] = now_datetime()
	if cursor is not None:
		values["cursor"] = json.dumps(cursor)
	frappe.db.set_value("Fishpond Run", run, values, update_modified=False)


def append_log(run: str, line: str) -> None:
	log = frappe.db.get_value("Fishpond Run", run, "log") or ""
	frappe.db.set_value("Fishpond Run", run, "log", (log + line + "\n")[-20000:], update_modified=False)


def publish(run: str, progress: float, message: str) -> None:
	frappe.publish_realtime(
		"fishpond_run_progress",
		{"run": run, "progress": progress, "message": message},
		doctype="Fishpond Run",
		docname=run,
		after_commit=True,
	)


def stale_runs(run_type: str) -> list[str]:
	"""Runs that claim to be active but whose worker stopped beating (crash, restart, OOM)."""
	limit = add_to_date(now_datetime(), minutes=-STALE_AFTER_MINUTES)
	run = frappe.qb.DocType("Fishpond Run")
	return [
		r[0]
		for r in (
			frappe.qb.from_(run)
			.select(run.name)
			.where(run.run_type == run_type)
			.where(run.status.isin(ACTIVE))
			.where((run.heartbeat < limit) | (run.heartbeat.isnull() & (run.creation < limit)))
		).run()
	]


class RunLocked(Exception):
	"""Another worker holds the lock (it is executing this run's step)."""


class db_lock:
	"""A session-scoped named lock in the database (released on exit, or by the server when the
	connection dies). ``timeout=0`` fails at once with :class:`RunLocked` when it is held."""

	def __init__(self, name: str, timeout: int = 0):
		self.key = f"fishpond:{frappe.conf.db_name}:{name}"[:64]
		self.timeout = timeout

	def __enter__(self):
		if frappe.db.db_type == "postgres":
			got = frappe.db.sql("select pg_try_advisory_lock(hashtext(%s))", self.key)[0][0]
		else:
			got = frappe.db.sql("select get_lock(%s, %s)", (self.key, self.timeout))[0][0]
		if not got:
			raise RunLocked(self.key)
		return self

	def __exit__(self, *exc):
		if frappe.db.db_type == "postgres":
			frappe.db.sql("select pg_advisory_unlock(hashtext(%s))", self.key)
		else:
			frappe.db.sql("select release_lock(%s)", self.key)
		return False

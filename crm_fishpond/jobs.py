"""Background jobs: one helper enqueues everything (dotted path, primitive kwargs, job_id, dedup).

Profiles touched by an event are marked dirty in a per-site Redis set and one deduplicated job drains
the set, so a burst of 1,000 orders for one customer costs a handful of jobs, not 1,000. A job that is
already running when a profile is marked picks it up on its next loop; the cron reconciler catches the
rare mark made between the job's last look and its exit.
"""

from __future__ import annotations

from collections.abc import Iterable

import frappe
from redis import Redis

DIRTY_KEY = "fishpond:dirty_profiles"
RESCORE_JOB_ID = "crm_fishpond:rescore_dirty"
BATCH = 500


def enqueue(method: str, *, job_id: str, queue: str = "default", timeout: int = 300, **kwargs) -> None:
	"""Enqueue after commit, deduplicated by job_id. In tests the job runs inline (and is never skipped
	because a job of the same id waits in a queue no worker serves)."""
	inline = bool(frappe.flags.in_test and not frappe.flags.fishpond_real_queue)
	frappe.enqueue(
		method,
		queue=queue,
		timeout=timeout,
		job_id=job_id,
		deduplicate=not inline,
		enqueue_after_commit=not inline,
		now=inline,
		**kwargs,
	)


def mark_dirty(profiles: Iterable[str | None]) -> None:
	"""Mark profiles for an incremental refresh and make sure a job will drain the mark."""
	names = [p for p in profiles if p]
	if not names:
		return
	Redis.sadd(frappe.cache, _dirty_key(), *names)
	if _drain_pending_in_transaction():
		return
	enqueue("crm_fishpond.jobs.rescore_dirty", job_id=RESCORE_JOB_ID)


def _drain_pending_in_transaction() -> bool:
	"""True when this transaction already asked for the drain job: rq deduplicates queued jobs, but
	enqueues deferred to the commit would otherwise pile up one per mark (a 1,000-row import in one
	transaction). Inline test runs always drain at once."""
	if frappe.flags.in_test and not frappe.flags.fishpond_real_queue:
		return False
	if frappe.flags.fishpond_drain_pending:
		return True
	frappe.flags.fishpond_drain_pending = True

	def clear():
		frappe.flags.fishpond_drain_pending = False

	frappe.db.after_commit.add(clear)
	frappe.db.after_rollback.add(clear)
	return False


def _dirty_key() -> str:
	# RedisWrapper's own set helpers pop one member at a time; the plain Redis calls on the
	# site-prefixed key pop a whole batch in one round trip.
	return frappe.cache.make_key(DIRTY_KEY)


def pop_dirty(count: int = BATCH) -> list[str]:
	members = Redis.spop(frappe.cache, _dirty_key(), count) or []
	return sorted(m.decode() if isinstance(m, bytes) else m for m in members)


def pending_dirty() -> int:
	return Redis.scard(frappe.cache, _dirty_key())


def rescore_dirty() -> int:
	"""Drain the dirty set in batches: refresh aggregates (and, once fitted, scores) of each batch."""
	from crm_fishpond.scoring.runner import rescore_profiles
	from crm_fishpond.sync.aggregates import refresh_profiles

	done = 0
	while batch := pop_dirty():
		try:
			refresh_profiles(batch)
			rescore_profiles(batch)
			if not frappe.flags.in_test:
				frappe.db.commit()  # nosemgrep: one batch is one unit of work
		except Exception:
			if not frappe.flags.in_test:
				frappe.db.rollback()
			Redis.sadd(frappe.cache, _dirty_key(), *batch)
			frappe.log_error(title="Fishpond: incremental refresh failed")
			raise
		done += len(batch)
	return done


def reconcile_dirty() -> None:
	"""Cron safety net: enqueue the drain job if marks are waiting and no job holds them."""
	if pending_dirty():
		enqueue("crm_fishpond.jobs.rescore_dirty", job_id=RESCORE_JOB_ID)

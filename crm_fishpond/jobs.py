"""Background jobs: one helper enqueues everything (dotted path, primitive kwargs, job_id, dedup).

Profiles touched by an event are marked dirty in a per-site Redis set and one deduplicated job
(crm_fishpond.scoring.incremental.rescore_dirty) drains the set, so a burst of 1,000 orders for one customer costs a handful of jobs, not 1,000. A job that is
already running when a profile is marked picks it up on its next loop; the cron reconciler catches the
rare mark made between the job's last look and its exit.

Asking rq for the drain costs a few round trips (rq's deduplication reads the queued job), so an order
does not ask again while a request stands: the first commit to mark a profile sets a short-lived
*ask* key (SET NX) and enqueues the drain; later commits find the key and only add their marks. The
drain withdraws the ask each time it looks at the set, so a mark committed after that look asks
again; a mark left behind anyway is drained within ASK_SECONDS by the next order's ask, or by the
reconciler.

The drain never holds marks only in memory. It *leases* a batch: in one MULTI/EXEC it copies the batch
into a lease set, records the lease's deadline in a sorted set and removes the batch from the dirty set;
the lease is dropped only after the batch has committed. A worker killed in between (OOM, deploy) leaves
its lease behind, and the */5 reconciler returns expired leases to the dirty set and enqueues the drain.
A lease lasts twice the default queue's timeout, so it never expires under a job that is still alive.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
from collections.abc import Iterable

import frappe
from frappe.utils.background_jobs import get_job
from redis import Redis

DIRTY_KEY = "fishpond:dirty_profiles"
LEASES_KEY = "fishpond:dirty_leases"  # sorted set: lease id -> deadline (unix time)
LEASE_KEY = "fishpond:dirty_lease:"  # + lease id: the set of profiles the lease holds
ASK_KEY = "fishpond:drain_asked"  # set while a drain is asked for and has not looked at the set yet
ASK_SECONDS = 30
LEASE_SECONDS = 600  # twice the default queue's timeout (300 s), after which rq stops the job
RESCORE_JOB_ID = "crm_fishpond:rescore_dirty"
# the drain itself knows the scorer, so it lives beside it: this module knows no scoring
DRAIN_JOB = "crm_fishpond.scoring.incremental.rescore_dirty"
BATCH = 500


def runs_inline() -> bool:
	"""In tests a job runs at once, inside the caller's transaction (unless a test asks for the real queue)."""
	return bool(frappe.flags.in_test and not frappe.flags.fishpond_real_queue)


def enqueue(
	method: str, *, job_id: str, queue: str = "default", timeout: int = 300, at_commit: bool = True, **kwargs
) -> None:
	"""Enqueue after commit (``at_commit=False``: now, for a caller that runs after its commit),
	deduplicated by job_id. In tests the job runs inline (and is never skipped because a job of the
	same id waits in a queue no worker serves).

	Deduplication skips the new job while one of the same id is queued *or running*: a job whose
	input may change while it runs must also record what is waiting (as mark_dirty and
	crm_fishpond.referrals.sync.enqueue_company do) and look again before it ends."""
	inline = runs_inline()
	frappe.enqueue(
		method,
		queue=queue,
		timeout=timeout,
		job_id=job_id,
		deduplicate=not inline,
		enqueue_after_commit=at_commit and not inline,
		now=inline,
		**kwargs,
	)


def mark_dirty(profiles: Iterable[str | None]) -> None:
	"""Mark profiles for an incremental refresh and make sure a job will drain the mark.

	The mark is made at once, so a process that dies before its commit loses none, and again when
	the transaction commits, so a drain that took the first mark before the commit is followed by one
	that reads the committed rows. The drain is asked for then too, once per transaction."""
	names = [p for p in profiles if p]
	if not names:
		return
	Redis.sadd(frappe.cache, _dirty_key(), *names)
	if runs_inline():
		enqueue(DRAIN_JOB, job_id=RESCORE_JOB_ID)
		return
	pending = frappe.flags.fishpond_dirty_pending
	if pending is None:
		pending = frappe.flags.fishpond_dirty_pending = set()
		frappe.db.after_commit.add(_mark_committed)
		frappe.db.after_rollback.add(_forget_pending)
	pending.update(names)


def _mark_committed() -> None:
	"""After commit, in one round trip: mark the transaction's profiles again and ask for the drain
	unless it is already asked for (see the module's docstring)."""
	names = sorted(frappe.flags.fishpond_dirty_pending or ())
	_forget_pending()
	if not names:
		return
	pipe = Redis.pipeline(frappe.cache, transaction=False)
	pipe.sadd(_dirty_key(), *names)
	pipe.set(_ask_key(), 1, nx=True, ex=ASK_SECONDS)
	_added, asked_now = pipe.execute()
	if asked_now:
		enqueue(DRAIN_JOB, job_id=RESCORE_JOB_ID, at_commit=False)


def _forget_pending() -> None:
	frappe.flags.fishpond_dirty_pending = None


def forget_ask() -> None:
	"""Withdraw the standing ask, so the next mark enqueues the drain (a drain looking at the set; a
	test or an admin that deleted the queued job)."""
	Redis.delete(frappe.cache, _ask_key())


def _ask_key() -> str:
	return frappe.cache.make_key(ASK_KEY)


def _dirty_key() -> str:
	# RedisWrapper's own set helpers pop one member at a time; the plain Redis calls on the
	# site-prefixed key pop a whole batch in one round trip.
	return frappe.cache.make_key(DIRTY_KEY)


def _leases_key() -> str:
	return frappe.cache.make_key(LEASES_KEY)


def _lease_key(lease: str) -> str:
	return frappe.cache.make_key(LEASE_KEY + lease)


def _decode(members) -> list[str]:
	return sorted(m.decode() if isinstance(m, bytes) else m for m in members or [])


def lease_dirty(count: int = BATCH, now: float | None = None) -> tuple[str | None, list[str]]:
	"""Take up to `count` dirty profiles under a new lease; returns (lease id, profiles).

	The batch moves from the dirty set to the lease in one transaction, so at every instant each mark
	is in the dirty set or in a lease. Two drains leasing the same profile both score it (harmless)."""
	# the drain looks at the set now: a mark committed from here on asks for a drain again
	forget_ask()
	members = Redis.srandmember(frappe.cache, _dirty_key(), count)
	if not members:
		return None, []
	lease = f"{socket.gethostname()}:{os.getpid()}:{frappe.generate_hash(length=10)}"
	pipe = Redis.pipeline(frappe.cache, transaction=True)
	pipe.sadd(_lease_key(lease), *members)
	pipe.zadd(_leases_key(), {lease: (now or time.time()) + LEASE_SECONDS})
	pipe.srem(_dirty_key(), *members)
	pipe.execute()
	return lease, _decode(members)


def release_lease(lease: str) -> None:
	"""The batch is committed: forget the lease."""
	pipe = Redis.pipeline(frappe.cache, transaction=True)
	pipe.delete(_lease_key(lease))
	pipe.zrem(_leases_key(), lease)
	pipe.execute()


def return_lease(lease: str) -> None:
	"""The batch was not committed: its profiles go back to the dirty set."""
	pipe = Redis.pipeline(frappe.cache, transaction=True)
	pipe.sunionstore(_dirty_key(), [_dirty_key(), _lease_key(lease)])
	pipe.delete(_lease_key(lease))
	pipe.zrem(_leases_key(), lease)
	pipe.execute()


def leased_profiles() -> list[str]:
	"""Profiles held by leases, live or expired (for checks and tests)."""
	leases = _decode(Redis.zrange(frappe.cache, _leases_key(), 0, -1))
	if not leases:
		return []
	return _decode(Redis.sunion(frappe.cache, [_lease_key(lease) for lease in leases]))


def pending_dirty() -> int:
	return Redis.scard(frappe.cache, _dirty_key())


def reconcile_dirty(now: float | None = None) -> list[str]:
	"""Cron safety net: return expired leases (their worker died) to the dirty set, then enqueue the
	drain job if marks are waiting and no job holds them. Returns the expired leases."""
	now = now or time.time()
	expired = _decode(Redis.zrangebyscore(frappe.cache, _leases_key(), "-inf", now))
	for lease in expired:
		return_lease(lease)
	if expired:
		_forget_dead_drain(now)
	if pending_dirty():
		enqueue(DRAIN_JOB, job_id=RESCORE_JOB_ID)
	return expired


def forget_job(job_id: str) -> None:
	"""Drop the rq record of a job its caller knows is dead (its worker was killed; rq stops a job at
	its timeout), so that enqueueing the same id again is not skipped as its duplicate. A job still
	waiting in its queue is kept."""
	job = get_job(job_id)
	if job and job.get_status() != "queued":
		job.delete()


def withdraw_job(job_id: str) -> None:
	"""Take a job that is still waiting out of its queue (another job took its work). A worker that
	dequeued it a moment before runs it, and the job finds its work taken."""
	job = get_job(job_id)
	if job and job.get_status() == "queued":
		job.delete()


def _forget_dead_drain(now: float) -> None:
	"""A worker killed mid-job leaves its job "started" in rq until rq's own clean-up, and a started job
	of the same id swallows every new enqueue (deduplicate). A drain started longer ago than a lease
	lasts cannot be alive (rq stops jobs at their timeout): delete it so the drain can be enqueued."""
	job = get_job(RESCORE_JOB_ID)
	if not job or job.get_status() != "started" or not job.started_at:
		return
	started = job.started_at
	if started.tzinfo is None:  # rq 1.x stores naive UTC
		started = started.replace(tzinfo=datetime.timezone.utc)
	if now - started.timestamp() > LEASE_SECONDS:
		job.delete()

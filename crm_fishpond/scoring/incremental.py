"""The incremental drain: profiles marked dirty (crm_fishpond.jobs) are refreshed and rescored with
the stored fit, batch by batch, each batch under a lease so that a killed worker loses no mark."""

from __future__ import annotations

import frappe

from crm_fishpond import jobs
from crm_fishpond.scoring.runner import rescore_profiles
from crm_fishpond.sync.aggregates import refresh_profiles


def rescore_dirty() -> int:
	"""Drain the dirty set in leased batches: refresh aggregates (and, once fitted, scores) of each."""
	done = 0
	while True:
		lease, batch = jobs.lease_dirty()
		if not batch:
			return done
		try:
			refresh_profiles(batch)
			rescore_profiles(batch)
			if not frappe.flags.in_test:
				frappe.db.commit()  # nosemgrep: one batch is one unit of work
		except Exception:
			if not frappe.flags.in_test:
				frappe.db.rollback()
			jobs.return_lease(lease)
			frappe.log_error(title="Fishpond: incremental refresh failed")
			raise
		jobs.release_lease(lease)
		done += len(batch)

"""The reconciliation summary that Desk and API clients read: computed by a background job, read cheaply.

A full reconciliation re-reads every submitted Sales Order and Sales Invoice, so no request runs it. The
job (on demand, deduplicated, and once a day) stores a compact summary in the site's cache; readers get
the last summary with the time it was checked. The *Fishpond Reconciliation* report and
``bench fishpond-reconcile`` list every difference.
"""

from __future__ import annotations

import frappe
from frappe.utils import now_datetime

from crm_fishpond.jobs import enqueue
from crm_fishpond.sync.reconcile import reconcile, repair

SUMMARY_KEY = "fishpond:reconciliation_summary"
JOB_ID = "crm_fishpond:reconciliation_summary"
ROWS = 100


def refresh() -> dict:
	"""The job: reconcile and store the summary."""
	result = reconcile()
	summary = {
		"differences": result["differences"],
		"customers_checked": result["customers_checked"],
		"vouchers": result["vouchers"][:ROWS],
		"customers": result["customers"][:ROWS],
		"checked_on": str(now_datetime()),
	}
	frappe.cache.set_value(SUMMARY_KEY, summary)
	return summary


def last_summary() -> dict | None:
	return frappe.cache.get_value(SUMMARY_KEY)


def repair_and_refresh() -> dict:
	"""The repair job behind the report's button: re-sync what differs, then store the new summary so
	readers stop seeing what was repaired."""
	counts = repair()
	refresh()
	return counts


def request_refresh() -> None:
	enqueue("crm_fishpond.sync.reconcile_summary.refresh", job_id=JOB_ID, queue="long", timeout=3600)

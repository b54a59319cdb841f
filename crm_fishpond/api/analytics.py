"""Whitelisted analytics APIs: take the metrics snapshots now (docs/analytics.md, "Metrics history")."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import cint

MANAGER_ROLES = ("Fishpond Manager", "System Manager")


@frappe.whitelist(methods=["POST"])
def take_snapshot_now(rebuild: int = 0) -> dict:
	"""Queue the metrics snapshot job: the running month is refreshed and missing months are filled.
	``rebuild=1`` also recomputes months whose snapshot is final (after history was imported late)."""
	if not set(MANAGER_ROLES) & set(frappe.get_roles()):
		frappe.throw(_("Only a Fishpond Manager can take metrics snapshots."), frappe.PermissionError)
	from crm_fishpond.analytics.snapshots import enqueue_snapshots

	enqueue_snapshots(rebuild=bool(cint(rebuild)))
	return {"queued": True}

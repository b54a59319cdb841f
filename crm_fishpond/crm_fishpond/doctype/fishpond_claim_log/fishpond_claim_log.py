"""Audit of the pool mechanics: one row per claim, release, assign, transfer, recycle and warning.

Rows are written in bulk by crm_fishpond.pools (never through the form) and never edited.
"""

import frappe
from frappe.model.document import Document


class FishpondClaimLog(Document):
	pass


def on_doctype_update():
	# the recycler's warning dedup and the reports read by profile and time, caps by rep and day
	frappe.db.add_index("Fishpond Claim Log", ["profile", "action_on"])
	frappe.db.add_index("Fishpond Claim Log", ["to_user", "action", "action_on"])

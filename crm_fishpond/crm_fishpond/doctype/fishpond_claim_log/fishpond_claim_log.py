"""Audit of the pool mechanics: one row per claim, release, assign, transfer, recycle and warning.

Rows are written in bulk by crm_fishpond.pools (never through the form) and never edited.
"""

import frappe
from frappe.model.document import Document


class FishpondClaimLog(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		action: DF.Literal["Claim", "Release", "Assign", "Transfer", "Recycle", "Warn"]
		action_by: DF.Link | None
		action_on: DF.Datetime
		from_pool: DF.Link | None
		from_user: DF.Link | None
		profile: DF.Link
		reason: DF.SmallText | None
		to_pool: DF.Link | None
		to_user: DF.Link | None
	# end: auto-generated types
	pass


def on_doctype_update():
	# the recycler's warning dedup and the reports read by profile and time, caps by rep and day
	frappe.db.add_index("Fishpond Claim Log", ["profile", "action_on"])
	frappe.db.add_index("Fishpond Claim Log", ["to_user", "action", "action_on"])

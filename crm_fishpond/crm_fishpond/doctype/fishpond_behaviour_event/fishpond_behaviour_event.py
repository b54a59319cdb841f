import frappe
from frappe import _
from frappe.model.document import Document

from crm_fishpond import jobs


class FishpondBehaviourEvent(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		channel: DF.Literal["Web", "App", "Other"]
		event_time: DF.Datetime
		event_type: DF.Data
		fishpond_lead: DF.Link
		payload: DF.JSON | None
		url: DF.SmallText | None
		weight: DF.Float

	# end: auto-generated types
	def validate(self):
		if (self.weight or 0) < 0:
			frappe.throw(_("Weight cannot be negative."))

	def after_insert(self):
		jobs.mark_dirty([self.fishpond_lead])


# A full rescore reads each chunk's events by profile (crm_fishpond.scoring.loader.load_events):
# this index holds every column it reads, so each profile's rows are one range of the index and no
# row is looked up on its own (see Fishpond Transaction's PURCHASES_INDEX).
EVENTS_INDEX = "fishpond_lead_activity"
EVENTS_INDEX_COLUMNS = ["fishpond_lead", "event_time", "event_type", "weight"]


def on_doctype_update():
	frappe.db.add_index("Fishpond Behaviour Event", EVENTS_INDEX_COLUMNS, index_name=EVENTS_INDEX)

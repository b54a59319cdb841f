import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import add_to_date, format_datetime, get_datetime, now_datetime

from crm_fishpond import jobs

# clocks of browsers and servers drift a little
FUTURE_TOLERANCE_MINUTES = 10


class FishpondInteraction(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		direction: DF.Literal["Outbound", "Inbound", "Internal"]
		duration_minutes: DF.Int
		fishpond_lead: DF.Link
		interaction_time: DF.Datetime
		interaction_type: DF.Literal["Email", "Call", "Meeting", "Visit", "Chat", "Note"]
		reference_doctype: DF.Link | None
		reference_name: DF.DynamicLink | None
		subject: DF.Data | None
		summary: DF.TextEditor | None
		user: DF.Link | None

	# end: auto-generated types
	def validate(self):
		if self.reference_doctype and not self.reference_name:
			frappe.throw(_("Choose the {0} this interaction refers to.").format(_(self.reference_doctype)))
		self.validate_not_in_future()

	def validate_not_in_future(self):
		"""An interaction records what happened: a future time would hold off recycling for as long as
		its owner likes (plans and reminders are ToDos and Events)."""
		if not self.interaction_time:
			return
		now = now_datetime()
		if get_datetime(self.interaction_time) <= add_to_date(now, minutes=FUTURE_TOLERANCE_MINUTES):
			return
		if self.flags.from_communication:
			self.interaction_time = now  # a scheduled email is logged when it is recorded
		else:
			frappe.throw(
				_("Interaction time {0} is in the future: log an interaction once it has happened.").format(
					format_datetime(self.interaction_time)
				),
				frappe.ValidationError,
			)

	def on_update(self):
		jobs.mark_dirty([self.fishpond_lead])
		previous = self.get_doc_before_save()
		if previous and previous.fishpond_lead != self.fishpond_lead:
			jobs.mark_dirty([previous.fishpond_lead])

	def on_trash(self):
		jobs.mark_dirty([self.fishpond_lead])


# A full rescore reads each chunk's interactions by profile (crm_fishpond.scoring.loader.load_interactions):
# this index holds every column it reads, so each profile's rows are one range of the index and no
# row is looked up on its own (see Fishpond Transaction's PURCHASES_INDEX).
INTERACTIONS_INDEX = "fishpond_lead_activity"
INTERACTIONS_INDEX_COLUMNS = ["fishpond_lead", "interaction_time", "interaction_type", "direction"]


def on_doctype_update():
	frappe.db.add_index("Fishpond Interaction", INTERACTIONS_INDEX_COLUMNS, index_name=INTERACTIONS_INDEX)

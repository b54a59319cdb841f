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

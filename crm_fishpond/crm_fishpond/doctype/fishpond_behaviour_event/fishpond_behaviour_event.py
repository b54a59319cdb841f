import frappe
from frappe import _
from frappe.model.document import Document

from crm_fishpond import jobs


class FishpondBehaviourEvent(Document):
	def validate(self):
		if (self.weight or 0) < 0:
			frappe.throw(_("Weight cannot be negative."))

	def after_insert(self):
		jobs.mark_dirty([self.fishpond_lead])

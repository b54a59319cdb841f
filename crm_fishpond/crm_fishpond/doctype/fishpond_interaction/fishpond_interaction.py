import frappe
from frappe import _
from frappe.model.document import Document

from crm_fishpond import jobs


class FishpondInteraction(Document):
	def validate(self):
		if self.reference_doctype and not self.reference_name:
			frappe.throw(_("Choose the {0} this interaction refers to.").format(_(self.reference_doctype)))

	def on_update(self):
		jobs.mark_dirty([self.fishpond_lead])
		previous = self.get_doc_before_save()
		if previous and previous.fishpond_lead != self.fishpond_lead:
			jobs.mark_dirty([previous.fishpond_lead])

	def on_trash(self):
		jobs.mark_dirty([self.fishpond_lead])

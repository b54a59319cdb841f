import json

import frappe
from frappe import _
from frappe.model.document import Document


class LifecycleStage(Document):
	def validate(self):
		if self.sequence is not None and self.sequence < 0:
			frappe.throw(_("Order cannot be negative."))
		if self.entry_condition:
			try:
				self.entry_condition = json.dumps(json.loads(self.entry_condition), indent=1)
			except ValueError as e:
				frappe.throw(
					_("The entry rule of stage {0} is not valid JSON: {1}").format(
						frappe.bold(self.stage_name), str(e)
					)
				)

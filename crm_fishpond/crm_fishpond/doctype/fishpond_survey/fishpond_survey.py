import frappe
from frappe import _
from frappe.model.document import Document

MAX_DAYS = 3650


class FishpondSurvey(Document):
	def validate(self):
		for field, low in (("delay_days", 0), ("link_valid_days", 1), ("follow_up_days", 0)):
			value = self.get(field) or 0
			if not low <= value <= MAX_DAYS:
				frappe.throw(
					_("{0} must be between {1} and {2}.").format(
						_(self.meta.get_label(field)), low, MAX_DAYS
					),
					title=_("Invalid value"),
				)
		if self.fallback_user and not frappe.db.get_value("User", self.fallback_user, "enabled"):
			frappe.throw(
				_("{0} is disabled.").format(self.fallback_user), title=_("When No Owner, Assign To")
			)

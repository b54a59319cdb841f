import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import get_datetime, now_datetime

from crm_fishpond.engine import feedback as rules
from crm_fishpond.feedback import answers


class FishpondFeedback(Document):
	def validate(self):
		answers.check_answer(self.survey_type, self.score, self.comment)
		self.score = int(self.score)
		self.category = rules.category(self.survey_type, self.score)
		if self.is_new() and not self.invitation:
			self.source = "Logged by Rep"
		if get_datetime(self.answered_on or now_datetime()) > now_datetime():
			frappe.throw(_("Answered On cannot be in the future."), title=_("Invalid value"))
		if not self.is_new() and self.has_value_changed("score"):
			frappe.throw(_("An answer's score cannot be changed: record a new answer instead."))

	def after_insert(self):
		answers.apply(self)

"""What a rule can read about a profile, as a DocType so that Frappe's own filter UI
(``frappe.ui.FilterGroup``) can offer every field, with its label, type and options, when an admin
builds a tag, stage or nurture rule by clicking (see ``crm_fishpond/public/js/rule_builder.js``).

It is a virtual DocType: it has no table and holds no records. Its fields are the rule-readable
fields of the Fishpond Lead form plus the figures the engine computes at each rescore (days since the
last purchase, orders, interactions per type, ...). ``crm_fishpond.tests.test_rule_builder`` checks
that every field here is one the rules' vocabulary resolves, with the same type and options as the
profile form."""

import frappe
from frappe import _
from frappe.model.document import Document


class FishpondProfileFacts(Document):
	def db_insert(self, *args, **kwargs):
		frappe.throw(_("Profile facts are computed, not stored."))

	def db_update(self, *args, **kwargs):
		frappe.throw(_("Profile facts are computed, not stored."))

	def delete(self, *args, **kwargs):
		frappe.throw(_("Profile facts are computed, not stored."))

	def load_from_db(self):
		frappe.throw(_("Profile facts are computed, not stored."), frappe.DoesNotExistError)

	@staticmethod
	def get_list(args=None, **kwargs):
		return []

	@staticmethod
	def get_count(args=None, **kwargs):
		return 0

	@staticmethod
	def get_stats(args=None, **kwargs):
		return {}

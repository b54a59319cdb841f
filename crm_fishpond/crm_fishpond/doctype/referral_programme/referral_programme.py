import frappe
from frappe.model.document import Document


class ReferralProgramme(Document):
	def validate(self):
		from crm_fishpond.referrals.programmes import validate_programme

		validate_programme(self)

from frappe.model.document import Document


class FishpondSurveyInvitation(Document):
	"""Written by crm_fishpond.feedback.invitations only (the doctype is not created in Desk)."""

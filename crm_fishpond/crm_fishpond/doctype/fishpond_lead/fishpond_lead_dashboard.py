from frappe import _


def get_data():
	"""Connections: every record that belongs to this profile."""
	return {
		"fieldname": "fishpond_lead",
		"non_standard_fieldnames": {
			"Fishpond Claim Log": "profile",
			"Referral Reward": "referrer",
			"Fishpond Referral": "referrer",
			"Fishpond Duplicate Candidate": "profile_a",
		},
		"transactions": [
			{
				"label": _("History"),
				"items": ["Fishpond Transaction", "Fishpond Interaction", "Fishpond Behaviour Event"],
			},
			{"label": _("Pool"), "items": ["Fishpond Claim Log", "Fishpond Transfer Request"]},
			{
				"label": _("Referrals and Duplicates"),
				"items": ["Fishpond Referral", "Referral Reward", "Fishpond Duplicate Candidate"],
			},
			{"label": _("Follow-up"), "items": ["Fishpond Plan Enrolment"]},
			{"label": _("Feedback"), "items": ["Fishpond Feedback", "Fishpond Survey Invitation"]},
		],
	}

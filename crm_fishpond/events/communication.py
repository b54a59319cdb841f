"""Communication → Fishpond Interaction, when it is linked to a Lead, Customer, Contact or profile."""

import frappe
from frappe.utils import get_datetime

from crm_fishpond import jobs
from crm_fishpond.sync.profiles import profiles_for_reference

MEDIUM_TO_TYPE = {
	"Email": "Email",
	"Phone": "Call",
	"Chat": "Chat",
	"SMS": "Chat",
	"Meeting": "Meeting",
	"Visit": "Visit",
	"Event": "Meeting",
	"Other": "Note",
	"": "Email",
}


def interaction_name(communication: str, profile: str) -> str:
	return f"COMM-{communication}-{profile}"[:140]


def profiles_of(doc) -> list[str]:
	found = profiles_for_reference(doc.reference_doctype, doc.reference_name)
	for link in doc.get("timeline_links") or []:
		found += profiles_for_reference(link.link_doctype, link.link_name)
	return list(dict.fromkeys(found))


def after_insert(doc, method=None):
	if doc.communication_type not in ("Communication", "Automated Message"):
		return
	if not frappe.get_cached_doc("Fishpond Settings").sync_communications:
		return
	profiles = profiles_of(doc)
	for profile in profiles:
		name = interaction_name(doc.name, profile)
		if frappe.db.exists("Fishpond Interaction", name):
			continue
		interaction = frappe.get_doc(
			{
				"doctype": "Fishpond Interaction",
				"fishpond_lead": profile,
				"interaction_type": MEDIUM_TO_TYPE.get(doc.communication_medium or "", "Note"),
				"direction": "Inbound" if doc.sent_or_received == "Received" else "Outbound",
				"interaction_time": get_datetime(doc.communication_date or doc.creation),
				"user": doc.user if doc.user and doc.user != "Guest" else None,
				"subject": (doc.subject or "")[:140],
				"reference_doctype": "Communication",
				"reference_name": doc.name,
			}
		)
		interaction.name = name
		interaction.flags.name_set = True
		interaction.flags.from_communication = True
		interaction.insert(ignore_permissions=True)
	jobs.mark_dirty(profiles)


def on_trash(doc, method=None):
	"""Deleting a Communication keeps its interactions (they are the pond's history) minus the link."""
	names = frappe.get_all(
		"Fishpond Interaction",
		filters={"reference_doctype": "Communication", "reference_name": doc.name},
		pluck="name",
	)
	for name in names:
		frappe.db.set_value("Fishpond Interaction", name, {"reference_doctype": None, "reference_name": None})

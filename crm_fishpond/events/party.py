"""doc_events for Lead, Customer and Contact: keep one profile per prospect/customer, linked not copied."""

import frappe

from crm_fishpond.sync import profiles as P

# Identity fields refreshed on the profile when the ERPNext record changes
LEAD_IDENTITY = (
	"lead_name",
	"company_name",
	"job_title",
	"email_id",
	"phone",
	"mobile_no",
	"source",
	"territory",
	"country",
	"industry",
)
CUSTOMER_IDENTITY = ("email_id", "mobile_no", "territory", "industry")
LOST_LEAD_STATUSES = ("Lost Quotation", "Do Not Contact")


def _settings():
	return frappe.get_cached_doc("Fishpond Settings")


def lead_after_insert(doc, method=None):
	if _settings().create_profile_for_leads:
		P.ensure_profile_for_lead(doc)


def lead_on_update(doc, method=None):
	if doc.flags.in_insert:
		return  # after_insert already created the profile from these values
	profile = P.profile_for(lead=doc.name)
	if not profile:
		return
	updates = {f: doc.get(f) for f in LEAD_IDENTITY if doc.has_value_changed(f)}
	if doc.has_value_changed("status") and doc.status in LOST_LEAD_STATUSES:
		if frappe.db.get_value("Fishpond Lead", profile, "status") in ("In Pool", "Claimed"):
			updates["status"] = "Lost"
	if updates:
		frappe.db.set_value("Fishpond Lead", profile, updates)


def customer_after_insert(doc, method=None):
	if doc.get("lead_name") or _settings().create_profile_for_customers:
		P.ensure_profile_for_customer(doc)


def customer_on_update(doc, method=None):
	if doc.flags.in_insert:
		return
	profile = P.profile_for(customer=doc.name)
	if not profile:
		return
	updates = {f: doc.get(f) for f in CUSTOMER_IDENTITY if doc.has_value_changed(f) and doc.get(f)}
	if doc.has_value_changed("customer_name"):
		updates["lead_name"] = doc.customer_name
	if updates:
		frappe.db.set_value("Fishpond Lead", profile, updates)


def contact_on_update(doc, method=None):
	"""A Contact linked to a Customer or Lead becomes the profile's contact if it has none."""
	for link in doc.get("links") or []:
		for profile in P.profiles_for_reference(link.link_doctype, link.link_name):
			current = frappe.db.get_value(
				"Fishpond Lead", profile, ["contact", "email_id", "mobile_no", "phone"], as_dict=True
			)
			updates = {}
			if not current.contact:
				updates["contact"] = doc.name
			if not current.email_id and doc.email_id:
				updates["email_id"] = doc.email_id
			if not current.mobile_no and doc.mobile_no:
				updates["mobile_no"] = doc.mobile_no
			if not current.phone and doc.phone:
				updates["phone"] = doc.phone
			if updates:
				frappe.db.set_value("Fishpond Lead", profile, updates)


def unlink_on_trash(doc, method=None):
	"""Deleting a Lead, Customer or Contact stays possible: drop the profile's link, keep the profile."""
	field = {"Lead": "lead", "Customer": "customer", "Contact": "contact"}[doc.doctype]
	for profile in frappe.get_all("Fishpond Lead", filters={field: doc.name}, pluck="name"):
		frappe.db.set_value("Fishpond Lead", profile, field, None)


def customer_before_rename(doc, method=None, old=None, new=None, merge=False):
	# imported here: the merge code loads pandas (the duplicate finder), which a Customer save never needs
	from crm_fishpond.accounting import customer_merge

	customer_merge.before_rename(old, new, merge)


def customer_after_rename(doc, method=None, old=None, new=None, merge=False):
	from crm_fishpond.accounting import customer_merge

	customer_merge.after_rename(old, new, merge)

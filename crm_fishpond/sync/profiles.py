"""Find or create the one Fishpond Lead (profile) behind an ERPNext Lead, Customer or Contact.

A Customer made from a Lead joins that Lead's profile, so one prospect keeps one unified view.
The unique indexes on Fishpond Lead.lead and Fishpond Lead.customer make that hold under races:
a losing concurrent insert raises DuplicateEntryError and re-reads the winner's profile.
"""

from __future__ import annotations

import frappe
from frappe.utils import cstr

SYSTEM_USERS = ("Administrator", "Guest", "")


def settings():
	return frappe.get_cached_doc("Fishpond Settings")


def default_pool() -> str | None:
	pool = settings().default_pool
	if pool:
		return pool
	return frappe.db.get_value("Fishpond", {"is_default": 1, "enabled": 1})


def profile_for(customer: str | None = None, lead: str | None = None) -> str | None:
	if customer:
		name = frappe.db.get_value("Fishpond Lead", {"customer": customer})
		if name:
			return name
	if lead:
		return frappe.db.get_value("Fishpond Lead", {"lead": lead})
	return None


def _insert_profile(values: dict) -> str:
	"""Insert a profile; on a unique-key race return the profile that won."""
	doc = frappe.get_doc({"doctype": "Fishpond Lead", **values})
	doc.flags.ignore_permissions = True
	savepoint = "fishpond_profile"
	frappe.db.savepoint(savepoint)
	try:
		doc.insert(ignore_permissions=True)
	except frappe.DuplicateEntryError:
		frappe.db.rollback(save_point=savepoint)
		existing = profile_for(values.get("customer"), values.get("lead"))
		if not existing:
			raise
		return existing
	return doc.name


def _link_back(doctype: str, name: str, profile: str) -> None:
	if frappe.db.has_column(doctype, "fishpond_lead"):
		frappe.db.set_value(doctype, name, "fishpond_lead", profile, update_modified=False)


def lead_values(lead) -> dict:
	owner = cstr(lead.get("lead_owner"))
	claimed = owner not in SYSTEM_USERS
	return {
		"lead": lead.name,
		"lead_name": lead.get("lead_name") or lead.get("company_name") or lead.name,
		"company_name": lead.get("company_name"),
		"job_title": lead.get("job_title"),
		"email_id": lead.get("email_id"),
		"phone": lead.get("phone"),
		"mobile_no": lead.get("mobile_no"),
		"source": lead.get("source"),
		"territory": lead.get("territory"),
		"country": lead.get("country"),
		"industry": lead.get("industry"),
		"company": lead.get("company"),
		"lead_owner": owner if claimed else None,
		"claimed_on": frappe.utils.now_datetime() if claimed else None,
		"status": "Claimed" if claimed else "In Pool",
		"fishpond": default_pool(),
	}


def customer_values(customer) -> dict:
	individual = customer.get("customer_type") == "Individual"
	manager = cstr(customer.get("account_manager"))
	return {
		"customer": customer.name,
		"lead_name": customer.get("customer_name") or customer.name,
		"company_name": None if individual else customer.get("customer_name"),
		"email_id": customer.get("email_id"),
		"mobile_no": customer.get("mobile_no"),
		"territory": customer.get("territory"),
		"industry": customer.get("industry"),
		"contact": customer.get("customer_primary_contact"),
		"lead_owner": manager or None,
		"claimed_on": frappe.utils.now_datetime() if manager else None,
		"status": "Converted",
		"fishpond": default_pool(),
	}


def ensure_profile_for_lead(lead) -> str:
	"""The profile of an ERPNext Lead (a Document or a name), created in the default pool if missing."""
	name = lead if isinstance(lead, str) else lead.name
	profile = profile_for(lead=name)
	if profile:
		return profile
	if isinstance(lead, str):
		lead = frappe.get_doc("Lead", lead)
	if lead.get("customer"):
		profile = profile_for(customer=lead.customer)
		if profile:
			frappe.db.set_value("Fishpond Lead", profile, "lead", lead.name)
	if not profile:
		profile = _insert_profile(lead_values(lead))
	_link_back("Lead", lead.name, profile)
	return profile


def ensure_profile_for_customer(customer) -> str:
	"""The profile of a Customer: its own, else its Lead's (one unified view), else a new one."""
	name = customer if isinstance(customer, str) else customer.name
	profile = profile_for(customer=name)
	if profile:
		return profile  # the common case (every order of a known customer): one indexed read, no writes
	if isinstance(customer, str):
		customer = frappe.get_doc("Customer", customer)
	# a profile that let go of this Customer for a merge that never ran (crm_fishpond.accounting.
	# customer_merge) is still named by the Customer: it takes it back
	linked = customer.get("fishpond_lead")
	held = (
		frappe.db.get_value("Fishpond Lead", linked, ["name", "customer"], as_dict=True) if linked else None
	)
	if held and not held.customer:
		frappe.db.set_value("Fishpond Lead", linked, "customer", customer.name)
		return linked
	if customer.get("lead_name"):
		profile = profile_for(lead=customer.lead_name)
		if not profile and frappe.db.exists("Lead", customer.lead_name):
			profile = ensure_profile_for_lead(customer.lead_name)
		if profile:
			current = frappe.db.get_value("Fishpond Lead", profile, ["customer", "status"], as_dict=True)
			if current.customer and current.customer != customer.name:
				# the Lead's profile already belongs to another customer: this one gets its own
				profile = None
			else:
				updates = {"customer": customer.name}
				if current.status in ("In Pool", "Claimed"):
					updates["status"] = "Converted"
				frappe.db.set_value("Fishpond Lead", profile, updates)
	if not profile:
		profile = _insert_profile(customer_values(customer))
	_link_back("Customer", customer.name, profile)
	return profile


def profiles_for_reference(doctype: str | None, name: str | None) -> list[str]:
	"""Profiles behind a Lead, Customer, Contact or Fishpond Lead reference (never creates)."""
	if not doctype or not name:
		return []
	if doctype == "Fishpond Lead":
		return [name] if frappe.db.exists("Fishpond Lead", name) else []
	if doctype == "Lead":
		return [p for p in [profile_for(lead=name)] if p]
	if doctype == "Customer":
		return [p for p in [profile_for(customer=name)] if p]
	if doctype == "Contact":
		direct = frappe.get_all("Fishpond Lead", filters={"contact": name}, pluck="name")
		if direct:
			return direct
		links = frappe.get_all(
			"Dynamic Link",
			filters={"parenttype": "Contact", "parent": name, "link_doctype": ("in", ["Customer", "Lead"])},
			fields=["link_doctype", "link_name"],
		)
		found = []
		for link in links:
			found += profiles_for_reference(link.link_doctype, link.link_name)
		return list(dict.fromkeys(found))
	return []

import frappe


def execute():
	"""The workspace "Fishpond" shadowed the pool doctype's route (/app/fishpond): it is now "Fishpond CRM"."""
	if frappe.db.exists("Workspace", {"name": "Fishpond", "module": "CRM Fishpond"}):
		frappe.delete_doc("Workspace", "Fishpond", ignore_missing=True, force=True)

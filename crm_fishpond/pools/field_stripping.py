"""The app's one patch of framework code, kept apart so that the permission criterion that calls it
imports nothing of the masking (which itself reads the criterion).

Frappe 15's ``DatabaseQuery.apply_fieldlevel_read_permissions`` pops forbidden fields from
``self.fields`` while enumerating that same list, so the field right after a removed one is never
checked: with ``fields=["email_id", "phone"]`` a rep without permlevel-1 read got the raw phone back.
The clean replacement (raw contact details in a doctype of their own behind the row criterion) is
planned; until then this wrapper re-runs the idempotent stripping until the list stops changing.
"""

from __future__ import annotations


def ensure_converging_field_stripping() -> None:
	"""Close a hole in Frappe's field-level read permissions for list queries (idempotent).

	``DatabaseQuery.apply_fieldlevel_read_permissions`` pops forbidden fields from ``self.fields`` while
	enumerating that same list, so the field right after a removed one is never checked: with
	``fields=["email_id", "phone"]`` a rep without permlevel-1 read gets the raw phone back (Frappe 15.x,
	and the same loop upstream). Re-running the idempotent stripping until the list stops changing removes
	every forbidden field. Called from this app's permission_query_conditions hook, which Frappe runs while
	building the query and before the stripping; the as_list path (which blanks instead of popping) and
	versions without the method are left alone.

	This is the app's one patch of framework code, kept because masking depends on it; drop it when
	Frappe's loop no longer pops while iterating (tests/test_pools_masking.py shows the difference).
	"""
	from frappe.model.db_query import DatabaseQuery

	original = getattr(DatabaseQuery, "apply_fieldlevel_read_permissions", None)
	if original is None or getattr(original, "fishpond_converging", False):
		return

	def apply_fieldlevel_read_permissions(self):
		if self.as_list:
			return original(self)
		for _attempt in range(len(self.fields or []) + 1):
			before = list(self.fields or [])
			original(self)
			if list(self.fields or []) == before:
				return

	apply_fieldlevel_read_permissions.fishpond_converging = True
	apply_fieldlevel_read_permissions.__wrapped__ = original
	DatabaseQuery.apply_fieldlevel_read_permissions = apply_fieldlevel_read_permissions

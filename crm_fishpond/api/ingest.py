"""Behaviour events from other systems: an authenticated, rate-limited batch endpoint.

Authenticate as a Frappe user with the *Fishpond Integration* role (or Fishpond Manager / System
Manager) using its API key and secret: ``Authorization: token <api_key>:<api_secret>``. The rules
(batch size, idempotency, parking, row errors) live in crm_fishpond.sync.ingest; docs/capture.md
shows examples.
"""

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from crm_fishpond.sync import ingest

INGEST_ROLES = ("Fishpond Integration", "Fishpond Manager", "System Manager")
INGEST_LIMIT = 120  # calls per IP
INGEST_WINDOW = 60  # seconds


@frappe.whitelist(methods=["POST"])
@rate_limit(limit=INGEST_LIMIT, seconds=INGEST_WINDOW)
def behaviour_events(events=None, idempotency_key=None) -> dict:
	"""Store up to 1,000 behaviour events; see crm_fishpond.sync.ingest.ingest for the answer."""
	check_access()
	return ingest.ingest(events, idempotency_key, frappe.session.user)


def check_access() -> None:
	user = frappe.session.user
	if user == "Guest" or not set(INGEST_ROLES) & set(frappe.get_roles(user)):
		frappe.throw(
			_(
				"Only a user with the Fishpond Integration or Fishpond Manager role may send behaviour events."
			),
			frappe.PermissionError,
		)

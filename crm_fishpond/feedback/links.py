"""The personal survey link: signed with the site's secret, expiring, naming nothing guessable.

A link is ``/fishpond-survey?i=<invitation>&e=<expiry, Unix seconds>&_signature=<HMAC>``, signed by
Frappe's own ``frappe.utils.verified_command.get_signed_params`` (HMAC-SHA512 over the query with the
site's secret). The invitation's name is random (``hash`` naming), the signature cannot be made
without the secret, and the expiry is inside what is signed, so a link can neither be guessed, nor
pointed at another invitation, nor extended. The invitation's own ``expires_on`` and ``status`` are
checked too: a link is answered once.
"""

from __future__ import annotations

import datetime as dt
import hmac
from urllib.parse import urlencode

import frappe
from frappe import _
from frappe.utils import get_datetime, get_url, now_datetime
from frappe.utils.verified_command import get_signed_params

ROUTE = "fishpond-survey"
INVITATION = "Fishpond Survey Invitation"
MAX_PARAM = 200


class LinkError(frappe.ValidationError):
	"""A survey link that is not valid, expired or already answered (HTTP 417, a translated text)."""


def _query(invitation: str, expires: int) -> str:
	return urlencode([("i", invitation), ("e", str(int(expires)))])


def survey_url(invitation: str, expires_on: dt.datetime) -> str:
	"""The absolute link a customer opens for ``invitation``."""
	expires = int(get_datetime(expires_on).timestamp())
	return get_url(f"/{ROUTE}?{get_signed_params(_query(invitation, expires))}")


def verify(invitation, expires, signature, now: dt.datetime | None = None) -> dict:
	"""The invitation a link names, once its signature, expiry and state hold; else a LinkError."""
	if not all(
		isinstance(v, str) and 0 < len(v) <= MAX_PARAM and v.isascii() and v.isprintable()
		for v in (invitation, expires, signature)
	):
		raise LinkError(_("This survey link is not valid. Please open the link from your email again."))
	if not expires.isdigit():
		raise LinkError(_("This survey link is not valid. Please open the link from your email again."))
	expected = get_signed_params(_query(invitation, int(expires))).rpartition("&_signature=")[2]
	if not hmac.compare_digest(expected.encode(), signature.encode()):
		raise LinkError(_("This survey link is not valid. Please open the link from your email again."))
	row = frappe.db.get_value(
		INVITATION,
		invitation,
		["name", "fishpond_lead", "survey", "survey_type", "status", "expires_on", "language"],
		as_dict=True,
	)
	if row is None:
		raise LinkError(_("This survey is no longer available."))
	now = now or now_datetime()
	if row.status == "Answered":
		raise LinkError(_("This survey has already been answered. Thank you!"))
	if row.status != "Sent":  # never sent (no address, quiet period): its link was never given out
		raise LinkError(_("This survey is no longer available."))
	deadline = min(dt.datetime.fromtimestamp(int(expires)), get_datetime(row.expires_on))
	if now > deadline:
		raise LinkError(_("This survey link has expired."))
	return row

"""Whitelisted actions of the accountant's desk (docs/accountants.md). Thin: check, call
crm_fishpond.accounting. Reads are GET, writes POST only; every write needs an Accounts role and a
reason, which the audit log keeps."""

from __future__ import annotations

import json

import frappe
from frappe import _

from crm_fishpond import jobs
from crm_fishpond.accounting import attribution, customer_merge, messages, queue

QUEUE = "Fishpond Invoice Link"
MAX_BULK = 500
BULK_INLINE = 20  # more entries than this are attributed in a background job


def _names(links) -> list[str]:
	if isinstance(links, str):
		try:
			links = json.loads(links)
		except ValueError:
			links = [links]
	if not isinstance(links, list) or not all(isinstance(x, str) for x in links):
		frappe.throw(_("Give a list of queue entries."))
	if len(links) > MAX_BULK:
		frappe.throw(_("At most {0} entries at a time.").format(MAX_BULK))
	return links


@frappe.whitelist(methods=["GET"])
def entry(link: str) -> dict:
	"""A queue entry's suggestions with their evidence in the user's language."""
	doc = frappe.get_doc(QUEUE, link)
	doc.check_permission("read")
	return {
		"status": doc.status,
		"suggestions": [
			{
				"profile": s.profile,
				"lead_name": s.lead_name,
				"customer": s.customer,
				"score": s.score,
				"confident": s.confident,
				"evidence": messages.evidence_lines(json.loads(s.evidence_data or "[]")),
			}
			for s in doc.suggestions
		],
		"can_create_customer": bool(frappe.has_permission("Customer", "create")),
	}


@frappe.whitelist(methods=["POST"])
def attribute(link: str, profile: str, reason: str) -> str:
	return attribution.attribute(link, profile, reason)


@frappe.whitelist(methods=["POST"])
def attribute_confident(links, reason: str) -> dict:
	"""A few entries at once in the request; more in a background job (each attribution resyncs its
	invoice), which tells the user the outcome when it ends."""
	names = _names(links)
	if len(names) <= BULK_INLINE:
		return attribution.attribute_confident(names, reason)
	attribution.check_accountant()
	reason = attribution._reason(reason)
	jobs.enqueue(
		"crm_fishpond.accounting.attribution.attribute_confident_job",
		job_id=f"crm_fishpond:attribute:{frappe.session.user}:{frappe.generate_hash(length=8)}",
		queue="long",
		timeout=3600,
		links=names,
		reason=reason,
	)
	return {"queued": len(names)}


@frappe.whitelist(methods=["POST"])
def undo(attribution_name: str, reason: str) -> None:
	attribution.undo(attribution_name, reason)


@frappe.whitelist(methods=["POST"])
def dismiss(link: str, profile: str, reason: str) -> None:
	attribution.dismiss(link, profile, reason)


@frappe.whitelist(methods=["POST"])
def dismiss_invoice(link: str, reason: str) -> None:
	attribution.dismiss_invoice(link, reason)


@frappe.whitelist(methods=["POST"])
def reopen(link: str, reason: str) -> None:
	attribution.reopen(link, reason)


@frappe.whitelist(methods=["POST"])
def create_customer(link: str, reason: str, customer_name: str | None = None) -> dict:
	return attribution.create_customer(link, reason, customer_name=customer_name or None)


@frappe.whitelist(methods=["GET"])
def preview_customer_merge(source: str, target: str) -> dict:
	attribution.check_accountant()
	return customer_merge.preview(source, target)


@frappe.whitelist(methods=["POST"])
def merge_customers(source: str, target: str, reason: str) -> dict:
	return customer_merge.merge(source, target, reason)


@frappe.whitelist(methods=["POST"])
def refresh_queue() -> None:
	attribution.check_accountant()
	queue.enqueue_refresh()

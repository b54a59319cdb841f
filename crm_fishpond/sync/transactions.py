"""The transaction history: one Fishpond Transaction per submitted Sales Order / Sales Invoice, and
one per attributed POS Invoice, split out of its consolidated Sales Invoice (crm_fishpond.sync.pos).

The same row builder serves the document events (one voucher) and the backfill (thousands of
vouchers read set-based), so both paths always agree. Rows are named deterministically after their
voucher, which makes every write an idempotent upsert: a replayed event or a retried job finds the
row it already wrote and changes nothing.
"""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from decimal import Decimal

import frappe
from frappe.utils import cint, flt, getdate, now_datetime

from crm_fishpond import bulk, jobs
from crm_fishpond.bulk import CHILD_COLUMNS, DOC_COLUMNS
from crm_fishpond.engine.voucher_items import item_differences
from crm_fishpond.sync import pos

SYNCED_DOCTYPES = ("Sales Order", "Sales Invoice")
PREFIX = {"Sales Order": "SO", "Sales Invoice": "SI", "POS Invoice": "POS"}
PURCHASE_VOUCHERS = ("Sales Invoice", "POS Invoice")
"""The voucher types of purchases in the history: invoices, and the POS Invoices an accountant
attributed out of their consolidated invoice (each row is a share of a Sales Invoice)."""

# Columns compared to decide whether a stored row needs an update.
COMPARED = (
	"fishpond_lead",
	"customer",
	"posting_date",
	"docstatus_state",
	"company",
	"currency",
	"conversion_rate",
	"is_return",
	"return_against",
	"amended_from",
	"consolidated_invoice",
	"grand_total",
	"net_total",
	"base_grand_total",
	"base_net_total",
	"outstanding_amount",
	"total_qty",
	"item_codes",
	"item_groups",
)


def transaction_name(voucher_type: str, voucher_no: str) -> str:
	name = f"{PREFIX[voucher_type]}-{voucher_no}"
	if len(name) > 140:
		digest = hashlib.sha1(voucher_no.encode()).hexdigest()[:16]
		name = f"{PREFIX[voucher_type]}-{voucher_no[:100]}-{digest}"
	return name


def header_from_doc(doc) -> dict:
	"""The voucher fields the row builder reads, from an in-memory Sales Order / Sales Invoice."""
	is_invoice = doc.doctype == "Sales Invoice"
	return {
		"voucher_type": doc.doctype,
		"voucher_no": doc.name,
		"customer": doc.customer,
		"posting_date": doc.posting_date if is_invoice else doc.transaction_date,
		"docstatus": doc.docstatus,
		"company": doc.company,
		"currency": doc.currency,
		"conversion_rate": doc.conversion_rate,
		"is_return": doc.get("is_return") or 0,
		"return_against": doc.get("return_against"),
		"amended_from": doc.get("amended_from"),
		"is_consolidated": doc.get("is_consolidated") or 0,
		"grand_total": doc.grand_total,
		"net_total": doc.net_total,
		"base_grand_total": doc.base_grand_total,
		"base_net_total": doc.base_net_total,
		"outstanding_amount": doc.get("outstanding_amount") or 0,
	}


def items_from_doc(doc) -> list[dict]:
	return [
		{
			"item_code": d.item_code,
			"item_group": d.item_group,
			"qty": d.qty,
			"base_net_amount": d.base_net_amount,
			"pos_invoice": d.get("pos_invoice"),
		}
		for d in doc.get("items") or []
	]


def build_row(header: dict, items: list[dict], profile: str | None) -> tuple[dict, list[dict]]:
	"""Parent values and summarised item rows (one per item code and group) for a voucher."""
	summary: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
	for item in items:
		key = (item.get("item_code"), item.get("item_group"))
		summary[key][0] += flt(item.get("qty"))
		summary[key][1] += flt(item.get("base_net_amount"))
	child = [
		{"item_code": code, "item_group": group, "qty": flt(qty, 6), "base_net_amount": flt(amount, 6)}
		for (code, group), (qty, amount) in sorted(
			summary.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")
		)
	]
	codes = sorted({c["item_code"] for c in child if c["item_code"]})
	groups = sorted({c["item_group"] for c in child if c["item_group"]})
	parent = {
		"name": transaction_name(header["voucher_type"], header["voucher_no"]),
		"fishpond_lead": profile,
		"customer": header.get("customer"),
		"voucher_type": header["voucher_type"],
		"voucher_no": header["voucher_no"],
		"posting_date": getdate(header.get("posting_date")) if header.get("posting_date") else None,
		"docstatus_state": "Cancelled" if cint(header.get("docstatus")) == 2 else "Submitted",
		"company": header.get("company"),
		"currency": header.get("currency"),
		"conversion_rate": flt(header.get("conversion_rate"), 9),
		"is_return": cint(header.get("is_return")),
		"return_against": header.get("return_against") or None,
		"amended_from": header.get("amended_from") or None,
		"consolidated_invoice": header.get("consolidated_invoice") or None,
		"grand_total": flt(header.get("grand_total"), 6),
		"net_total": flt(header.get("net_total"), 6),
		"base_grand_total": flt(header.get("base_grand_total"), 6),
		"base_net_total": flt(header.get("base_net_total"), 6),
		"outstanding_amount": flt(header.get("outstanding_amount"), 6),
		"total_qty": flt(sum(c["qty"] for c in child), 6),
		"item_codes": "\n".join(codes) or None,
		"item_groups": "\n".join(groups) or None,
	}
	return parent, child


def _normalise(value):
	"""Compare stored and computed values alike: '' is None, numbers to 6 places, dates as dates."""
	if value is None or value == "":
		return None
	if isinstance(value, bool | int | float | Decimal):
		return round(float(value), 6)
	if isinstance(value, datetime.date):
		return getdate(value)
	return value


def changed_fields(stored: dict, row: dict) -> dict:
	return {k: row[k] for k in COMPARED if _normalise(stored.get(k)) != _normalise(row.get(k))}


ITEM_FIELDS = ("item_code", "item_group", "qty", "base_net_amount")
ITEM_COLUMNS = [*CHILD_COLUMNS, *ITEM_FIELDS]


def _insert_items(rows: list[tuple[str, list[dict]]]) -> None:
	"""Bulk insert summarised item rows for (transaction name, items) pairs."""
	now, user = now_datetime(), frappe.session.user
	values = [
		[frappe.generate_hash(length=12), now, now, user, user, 0, name, "Fishpond Transaction", "items", idx]
		+ [item[f] for f in ITEM_FIELDS]
		for name, child in rows
		for idx, item in enumerate(child, start=1)
	]
	bulk.insert_rows("Fishpond Transaction Item", ITEM_COLUMNS, values)


def insert_rows(rows: list[tuple[dict, list[dict]]]) -> None:
	"""Bulk insert new transaction rows with their item rows (no controller: rows are derived data)."""
	if not rows:
		return
	now, user = now_datetime(), frappe.session.user
	fields = [
		*DOC_COLUMNS,
		"synced_on",
		*COMPARED,
		"voucher_type",
		"voucher_no",
	]
	values = [
		[parent["name"], now, now, user, user, 0, now]
		+ [parent.get(k) for k in COMPARED]
		+ [parent["voucher_type"], parent["voucher_no"]]
		for parent, _child in rows
	]
	bulk.insert_rows("Fishpond Transaction", fields, values)
	_insert_items([(parent["name"], child) for parent, child in rows])


def replace_items(name: str, child: list[dict]) -> None:
	frappe.db.delete("Fishpond Transaction Item", {"parent": name, "parenttype": "Fishpond Transaction"})
	_insert_items([(name, child)])


def upsert(parent: dict, child: list[dict], new: bool = False) -> str:
	"""Insert or update one row; returns "inserted", "updated" or "unchanged".

	``new``: the voucher has just been submitted, so its row is almost never there (a row left behind
	by a voucher deleted without its events): insert it without reading first, and compare as usual
	when the insert finds the row there. (On MariaDB a refused insert leaves the transaction going;
	elsewhere the row is read first.)"""
	if new and frappe.db.db_type == "mariadb":
		try:
			insert_rows([(parent, [])])
		except Exception as e:
			if not frappe.db.is_duplicate_entry(e):
				raise
		else:
			_insert_items([(parent["name"], child)])
			return "inserted"
	stored = frappe.db.get_value("Fishpond Transaction", parent["name"], list(COMPARED), as_dict=True)
	if not stored:
		insert_rows([(parent, child)])
		return "inserted"
	diff = changed_fields(stored, parent)
	stored_child = frappe.get_all(
		"Fishpond Transaction Item",
		filters={"parent": parent["name"], "parenttype": "Fishpond Transaction"},
		fields=list(ITEM_FIELDS),
	)
	items_differ = bool(item_differences(stored_child, child))
	if not diff and not items_differ:
		return "unchanged"
	diff["synced_on"] = now_datetime()
	frappe.db.set_value("Fishpond Transaction", parent["name"], diff, update_modified=True)
	if items_differ:
		replace_items(parent["name"], child)
	return "updated"


def sync_voucher(doc, submitted: bool = False) -> tuple[str | None, str]:
	"""Write the transaction row of one submitted/cancelled voucher (and, for a consolidated invoice,
	the rows of its attributed POS Invoices). Returns (profile, outcome) of the voucher's own row.
	``submitted``: called from the voucher's on_submit (its row is new: see ``upsert``)."""
	from crm_fishpond.sync.attributions import profile_overrides
	from crm_fishpond.sync.profiles import ensure_profile_for_customer

	if doc.docstatus == 0 or not doc.get("customer"):
		return None, "skipped"
	header = header_from_doc(doc)
	# an invoice an accountant attributed to another profile stays there (crm_fishpond.accounting)
	profile = profile_overrides([header]).get(doc.name) or ensure_profile_for_customer(doc.customer)
	rows, stale = pos.expected_rows([header], {doc.name: items_from_doc(doc)}, {doc.name: profile}, build_row)
	outcome = upsert(*rows[0], new=submitted)
	# the rows of its attributed POS Invoices (a consolidated invoice), each on its profile
	touched = [parent["fishpond_lead"] for parent, child in rows[1:] if upsert(parent, child) != "unchanged"]
	touched += pos.delete_rows(stale)
	if touched:
		jobs.mark_dirty(touched)
	return profile, outcome

"""Exemptions that read real ERPNext data: open Sales Orders and unpaid Sales Invoices.

The recycler embeds :func:`exemption_sql` in its one eligibility query per pool, so protection is
decided set-based, in the database, at the moment of the run. :func:`protections` answers the same
questions for one profile (the form's "why is this lead protected" and the tests).

- An *open* Sales Order is submitted, not Completed / Closed / Cancelled, and not yet fully
  delivered or fully billed.
- An *unpaid* Sales Invoice is submitted with an outstanding amount above zero (credit notes carry
  negative outstanding amounts and never protect).
"""

from __future__ import annotations

import frappe
from frappe import _

CLOSED_ORDER_STATUSES = ("Completed", "Closed", "Cancelled")

# The fragments are raw SQL because they are correlated subqueries of the recycler's query (see
# recycle.py); `fl` is the Fishpond Lead alias there. They take no user input.
OPEN_ORDER_SQL = """exists (
	select 1 from `tabSales Order` so_open
	where so_open.customer = fl.customer and so_open.docstatus = 1
		and so_open.status not in ('Completed', 'Closed', 'Cancelled')
		and (so_open.per_delivered < 100 or so_open.per_billed < 100))"""
UNPAID_INVOICE_SQL = """exists (
	select 1 from `tabSales Invoice` si_unpaid
	where si_unpaid.customer = fl.customer and si_unpaid.docstatus = 1 and si_unpaid.outstanding_amount > 0)"""


def exemption_sql(rules) -> tuple[str, dict]:
	"""AND-ed conditions that keep protected leads out of the recycler's selection."""
	parts, params = [], {}
	if rules.exempt_locked:
		parts.append("coalesce(fl.locked, 0) = 0")
	if rules.exempt_open_sales_order:
		parts.append(f"not {OPEN_ORDER_SQL}")
	if rules.exempt_unpaid_invoice:
		parts.append(f"not {UNPAID_INVOICE_SQL}")
	if rules.exempt_value_grades:
		parts.append("(fl.value_grade is null or fl.value_grade not in %(exempt_grades)s)")
		params["exempt_grades"] = tuple(rules.exempt_value_grades)
	if rules.exempt_stages:
		parts.append("(fl.lifecycle_stage is null or fl.lifecycle_stage not in %(exempt_stages)s)")
		params["exempt_stages"] = tuple(rules.exempt_stages)
	return "".join(f"\n\t\tand {p}" for p in parts), params


def open_sales_orders(customer: str | None) -> list[str]:
	if not customer:
		return []
	so = frappe.qb.DocType("Sales Order")
	return [
		r[0]
		for r in (
			frappe.qb.from_(so)
			.select(so.name)
			.where(so.customer == customer)
			.where(so.docstatus == 1)
			.where(so.status.notin(CLOSED_ORDER_STATUSES))
			.where((so.per_delivered < 100) | (so.per_billed < 100))
			.orderby(so.name)
		).run()
	]


def unpaid_invoices(customer: str | None) -> list[str]:
	if not customer:
		return []
	si = frappe.qb.DocType("Sales Invoice")
	return [
		r[0]
		for r in (
			frappe.qb.from_(si)
			.select(si.name)
			.where(si.customer == customer)
			.where(si.docstatus == 1)
			.where(si.outstanding_amount > 0)
			.orderby(si.name)
		).run()
	]


def protections(profile: str, rules) -> list[str]:
	"""Why `profile` is exempt from `rules` (empty when it is not), as translated sentences."""
	values = frappe.db.get_value(
		"Fishpond Lead", profile, ["customer", "locked", "value_grade", "lifecycle_stage"], as_dict=True
	)
	if not values:
		return []
	reasons = []
	if rules.exempt_locked and values.locked:
		reasons.append(_("the lead is locked"))
	if rules.exempt_open_sales_order and (orders := open_sales_orders(values.customer)):
		reasons.append(_("open Sales Order {0}").format(", ".join(orders[:3])))
	if rules.exempt_unpaid_invoice and (invoices := unpaid_invoices(values.customer)):
		reasons.append(_("unpaid Sales Invoice {0}").format(", ".join(invoices[:3])))
	if values.value_grade and values.value_grade in rules.exempt_value_grades:
		reasons.append(_("value grade {0}").format(_(values.value_grade)))
	if values.lifecycle_stage and values.lifecycle_stage in rules.exempt_stages:
		reasons.append(_("lifecycle stage {0}").format(_(values.lifecycle_stage)))
	return reasons

"""Fishpond Cohort Retention: customers by first-purchase month x months since, net of returns
(definitions in crm_fishpond.engine.cohorts)."""

from __future__ import annotations

import frappe
import pandas as pd
from frappe.query_builder import Case
from frappe.query_builder.functions import Abs, Extract, Min, Sum
from frappe.utils import cint, getdate, nowdate
from pypika.enums import DatePart

from crm_fishpond.engine.cohorts import average_retention, cohort_retention
from crm_fishpond.sync.transactions import PURCHASE_VOUCHERS

from .scope import LEAD, date_range, scoped

DEFAULT_MONTHS = 12
MAX_MONTHS = 60


def monthly_rows(filters, today) -> pd.DataFrame:
	"""The readable profiles' submitted Sales Invoices (and attributed POS Invoices) up to today, summed
	per profile, company, month and kind (invoice or credit note), a credit note with the month of the
	invoice it returns (found in the pond by its voucher type and number, as the metrics history finds
	it): the engine nets them.
	Credit notes are summed as magnitudes, so the engine's rule (a return counts as -|amount|) holds
	row by row."""
	lead = frappe.qb.DocType(LEAD)
	tx = frappe.qb.DocType("Fishpond Transaction")
	orig = frappe.qb.DocType("Fishpond Transaction").as_("orig")
	year, month = Extract(DatePart.year, tx.posting_date), Extract(DatePart.month, tx.posting_date)
	oyear, omonth = Extract(DatePart.year, orig.posting_date), Extract(DatePart.month, orig.posting_date)
	amount = Case().when(tx.is_return == 1, Abs(tx.base_grand_total)).else_(tx.base_grand_total)
	query = (
		frappe.qb.from_(tx)
		.join(lead)
		.on(lead.name == tx.fishpond_lead)
		.left_join(orig)
		.on(
			(tx.is_return == 1)
			& (orig.voucher_type == tx.voucher_type)
			& (orig.voucher_no == tx.return_against)
		)
		.select(
			tx.fishpond_lead.as_("profile"),
			tx.company,
			tx.is_return,
			Min(tx.posting_date).as_("posting_date"),
			Min(orig.posting_date).as_("returned_posting_date"),
			Sum(amount).as_("amount"),
		)
		.where(tx.voucher_type.isin(PURCHASE_VOUCHERS))
		.where(tx.docstatus_state == "Submitted")
		.where(tx.posting_date <= today)
		.groupby(tx.fishpond_lead, tx.company, year, month, tx.is_return, oyear, omonth)
	)
	if filters.get("company"):
		query = query.where(tx.company == filters.company)
	rows = scoped(query, filters, company=False).run()
	columns = ["profile", "company", "is_return", "posting_date", "returned_posting_date", "amount"]
	return pd.DataFrame(list(rows), columns=columns)


def cohort_table(filters):
	"""(offsets, rows, average): one row per cohort month with its size and, per month since,
	``m{k}`` (retention %, or buyers when ``filters.show == "Buyers"``); ``average`` is the
	cohort-size weighted retention % per month since."""
	today = getdate(nowdate())
	from_date, to_date = date_range(filters, DEFAULT_MONTHS - 1)
	months = min(max(cint(filters.get("months")) or DEFAULT_MONTHS, 1), MAX_MONTHS)
	table = cohort_retention(
		monthly_rows(filters, today),
		first_cohort=from_date,
		last_cohort=to_date,
		observed_until=today,
		max_offset=months,
	)
	buyers = filters.get("show") == "Buyers"
	values = table.buyers if buyers else table.retention * 100
	rows = []
	for cohort, size in table.sizes.items():
		row = {"cohort": str(cohort), "size": int(size)}
		for k in table.offsets:
			v = values.at[cohort, k]
			row[f"m{k}"] = None if pd.isna(v) else (int(v) if buyers else float(v))
		rows.append(row)
	average = [None if pd.isna(v) else float(v) * 100 for v in average_retention(table).tolist()]
	return table.offsets, rows, average

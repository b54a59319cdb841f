import frappe
from frappe.model.document import Document


class FishpondTransaction(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		from crm_fishpond.crm_fishpond.doctype.fishpond_transaction_item.fishpond_transaction_item import (
			FishpondTransactionItem,
		)

		amended_from: DF.Data | None
		base_grand_total: DF.Currency
		base_net_total: DF.Currency
		company: DF.Link | None
		consolidated_invoice: DF.Link | None
		conversion_rate: DF.Float
		currency: DF.Link | None
		customer: DF.Link | None
		docstatus_state: DF.Literal["Submitted", "Cancelled"]
		fishpond_lead: DF.Link | None
		grand_total: DF.Currency
		is_return: DF.Check
		item_codes: DF.SmallText | None
		item_groups: DF.SmallText | None
		items: DF.Table[FishpondTransactionItem]
		net_total: DF.Currency
		outstanding_amount: DF.Currency
		posting_date: DF.Date | None
		return_against: DF.DynamicLink | None
		synced_on: DF.Datetime | None
		total_qty: DF.Float
		voucher_no: DF.DynamicLink
		voucher_type: DF.Literal["Sales Order", "Sales Invoice", "POS Invoice"]
	# end: auto-generated types
	"""Derived from a submitted Sales Order / Sales Invoice (or an attributed POS Invoice's share of its
	consolidated Sales Invoice) by crm_fishpond.sync; read-only for users."""


# A full rescore reads, for each chunk of profiles, their submitted purchases (crm_fishpond.scoring.
# loader.load_purchases) and their submitted Sales Orders (load_events): one profile's rows lie all
# over the table, so through the fishpond_lead index alone each row is a lookup of its own (a
# chunk of 20,000 profiles with 200,000 purchases took 1.4-18 s on a 10M-row pond, and the Sales
# Order query as long to find none). This index holds every column those queries read, in the
# order they filter: each profile's rows are one range of it and no row is looked up.
PURCHASES_INDEX = "fishpond_lead_purchases"
PURCHASES_INDEX_COLUMNS = [
	"fishpond_lead",
	"voucher_type",
	"docstatus_state",
	"posting_date",
	"base_grand_total",
]


def on_doctype_update():
	frappe.db.add_index("Fishpond Transaction", PURCHASES_INDEX_COLUMNS, index_name=PURCHASES_INDEX)

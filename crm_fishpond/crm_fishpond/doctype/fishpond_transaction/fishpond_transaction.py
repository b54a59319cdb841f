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

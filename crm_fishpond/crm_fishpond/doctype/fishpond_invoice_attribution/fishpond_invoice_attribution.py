"""Puts a Sales Invoice or POS Invoice on the profile it really belongs to, with a reason; cancelling
undoes it.

Submitting moves the invoice's row in the pond's history (and its credit notes') to ``to_profile``;
cancelling moves them back to the booked customer's profile, refused once the period is closed. A POS
Invoice's share is split out of the Sales Invoice that POS closing consolidated it into (or will:
before POS closing the attribution waits for it, crm_fishpond.sync.pos). The
sync reads submitted attributions (crm_fishpond.sync.attributions), so a resync keeps them. See
crm_fishpond.accounting.attribution and docs/accountants.md.
"""

import frappe
from frappe import _
from frappe.model.document import Document

from crm_fishpond.accounting import attribution as A


class FishpondInvoiceAttribution(Document):
	def validate(self):
		if self.voucher_type not in ("Sales Invoice", "POS Invoice"):
			frappe.throw(_("Only Sales Invoices and POS Invoices can be attributed."))
		invoice = frappe.db.get_value(
			self.voucher_type,
			self.voucher_no,
			["docstatus", "is_return", "return_against", "company", "posting_date", "customer"],
			as_dict=True,
		)
		if not invoice or invoice.docstatus != 1:
			frappe.throw(
				_("{0} is not a submitted {1}.").format(frappe.bold(self.voucher_no), _(self.voucher_type))
			)
		if invoice.is_return:
			frappe.throw(
				_(
					"{0} is a credit note: attribute the invoice it returns ({1}); its credit notes follow it."
				).format(frappe.bold(self.voucher_no), frappe.bold(invoice.return_against))
			)
		self.company, self.posting_date, self.customer = (
			invoice.company,
			invoice.posting_date,
			invoice.customer,
		)
		if not frappe.db.exists("Fishpond Lead", self.to_profile):
			frappe.throw(_("Profile {0} does not exist.").format(frappe.bold(self.to_profile)))
		if self.docstatus == 0:
			self.from_profile = A.current_profile(self.voucher_no, self.voucher_type)
		if self.invoice_link is None:
			self.invoice_link = frappe.db.get_value(
				"Fishpond Invoice Link", {"voucher_type": self.voucher_type, "voucher_no": self.voucher_no}
			)

	def before_submit(self):
		A.check_accountant()
		# from the pond, never from the request (a client could send any value, even on insert)
		self.from_profile = A.current_profile(self.voucher_no, self.voucher_type)
		active = frappe.db.get_value(
			"Fishpond Invoice Attribution",
			{
				"voucher_type": self.voucher_type,
				"voucher_no": self.voucher_no,
				"docstatus": 1,
				"name": ("!=", self.name),
			},
			"name",
			for_update=True,
		)
		if active:
			frappe.throw(
				_("{0} is already attributed ({1}): undo that first.").format(
					frappe.bold(self.voucher_no), frappe.bold(active)
				)
			)
		if self.from_profile == self.to_profile:
			frappe.throw(_("{0} is already on this profile.").format(frappe.bold(self.voucher_no)))

	def on_submit(self):
		A.resync(self.voucher_no, self.voucher_type)
		if self.invoice_link and frappe.db.exists("Fishpond Invoice Link", self.invoice_link):
			frappe.db.set_value(
				"Fishpond Invoice Link",
				self.invoice_link,
				{
					"status": "Attributed",
					"attributed_to": self.to_profile,
					"attribution": self.name,
					"decided_by": frappe.session.user,
				},
			)
		A.after_change(
			self,
			self.from_profile,
			self.to_profile,
			_("Invoice {0} attributed to {1} by {2}: {3}").format(
				self.voucher_no, self.to_profile, frappe.session.user, self.reason
			),
		)

	def before_cancel(self):
		A.check_accountant()
		if not (self.undo_reason or "").strip():
			frappe.throw(
				_("Give the reason for undoing in {0}.").format(frappe.bold(_("Reason for Undoing")))
			)
		if A.period_closed(self.company, self.posting_date, self.voucher_type):
			frappe.throw(
				_("The period of {0} ({1}) is closed: the attribution can no longer be undone.").format(
					frappe.bold(self.voucher_no), frappe.format(self.posting_date, {"fieldtype": "Date"})
				),
				title=_("Period closed"),
			)

	def on_cancel(self):
		profiles = A.resync(self.voucher_no, self.voucher_type)
		back = profiles[0] if profiles else None
		if self.invoice_link and frappe.db.exists("Fishpond Invoice Link", self.invoice_link):
			frappe.db.set_value(
				"Fishpond Invoice Link",
				self.invoice_link,
				{
					"status": "Open",
					"attributed_to": None,
					"attribution": None,
					"decided_by": frappe.session.user,
				},
			)
		A.after_change(
			self,
			self.to_profile,
			back,
			_("Attribution of invoice {0} to {1} undone by {2}: {3}").format(
				self.voucher_no, self.to_profile, frappe.session.user, self.undo_reason
			),
		)

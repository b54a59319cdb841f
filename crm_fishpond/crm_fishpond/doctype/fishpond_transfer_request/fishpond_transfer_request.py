"""A request to move a lead to another pool, decided through a Workflow.

The shipped workflow *Fishpond Transfer Approval* (a default) takes a request from Draft to Pending
Approval (the rep) and to Approved or Rejected (a Fishpond Manager). Reaching Approved moves the lead
with crm_fishpond.pools.claim.transfer as the approving user, so that user's rights and the caps
apply; a failed move stops the approval with the reason.
"""

import frappe
from frappe import _
from frappe.model.document import Document
from frappe.utils import now_datetime

APPROVED, REJECTED = "Approved", "Rejected"


class FishpondTransferRequest(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		decided_by: DF.Link | None
		fishpond_lead: DF.Link
		from_pool: DF.Link | None
		keep_owner: DF.Check
		lead_name: DF.Data | None
		reason: DF.SmallText
		requested_by: DF.Link | None
		to_pool: DF.Link
		transferred: DF.Check
		transferred_on: DF.Datetime | None
		workflow_state: DF.Link | None

	# end: auto-generated types
	def validate(self):
		self.set_from_pool()
		self.validate_target()
		if not self.requested_by:
			self.requested_by = frappe.session.user

	def on_update(self):
		if (
			self.has_value_changed("workflow_state")
			and self.workflow_state == APPROVED
			and not self.transferred
		):
			self.apply_transfer()
		elif self.has_value_changed("workflow_state") and self.workflow_state == REJECTED:
			self.db_set("decided_by", frappe.session.user)

	# -- steps ---------------------------------------------------------------------------------
	def set_from_pool(self):
		if self.transferred:
			return
		self.from_pool = frappe.db.get_value("Fishpond Lead", self.fishpond_lead, "fishpond")

	def validate_target(self):
		if not self.transferred and self.to_pool and self.to_pool == self.from_pool:
			frappe.throw(_("{0} is already in pool {1}.").format(self.fishpond_lead, self.to_pool))

	def apply_transfer(self):
		from crm_fishpond.pools.claim import transfer

		outcome = transfer(
			[self.fishpond_lead],
			self.to_pool,
			keep_owner=bool(self.keep_owner),
			reason=_("Transfer request {0}: {1}").format(self.name, self.reason or ""),
		)
		outcome.raise_first()
		self.db_set({"transferred": 1, "transferred_on": now_datetime(), "decided_by": frappe.session.user})

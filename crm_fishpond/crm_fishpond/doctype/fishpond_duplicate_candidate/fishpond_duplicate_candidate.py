"""Two profiles the nightly duplicate pass thinks are one customer.

One record per pair, named ``<profile_a>~<profile_b>`` with ``profile_a < profile_b``, so the pass can
upsert set-based and a dismissed pair keeps its record (and its status) for good. Records are written
by crm_fishpond.duplicates (the pass, dismiss, merge), never typed in by hand.
"""

import frappe
from frappe import _
from frappe.model.document import Document


def pair_name(profile_a: str, profile_b: str) -> str:
	a, b = sorted((profile_a, profile_b))
	return f"{a}~{b}"


class FishpondDuplicateCandidate(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		decided_by: DF.Link | None
		evidence: DF.SmallText | None
		merged_from: DF.Data | None
		merged_into: DF.Link | None
		name_a: DF.Data | None
		name_b: DF.Data | None
		profile_a: DF.Link
		profile_b: DF.Link
		score: DF.Float
		status: DF.Literal["Open", "Merged", "Dismissed"]

	# end: auto-generated types
	def autoname(self):
		self.name = pair_name(self.profile_a, self.profile_b)

	def validate(self):
		if self.is_new():
			if self.profile_a == self.profile_b:
				frappe.throw(_("A profile cannot be a duplicate of itself."))
			self.profile_a, self.profile_b = sorted((self.profile_a, self.profile_b))

from frappe.model.document import Document


class FishpondModelFit(Document):
	# begin: auto-generated types
	# This code is auto-generated. Do not modify anything in this block.

	from typing import TYPE_CHECKING

	if TYPE_CHECKING:
		from frappe.types import DF

		as_of: DF.Date | None
		bgnbd: DF.JSON | None
		buyers: DF.Int
		changes: DF.SmallText | None
		churn_method: DF.Literal["BG/NBD", "Recency rule"]
		clv_method: DF.Literal["Gamma-Gamma", "Not computed"]
		fitted_on: DF.Datetime | None
		gamma_gamma: DF.JSON | None
		method_reason: DF.SmallText | None
		models: DF.JSON | None
		previous_fit: DF.Link | None
		profiles: DF.Int
		purchase_rows: DF.Int
		repeat_buyers: DF.Int
		rfm_thresholds: DF.JSON | None
		run: DF.Link | None
	# end: auto-generated types
	"""Population models one full rescore fitted (read-only; written by crm_fishpond.scoring.models)."""

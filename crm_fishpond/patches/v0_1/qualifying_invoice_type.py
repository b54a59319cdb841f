"""A referral reward's qualifying invoice may be a POS Invoice attributed to the referee: the field is a
Dynamic Link now. Rewards that qualified before name a Sales Invoice; say so, so they save again."""

import frappe


def execute():
	reward = frappe.qb.DocType("Referral Reward")
	(
		frappe.qb.update(reward)
		.set(reward.qualifying_invoice_type, "Sales Invoice")
		.where(reward.qualifying_invoice.isnotnull())
		.where((reward.qualifying_invoice_type.isnull()) | (reward.qualifying_invoice_type == ""))
	).run()

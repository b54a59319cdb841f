"""Rules are built by clicking: show every stored JSON rule in the builder.

Tag conditions and stage entry rules were JSON only. The forms now build them with Frappe's filter UI
(crm_fishpond.scoring.rules.sync_builder); this fills the builder's rows of each stored rule once, or
keeps the rule in JSON mode when the filter UI cannot show it (nested groups)."""

import frappe

from crm_fishpond.scoring.config import rule_vocabulary
from crm_fishpond.scoring.rules import show_in_builder

RULE_FIELDS = {"Fishpond Tag": "condition", "Lifecycle Stage": "entry_condition"}


def execute():
	vocab = rule_vocabulary()
	for doctype, fieldname in RULE_FIELDS.items():
		for name in frappe.get_all(doctype, filters={fieldname: ("is", "set")}, pluck="name"):
			doc = frappe.get_doc(doctype, name)
			if doc.rule_filters:
				continue
			show_in_builder(doc, fieldname, vocab)
			frappe.db.set_value(
				doctype,
				name,
				{
					"rule_filters": doc.rule_filters,
					"rule_match": doc.rule_match,
					"advanced_rule": doc.advanced_rule,
				},
				update_modified=False,
			)

"""Rules take percents as the profile form shows them: rewrite stored ``churn_risk`` fractions.

Before rules were translated from the form's vocabulary, a rule compared ``churn_risk`` with the
engine's fraction (``0.7``). It now means a percent (``70``), so stored fractions are rewritten once
(see crm_fishpond.engine.vocabulary.fractions_to_percents).
"""

import json

import frappe

from crm_fishpond.engine.vocabulary import fractions_to_percents

RULE_FIELDS = {"Fishpond Tag": "condition", "Lifecycle Stage": "entry_condition"}


def execute():
	for doctype, fieldname in RULE_FIELDS.items():
		for name, raw in frappe.get_all(
			doctype, filters={fieldname: ("like", "%churn_risk%")}, fields=["name", fieldname], as_list=True
		):
			try:
				condition = json.loads(raw)
			except ValueError:
				continue  # the next run marks it Failed; nothing to rewrite
			new, changed = fractions_to_percents(condition)
			if changed:
				frappe.db.set_value(
					doctype,
					name,
					fieldname,
					json.dumps(new, indent=1, ensure_ascii=False),
					update_modified=False,
				)

"""The matcher's settings and the generic customers, from Fishpond Settings (tab Accountant's Desk)."""

from __future__ import annotations

import frappe
from frappe import _

from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.invoice_match import MatchConfig

# Fishpond Settings field -> MatchConfig key
FIELDS = {
	"match_suggest_threshold": "suggest_threshold",
	"match_confident_threshold": "confident_threshold",
	"match_confident_margin": "confident_margin",
	"match_name_threshold": "name_threshold",
}


def _settings(settings=None):
	return settings or frappe.get_cached_doc("Fishpond Settings")


def match_config(settings=None) -> MatchConfig:
	"""The matcher's config: the defaults, with the thresholds the settings give."""
	settings = _settings(settings)
	values = {}
	for fieldname, key in FIELDS.items():
		value = settings.get(fieldname)
		if value is not None and value != "":
			values[key] = value
	return MatchConfig.from_dict(values)


def check(settings) -> None:
	"""Refuse thresholds the matcher would refuse, naming the field in the user's language."""

	def label(fieldname: str) -> str:
		return frappe.bold(_(settings.meta.get_label(fieldname)))

	for fieldname in ("match_suggest_threshold", "match_confident_threshold", "match_confident_margin"):
		value = settings.get(fieldname)
		if value is not None and not 0 <= float(value) <= 1:
			frappe.throw(
				_("{0} must be between 0 and 1.").format(label(fieldname)),
				title=_("Invalid suggestion settings"),
			)
	name = settings.get("match_name_threshold")
	if name is not None and not 50 <= int(name) <= 100:
		frappe.throw(
			_("{0} must be between 50 and 100.").format(label("match_name_threshold")),
			title=_("Invalid suggestion settings"),
		)
	if float(settings.get("match_confident_threshold") or 0) < float(
		settings.get("match_suggest_threshold") or 0
	):
		frappe.throw(
			_("{0} must be at least {1}.").format(
				label("match_confident_threshold"), label("match_suggest_threshold")
			),
			title=_("Invalid suggestion settings"),
		)
	try:
		match_config(settings)
	except EngineConfigError as e:  # a rule the checks above do not know yet: still refused, in English
		frappe.throw(str(e), title=_("Invalid suggestion settings"))


def generic_customers(settings=None) -> list[str]:
	"""The walk-in / cash customers: the settings' list, else every POS Profile's customer."""
	listed = [row.customer for row in _settings(settings).get("generic_customers") or [] if row.customer]
	if listed:
		return sorted(set(listed))
	pos = frappe.qb.DocType("POS Profile")
	rows = (
		frappe.qb.from_(pos)
		.select(pos.customer)
		.distinct()
		.where(pos.customer.isnotnull())
		.where(pos.customer != "")
	).run(pluck=True)
	return sorted(set(rows))

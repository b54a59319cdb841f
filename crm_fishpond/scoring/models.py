"""Fitted population models (Fishpond Model Fit): stored by the full run, reused by incremental runs.

A full run that fits exactly what the latest stored fit holds (same data, same day) reuses that
record instead of adding an identical one, so a second run on unchanged data writes nothing.

Each record says which method the scores came from (*Churn Risk From*: BG/NBD or the recency rule;
*CLV From*: Gamma-Gamma or not computed) and why a fit was not used (too few customers, not
converged, implausible parameters; see crm_fishpond.engine.btyd).
"""

from __future__ import annotations

import json
from typing import Any

import frappe
import pandas as pd
from frappe import _
from frappe.utils import now_datetime

from crm_fishpond.engine import btyd
from crm_fishpond.engine.errors import EngineConfigError
from crm_fishpond.engine.pipeline import FittedModels

DOCTYPE = "Fishpond Model Fit"


def latest_fit() -> str | None:
	# by name: the naming series only grows, while creation times jump when the time zone changes
	names = frappe.get_all(DOCTYPE, pluck="name", order_by="name desc", limit=1)
	return names[0] if names else None


def load_fit(name: str) -> FittedModels:
	raw = frappe.db.get_value(DOCTYPE, name, "models")
	try:
		return FittedModels.from_dict(json.loads(raw or "{}"))
	except (ValueError, EngineConfigError) as e:
		frappe.throw(_("The stored model fit {0} cannot be read: {1}").format(name, str(e)))


def clv_reference() -> pd.Series:
	"""The stored positive CLV of every profile: the scale incremental lead scores rank CLV against."""
	lead = frappe.qb.DocType("Fishpond Lead")
	rows = frappe.qb.from_(lead).select(lead.name, lead.clv).where(lead.clv > 0).run()
	if not rows:
		return pd.Series([], dtype=float)
	names, values = zip(*rows, strict=True)
	return pd.Series([float(v) for v in values], index=pd.Index(names, dtype=object, name="profile"))


def _comparable(d: Any) -> Any:
	"""The parameters without the fit timestamps (two fits of the same data compare equal)."""
	if isinstance(d, dict):
		return {k: _comparable(v) for k, v in d.items() if k not in ("fitted_on",)}
	if isinstance(d, list):
		return [_comparable(v) for v in d]
	return d


def describe_changes(old: dict | None, new: dict) -> str:
	"""Which parts of the models a new fit changed, in words (recorded as the reason of the new fit)."""
	if not old:
		return _("first fit")
	parts = []
	labels = {
		"rfm": _("RFM thresholds"),
		"bgnbd": _("BG/NBD parameters"),
		"gamma_gamma": _("Gamma-Gamma parameters"),
	}
	for key, label in labels.items():
		if _comparable(old.get(key)) != _comparable(new.get(key)):
			parts.append(label)
	if old.get("fitted_on") != new.get("fitted_on"):
		parts.append(
			_("as of {0} (was {1})").format(new.get("fitted_on", "")[:10], old.get("fitted_on", "")[:10])
		)
	return ", ".join(parts) or _("unchanged")


def methods(models: FittedModels) -> dict[str, str]:
	"""The methods behind a fit's scores and, in the user's language, why a fit was not used."""
	problems = {
		"too_few_customers": _("too few customers"),
		"too_few_repeat_buyers": _("too few repeat buyers"),
		"not_converged": _("the fit did not converge"),
		"implausible": _("implausible parameters"),
	}
	reasons = []
	if models.bgnbd is None:
		reasons.append(_("BG/NBD: nobody bought twice yet"))
	elif not models.bgnbd.usable:
		reasons.append(
			_("BG/NBD: {0} ({1})").format(
				problems.get(models.bgnbd.problem, models.bgnbd.problem), models.bgnbd.reason
			)
		)
	if models.gamma_gamma is not None and not models.gamma_gamma.usable:
		gg = models.gamma_gamma
		reasons.append(_("Gamma-Gamma: {0} ({1})").format(problems.get(gg.problem, gg.problem), gg.reason))
	elif models.gamma_gamma is None and models.n:
		reasons.append(
			_("Gamma-Gamma: fewer than {0} repeat buyers with a positive spend").format(
				btyd.MIN_GG_REPEAT_BUYERS
			)
		)
	if models.churn_model is None:
		reasons.append(
			_("Churn risk from the recency rule: a typical gap of {0} days between purchases").format(
				round(models.recency_gap_days or 0)
			)
		)
	return {
		"churn_method": "BG/NBD" if models.churn_model is not None else "Recency rule",
		"clv_method": "Gamma-Gamma" if models.spend_model is not None else "Not computed",
		"method_reason": "\n".join(reasons),
	}


def save_fit(models: FittedModels, *, run: str | None, profiles: int, purchase_rows: int) -> tuple[str, bool]:
	"""Store ``models`` unless the latest fit holds the same; returns (fit name, created)."""
	data = models.to_dict()
	previous = latest_fit()
	old = None
	if previous:
		old = json.loads(frappe.db.get_value(DOCTYPE, previous, "models") or "{}")
		if old == data:
			return previous, False
	gg = data.get("gamma_gamma") or {}
	doc = frappe.get_doc(
		{
			"doctype": DOCTYPE,
			"fitted_on": now_datetime(),
			"as_of": models.fitted_on.date(),
			"run": run,
			"profiles": profiles,
			"buyers": int(models.n),
			"repeat_buyers": int(gg.get("n") or 0),
			"purchase_rows": purchase_rows,
			"previous_fit": previous,
			"changes": describe_changes(old, data),
			**methods(models),
			"rfm_thresholds": _json(data.get("rfm")),
			"bgnbd": _json(data.get("bgnbd")),
			"gamma_gamma": _json(data.get("gamma_gamma")),
			"models": _json(data),
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name, True


def _json(value: Any) -> str | None:
	return None if value is None else json.dumps(value, indent=1, sort_keys=True)

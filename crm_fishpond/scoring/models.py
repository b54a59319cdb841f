"""Fitted population models (Fishpond Model Fit): stored by the full run, reused by incremental runs.

A full run that fits exactly what the latest stored fit holds (same data, same day) reuses that
record instead of adding an identical one, so a second run on unchanged data writes nothing.

Each record says which method the scores came from (*Churn Risk From*: BG/NBD or the recency rule;
*CLV From*: Gamma-Gamma or not computed) and why a fit was not used (too few customers, not
converged, implausible parameters; see crm_fishpond.engine.btyd).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import frappe
import numpy as np
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


REFERENCE_PREFIX = "f8:"


def load_fit(name: str) -> FittedModels:
	"""The stored models with their CLV reference (a fit stored before the reference was kept takes
	the profiles' stored CLVs instead)."""
	row = frappe.db.get_value(DOCTYPE, name, ["models", "clv_reference"], as_dict=True) or {}
	try:
		fitted = FittedModels.from_dict(json.loads(row.get("models") or "{}"))
	except (ValueError, EngineConfigError) as e:
		frappe.throw(_("The stored model fit {0} cannot be read: {1}").format(name, str(e)))
	values = decode_reference(row.get("clv_reference"))
	return fitted.with_clv_reference(clv_reference() if values is None else values)


def encode_reference(values: np.ndarray | None) -> str:
	"""Sorted CLVs as text: the prefix, then base64 of the little-endian float64 values."""
	array = np.asarray([] if values is None else values, dtype="<f8")
	return REFERENCE_PREFIX + base64.b64encode(array.tobytes()).decode("ascii")


def decode_reference(raw: str | None) -> np.ndarray | None:
	"""The values :func:`encode_reference` stored, or None when nothing (readable) was stored."""
	if not raw or not raw.startswith(REFERENCE_PREFIX):
		return None
	try:
		return np.frombuffer(base64.b64decode(raw[len(REFERENCE_PREFIX) :], validate=True), dtype="<f8")
	except ValueError:
		return None


def clv_reference() -> pd.Series:
	"""The stored positive CLV of every profile (the reference of a fit stored without one)."""
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
	reference = encode_reference(models.clv_reference)
	previous = latest_fit()
	old = None
	if previous:
		old_models, old_reference = frappe.db.get_value(DOCTYPE, previous, ["models", "clv_reference"])
		old = json.loads(old_models or "{}")
		if old == data:
			# the same parameters; the CLVs they give may have moved with the data
			if old_reference != reference:
				frappe.db.set_value(DOCTYPE, previous, "clv_reference", reference, update_modified=False)
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
			"clv_reference": reference,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name, True


def _json(value: Any) -> str | None:
	return None if value is None else json.dumps(value, indent=1, sort_keys=True)

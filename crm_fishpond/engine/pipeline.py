"""Run every engine computation over a pond: :func:`run_pond`.

Order of the steps (each one's wall time lands in ``PondResult.timings``)::

	validate     the four frames have their columns; profile ids are unique
	rfm          rfm_summary over all profiles, RFM cut points (fitted or reused), scores and grade
	btyd         BG/NBD + Gamma-Gamma (fitted on the buyers or reused): p_alive, churn risk, CLV; the
	             recency rule instead when the pond cannot support a BG/NBD fit
	activity     interactions + events: counts, recency and decayed engagement points
	score        lead score 0-100 (fit + engagement + value) and its per-factor columns
	category     potential / intention / deal / loyal
	stages       lifecycle stage transitions (from the profiles' current ``stage``)
	tags         admin tag rules over profile fields + every metric
	dedupe       duplicate candidate pairs
	finish       one metrics frame, missing values completed

A **full run** fits the models (RFM cut points, BG/NBD and Gamma-Gamma parameters) on the pond and
returns them in :class:`FittedModels`; the site stores them (:meth:`FittedModels.to_dict`). An
**incremental run** passes ``models=`` and rescoring a few profiles then gives exactly the rows the
full run gave them when their data did not change: nothing is refitted, and the CLV percentile of the
lead score's value part is taken against ``models.clv_reference`` (the sorted positive CLVs of the
population the models were fitted on) instead of against the few profiles at hand.

A **fanned-out full run** calls :func:`fit_models` once on the whole pond, then :func:`run_pond` with
those models on each part of the pond, in any order and on any number of workers: every part gets
exactly the rows one :func:`run_pond` over the whole pond gives (the RFM cut points, the BG/NBD and
Gamma-Gamma parameters and the CLV reference all come from the whole pond). The fit itself reads
only a per-profile summary of the purchases, so it splits too: :func:`summarise` each part (any
order, any worker), then :func:`fit_models_from_summary` once on the parts' summaries concatenated
in the pond's order, which is the fit :func:`fit_models` gives on the whole pond.

A stage or tag rule that fails on the pond (a field the frame lacks, a value of the wrong type) is
skipped and listed in ``PondResult.rule_errors``; the other rules and every other step still run.

Rules (category, stages, tags) see the metrics as the modules produce them, where missing means
"never happened" (e.g. ``days_since_interaction`` is NaN for a profile nobody has contacted, so
``days_since_interaction < 7`` does not hold for them). The returned ``metrics`` are complete instead:
no NaN in any numeric column (see :data:`FILL_VALUES`); dates stay ``NaT`` when the event never
happened.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from . import btyd
from .activity import activity_and_engagement
from .category import categorise
from .config import EngineConfig
from .dedupe import INPUT_COLUMNS as DEDUPE_COLUMNS
from .dedupe import PAIR_COLUMNS, duplicate_candidates
from .errors import EngineConfigError, EngineInputError
from .lifecycle import assign_stages
from .rfm import SUMMARY_COLUMNS, RFMThresholds, fit_rfm_thresholds, rfm_summary, score_rfm
from .schema import EVENT_COLUMNS, INTERACTION_COLUMNS, PROFILE_COLUMNS, TRANSACTION_COLUMNS, require_columns
from .scoring import lead_score
from .tags import evaluate_tags

T = TypeVar("T")

STEPS = ("validate", "rfm", "btyd", "activity", "score", "category", "stages", "tags", "dedupe", "finish")

NO_MODEL = "no model"
"""``churn_band`` of buyers without any churn estimate (kept for callers; the recency rule now bands
every buyer)."""

CHURN_METHODS = ("bgnbd", "recency")
"""``churn_method`` of a buyer: its churn risk came from BG/NBD, or from the recency rule
(:func:`~.btyd.recency_frame`) because the pond cannot support a BG/NBD fit. Non-buyers: ""."""

FILL_VALUES: dict[str, Any] = {
	# like rfm's days_since_last (0 without purchase): 0 when the profile was never contacted
	"days_since_interaction": 0.0,
}
"""How the returned ``metrics`` complete missing numeric values: the columns named here take these
values, every other numeric column 0; booleans False, text "". The raw modules' conventions are
documented in docs/engine.md ("Missing values")."""


def _empty(columns: Iterable[str]) -> pd.DataFrame:
	return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


@dataclass
class PondInputs:
	"""The four input frames of a pond (columns: docs/engine.md and :mod:`.schema`)."""

	profiles: pd.DataFrame
	transactions: pd.DataFrame = field(default_factory=lambda: _empty(TRANSACTION_COLUMNS))
	interactions: pd.DataFrame = field(default_factory=lambda: _empty(INTERACTION_COLUMNS))
	events: pd.DataFrame = field(default_factory=lambda: _empty(EVENT_COLUMNS))

	def subset(self, profiles: Iterable[Any]) -> PondInputs:
		"""The same pond restricted to some profiles (e.g. the ones an incremental run rescores)."""
		wanted = pd.Index(list(profiles) if not isinstance(profiles, pd.Index) else profiles)

		def keep(frame: pd.DataFrame) -> pd.DataFrame:
			return frame[frame["profile"].isin(wanted)].reset_index(drop=True)

		return PondInputs(
			profiles=keep(self.profiles),
			transactions=keep(self.transactions),
			interactions=keep(self.interactions),
			events=keep(self.events),
		)


@dataclass(frozen=True)
class FittedModels:
	"""What a full run learned and an incremental run reuses.

	``rfm``: the RFM cut points. ``bgnbd`` / ``gamma_gamma``: the fitted parameters, or None when the
	pond's data could not identify them (nobody bought twice; fewer than two repeat buyers); a fit
	flagged ``usable=False`` (too few customers, not converged, implausible) is kept for the record
	and never used. ``recency_gap_days``: the typical gap of the recency rule that replaces BG/NBD
	then (:func:`~.btyd.typical_gap_days`). ``fitted_on``: the
	``as_of`` of the fit; ``n``: the number of profiles with a purchase it saw. ``clv_reference``:
	the positive CLVs at fit time, sorted (a float array): the scale of the lead score's CLV
	percentile. It is not part of :meth:`to_dict` (it has one value per buyer); a site stores it
	beside the parameters and restores it with :meth:`with_clv_reference`.
	"""

	rfm: RFMThresholds
	bgnbd: btyd.BGNBDParams | None
	gamma_gamma: btyd.GammaGammaParams | None
	fitted_on: pd.Timestamp
	n: int
	clv_reference: np.ndarray | None = field(default=None, compare=False, repr=False)
	recency_gap_days: float | None = None

	def with_clv_reference(self, clv: pd.Series | Mapping[str, float] | np.ndarray | None) -> FittedModels:
		"""A copy whose CLV percentile scale is ``clv`` (CLVs, by profile or not; zero and missing
		ignored)."""
		return FittedModels(
			self.rfm,
			self.bgnbd,
			self.gamma_gamma,
			self.fitted_on,
			self.n,
			_clv_reference(clv),
			self.recency_gap_days,
		)

	@property
	def churn_model(self) -> btyd.BGNBDParams | None:
		"""The BG/NBD fit when it is usable, else None (churn risk then comes from the recency rule)."""
		return self.bgnbd if self.bgnbd is not None and self.bgnbd.usable else None

	@property
	def spend_model(self) -> btyd.GammaGammaParams | None:
		"""The Gamma-Gamma fit when it and BG/NBD are usable, else None (no CLV)."""
		if self.churn_model is None or self.gamma_gamma is None or not self.gamma_gamma.usable:
			return None
		return self.gamma_gamma

	def to_dict(self) -> dict[str, Any]:
		"""JSON-able parameters (without ``clv_reference``)."""
		return {
			"rfm": self.rfm.to_dict(),
			"bgnbd": None if self.bgnbd is None else self.bgnbd.to_dict(),
			"gamma_gamma": None if self.gamma_gamma is None else self.gamma_gamma.to_dict(),
			"fitted_on": self.fitted_on.isoformat(),
			"n": int(self.n),
			"recency_gap_days": self.recency_gap_days,
		}

	@classmethod
	def from_dict(cls, d: Mapping[str, Any]) -> FittedModels:
		if not isinstance(d, Mapping):
			raise EngineConfigError(f"models must be a mapping, got {type(d).__name__}", field="models")
		for key in ("rfm", "fitted_on"):
			if key not in d:
				raise EngineConfigError(f"models lack {key!r}", field=f"models.{key}")
		try:
			fitted_on = pd.Timestamp(d["fitted_on"])
		except (TypeError, ValueError):
			raise EngineConfigError(
				f"models.fitted_on is not a date: {d['fitted_on']!r}", field="models.fitted_on"
			) from None
		return cls(
			rfm=_nested("models.rfm", RFMThresholds.from_dict, d["rfm"]),
			bgnbd=None
			if d.get("bgnbd") is None
			else _nested("models.bgnbd", btyd.BGNBDParams.from_dict, d["bgnbd"]),
			gamma_gamma=None
			if d.get("gamma_gamma") is None
			else _nested("models.gamma_gamma", btyd.GammaGammaParams.from_dict, d["gamma_gamma"]),
			fitted_on=fitted_on,
			n=int(d.get("n", 0)),
			recency_gap_days=None if d.get("recency_gap_days") is None else float(d["recency_gap_days"]),
		)


@dataclass
class PondResult:
	"""Everything :func:`run_pond` computed.

	``metrics``: one row per profile (index ``profile``, in the order of ``inputs.profiles``) with
	every computed column and no NaN in numeric columns. ``tags``: long frame ``profile, tag,
	reason``. ``duplicates``: ``profile_a, profile_b, confidence, reason``. ``models``: the fitted (or
	reused) models. ``timings``: seconds per step (:data:`STEPS`) and ``total``. ``rule_errors``: the
	stage and tag rules that failed on this pond and were skipped (``{"kind": "stage" | "tag",
	"rule": name, "error": message}``); every other rule ran.
	"""

	metrics: pd.DataFrame
	tags: pd.DataFrame
	duplicates: pd.DataFrame
	models: FittedModels
	timings: dict[str, float]
	config: EngineConfig
	as_of: pd.Timestamp
	refitted: bool = True
	rule_errors: list[dict] = field(default_factory=list)


def run_pond(
	inputs: PondInputs,
	config: EngineConfig | Mapping[str, Any] | None = None,
	as_of: Any = None,
	models: FittedModels | Mapping[str, Any] | None = None,
	*,
	dedupe: bool = True,
	summary: pd.DataFrame | None = None,
) -> PondResult:
	"""Compute every metric, tag and duplicate candidate of a pond as of ``as_of`` (default: today).

	``config`` is an :class:`EngineConfig` or its dict form. Without ``models`` the RFM cut points
	and the BG/NBD and Gamma-Gamma models are fitted on this pond; with ``models`` (a
	:class:`FittedModels` or its dict form) they are reused, which is what an incremental rescore of a
	few profiles wants. ``dedupe=False`` skips duplicate detection (it compares profiles with each
	other, so it belongs in full runs). ``summary``: the profiles' purchase summary, computed before
	(:func:`summarise` of the same profiles as of the same day: with a ``profile`` column naming its
	rows, in any order, or in the profiles' order without one), used instead of reading
	``inputs.transactions``: the second stage of a fan-out scores a chunk its first stage summarised.
	"""
	timings: dict[str, float] = {}
	started = time.perf_counter()
	config = _as_config(config)
	as_of = _as_of(as_of)
	if models is not None and not isinstance(models, FittedModels):
		models = FittedModels.from_dict(models)

	with _timed(timings, "validate"):
		profiles, ids = _validated(inputs)
		index = pd.Index(ids, dtype=object, name="profile")

	with _timed(timings, "rfm"):
		if summary is None:
			summary = _summary(inputs.transactions, index, config, as_of)
		else:
			summary = _given_summary(summary, index)
		refit = models is None
		thresholds = (
			fit_rfm_thresholds(summary, config.rfm, fitted_on=as_of.isoformat()) if refit else models.rfm
		)
		scores = score_rfm(summary, thresholds, config.rfm)

	with _timed(timings, "btyd"):
		fitted = _fitted(summary, thresholds, config, as_of) if refit else models
		churn = _churn(summary, fitted, config)

	with _timed(timings, "activity"):
		# one pass over the activity for the summary and the lead score's engagement part
		activity, engagement = activity_and_engagement(
			inputs.interactions, inputs.events, as_of, config.engagement, profiles=index
		)

	working = pd.concat([summary, scores, churn, activity], axis=1)
	has_clv = "clv" in churn
	del summary, scores, churn, activity  # working holds copies of them
	if "stage" in profiles.columns:
		working["stage"] = profiles["stage"].to_numpy()

	with _timed(timings, "score"):
		reference = _clv_reference(working["clv"]) if refit and has_clv else None
		if not refit:
			reference = models.clv_reference
		# without a CLV model the lead score's value part leaves CLV out instead of scoring it 0
		modelled = fitted.spend_model is not None
		scored_on = working if modelled else working.drop(columns=list(btyd.CHURN_COLUMNS))
		score = _lead_score(profiles, scored_on, engagement, config, as_of, None if refit else reference)
		del scored_on, engagement
		working = _add_columns(working, score)
		del score

	with _timed(timings, "category"):
		working = _add_columns(working, categorise(working, config.category))

	rule_errors: list[dict] = []
	with _timed(timings, "stages"):
		stages = assign_stages(working, config.stages, errors=rule_errors)
		if "stage" in working.columns:
			del working["stage"]
		working = _add_columns(working, stages)
		del stages

	with _timed(timings, "tags"):
		if config.tags:
			tags = evaluate_tags(_with_attributes(working, profiles), config.tags, errors=rule_errors)
		else:
			tags = _empty(("profile", "tag", "reason"))

	with _timed(timings, "dedupe"):
		duplicates = (
			duplicate_candidates(
				profiles[[c for c in profiles.columns if c in DEDUPE_COLUMNS]].reset_index(), config.dedupe
			)
			if dedupe
			else _empty(PAIR_COLUMNS)
		)

	with _timed(timings, "finish"):
		metrics = complete(_without_model(working))
		if refit:
			fitted = FittedModels(
				thresholds,
				fitted.bgnbd,
				fitted.gamma_gamma,
				as_of,
				fitted.n,
				reference,
				fitted.recency_gap_days,
			)
	timings["total"] = time.perf_counter() - started
	return PondResult(
		metrics, tags, duplicates, fitted, timings, config, as_of, refitted=refit, rule_errors=rule_errors
	)


def fit_models(
	inputs: PondInputs, config: EngineConfig | Mapping[str, Any] | None = None, as_of: Any = None
) -> FittedModels:
	"""The population models of a full run, without scoring anyone: the RFM cut points, the BG/NBD
	and Gamma-Gamma parameters and the CLV reference, exactly as :func:`run_pond` without ``models``
	fits them on the same pond. Reads the profile ids and the transactions only.

	A full rescore fans out with it: one fit over the whole pond, then :func:`run_pond` with these
	models on each part, which gives every profile the row a single run over the whole pond gives.
	It is :func:`summarise` followed by :func:`fit_models_from_summary`, which a fan-out runs apart."""
	config = _as_config(config)
	as_of = _as_of(as_of)
	return fit_models_from_summary(summarise(inputs, config, as_of), config, as_of)


def summarise(
	inputs: PondInputs, config: EngineConfig | Mapping[str, Any] | None = None, as_of: Any = None
) -> pd.DataFrame:
	"""The per-profile purchase summary the fit reads (:func:`~.rfm.rfm_summary`: one row per profile
	of ``inputs.profiles``, in their order, buyers or not). Reads the profile ids and the
	transactions only.

	A profile's row depends on its own transactions alone, so the summaries of the parts of a pond,
	concatenated in the pond's order, are the summary of the whole pond: a fan-out summarises its
	chunks on any number of workers and fits once on the concatenation
	(:func:`fit_models_from_summary`)."""
	config = _as_config(config)
	as_of = _as_of(as_of)
	_, ids = _validated(inputs)
	return _summary(inputs.transactions, pd.Index(ids, dtype=object, name="profile"), config, as_of)


def fit_models_from_summary(
	summary: pd.DataFrame, config: EngineConfig | Mapping[str, Any] | None = None, as_of: Any = None
) -> FittedModels:
	""":func:`fit_models` from the pond's summary (:func:`summarise`, or the concatenation of its
	parts' summaries in the pond's order). Reads :data:`~.rfm.SUMMARY_COLUMNS`; the profile ids are
	not needed (the index is ignored)."""
	config = _as_config(config)
	as_of = _as_of(as_of)
	require_columns(summary, SUMMARY_COLUMNS, "summary")
	thresholds = fit_rfm_thresholds(summary, config.rfm, fitted_on=as_of.isoformat())
	fitted = _fitted(summary, thresholds, config, as_of)
	churn = _churn(summary, fitted, config)
	return fitted.with_clv_reference(churn["clv"] if "clv" in churn else None)


# --------------------------------------------------------------------------------------------------
# steps


def _summary(
	transactions: pd.DataFrame, index: pd.Index, config: EngineConfig, as_of: pd.Timestamp
) -> pd.DataFrame:
	return rfm_summary(
		transactions, as_of, profiles=index, zero_amount_purchases=config.rfm.zero_amount_purchases
	)


def _given_summary(summary: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
	"""A summary passed to :func:`run_pond`, checked to be the profiles' own, in their order: by its
	``profile`` column when it has one (in any order), else by position."""
	require_columns(summary, SUMMARY_COLUMNS, "summary")
	if "profile" not in summary.columns:
		if len(summary) != len(index):
			raise EngineInputError(f"summary has {len(summary)} rows for {len(index)} profiles")
		summary = summary.copy()
		summary.index = index
		return summary
	named = pd.Index(summary["profile"].astype(str).to_numpy(dtype=object), dtype=object, name="profile")
	if named.has_duplicates or len(named) != len(index) or not named.isin(index).all():
		raise EngineInputError("summary: its profiles are not the profiles of the inputs")
	summary = summary.drop(columns=["profile"])
	summary.index = named
	return summary.reindex(index)


def _fitted(
	summary: pd.DataFrame, thresholds: RFMThresholds, config: EngineConfig, as_of: pd.Timestamp
) -> FittedModels:
	"""The BG/NBD and Gamma-Gamma fits and the recency rule's gap beside ``thresholds`` (no CLV
	reference yet: it needs the churn frame these models give)."""
	bg, gg = _fit_btyd(summary, config, as_of)
	gap = btyd.typical_gap_days(summary, config.churn.horizon_days)
	return FittedModels(thresholds, bg, gg, as_of, int((summary["orders"] > 0).sum()), None, gap)


def _as_config(config: EngineConfig | Mapping[str, Any] | None) -> EngineConfig:
	if config is None:
		return EngineConfig()
	if isinstance(config, EngineConfig):
		return config
	if isinstance(config, Mapping):
		return EngineConfig.from_dict(config)
	raise EngineConfigError(f"config must be an EngineConfig or a dict, got {type(config).__name__}")


def _as_of(as_of: Any) -> pd.Timestamp:
	if as_of is None:
		return pd.Timestamp.now().normalize()
	try:
		ts = pd.Timestamp(as_of)
	except (TypeError, ValueError):
		raise EngineInputError(f"as_of must be a date or datetime, got {as_of!r}") from None
	if ts is pd.NaT:
		raise EngineInputError("as_of is missing (NaT)")
	return ts.tz_localize(None) if ts.tzinfo else ts


def _validated(inputs: PondInputs) -> tuple[pd.DataFrame, np.ndarray]:
	if not isinstance(inputs, PondInputs):
		raise EngineInputError(f"inputs must be PondInputs, got {type(inputs).__name__}")
	require_columns(inputs.profiles, PROFILE_COLUMNS, "profiles")
	require_columns(inputs.transactions, TRANSACTION_COLUMNS, "transactions")
	require_columns(inputs.interactions, INTERACTION_COLUMNS, "interactions")
	require_columns(inputs.events, EVENT_COLUMNS, "events")
	raw = inputs.profiles["profile"]
	if raw.isna().any():
		raise EngineInputError("profiles has rows without a profile id")
	ids = raw.astype(str).to_numpy(dtype=object)
	index = pd.Index(ids, dtype=object, name="profile")
	if index.has_duplicates:
		dup = index[index.duplicated()][0]
		raise EngineInputError(f"profiles lists profile {dup!r} more than once")
	profiles = inputs.profiles.drop(columns=["profile"])
	profiles.index = index  # in place: set_axis would copy every column once more
	return profiles, ids


def _fit_btyd(
	summary: pd.DataFrame, config: EngineConfig, as_of: pd.Timestamp
) -> tuple[btyd.BGNBDParams | None, btyd.GammaGammaParams | None]:
	"""BG/NBD on the buyers and Gamma-Gamma on the repeat buyers; None where the data cannot
	identify a model (nobody bought twice, fewer than two repeat buyers with a positive spend)."""
	buyers = summary[summary["orders"].to_numpy() > 0]
	stamp = as_of.isoformat()
	penalizer = config.churn.penalizer
	if buyers.empty:
		return None, None
	try:
		bg = btyd.fit_bgnbd(
			buyers["frequency"], buyers["recency"], buyers["T"], penalizer=penalizer, fitted_on=stamp
		)
	except EngineInputError:
		return None, None
	try:
		gg = btyd.fit_gamma_gamma(
			buyers["frequency"], buyers["monetary_value"], penalizer=penalizer, fitted_on=stamp
		)
	except EngineInputError:
		gg = None
	return bg, gg


def _churn(summary: pd.DataFrame, models: FittedModels, config: EngineConfig) -> pd.DataFrame:
	"""The churn/CLV columns, ``churn_method`` and ``clv_modelled``.

	With a usable BG/NBD fit: its p_alive, churn risk and expected purchases, and CLV when the
	Gamma-Gamma fit is usable too (else expected spend and CLV are missing). Without one (too few
	customers, a degenerate or unconverged fit, nobody bought twice): churn risk and band by the
	recency rule over ``models.recency_gap_days`` and no p_alive, expected purchases or CLV, so rules
	see those as not set (lifecycle's ``churn_no_model``); :func:`complete` fills them for the output.
	"""
	buyer = summary["orders"].to_numpy() > 0
	bg, gg = models.churn_model, models.spend_model
	if bg is not None:
		frame = btyd.churn_frame(summary, bg, gg, config.churn)
		if gg is None:
			frame["expected_spend"] = np.nan
			frame["clv"] = np.nan
		method = "bgnbd"
	else:
		gap = models.recency_gap_days or config.churn.horizon_days
		frame = btyd.recency_frame(summary, gap, config.churn)
		method = "recency"
	frame["churn_method"] = np.array(["", method], dtype=object)[buyer.astype(np.intp)]
	frame["clv_modelled"] = buyer & (gg is not None)
	return frame


def _without_model(working: pd.DataFrame) -> pd.DataFrame:
	"""Output values of the churn columns of a run without a BG/NBD model: numbers 0 (by
	:func:`complete`), ``churn_band`` ``no model`` for buyers and ``no purchase`` for the others."""
	band = working["churn_band"]
	if not band.isna().any():
		return working
	filled = np.where(working["orders"].to_numpy() > 0, NO_MODEL, btyd.NO_PURCHASE).astype(object)
	return working.assign(churn_band=band.astype(object).where(band.notna(), filled))


def _clv_reference(clv: pd.Series | Mapping[str, float] | np.ndarray | None) -> np.ndarray | None:
	"""The positive, finite values of ``clv``, sorted (what :func:`~.scoring.lead_score` ranks against)."""
	if clv is None:
		return None
	if isinstance(clv, Mapping):
		clv = list(clv.values())
	values = pd.to_numeric(pd.Series(np.ravel(np.asarray(clv))), errors="coerce").to_numpy(
		dtype=float, na_value=np.nan
	)
	return np.sort(values[np.isfinite(values) & (values > 0)])


def _lead_score(
	profiles: pd.DataFrame,
	working: pd.DataFrame,
	engagement: pd.DataFrame,
	config: EngineConfig,
	as_of: pd.Timestamp,
	reference: np.ndarray | None,
) -> pd.DataFrame:
	"""The lead score; with a CLV ``reference`` (sorted positive CLVs of the fitted population) the CLV
	percentile is taken against it, else among the profiles at hand."""
	# only the profile fields the fit factors read (a reset_index of every field copies all of them)
	fields = {f.field for f in config.score.fit_factors}
	return lead_score(
		profiles[[c for c in profiles.columns if c in fields]].reset_index(),
		None,
		None,
		working,
		config.score,
		as_of,
		engagement=engagement,
		clv_reference=reference,
	)


# --------------------------------------------------------------------------------------------------
# completing and diffing


def complete(metrics: pd.DataFrame) -> pd.DataFrame:
	"""``metrics`` with no missing values in numeric, boolean or text columns (dates keep ``NaT``).

	Numeric NaN takes :data:`FILL_VALUES` for the columns named there, else 0; nullable integers
	and booleans become plain numpy dtypes; text columns take "". Columns without missing values are
	passed through untouched (no copy).
	"""
	out = metrics.copy(deep=False)
	for name in metrics.columns:
		col = metrics[name]
		dtype = col.dtype
		if pd.api.types.is_datetime64_any_dtype(dtype):
			continue
		if isinstance(dtype, np.dtype) and dtype.kind in "biu":  # numpy bool/int: never missing
			continue
		if isinstance(dtype, np.dtype) and dtype.kind == "f":
			values = col.to_numpy()
			missing = np.isnan(values)
			if missing.any():
				out[name] = np.where(missing, float(FILL_VALUES.get(name, 0.0)), values)
			continue
		if pd.api.types.is_bool_dtype(dtype):  # nullable boolean
			out[name] = col.to_numpy(dtype=bool, na_value=False)
		elif pd.api.types.is_integer_dtype(dtype):  # nullable integer
			out[name] = col.to_numpy(dtype=np.int64, na_value=int(FILL_VALUES.get(name, 0)))
		elif pd.api.types.is_numeric_dtype(dtype):  # nullable float
			out[name] = col.to_numpy(dtype=float, na_value=float(FILL_VALUES.get(name, 0.0)))
		elif col.hasnans:  # text (object or string dtype)
			out[name] = col.fillna("")
	return out


def diff_results(
	old_metrics: pd.DataFrame | None,
	new_metrics: pd.DataFrame,
	columns: Iterable[str] | None = None,
	*,
	rtol: float = 1e-9,
	atol: float = 1e-9,
) -> pd.DataFrame:
	"""The rows of ``new_metrics`` whose ``columns`` differ from ``old_metrics`` (or are new).

	Both frames are indexed by profile. Numbers compare with a tolerance (``rtol``, ``atol``) so
	float noise does not cause writes; NaN equals NaN and ``NaT`` equals ``NaT``; text, dates and
	booleans compare exactly. A column missing from ``old_metrics`` counts as changed. Profiles only
	in ``old_metrics`` are not returned (deleting them is the caller's business). The result has the
	selected columns of ``new_metrics``, in its order.
	"""
	columns = list(new_metrics.columns if columns is None else columns)
	unknown = [c for c in columns if c not in new_metrics.columns]
	if unknown:
		raise EngineInputError(f"new_metrics lacks column(s): {', '.join(unknown)}")
	new = new_metrics[columns]
	if old_metrics is None or len(old_metrics) == 0:
		return new.copy()
	old = old_metrics.reindex(new.index)
	known = old.index.isin(old_metrics.index)
	changed = ~known
	for c in columns:
		if c not in old.columns:
			changed[:] = True
			break
		changed |= _differs(old[c], new[c], rtol, atol)
	return new[changed]


def _differs(old: pd.Series, new: pd.Series, rtol: float, atol: float) -> np.ndarray:
	old_na = old.isna().to_numpy()
	new_na = new.isna().to_numpy()
	both_numeric = (
		pd.api.types.is_numeric_dtype(old.dtype)
		and pd.api.types.is_numeric_dtype(new.dtype)
		and not pd.api.types.is_bool_dtype(new.dtype)
	)
	if both_numeric:
		a = old.to_numpy(dtype=float, na_value=np.nan)
		b = new.to_numpy(dtype=float, na_value=np.nan)
		with np.errstate(invalid="ignore"):
			same = np.isclose(a, b, rtol=rtol, atol=atol)
	else:
		a = old.to_numpy(dtype=object)
		b = new.to_numpy(dtype=object)
		same = np.zeros(len(a), dtype=bool)
		both = ~old_na & ~new_na
		same[both] = a[both] == b[both]
	same |= old_na & new_na
	return ~same


# --------------------------------------------------------------------------------------------------
# helpers


def _add_columns(working: pd.DataFrame, step: pd.DataFrame) -> pd.DataFrame:
	"""``working.join(step)`` for a step's frame on the same profiles, adding the step's columns to
	``working`` in place. A join copies every column of ``working`` (80 columns of 1M rows: about a
	second and 0.6 GiB at that scale, for each step); this copies only the new columns."""
	if not step.index.equals(working.index) or working.columns.isin(step.columns).any():
		return working.join(step)
	with _fragmenting():
		for name in step.columns:
			working[name] = step[name].array
	return working


def _with_attributes(working: pd.DataFrame, profiles: pd.DataFrame) -> pd.DataFrame:
	"""What tag rules read: every metric and the profile fields that are not metrics. Like
	``profiles.join(working)`` without copying the metrics: a shallow copy of ``working`` (which
	stays as it is) with the profile fields added."""
	if not profiles.index.equals(working.index):
		attributes = profiles.drop(columns=[c for c in profiles.columns if c in working.columns])
		return attributes.join(working)
	frame = working.copy(deep=False)
	with _fragmenting():
		for name in profiles.columns:
			if name not in working.columns:
				frame[name] = profiles[name].array
	return frame


@contextmanager
def _fragmenting():
	"""Columns added one by one make a block each, and pandas warns past 100 blocks (a config with
	many activity types gets there) that the frame is "highly fragmented". That is the choice made
	here: a join or concat would copy every column of the frame, at each step."""
	with warnings.catch_warnings():
		warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
		yield


@contextmanager
def _timed(timings: dict[str, float], step: str):
	start = time.perf_counter()
	try:
		yield
	finally:
		timings[step] = timings.get(step, 0.0) + time.perf_counter() - start


def _nested(path: str, build: Callable[[Any], T], value: Any) -> T:
	try:
		return build(value)
	except EngineConfigError as e:
		raise EngineConfigError(f"{path}: {e}", field=f"{path}.{e.field}" if e.field else path) from e

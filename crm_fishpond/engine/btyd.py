"""Buy-till-you-die models: BG/NBD (who is still active, how often will they buy) and
Gamma-Gamma (how much will they spend), and the churn/CLV frame built from them.

Inputs are the per-profile summary of :func:`crm_fishpond.engine.rfm.rfm_summary`:
``frequency`` (x, repeat purchase periods), ``recency`` (t_x, first to last purchase) and ``T``
(first purchase to the end of the observation window), all in the summary's time unit, plus
``monetary_value`` (mean spend of the repeat purchases).

The models are fitted by maximum likelihood with :func:`scipy.optimize.minimize` (L-BFGS-B on
the log-parameters, analytic gradients) using the closed-form log-likelihoods:

* BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
  the Pareto/NBD Model", Marketing Science 24(2), 275-284, equation (6).
* Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer
  Base Analysis", Journal of Marketing Research 42(4), 415-430, and Fader & Hardie (2013),
  "The Gamma-Gamma Model of Monetary Value" (brucehardie.com note 025).

Why not lifetimes: it is the reference Python implementation and the tests pin our numbers to
it, but it has been unmaintained since 0.11.3 (2020) and its fitters pull in autograd and dill
only to get gradients. (0.11.3 still imports on Python 3.11 with autograd 1.9.1, which is how
the parity tests and benchmarks/bench_rfm.py use it; it is a test/bench extra, never a runtime
dependency.) The likelihoods are a few lines of ``gammaln``/``logaddexp`` with hand-derived
gradients, so the engine implements them on scipy.

Speed: the BG/NBD likelihood of a profile depends only on its (x, t_x, T) triple, so identical
triples are merged with weights before fitting (``round_to`` can coarsen t_x and T first), and
inside the likelihood the special functions run per distinct x and the logs per distinct T and
t_x; a million profiles fit in a few seconds. Gamma-Gamma's ``gammaln`` terms likewise run per
distinct x.

Numerical care: log-space throughout (``gammaln``, ``logaddexp``, ``expit``); the conditional
expectation uses the Euler transform of the Gauss hypergeometric function, whose parameters do
not grow with x, and falls back to Gauss-Jacobi quadrature of the defining integral wherever
the closed form is not finite; near its pole (a + b + x - 1 near or below 0) it uses Gauss'
contiguous relation, and next to a = 1, where the prefactor c / (a - 1) cancels, it interpolates
the closed form across a = 1. No NaN or infinity leaves this module for valid inputs.

Tiny ponds: maximum likelihood on a handful of customers returns confident nonsense (one customer:
r ~ 3e7, alpha ~ 1e9, "converged"). Every fit is therefore checked and flagged ``usable=False`` with
a ``problem`` code and a ``reason`` when the data cannot support it: fewer than
:data:`MIN_CUSTOMERS` customers or :data:`MIN_REPEAT_BUYERS` repeat buyers (BG/NBD), fewer than
:data:`MIN_GG_REPEAT_BUYERS` repeat buyers (Gamma-Gamma), an optimiser that did not converge, or
implausible parameters (a shape parameter above :data:`MAX_SHAPE`, a scale above :data:`MAX_SCALE`
times the data's own scale, or a parameter pinned at the optimiser's bound). An unusable fit is
kept for the record but never scores anyone: the pipeline falls back to :func:`recency_frame`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, special
from threadpoolctl import threadpool_limits

from . import _configutil as cu
from .errors import EngineConfigError, EngineInputError
from .schema import require_columns

__all__ = [
	"CHURN_COLUMNS",
	"BGNBDParams",
	"ChurnConfig",
	"GammaGammaParams",
	"churn_frame",
	"clv",
	"expected_purchases",
	"expected_spend",
	"fit_bgnbd",
	"fit_gamma_gamma",
	"p_alive",
	"recency_frame",
	"typical_gap_days",
]

CHURN_COLUMNS = ("p_alive", "churn_risk", "churn_band", "expected_purchases", "expected_spend", "clv")
NO_PURCHASE = "no purchase"

# periods per month of each summary time unit, as lifetimes' customer_lifetime_value uses them
_PERIODS_PER_MONTH = {"D": 30.0, "W": 4.345}
_DAYS_PER_PERIOD = {"D": 1.0, "W": 7.0}
_LOG_BOUND = 25.0  # parameters live in [e^-25, e^25]; beyond that the data cannot identify them
_QUAD_NODES = 64
_A_NEAR_ONE = 1e-3  # |a - 1| below this: interpolate the closed form (see _expected_if_alive)

MIN_CUSTOMERS = 20
"""BG/NBD needs at least this many customers (profiles with a purchase) ..."""
MIN_REPEAT_BUYERS = 5
"""... of whom at least this many bought again, else its churn risk is not used."""
MIN_GG_REPEAT_BUYERS = 10
"""Gamma-Gamma needs at least this many repeat buyers with a positive spend, else no CLV."""
MAX_SHAPE = 1e4
"""A shape parameter (r, a, b, p, q) above this means the data could not pin the model down."""
MAX_SCALE = 1e4
"""alpha above this many times the longest observation window, or v above this many times the
median spend, likewise."""
MIN_GAP_BUYERS = 3
"""The recency rule's typical gap needs this many repeat buyers, else it is the churn horizon."""
RECENCY_START_GAPS = 1.0
RECENCY_FULL_GAPS = 3.0
"""Recency rule: churn risk 0 up to one typical gap since the last purchase, 1 at three."""


# ---------------------------------------------------------------------------------------------
# parameter records
# ---------------------------------------------------------------------------------------------


def _float_field(data: Mapping[str, Any], name: str, positive: bool = True) -> float:
	if name not in data:
		raise EngineConfigError(f"{name} is missing", field=name)
	value = cu.number(data[name], name)
	if positive and value <= 0:
		raise EngineConfigError(f"{name} must be positive, got {value:g}", field=name)
	return float(value)


@dataclass(frozen=True)
class BGNBDParams:
	"""Fitted BG/NBD parameters.

	``r, alpha``: Gamma(r, alpha) heterogeneity of the purchase rate (alpha in ``freq`` units);
	``a, b``: Beta(a, b) heterogeneity of the drop-out probability after each purchase.
	``n``: profiles fitted on (sum of weights); ``log_likelihood``: total log-likelihood at the
	optimum (comparable with Fader, Hardie & Lee's -9582.4 on CDNOW); ``fitted_on``: a free text
	stamp from the caller (e.g. the as-of date); ``freq``: the summary's time unit.
	"""

	r: float
	alpha: float
	a: float
	b: float
	n: float
	log_likelihood: float
	fitted_on: str | None = None
	freq: str = "D"
	converged: bool = True
	usable: bool = True
	problem: str = ""
	reason: str = ""

	def __post_init__(self) -> None:
		for name in ("r", "alpha", "a", "b"):
			value = getattr(self, name)
			if not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0):
				raise EngineConfigError(f"{name} must be a positive finite number, got {value!r}", field=name)
		if self.freq not in _PERIODS_PER_MONTH:
			raise EngineConfigError(f"freq must be one of {', '.join(_PERIODS_PER_MONTH)}", field="freq")

	def to_dict(self) -> dict[str, Any]:
		return {
			"model": "bgnbd",
			"r": float(self.r),
			"alpha": float(self.alpha),
			"a": float(self.a),
			"b": float(self.b),
			"n": float(self.n),
			"log_likelihood": float(self.log_likelihood),
			"fitted_on": self.fitted_on,
			"freq": self.freq,
			"converged": bool(self.converged),
			"usable": bool(self.usable),
			"problem": self.problem,
			"reason": self.reason,
		}

	@classmethod
	def from_dict(cls, data: Mapping[str, Any]) -> BGNBDParams:
		cu.require_mapping(data, "", "BG/NBD parameters")
		if data.get("model", "bgnbd") != "bgnbd":
			raise EngineConfigError(f"not BG/NBD parameters (model {data.get('model')!r})", field="model")
		params = cls(
			r=_float_field(data, "r"),
			alpha=_float_field(data, "alpha"),
			a=_float_field(data, "a"),
			b=_float_field(data, "b"),
			n=_float_field(data, "n", positive=False) if "n" in data else 0.0,
			log_likelihood=_float_field(data, "log_likelihood", positive=False)
			if "log_likelihood" in data
			else 0.0,
			fitted_on=None if data.get("fitted_on") is None else str(data["fitted_on"]),
			freq=cu.text(data.get("freq", "D"), "freq"),
			converged=cu.boolean(data.get("converged", True), "converged"),
		)
		if "usable" in data:
			return dataclasses.replace(
				params,
				usable=cu.boolean(data["usable"], "usable"),
				problem=str(data.get("problem") or ""),
				reason=str(data.get("reason") or ""),
			)
		# stored before fits were checked: check what the record holds
		return _flagged(params, *bgnbd_problem(params, customers=params.n))


@dataclass(frozen=True)
class GammaGammaParams:
	"""Fitted Gamma-Gamma parameters: spend per transaction ~ Gamma(p, nu), nu ~ Gamma(q, v).

	The population mean spend per transaction is ``p * v / (q - 1)``; the fit keeps q > 1 so
	that it exists. ``n``: repeat buyers fitted on (sum of weights).
	"""

	p: float
	q: float
	v: float
	n: float
	log_likelihood: float
	fitted_on: str | None = None
	converged: bool = True
	usable: bool = True
	problem: str = ""
	reason: str = ""

	def __post_init__(self) -> None:
		for name in ("p", "q", "v"):
			value = getattr(self, name)
			if not (isinstance(value, (int, float, np.number)) and math.isfinite(value) and value > 0):
				raise EngineConfigError(f"{name} must be a positive finite number, got {value!r}", field=name)
		if self.q <= 1:
			raise EngineConfigError(f"q must be greater than 1, got {self.q!r}", field="q")

	@property
	def mean_spend(self) -> float:
		"""Population mean spend per transaction."""
		return self.p * self.v / (self.q - 1)

	def to_dict(self) -> dict[str, Any]:
		return {
			"model": "gamma_gamma",
			"p": float(self.p),
			"q": float(self.q),
			"v": float(self.v),
			"n": float(self.n),
			"log_likelihood": float(self.log_likelihood),
			"fitted_on": self.fitted_on,
			"converged": bool(self.converged),
			"usable": bool(self.usable),
			"problem": self.problem,
			"reason": self.reason,
		}

	@classmethod
	def from_dict(cls, data: Mapping[str, Any]) -> GammaGammaParams:
		cu.require_mapping(data, "", "Gamma-Gamma parameters")
		if data.get("model", "gamma_gamma") != "gamma_gamma":
			raise EngineConfigError(
				f"not Gamma-Gamma parameters (model {data.get('model')!r})", field="model"
			)
		params = cls(
			p=_float_field(data, "p"),
			q=_float_field(data, "q"),
			v=_float_field(data, "v"),
			n=_float_field(data, "n", positive=False) if "n" in data else 0.0,
			log_likelihood=_float_field(data, "log_likelihood", positive=False)
			if "log_likelihood" in data
			else 0.0,
			fitted_on=None if data.get("fitted_on") is None else str(data["fitted_on"]),
			converged=cu.boolean(data.get("converged", True), "converged"),
		)
		if "usable" in data:
			return dataclasses.replace(
				params,
				usable=cu.boolean(data["usable"], "usable"),
				problem=str(data.get("problem") or ""),
				reason=str(data.get("reason") or ""),
			)
		return _flagged(params, *gamma_gamma_problem(params, repeat_buyers=params.n))


# ---------------------------------------------------------------------------------------------
# is a fit usable?
# ---------------------------------------------------------------------------------------------


def _flagged(params, problem: str, reason: str):
	if not problem:
		return params
	return dataclasses.replace(params, usable=False, problem=problem, reason=reason)


def _plural(n: float, word: str) -> str:
	n = round(n)
	return f"{n} {word}" + ("" if n == 1 else "s")


def bgnbd_problem(
	params: BGNBDParams,
	*,
	customers: float,
	repeat_buyers: float | None = None,
	longest_window: float | None = None,
) -> tuple[str, str]:
	"""``(problem, reason)`` when a BG/NBD fit must not be used, else ``("", "")``.

	``problem`` is ``too_few_customers``, ``too_few_repeat_buyers``, ``not_converged`` or
	``implausible``; ``reason`` says it in words with the numbers. ``longest_window`` (max T, in the
	fit's time unit) bounds alpha when given.
	"""
	if customers < MIN_CUSTOMERS:
		return "too_few_customers", (
			f"{_plural(customers, 'customer')} with a purchase; BG/NBD needs at least {MIN_CUSTOMERS}"
		)
	if repeat_buyers is not None and repeat_buyers < MIN_REPEAT_BUYERS:
		return "too_few_repeat_buyers", (
			f"{_plural(repeat_buyers, 'repeat buyer')}; BG/NBD needs at least {MIN_REPEAT_BUYERS}"
		)
	if not params.converged:
		return "not_converged", "the BG/NBD fit did not converge"
	shapes = {"r": params.r, "a": params.a, "b": params.b}
	for name, value in shapes.items():
		if value > MAX_SHAPE:
			return "implausible", f"implausible BG/NBD parameter {name} = {value:.3g} (above {MAX_SHAPE:g})"
	if longest_window and params.alpha > MAX_SCALE * longest_window:
		return "implausible", (
			f"implausible BG/NBD parameter alpha = {params.alpha:.3g} "
			f"(above {MAX_SCALE:g} times the longest window, {longest_window:g})"
		)
	return "", ""


def gamma_gamma_problem(
	params: GammaGammaParams, *, repeat_buyers: float, median_spend: float | None = None
) -> tuple[str, str]:
	"""``(problem, reason)`` when a Gamma-Gamma fit must not be used, else ``("", "")``."""
	if repeat_buyers < MIN_GG_REPEAT_BUYERS:
		return "too_few_repeat_buyers", (
			f"{_plural(repeat_buyers, 'repeat buyer')} with a positive spend; Gamma-Gamma needs at least "
			f"{MIN_GG_REPEAT_BUYERS}"
		)
	if not params.converged:
		return "not_converged", "the Gamma-Gamma fit did not converge"
	for name, value in (("p", params.p), ("q", params.q)):
		if value > MAX_SHAPE:
			return (
				"implausible",
				f"implausible Gamma-Gamma parameter {name} = {value:.3g} (above {MAX_SHAPE:g})",
			)
	if median_spend and params.v > MAX_SCALE * median_spend:
		return "implausible", (
			f"implausible Gamma-Gamma parameter v = {params.v:.3g} "
			f"(above {MAX_SCALE:g} times the median spend, {median_spend:g})"
		)
	return "", ""


# ---------------------------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------------------------


def _vector(values: Any, name: str) -> np.ndarray:
	try:
		if isinstance(values, (pd.Series, pd.Index)):
			# not np.asarray: on a Series with a large text index it first builds the index's hash table
			out = values.to_numpy(dtype=np.float64, na_value=np.nan)
		else:
			out = np.asarray(values, dtype=np.float64)
	except (TypeError, ValueError) as exc:
		raise EngineInputError(f"{name} must be numeric: {exc}") from exc
	if out.ndim == 0:
		out = out.reshape(1)
	if out.ndim != 1:
		raise EngineInputError(f"{name} must be one-dimensional")
	if not np.isfinite(out).all():
		raise EngineInputError(f"{name} has missing or infinite values")
	return out


def _btyd_inputs(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
	"""Validated float arrays (x, t_x, T); scalars broadcast against arrays."""
	x, tx, big_t = (_vector(v, n) for v, n in ((frequency, "frequency"), (recency, "recency"), (T, "T")))
	try:
		x, tx, big_t = np.broadcast_arrays(x, tx, big_t)
	except ValueError:
		raise EngineInputError(
			f"frequency, recency and T must have the same length (got {len(x)}, {len(tx)}, {len(big_t)})"
		) from None
	if (x < 0).any() or (x != np.floor(x)).any():
		raise EngineInputError("frequency must hold whole numbers >= 0")
	if (tx < 0).any():
		raise EngineInputError("recency must be >= 0")
	if (tx > big_t * (1 + 1e-9) + 1e-9).any():
		raise EngineInputError("recency must not exceed T (last purchase after the end of the window)")
	if (tx[x == 0] != 0).any():
		raise EngineInputError("recency must be 0 where frequency is 0")
	return x, np.minimum(tx, big_t), big_t


def _weights(weights: Any, n: int) -> np.ndarray:
	if weights is None:
		return np.ones(n)
	w = _vector(weights, "weights")
	if len(w) != n:
		raise EngineInputError(f"weights must have one value per profile ({n}), got {len(w)}")
	if (w < 0).any():
		raise EngineInputError("weights must be >= 0")
	return w


def _group_rows(*columns: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
	"""(inverse, unique columns): rows with equal values in every column share a group."""
	if len(columns[0]) == 0:
		return np.zeros(0, dtype=np.int64), [c[:0] for c in columns]
	frame = pd.DataFrame({str(i): c for i, c in enumerate(columns)})
	inverse = frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()
	first = np.empty(int(inverse.max()) + 1, dtype=np.int64)
	first[inverse] = np.arange(len(inverse))
	return inverse, [c[first] for c in columns]


# ---------------------------------------------------------------------------------------------
# BG/NBD
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Triples:
	"""Distinct (x, t_x, T) rows with weights, and the distinct values of each column.

	The special functions depend on x alone and the logs on T or t_x alone, so the likelihood
	evaluates them on the (few) distinct values and gathers; only a handful of arithmetic
	passes run over the rows.
	"""

	x: np.ndarray
	w: np.ndarray
	x_values: np.ndarray
	x_index: np.ndarray
	w_by_x: np.ndarray
	tx_values: np.ndarray
	tx_index: np.ndarray
	t_values: np.ndarray
	t_index: np.ndarray

	@classmethod
	def build(cls, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, w: np.ndarray) -> _Triples:
		x_index, x_values = pd.factorize(x)
		tx_index, tx_values = pd.factorize(tx)
		t_index, t_values = pd.factorize(big_t)
		w_by_x = np.bincount(x_index, weights=w, minlength=len(x_values))
		return cls(x, w, x_values, x_index, w_by_x, tx_values, tx_index, t_values, t_index)

	def scaled(self, factor: float) -> _Triples:
		return dataclasses.replace(self, tx_values=self.tx_values * factor, t_values=self.t_values * factor)


def _bgnbd_loglik(
	log_params: np.ndarray, data: _Triples, grad: bool = True
) -> tuple[float, np.ndarray | None]:
	"""Weighted log-likelihood (FHL 2005, eq. 6) and its gradient in the log-parameters.

	Per row, ll = A1 + A2 + log(exp(A3) + [x > 0] exp(A4)), written as
	A1 + A2 + A3 + softplus(d) with d = A4 - A3, so that the two mixture weights are
	expit(d) and 1 - expit(d).
	"""
	r, alpha, a, b = np.exp(log_params)
	gammaln, digamma = special.gammaln, special.digamma
	x, w, x_values, x_index, w_by_x = data.x, data.w, data.x_values, data.x_index, data.w_by_x
	total = float(w.sum())
	bx1_values = b + np.maximum(x_values, 1) - 1  # b + x - 1 where it matters (x > 0)
	log_at = np.log(alpha + data.t_values)[data.t_index]
	log_atx = np.log(alpha + data.tx_values)[data.tx_index]
	rx = r + x
	# d = A4 - A3 = log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x)); -inf at x = 0
	gap = log_at - log_atx
	offset = np.where(x_values > 0, np.log(a) - np.log(bx1_values), -np.inf)
	d = offset[x_index] + rx * gap
	per_x = (
		gammaln(r + x_values)
		- gammaln(r)
		+ gammaln(a + b)
		+ gammaln(b + x_values)
		- gammaln(b)
		- gammaln(a + b + x_values)
	)
	row = np.logaddexp(0.0, d) - rx * log_at
	ll = float(np.dot(w_by_x, per_x)) + total * r * np.log(alpha) + float(np.dot(w, row))
	if not grad:
		return ll, None
	pi4 = special.expit(d)  # weight of the "dropped out after the last purchase" branch; 0 at x = 0
	w_pi4 = w * pi4
	w_pi4_by_x = np.bincount(x_index, weights=w_pi4, minlength=len(x_values))
	inv_at = (1 / (alpha + data.t_values))[data.t_index]
	inv_atx = (1 / (alpha + data.tx_values))[data.tx_index]
	d_r = (
		float(np.dot(w_by_x, digamma(r + x_values) - digamma(r)))
		+ total * np.log(alpha)
		- float(np.dot(w, log_at))
		+ float(np.dot(w_pi4, gap))
	)
	d_alpha = total * r / alpha - float(np.dot(w * rx, inv_at + pi4 * (inv_atx - inv_at)))
	d_a = float(np.dot(w_by_x, digamma(a + b) - digamma(a + b + x_values))) + float(w_pi4_by_x.sum()) / a
	d_b = float(
		np.dot(w_by_x, digamma(a + b) + digamma(b + x_values) - digamma(b) - digamma(a + b + x_values))
	) - float(np.dot(w_pi4_by_x, 1 / bx1_values))
	gradient = np.array([d_r * r, d_alpha * alpha, d_a * a, d_b * b])
	return ll, gradient


def _maximise(
	loglik, n_params: int, total_weight: float, penalizer: float, starts: list[np.ndarray]
) -> tuple[np.ndarray, bool]:
	"""Minimise mean negative log-likelihood (+ L2 penalty on the parameters) from a few starts."""

	def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
		ll, grad = loglik(theta)
		params = np.exp(theta)
		value = -ll / total_weight + penalizer * float(np.sum(params**2))
		gradient = -grad / total_weight + 2 * penalizer * params**2
		if not math.isfinite(value) or not np.isfinite(gradient).all():
			return 1e300, np.zeros(n_params)
		return value, gradient

	best = None
	# One BLAS thread: the likelihoods' np.dot on 1-D vectors and L-BFGS-B's own vector updates
	# call the BLAS hundreds of times on small work, and a multithreaded BLAS (OpenBLAS, the
	# default of numpy and scipy wheels) wakes its threads for each call. On a busy machine that
	# made the fits several times slower than with one thread (benchmarks/bench_fit.py).
	with threadpool_limits(limits=1, user_api="blas"):
		for start in starts:
			result = optimize.minimize(
				objective,
				start,
				jac=True,
				method="L-BFGS-B",
				bounds=[(-_LOG_BOUND, _LOG_BOUND)] * n_params,
				options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9},
			)
			if best is None or result.fun < best.fun:
				best = result
			if result.success and np.abs(result.x).max() < _LOG_BOUND - 1e-6:
				break
	assert best is not None
	return best.x, _stationary(objective, best) and bool(best.fun < 1e299)


STATIONARY_GRADIENT = 1e-6
"""Largest gradient component (of the mean negative log-likelihood) at which a fit counts as
converged even when L-BFGS-B reports otherwise."""


def _stationary(objective, result) -> bool:
	"""Whether the optimiser ended at a stationary point. With ``ftol`` near machine precision,
	L-BFGS-B can end "ABNORMAL" (its line search finds no further decrease) at the optimum itself;
	whether it does depends on the CPU's floating-point kernels. A point where the gradient
	vanishes is converged, whatever the message says."""
	if result.success:
		return True
	_, gradient = objective(result.x)
	return bool(np.isfinite(gradient).all() and np.abs(gradient).max() < STATIONARY_GRADIENT)


def fit_bgnbd(
	frequency: Any,
	recency: Any,
	T: Any,
	weights: Any = None,
	*,
	penalizer: float = 0.0,
	round_to: float | None = None,
	freq: str = "D",
	fitted_on: str | None = None,
) -> BGNBDParams:
	"""Fit BG/NBD by maximum likelihood.

	:param frequency, recency, T: per-profile x, t_x and T (summary time unit).
	:param weights: optional count of profiles behind each row (defaults to 1 each).
	:param penalizer: L2 penalty on the parameters, as lifetimes' ``penalizer_coef`` (0 = pure MLE).
	:param round_to: round t_x and T to multiples of this before merging identical rows
		(e.g. 1.0 for whole days when the summary has fractional times); None keeps them exact.
	:param freq: the summary's time unit ("D" or "W"), recorded on the result.
	:raises EngineInputError: no rows, invalid values, or no repeat purchase at all (the model
		is then not identifiable: every customer bought once).
	"""
	x, tx, big_t = _btyd_inputs(frequency, recency, T)
	w = _weights(weights, len(x))
	if freq not in _PERIODS_PER_MONTH:
		raise EngineInputError(f"freq must be one of {', '.join(_PERIODS_PER_MONTH)}; got {freq!r}")
	if penalizer < 0 or not math.isfinite(penalizer):
		raise EngineInputError(f"penalizer must be >= 0, got {penalizer!r}")
	used = w > 0
	if not used.all():
		x, tx, big_t, w = x[used], tx[used], big_t[used], w[used]
	if len(x) == 0:
		raise EngineInputError("BG/NBD needs at least one profile")
	if not (x > 0).any():
		raise EngineInputError(
			"BG/NBD needs repeat purchases: every profile bought in one period only (all frequencies are 0)"
		)
	if (big_t <= 0).all():
		raise EngineInputError("BG/NBD needs profiles observed for some time (every T is 0)")
	if round_to is not None:
		if not round_to > 0:
			raise EngineInputError(f"round_to must be positive, got {round_to!r}")
		tx = np.round(tx / round_to) * round_to
		big_t = np.maximum(np.round(big_t / round_to) * round_to, tx)
	inverse, (ux, utx, ut) = _group_rows(x, tx, big_t)
	uw = np.bincount(inverse, weights=w)
	total = float(uw.sum())

	# fit on times scaled so that max T is 10 (alpha scales with time, r/a/b do not)
	scale = 10.0 / float(ut.max())
	data = _Triples.build(ux, utx, ut, uw)
	scaled = data.scaled(scale)

	def loglik(theta: np.ndarray) -> tuple[float, np.ndarray]:
		return _bgnbd_loglik(theta, scaled)  # type: ignore[return-value]

	starts = [np.zeros(4), np.log([0.5, 2.0, 0.5, 2.0]), np.log([2.0, 1.0, 2.0, 0.5])]
	theta, converged = _maximise(loglik, 4, total, penalizer, starts)
	r, alpha_scaled, a, b = np.exp(theta)
	alpha = alpha_scaled / scale
	ll, _ = _bgnbd_loglik(np.log([r, alpha, a, b]), data, grad=False)
	params = BGNBDParams(
		r=float(r),
		alpha=float(alpha),
		a=float(a),
		b=float(b),
		n=total,
		log_likelihood=float(ll),
		fitted_on=fitted_on,
		freq=freq,
		converged=converged and bool(np.abs(theta).max() < _LOG_BOUND - 1),
	)
	repeat = float(w[x > 0].sum())
	return _flagged(
		params, *bgnbd_problem(params, customers=total, repeat_buyers=repeat, longest_window=float(ut.max()))
	)


def p_alive(params: BGNBDParams, frequency: Any, recency: Any, T: Any) -> np.ndarray:
	"""P(still active | x, t_x, T) (Fader, Hardie & Lee 2008 note 021); 1 when x == 0."""
	x, tx, big_t = _btyd_inputs(frequency, recency, T)
	return _p_alive(params, x, tx, big_t)


def _p_alive(params: BGNBDParams, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
	r, alpha, a, b = params.r, params.alpha, params.a, params.b
	repeat = x > 0
	ratio = np.log1p((big_t - tx) / (alpha + tx))  # log((alpha + T) / (alpha + t_x)) >= 0
	log_odds_dead = (r + x) * ratio + np.log(a) - np.log(b + np.maximum(x, 1) - 1)
	return np.where(repeat, special.expit(-log_odds_dead), 1.0)


def expected_purchases(params: BGNBDParams, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
	"""E[purchases in (T, T + t] | x, t_x, T] (FHL 2005, eq. 10), t in the summary's unit."""
	x, tx, big_t = _btyd_inputs(frequency, recency, T)
	horizon = _vector(t, "t")
	if (horizon < 0).any():
		raise EngineInputError("t must be >= 0")
	horizon = np.broadcast_to(horizon, x.shape) if len(horizon) == 1 else horizon
	if horizon.shape != x.shape:
		raise EngineInputError("t must be a scalar or have one value per profile")
	return _expected_purchases(params, horizon, x, tx, big_t)


def _expected_purchases(
	params: BGNBDParams, t: np.ndarray, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
	alive = _p_alive(params, x, tx, big_t)
	return alive * _expected_if_alive(params, t, x, big_t)


def _expected_if_alive(params: BGNBDParams, t: np.ndarray, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
	"""E[purchases in the next t | alive at T, x]: the closed form, guarded where it is unsafe.

	With z = t / (alpha + T + t) and c = a + b + x - 1, FHL's bracket
	``1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; c; z)`` equals, by Euler's transform,
	``1 - (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z)``, whose first two parameters do not grow with x.

	* ``a`` within 1e-3 of 1 (the prefactor c / (a - 1) cancels against the bracket): cubic
	  interpolation through a = 1 + {-2, -1, 1, 2} * 1e-3, where the closed form is still exact to
	  ~1e-12 (E is smooth in a; the interpolation error is ~1e-10 relative).
	* ``c <= 1e-3`` (x = 0 and a + b <= 1: the hypergeometric function has a pole at c = 0):
	  c 2F1(.; c; z) through Gauss' contiguous relation in terms of 2F1(.; c + 1; z) and
	  2F1(.; c + 2; z), which has no pole.
	* a non-finite or negative result (never seen in testing): Gauss-Jacobi quadrature of the
	  defining integral.
	"""
	a = params.a
	if abs(a - 1) < _A_NEAR_ONE:
		# cubic Lagrange interpolation through a = 1 + {-2, -1, 1, 2} * 1e-3
		knots = 1 + _A_NEAR_ONE * np.array([-2.0, -1.0, 1.0, 2.0])
		out = np.zeros(len(x))
		for i, knot in enumerate(knots):
			others = np.delete(knots, i)
			weight = float(np.prod((a - others) / (knot - others)))
			out += weight * _closed_form(dataclasses.replace(params, a=float(knot)), t, x, big_t)
		return np.maximum(out, 0.0)
	return _closed_form(params, t, x, big_t)


def _closed_form(params: BGNBDParams, t: np.ndarray, x: np.ndarray, big_t: np.ndarray) -> np.ndarray:
	r, alpha, a, b = params.r, params.alpha, params.a, params.b
	out = np.zeros(len(x))
	positive = t > 0
	if not positive.any():
		return out
	c = a + b + x - 1
	log_one_minus_z = -np.log1p(t / (alpha + big_t))
	z = -np.expm1(log_one_minus_z)
	with np.errstate(all="ignore"):
		safe = positive & (c > 1e-3)
		if safe.any():
			cs, lz = c[safe], log_one_minus_z[safe]
			hyp = special.hyp2f1(a + b - 1 - r, a - 1, cs, z[safe])
			out[safe] = cs / (a - 1) * -np.expm1((a - 1) * lz + np.log(hyp))
		near_pole = positive & ~safe
		if near_pole.any():
			# c F(A, B; c; z) through Gauss' contiguous relation (DLMF 15.5.18, c -> c + 1), free of
			# the pole at c = 0: [(c+1)(c - (2c+1-A-B) z) F(c+1) + (c+1-A)(c+1-B) z F(c+2)] / ((c+1)(1-z))
			cs, zs, lz = c[near_pole], z[near_pole], log_one_minus_z[near_pole]
			big_a, big_b = a + b - 1 - r, a - 1
			shifted = (
				(cs + 1) * (cs - (2 * cs + 1 - big_a - big_b) * zs) * special.hyp2f1(big_a, big_b, cs + 1, zs)
			)
			shifted += (cs + 1 - big_a) * (cs + 1 - big_b) * zs * special.hyp2f1(big_a, big_b, cs + 2, zs)
			c_hyp = shifted / (cs + 1)
			out[near_pole] = (cs - np.exp((a - 2) * lz) * c_hyp) / (a - 1)
	# quadrature wherever the closed forms came out non-finite or negative (not seen in testing)
	redo = positive & (~np.isfinite(out) | (out < 0))
	if redo.any():
		out[redo] = _expected_if_alive_quadrature(params, t[redo], x[redo], big_t[redo])
	return np.maximum(out, 0.0)


def _expected_if_alive_quadrature(
	params: BGNBDParams, t: np.ndarray, x: np.ndarray, big_t: np.ndarray
) -> np.ndarray:
	"""E_p[(1 - (1 + p t/(alpha+T))^-(r+x)) / p] with p ~ Beta(a, b + x), by Gauss-Jacobi.

	Given alive at T the posterior is lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x), and
	an active customer with (lambda, p) makes (1 - exp(-lambda p t)) / p purchases in t on average.
	"""
	r, alpha, a, b = params.r, params.alpha, params.a, params.b
	out = np.empty(len(x))
	for value in np.unique(x):  # a handful of distinct frequencies, not a loop over profiles
		rows = x == value
		p, weights = _beta_quadrature(a, b + value, _QUAD_NODES)
		scaled = t[rows, None] / (alpha + big_t[rows, None])
		g = -np.expm1(-(r + value) * np.log1p(p[None, :] * scaled)) / p[None, :]
		out[rows] = g @ weights
	return out


def _beta_quadrature(a: float, b: float, n: int) -> tuple[np.ndarray, np.ndarray]:
	"""Gauss quadrature for the Beta(a, b) distribution: nodes in (0, 1), weights summing to 1.

	Golub-Welsch on the Jacobi matrix of the Jacobi polynomials with weight
	(1 - u)^(b - 1) (1 + u)^(a - 1), u = 2p - 1. Unlike :func:`scipy.special.roots_jacobi` it
	never forms the weight function's total mass, which overflows for large b (b + x).
	"""
	alpha, beta = b - 1.0, a - 1.0
	if abs(alpha + beta + 1) < 1e-9:  # removable 0/0 in the k = 1 coefficient
		beta += 2e-9
	k = np.arange(n, dtype=np.float64)
	s = 2 * k + alpha + beta
	diagonal = np.empty(n)
	diagonal[0] = (beta - alpha) / (alpha + beta + 2)
	diagonal[1:] = (beta**2 - alpha**2) / (s[1:] * (s[1:] + 2))
	k1, s1 = k[1:], s[1:]
	off = np.sqrt(4 * k1 * (k1 + alpha) * (k1 + beta) * (k1 + alpha + beta) / (s1**2 * (s1 + 1) * (s1 - 1)))
	nodes, vectors = linalg.eigh_tridiagonal(diagonal, off)
	weights = vectors[0] ** 2
	return np.clip((nodes + 1) / 2, 1e-300, 1.0), weights / weights.sum()


# ---------------------------------------------------------------------------------------------
# Gamma-Gamma
# ---------------------------------------------------------------------------------------------


def fit_gamma_gamma(
	frequency: Any,
	monetary_value: Any,
	weights: Any = None,
	*,
	penalizer: float = 0.0,
	fitted_on: str | None = None,
) -> GammaGammaParams:
	"""Fit the Gamma-Gamma spend model on the repeat buyers (frequency > 0, monetary_value > 0).

	Rows with frequency 0 carry no repeat spend and are skipped, as are rows whose mean repeat
	spend is not positive. q is kept above 1 (parameterised as 1 + e^theta) so that the
	population mean spend exists.

	:raises EngineInputError: fewer than two repeat buyers with positive spend.
	"""
	x = _vector(frequency, "frequency")
	m = _vector(monetary_value, "monetary_value")
	if len(x) != len(m):
		raise EngineInputError(
			f"frequency and monetary_value must have the same length ({len(x)} != {len(m)})"
		)
	w = _weights(weights, len(x))
	if (x < 0).any() or (x != np.floor(x)).any():
		raise EngineInputError("frequency must hold whole numbers >= 0")
	if penalizer < 0 or not math.isfinite(penalizer):
		raise EngineInputError(f"penalizer must be >= 0, got {penalizer!r}")
	used = (x > 0) & (m > 0) & (w > 0)
	x, m, w = x[used], m[used], w[used]
	if len(x) < 2:
		raise EngineInputError(
			f"Gamma-Gamma needs at least two repeat buyers with a positive spend; got {len(x)}"
		)
	if np.ptp(m) == 0 and np.ptp(x) == 0:
		raise EngineInputError("Gamma-Gamma cannot be fitted: every repeat buyer has the same spend")

	scale = float(np.median(m))  # fit on spend in units of the median (v scales, p and q do not)
	ms = m / scale
	total = float(w.sum())
	x_values, x_inverse = np.unique(x, return_inverse=True)
	w_by_x = np.bincount(x_inverse, weights=w)
	log_m, log_x = np.log(ms), np.log(x)
	const_px = float(np.dot(w, x * (log_m + log_x)))  # sum w x (ln m + ln x): multiplies p
	const_m = float(np.dot(w, log_m))  # sum w ln m: enters with -1

	xm = x * ms

	def loglik(theta: np.ndarray) -> tuple[float, np.ndarray]:
		p, q1, v = np.exp(theta)
		q = 1 + q1
		log_denominator = np.log(xm + v)
		px = p * x_values
		ll = (
			float(np.dot(w_by_x, special.gammaln(px + q) - special.gammaln(px)))
			- total * special.gammaln(q)
			+ total * q * np.log(v)
			+ p * const_px
			- const_m
			- float(np.dot(w, (p * x + q) * log_denominator))
		)
		psi_pq = special.digamma(px + q)
		d_p = (
			float(np.dot(w_by_x, x_values * (psi_pq - special.digamma(px))))
			+ const_px
			- float(np.dot(w, x * log_denominator))
		)
		d_q = (
			float(np.dot(w_by_x, psi_pq))
			- total * special.digamma(q)
			+ total * np.log(v)
			- float(np.dot(w, log_denominator))
		)
		d_v = total * q / v - float(np.dot(w, (p * x + q) / (xm + v)))
		return ll, np.array([d_p * p, d_q * q1, d_v * v])

	starts = [np.log([1.0, 1.0, 1.0]), np.log([5.0, 2.0, 5.0]), np.log([0.5, 0.5, 0.5])]
	theta, converged = _maximise(loglik, 3, total, penalizer, starts)
	p, q1, v_scaled = np.exp(theta)
	q = 1 + q1
	v = v_scaled * scale
	ll_scaled, _ = loglik(theta)
	log_likelihood = ll_scaled - total * math.log(scale)  # density of m = density of m/scale / scale
	params = GammaGammaParams(
		p=float(p),
		q=float(q),
		v=float(v),
		n=total,
		log_likelihood=float(log_likelihood),
		fitted_on=fitted_on,
		converged=converged and bool(np.abs(theta).max() < _LOG_BOUND - 1),
	)
	return _flagged(params, *gamma_gamma_problem(params, repeat_buyers=total, median_spend=scale))


def expected_spend(params: GammaGammaParams, frequency: Any, monetary_value: Any) -> np.ndarray:
	"""E[spend per transaction | x, mean repeat spend] = p (v + x m) / (p x + q - 1).

	A weighted mean of the population mean ``p v / (q - 1)`` and the profile's own mean; for
	frequency 0 it is the population mean (monetary_value is ignored there).
	"""
	x = _vector(frequency, "frequency")
	m = _vector(monetary_value, "monetary_value")
	try:
		x, m = np.broadcast_arrays(x, m)
	except ValueError:
		raise EngineInputError("frequency and monetary_value must have the same length") from None
	if (x < 0).any():
		raise EngineInputError("frequency must be >= 0")
	return _expected_spend(params, x, m)


def _expected_spend(params: GammaGammaParams, x: np.ndarray, m: np.ndarray) -> np.ndarray:
	p, q, v = params.p, params.q, params.v
	own = np.where(x > 0, np.maximum(m, 0.0), 0.0)
	return p * (v + x * own) / (p * x + q - 1)


def clv(
	bg: BGNBDParams,
	gg: GammaGammaParams | None,
	frequency: Any,
	recency: Any,
	T: Any,
	monetary_value: Any,
	*,
	months: int = 12,
	discount_rate: float = 0.01,
) -> np.ndarray:
	"""Discounted customer lifetime value over ``months`` (lifetimes' customer_lifetime_value).

	``sum_{i=1..months} spend * (E[Y(i)] - E[Y(i-1)]) / (1 + discount_rate)^i`` with E[Y(i)] the
	expected purchases in the next i months (months of 30 days or 4.345 weeks, as lifetimes) and
	spend the Gamma-Gamma expected spend, or ``monetary_value`` as given when ``gg`` is None.
	"""
	x, tx, big_t = _btyd_inputs(frequency, recency, T)
	m = _vector(monetary_value, "monetary_value")
	if len(m) == 1 and len(x) != 1:
		m = np.broadcast_to(m, x.shape)
	if len(m) != len(x):
		raise EngineInputError("monetary_value must have one value per profile")
	if isinstance(months, bool) or not isinstance(months, (int, np.integer)) or months < 1:
		raise EngineInputError(f"months must be a whole number >= 1, got {months!r}")
	if not (math.isfinite(discount_rate) and discount_rate > -1):
		raise EngineInputError(f"discount_rate must be > -1, got {discount_rate!r}")
	spend = _expected_spend(gg, x, m) if gg is not None else np.maximum(m, 0.0)
	return _clv(bg, spend, x, tx, big_t, int(months), float(discount_rate))


def _clv(
	bg: BGNBDParams,
	spend: np.ndarray,
	x: np.ndarray,
	tx: np.ndarray,
	big_t: np.ndarray,
	months: int,
	discount_rate: float,
) -> np.ndarray:
	per_month = _PERIODS_PER_MONTH[bg.freq]
	inverse, (ux, utx, ut) = _group_rows(x, tx, big_t)  # the model only sees (x, t_x, T)
	alive = _p_alive(bg, ux, utx, ut)
	value = np.zeros(len(ux))
	previous = np.zeros(len(ux))
	for i in range(1, months + 1):  # a loop over months, vectorised over profiles
		current = alive * _expected_if_alive(bg, np.full(len(ux), i * per_month), ux, ut)
		value += np.maximum(current - previous, 0.0) / (1 + discount_rate) ** i
		previous = current
	return spend * value[inverse]


# ---------------------------------------------------------------------------------------------
# churn frame
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnConfig:
	"""Settings of :func:`churn_frame`.

	* ``horizon_days``: window of ``expected_purchases`` (converted to the model's time unit).
	* ``clv_months`` and ``discount_rate`` (monthly): the CLV horizon and discounting.
	* ``churn_risk = 1 - p_alive`` is banded ``low`` below ``medium_risk``, ``medium`` below
	  ``high_risk`` and ``high`` from ``high_risk`` on.
	* ``penalizer``: L2 penalty the pipeline passes to both fits (0 = pure maximum likelihood;
	  a small value such as 0.001 steadies fits on small ponds).
	"""

	horizon_days: float = 90.0
	clv_months: int = 12
	discount_rate: float = 0.01
	medium_risk: float = 0.3
	high_risk: float = 0.7
	penalizer: float = 0.0

	def __post_init__(self) -> None:
		cu.number(self.horizon_days, "horizon_days", minimum=0, exclusive_minimum=True)
		cu.number(self.clv_months, "clv_months", minimum=1, maximum=600, integer=True)
		cu.number(self.discount_rate, "discount_rate", minimum=0, maximum=1)
		cu.number(self.medium_risk, "medium_risk", minimum=0, maximum=1)
		cu.number(self.high_risk, "high_risk", minimum=0, maximum=1)
		cu.number(self.penalizer, "penalizer", minimum=0)
		if self.medium_risk > self.high_risk:
			raise EngineConfigError(
				f"medium_risk ({self.medium_risk:g}) must not exceed high_risk ({self.high_risk:g})",
				field="medium_risk",
			)

	@classmethod
	def from_dict(cls, data: Mapping[str, Any] | None) -> ChurnConfig:
		if data is None:
			return cls()
		cu.require_mapping(data, "", "churn settings")
		cu.check_keys(data, cls.__dataclass_fields__)
		values: dict[str, Any] = {}
		for name in ("horizon_days", "discount_rate", "medium_risk", "high_risk", "penalizer"):
			if data.get(name) is not None:
				values[name] = cu.number(data[name], name)
		if data.get("clv_months") is not None:
			values["clv_months"] = cu.number(data["clv_months"], "clv_months", integer=True)
		return cls(**values)

	def to_dict(self) -> dict[str, Any]:
		return {
			"horizon_days": self.horizon_days,
			"clv_months": self.clv_months,
			"discount_rate": self.discount_rate,
			"medium_risk": self.medium_risk,
			"high_risk": self.high_risk,
			"penalizer": self.penalizer,
		}


def churn_frame(
	summary: pd.DataFrame,
	bg: BGNBDParams,
	gg: GammaGammaParams | None = None,
	config: ChurnConfig | None = None,
) -> pd.DataFrame:
	"""Per profile: ``p_alive``, ``churn_risk`` (1 - p_alive), ``churn_band``,
	``expected_purchases`` (next ``horizon_days``), ``expected_spend`` (per purchase) and ``clv``.

	``summary`` is :func:`~crm_fishpond.engine.rfm.rfm_summary`'s frame, in the time unit the
	model was fitted in (``bg.freq``). Without a Gamma-Gamma fit (``gg=None``) the expected spend
	is the profile's own mean repeat spend, or its average order value (``total_amount / orders``)
	for one-time buyers. Profiles without any purchase (``orders == 0``) are not customers yet:
	zeros everywhere and ``churn_band`` ``"no purchase"``.
	"""
	config = config or ChurnConfig()
	require_columns(summary, ("frequency", "recency", "T", "monetary_value"), "summary")
	x, tx, big_t = _btyd_inputs(summary["frequency"], summary["recency"], summary["T"])
	m = _vector(summary["monetary_value"], "summary.monetary_value")
	if "orders" in summary.columns:
		buyer = summary["orders"].to_numpy() > 0
	else:
		buyer = np.ones(len(x), dtype=bool)

	inverse, (ux, utx, ut) = _group_rows(x, tx, big_t)
	alive = _p_alive(bg, ux, utx, ut)[inverse]
	horizon = config.horizon_days / _DAYS_PER_PERIOD[bg.freq]
	purchases = _expected_purchases(bg, np.full(len(ux), horizon), ux, utx, ut)[inverse]
	if gg is not None:
		spend = _expected_spend(gg, x, m)
	else:
		spend = np.where(x > 0, np.maximum(m, 0.0), 0.0)
		if "total_amount" in summary.columns and "orders" in summary.columns:
			orders = summary["orders"].to_numpy(dtype=np.float64)
			aov = np.divide(
				summary["total_amount"].to_numpy(dtype=np.float64),
				orders,
				out=np.zeros(len(x)),
				where=orders > 0,
			)
			spend = np.where(x > 0, spend, np.maximum(aov, 0.0))
	value = _clv(bg, spend, x, tx, big_t, int(config.clv_months), float(config.discount_rate))

	risk = 1.0 - alive
	band = _bands(risk, buyer, config)
	zero = np.zeros(len(x))
	out = pd.DataFrame(
		{
			"p_alive": np.where(buyer, alive, zero),
			"churn_risk": np.where(buyer, risk, zero),
			"churn_band": band,
			"expected_purchases": np.where(buyer, purchases, zero),
			"expected_spend": np.where(buyer, spend, zero),
			"clv": np.where(buyer, value, zero),
		},
		index=summary.index,
	)
	return out


# ---------------------------------------------------------------------------------------------
# the recency rule: churn risk without a usable model
# ---------------------------------------------------------------------------------------------


def typical_gap_days(summary: pd.DataFrame, fallback: float) -> float:
	"""The pond's typical days between purchases: the median over repeat buyers of each one's mean
	gap (``recency / frequency``, in the summary's days), or ``fallback`` (the churn horizon) when
	fewer than :data:`MIN_GAP_BUYERS` bought again."""
	x = summary["frequency"].to_numpy(dtype=float)
	tx = summary["recency"].to_numpy(dtype=float)
	repeat = (x > 0) & (tx > 0)
	if int(repeat.sum()) < MIN_GAP_BUYERS:
		return float(fallback)
	return float(np.median(tx[repeat] / x[repeat]))


def recency_frame(summary: pd.DataFrame, gap_days: float, config: ChurnConfig | None = None) -> pd.DataFrame:
	"""The churn columns by the recency rule, for ponds without a usable BG/NBD fit.

	``churn_risk = clip((days_since_last - g) / (2 g), 0, 1)`` with ``g = gap_days`` (see
	:func:`typical_gap_days`): no risk while the last purchase is within one typical gap, rising
	linearly to 100 % at three gaps. ``churn_band`` uses the config's thresholds. ``p_alive``,
	``expected_purchases``, ``expected_spend`` and ``clv`` are missing: no model, no estimate.
	Profiles without a purchase: risk 0, band ``no purchase``.
	"""
	config = config or ChurnConfig()
	require_columns(summary, ("orders", "days_since_last"), "summary")
	buyer = summary["orders"].to_numpy() > 0
	days = summary["days_since_last"].to_numpy(dtype=float)
	g = max(float(gap_days), 1.0)
	span = (RECENCY_FULL_GAPS - RECENCY_START_GAPS) * g
	risk = np.clip((np.nan_to_num(days) - RECENCY_START_GAPS * g) / span, 0.0, 1.0)
	risk = np.where(buyer, risk, 0.0)
	band = _bands(risk, buyer, config)
	missing = np.full(len(summary), np.nan)
	return pd.DataFrame(
		{
			"p_alive": missing,
			"churn_risk": risk,
			"churn_band": band,
			"expected_purchases": missing,
			"expected_spend": missing,
			"clv": missing,
		},
		index=summary.index,
	)


_BAND_LABELS = np.array(["low", "medium", "high", NO_PURCHASE], dtype=object)


def _bands(risk: np.ndarray, buyer: np.ndarray, config: ChurnConfig) -> np.ndarray:
	"""``churn_band`` of each profile: low / medium / high by ``risk``, NO_PURCHASE for non-buyers.
	Taken from one array of the four labels, so the rows share four str objects (text built by
	``np.where`` and ``astype(object)`` is a new str per row)."""
	level = np.where(risk >= config.high_risk, 2, np.where(risk >= config.medium_risk, 1, 0))
	return _BAND_LABELS[np.where(buyer, level, 3)]

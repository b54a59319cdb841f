"""A self-contained HTML report of a pond run: :func:`write_report`.

One file, no network: inline CSS and hand-drawn inline SVG charts (no plotting library). Sections:

1. headline numbers
2. the RFM grid (recency x frequency score: count and mean net spend per cell) and segment sizes
3. the lifecycle stage funnel
4. the churn-risk distribution of customers
5. the lead-score distribution by category
6. value grade x category
7. tag counts
8. a sample of duplicate candidates
9. the fitted model parameters
10. "catch next": the 20 profiles most worth working on now (:func:`catch_next`), with the reasons of
    their lead score (:func:`~.scoring.explain`)

Every section degrades to a short note when the run did not produce its data (no tag rules, no
model, no duplicates).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .btyd import NO_PURCHASE
from .category import CATEGORIES
from .scoring import explain

__all__ = ["catch_next", "render_report", "write_report"]

# colours
INK = "#0f172a"
MUTED = "#64748b"
GRID = "#e2e8f0"
ACCENT = "#0f766e"
CATEGORY_COLOURS = {"potential": "#cbd5e1", "intention": "#7dd3fc", "deal": "#3b82f6", "loyal": "#0f766e"}
BAND_COLOURS = {"low": "#16a34a", "medium": "#f59e0b", "high": "#e11d48"}
GRADE_ORDER = ("high", "mid", "low")
HEAT_LOW, HEAT_HIGH = (240, 253, 250), (15, 118, 110)

CATCH_N = 20


# --------------------------------------------------------------------------------------------------
# catch next


def catch_next(
	metrics: pd.DataFrame, n: int = CATCH_N, kind: str | None = None, *, new_within_days: int = 365
) -> pd.DataFrame:
	"""The ``n`` profiles most worth working on now, best first.

	Candidates are profiles **not yet won** (``kind="prospect"``: no purchase) and customers **at
	risk** (``kind="at risk"``: ``churn_band`` medium or high); ``kind=None`` takes both. Each gets::

	        catch_value = lead_score / 100 * value_if_won

	``lead_score / 100`` stands for the chance of winning the profile (or winning it back), and
	``value_if_won`` for what it is then worth over the CLV horizon:

	* a customer at risk: its CLV if it stays active, ``clv / p_alive`` (BG/NBD's CLV is already
	  discounted by the chance of being alive);
	* a prospect: the mean CLV of the customers won in the last ``new_within_days`` (what a newly won
	  customer turns out to be worth), or of all customers when none is that new.

	Returns the metric columns plus ``value_if_won``, ``catch_value`` and ``why`` (``prospect`` /
	``at risk``), indexed by profile. Without a CLV model the pool is ranked by lead score alone.
	"""
	if kind not in (None, "prospect", "at risk"):
		raise ValueError(f"kind must be None, 'prospect' or 'at risk', got {kind!r}")
	if not {"lead_score", "orders"} <= set(metrics.columns) or metrics.empty:
		return metrics.iloc[0:0].assign(value_if_won=[], catch_value=[], why=[])
	orders = metrics["orders"].to_numpy()
	score = metrics["lead_score"].to_numpy(dtype=float)
	band = (
		metrics["churn_band"].to_numpy(dtype=object) if "churn_band" in metrics else np.full(len(metrics), "")
	)
	prospect = orders == 0
	at_risk = (orders > 0) & np.isin(band, ("medium", "high"))
	value = np.zeros(len(metrics))
	if {"clv", "p_alive"} <= set(metrics.columns):
		clv = metrics["clv"].to_numpy(dtype=float)
		alive = metrics["p_alive"].to_numpy(dtype=float)
		value = np.divide(clv, alive, out=np.zeros(len(clv)), where=alive > 1e-9)
		buyers = orders > 0
		new = buyers.copy()
		if "first_purchase" in metrics.columns:
			first = pd.to_datetime(metrics["first_purchase"]).to_numpy()
			latest = first[buyers].max() if buyers.any() else None
			if latest is not None and not pd.isna(latest):
				new &= first >= latest - np.timedelta64(new_within_days, "D")
		pool_value = clv[new] if new.any() else clv[buyers]
		value = np.where(prospect, float(pool_value.mean()) if len(pool_value) else 0.0, value)
	catch = score / 100.0 * value
	wanted = prospect | at_risk if kind is None else (prospect if kind == "prospect" else at_risk)
	if not (wanted & (catch > 0)).any():  # no value model: rank by lead score alone
		catch = score.copy()
	out = metrics.assign(value_if_won=value, catch_value=catch, why=np.where(prospect, "prospect", "at risk"))
	out = out[wanted]
	order = np.lexsort((out.index.to_numpy(dtype=str), -out["catch_value"].to_numpy(dtype=float)))
	return out.iloc[order[:n]]


# --------------------------------------------------------------------------------------------------
# formatting


def _esc(value: Any) -> str:
	return html.escape("" if value is None else str(value), quote=True)


def _int(x: float) -> str:
	return f"{round(float(x)):,}"


def _num(x: float, digits: int = 1) -> str:
	return f"{x:,.{digits}f}"


def _short(x: float) -> str:
	"""1,234 -> 1.2k; 3,456,789 -> 3.46M."""
	a = abs(x)
	for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
		if a >= div:
			v = x / div
			return (
				f"{v:,.2f}{suffix}"
				if abs(v) < 10
				else f"{v:,.1f}{suffix}"
				if abs(v) < 100
				else f"{v:,.0f}{suffix}"
			)
	return f"{x:,.0f}"


def _pct(x: float, digits: int = 1) -> str:
	return f"{x * 100:.{digits}f}%"


def _mix(c1: tuple[int, int, int], c2: tuple[int, int, int], t: float) -> str:
	t = min(max(t, 0.0), 1.0)
	r, g, b = (round(a + (b_ - a) * t) for a, b_ in zip(c1, c2, strict=True))
	return f"#{r:02x}{g:02x}{b:02x}"


def _text_on(t: float) -> str:
	return "#ffffff" if t > 0.55 else INK


# --------------------------------------------------------------------------------------------------
# SVG charts


def _svg(width: int, height: int, body: str, label: str) -> str:
	return (
		f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
		f'height="{height}" role="img" aria-label="{_esc(label)}">{body}</svg>'
	)


def _text(
	x: float,
	y: float,
	s: str,
	*,
	size: int = 12,
	anchor: str = "start",
	fill: str = INK,
	weight: str = "normal",
) -> str:
	return (
		f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
		f'font-weight="{weight}">{_esc(s)}</text>'
	)


def hbar_chart(
	items: Sequence[tuple[str, float]],
	*,
	label: str,
	colours: Mapping[str, str] | str = ACCENT,
	fmt=_int,
	width: int = 540,
	note: Mapping[str, str] | None = None,
) -> str:
	"""Horizontal bars: one row per (label, value)."""
	if not items:
		return ""
	bar_h, gap, left, right = 22, 8, 150, 110
	height = len(items) * (bar_h + gap) + gap
	top = max(v for _, v in items) or 1.0
	parts = []
	for i, (name, value) in enumerate(items):
		y = gap + i * (bar_h + gap)
		w = (width - left - right) * (value / top)
		colour = colours.get(name, ACCENT) if isinstance(colours, Mapping) else colours
		parts.append(_text(left - 10, y + bar_h * 0.7, name, anchor="end"))
		parts.append(
			f'<rect x="{left}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" rx="3" fill="{colour}"/>'
		)
		extra = f"  {note[name]}" if note and name in note else ""
		parts.append(_text(left + w + 8, y + bar_h * 0.7, fmt(value) + extra, fill=MUTED))
	return _svg(width, height, "".join(parts), label)


def histogram(
	edges: np.ndarray,
	stacks: Mapping[str, np.ndarray],
	colours: Mapping[str, str],
	*,
	label: str,
	x_label: str,
	x_fmt=lambda v: f"{v:g}",
	width: int = 540,
	height: int = 240,
) -> str:
	"""Vertical bars over ``edges``, each bar stacked from ``stacks`` (name -> count per bin)."""
	left, right, top_pad, bottom = 52, 12, 12, 42
	plot_w, plot_h = width - left - right, height - top_pad - bottom
	n_bins = len(edges) - 1
	totals = (
		np.sum([np.asarray(v, dtype=float) for v in stacks.values()], axis=0) if stacks else np.zeros(n_bins)
	)
	top = float(totals.max()) if len(totals) and totals.max() > 0 else 1.0
	nice = _nice_max(top)
	parts = []
	for k in range(5):
		v = nice * k / 4
		y = top_pad + plot_h - plot_h * v / nice
		parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
		parts.append(_text(left - 6, y + 4, _short(v), size=11, anchor="end", fill=MUTED))
	bw = plot_w / n_bins
	base = np.zeros(n_bins)
	for name, counts in stacks.items():
		counts = np.asarray(counts, dtype=float)
		for i in range(n_bins):
			if counts[i] <= 0:
				continue
			h = plot_h * counts[i] / nice
			y = top_pad + plot_h - plot_h * base[i] / nice - h
			parts.append(
				f'<rect x="{left + i * bw + 1:.1f}" y="{y:.1f}" width="{max(bw - 2, 1):.1f}" height="{h:.1f}" '
				f'fill="{colours.get(name, ACCENT)}"><title>{_esc(name)}: {_int(counts[i])}</title></rect>'
			)
		base += counts
	step = max(1, n_bins // 10)
	for i in range(0, n_bins + 1, step):
		x = left + i * bw
		parts.append(_text(x, top_pad + plot_h + 16, x_fmt(edges[i]), size=11, anchor="middle", fill=MUTED))
	parts.append(
		f'<line x1="{left}" x2="{width - right}" y1="{top_pad + plot_h}" y2="{top_pad + plot_h}" stroke="{MUTED}"/>'
	)
	parts.append(_text(left + plot_w / 2, height - 6, x_label, size=12, anchor="middle", fill=MUTED))
	return _svg(width, height, "".join(parts), label)


def _nice_max(x: float) -> float:
	if x <= 0:
		return 1.0
	exp = 10 ** math.floor(math.log10(x))
	for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
		if m * exp >= x:
			return m * exp
	return 10 * exp


def heatmap(
	counts: np.ndarray,
	values: np.ndarray,
	row_labels: Sequence[str],
	col_labels: Sequence[str],
	*,
	label: str,
	row_title: str,
	col_title: str,
	value_fmt=_short,
	cell: tuple[int, int] = (92, 56),
) -> str:
	"""A grid coloured by ``counts`` (log scale) showing the count and a value in each cell."""
	cw, ch = cell
	left, top = 70, 30
	rows, cols = counts.shape
	width, height = left + cols * cw + 10, top + rows * ch + 40
	peak = math.log1p(float(counts.max())) if counts.size and counts.max() > 0 else 1.0
	parts = [_text(left + cols * cw / 2, 16, col_title, size=12, anchor="middle", fill=MUTED)]
	for j, name in enumerate(col_labels):
		parts.append(
			_text(left + j * cw + cw / 2, top + rows * ch + 18, name, size=12, anchor="middle", fill=MUTED)
		)
	for i, name in enumerate(row_labels):
		y = top + i * ch
		parts.append(_text(left - 12, y + ch / 2 + 4, name, size=12, anchor="end", fill=MUTED))
		for j in range(cols):
			x = left + j * cw
			c = float(counts[i, j])
			t = math.log1p(c) / peak if peak else 0.0
			fill = _mix(HEAT_LOW, HEAT_HIGH, t) if c > 0 else "#f8fafc"
			parts.append(
				f'<rect x="{x + 1}" y="{y + 1}" width="{cw - 2}" height="{ch - 2}" rx="4" fill="{fill}">'
				f"<title>{_esc(row_labels[i])} / {_esc(col_labels[j])}: {_int(c)}</title></rect>"
			)
			if c > 0:
				fg = _text_on(t)
				parts.append(
					_text(
						x + cw / 2, y + ch / 2 - 2, _int(c), size=14, anchor="middle", fill=fg, weight="600"
					)
				)
				v = values[i, j]
				if np.isfinite(v):
					parts.append(
						_text(
							x + cw / 2,
							y + ch / 2 + 15,
							"ø " + value_fmt(v),
							size=11,
							anchor="middle",
							fill=fg,
						)
					)
	parts.append(
		f'<text x="14" y="{top + rows * ch / 2:.1f}" font-size="12" fill="{MUTED}" text-anchor="middle" '
		f'transform="rotate(-90 14 {top + rows * ch / 2:.1f})">{_esc(row_title)}</text>'
	)
	return _svg(width, height, "".join(parts), label)


def funnel(items: Sequence[tuple[str, float, float]], *, label: str, width: int = 540) -> str:
	"""A funnel: one centred bar per stage (stage, profiles, profiles that entered it this run)."""
	if not items:
		return ""
	bar_h, gap, left, right = 30, 8, 104, 150
	height = len(items) * (bar_h + gap) + gap
	top = max(c for _, c, _ in items) or 1.0
	total = sum(c for _, c, _ in items) or 1.0
	span = width - left - right
	centre = left + span / 2
	parts = []
	for i, (name, count, moved) in enumerate(items):
		y = gap + i * (bar_h + gap)
		w = max(span * count / top, 3)
		t = 0.9 - 0.6 * i / max(len(items) - 1, 1)
		parts.append(_text(left - 12, y + bar_h / 2 + 5, name, size=13, anchor="end", weight="600"))
		parts.append(
			f'<rect x="{centre - w / 2:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="5" '
			f'fill="{_mix(HEAT_LOW, HEAT_HIGH, t)}"><title>{_esc(name)}: {_int(count)}</title></rect>'
		)
		parts.append(
			_text(
				width - right + 12,
				y + bar_h / 2 - 1,
				f"{_int(count)}  ({_pct(count / total, 0)})",
				size=13,
				weight="600",
			)
		)
		if 0 < moved < count:  # on a first run everybody "entered": not worth saying
			parts.append(
				_text(
					width - right + 12,
					y + bar_h / 2 + 13,
					f"+{_int(moved)} entered this run",
					size=11,
					fill=MUTED,
				)
			)
	return _svg(width, height, "".join(parts), label)


# --------------------------------------------------------------------------------------------------
# HTML


CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f1f5f9;color:#0f172a;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,
"Helvetica Neue",Arial,"Noto Sans",sans-serif}
svg{font-family:inherit;max-width:100%;height:auto}
header{background:linear-gradient(120deg,#0f766e,#1e3a8a);color:#fff;padding:28px 0 60px}
.wrap{max-width:1200px;margin:0 auto;padding:0 24px}
header h1{margin:0;font-size:28px;font-weight:700;letter-spacing:-.01em}
header p{margin:6px 0 0;opacity:.85}
main{margin-top:-40px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:14px;margin-bottom:18px}
.card{background:#fff;border-radius:12px;padding:14px 16px;box-shadow:0 1px 2px rgba(15,23,42,.06),0 4px 14px rgba(15,23,42,.05)}
.card .k{color:#64748b;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:24px;font-weight:700;margin-top:2px}
.card .s{color:#64748b;font-size:12px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:18px;margin-bottom:18px}
@media (max-width:980px){.grid{grid-template-columns:1fr}}
section{background:#fff;border-radius:12px;padding:18px 20px;box-shadow:0 1px 2px rgba(15,23,42,.06),0 4px 14px rgba(15,23,42,.05);margin-bottom:18px}
.grid section{margin-bottom:0}
section h2{margin:0 0 2px;font-size:17px}
section .sub{margin:0 0 12px;color:#64748b;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:13px}
th{text-align:left;color:#64748b;font-weight:600;border-bottom:1px solid #e2e8f0;padding:6px 8px;white-space:nowrap}
td{border-bottom:1px solid #f1f5f9;padding:6px 8px;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr:hover td{background:#f8fafc}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:12px;background:#e2e8f0;color:#0f172a;white-space:nowrap}
.why{color:#334155;font-size:12px;margin:0;padding-left:16px}
.why li{margin:1px 0}
.legend{display:flex;flex-wrap:wrap;gap:12px;margin:6px 0 0;color:#64748b;font-size:12px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px;vertical-align:-1px}
.note{color:#64748b;font-style:italic}
.params{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:18px}
.params h3{font-size:14px;margin:0 0 6px}
footer{color:#64748b;font-size:12px;padding:8px 0 32px}
code{font-size:12px;background:#f1f5f9;padding:1px 4px;border-radius:4px}
"""


def _legend(colours: Mapping[str, str], counts: Mapping[str, float] | None = None) -> str:
	items = "".join(
		f'<span><i style="background:{c}"></i>{_esc(k)}'
		+ (f" ({_int(counts[k])})" if counts and k in counts else "")
		+ "</span>"
		for k, c in colours.items()
	)
	return f'<div class="legend">{items}</div>'


def _section(title: str, sub: str, body: str, anchor: str) -> str:
	return f'<section id="{anchor}"><h2>{_esc(title)}</h2><p class="sub">{sub}</p>{body}</section>'


def _table(headers: Sequence[tuple[str, bool]], rows: Iterable[Sequence[str]]) -> str:
	"""Rows of already-escaped HTML cells; headers are (text, numeric)."""
	head = "".join(f'<th class="n">{_esc(h)}</th>' if num else f"<th>{_esc(h)}</th>" for h, num in headers)
	body = []
	for row in rows:
		cells = "".join(
			f'<td class="n">{c}</td>' if num else f"<td>{c}</td>"
			for c, (_, num) in zip(row, headers, strict=True)
		)
		body.append(f"<tr>{cells}</tr>")
	return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _card(key: str, value: str, sub: str = "") -> str:
	return f'<div class="card"><div class="k">{_esc(key)}</div><div class="v">{_esc(value)}</div><div class="s">{_esc(sub)}</div></div>'


# --------------------------------------------------------------------------------------------------
# sections


def _headline(m: pd.DataFrame, result: Any) -> str:
	n = len(m)
	buyers = m["orders"].to_numpy() > 0 if "orders" in m else np.zeros(n, bool)
	cards = [_card("Profiles", _int(n), f"{_int(n - buyers.sum())} never bought")]
	cards.append(_card("Customers", _int(buyers.sum()), f"{_pct(buyers.mean() if n else 0)} of the pond"))
	if "total_amount" in m:
		cards.append(_card("Net revenue", _short(m["total_amount"].sum()), "all time, returns netted"))
	if "p_alive" in m and buyers.any():
		active = (m["p_alive"].to_numpy() >= 0.5) & buyers
		cards.append(
			_card(
				"Active customers", _int(active.sum()), f"P(alive) ≥ 50%: {_pct(active.sum() / buyers.sum())}"
			)
		)
	config = getattr(result, "config", None)
	horizon = getattr(getattr(config, "churn", None), "horizon_days", 90)
	months = getattr(getattr(config, "churn", None), "clv_months", 12)
	if "expected_purchases" in m:
		cards.append(
			_card("Expected purchases", _short(m["expected_purchases"].sum()), f"next {horizon:g} days")
		)
	if "clv" in m:
		cards.append(_card("Customer value", _short(m["clv"].sum()), f"CLV, next {months} months"))
	if "churn_band" in m:
		high = int((m["churn_band"] == "high").sum())
		cards.append(
			_card(
				"High churn risk",
				_int(high),
				f"{_pct(high / buyers.sum() if buyers.any() else 0)} of customers",
			)
		)
	if "lead_score" in m:
		prospects = ~buyers
		mean = m.loc[prospects, "lead_score"].mean() if prospects.any() else float("nan")
		cards.append(
			_card(
				"Lead score",
				_num(m["lead_score"].mean()),
				f"mean; prospects {_num(mean) if np.isfinite(mean) else '–'}",
			)
		)
	dups = getattr(result, "duplicates", None)
	if dups is not None:
		cards.append(_card("Duplicate pairs", _int(len(dups)), "candidates to merge"))
	return f'<div class="cards">{"".join(cards)}</div>'


def _rfm_section(m: pd.DataFrame, result: Any) -> str:
	if not {"r_score", "f_score"} <= set(m.columns) or not (m["r_score"] > 0).any():
		return _section("RFM grid", "", '<p class="note">No purchases scored yet.</p>', "rfm")
	bins = int(getattr(getattr(getattr(result, "config", None), "rfm", None), "bins", 5) or 5)
	buyers = m[m["r_score"] > 0]
	r = buyers["r_score"].to_numpy(dtype=int)
	f = buyers["f_score"].to_numpy(dtype=int)
	spend = (
		buyers["total_amount"].to_numpy(dtype=float) if "total_amount" in buyers else np.zeros(len(buyers))
	)
	counts = np.zeros((bins, bins))
	sums = np.zeros((bins, bins))
	rows = bins - r  # R = bins at the top
	np.add.at(counts, (rows, f - 1), 1)
	np.add.at(sums, (rows, f - 1), spend)
	means = np.divide(sums, counts, out=np.full_like(sums, np.nan), where=counts > 0)
	grid = heatmap(
		counts,
		means,
		[f"R {k}" for k in range(bins, 0, -1)],
		[f"F {k}" for k in range(1, bins + 1)],
		label="RFM grid",
		row_title="recency score (5 = bought most recently)",
		col_title="frequency score (5 = most orders)",
	)
	body = f'<div style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start"><div>{grid}</div>'
	if "rfm_segment" in m:
		seg = m.loc[m["rfm_segment"] != NO_PURCHASE, "rfm_segment"].value_counts()
		body += "<div>" + hbar_chart(list(seg.items()), label="RFM segments", width=440) + "</div>"
	body += "</div>"
	sub = (
		f"{_int(len(buyers))} customers by recency and frequency score; each cell shows the number of customers "
		"and their mean net spend (ø). Right: the RFM segments."
	)
	return _section("RFM grid", sub, body, "rfm")


def _funnel_section(m: pd.DataFrame, result: Any) -> str:
	if "stage" not in m:
		return _section("Lifecycle funnel", "", '<p class="note">No stages assigned.</p>', "stages")
	stages = list(getattr(getattr(getattr(result, "config", None), "stages", None), "stages", ()) or [])
	counts = m["stage"].value_counts()
	stages += [s for s in counts.index if s not in stages]
	moved = (
		m.loc[m["stage_changed"].astype(bool), "stage"].value_counts()
		if "stage_changed" in m
		else pd.Series(dtype=int)
	)
	items = [(s, float(counts.get(s, 0)), float(moved.get(s, 0))) for s in stages]
	changed = int(m["stage_changed"].sum()) if "stage_changed" in m else 0
	sub = f"Profiles per lifecycle stage, in stage order; {_int(changed)} profiles changed stage in this run."
	return _section("Lifecycle funnel", sub, funnel(items, label="Lifecycle funnel"), "stages")


def _churn_section(m: pd.DataFrame, result: Any) -> str:
	if "churn_risk" not in m or "orders" not in m:
		return _section("Churn risk", "", '<p class="note">No churn model.</p>', "churn")
	buyers = (m["orders"] > 0).to_numpy()
	bands = m["churn_band"].to_numpy(dtype=object) if "churn_band" in m else np.full(len(m), "")
	fitted = np.isin(bands, tuple(BAND_COLOURS))
	if not (buyers & fitted).any():
		return _section(
			"Churn risk",
			"",
			'<p class="note">No BG/NBD model could be fitted (no repeat purchases yet).</p>',
			"churn",
		)
	risk = m["churn_risk"].to_numpy(dtype=float)
	edges = np.linspace(0, 1, 21)
	stacks = {}
	for band in BAND_COLOURS:
		sel = buyers & (bands == band)
		stacks[band] = np.histogram(np.clip(risk[sel], 0, 1), bins=edges)[0]
	counts = {b: float(stacks[b].sum()) for b in BAND_COLOURS}
	chart = histogram(
		edges,
		stacks,
		BAND_COLOURS,
		label="Churn risk",
		x_label="churn risk = 1 − P(alive)",
		x_fmt=lambda v: f"{v:.0%}",
	)
	cfg = getattr(getattr(result, "config", None), "churn", None)
	th = f" (bands: medium from {cfg.medium_risk:.0%}, high from {cfg.high_risk:.0%})" if cfg else ""
	sub = f"Customers by the BG/NBD probability that they have stopped buying{th}."
	return _section("Churn risk", sub, chart + _legend(BAND_COLOURS, counts), "churn")


def _score_section(m: pd.DataFrame) -> str:
	if "lead_score" not in m:
		return _section("Lead score", "", '<p class="note">No lead score.</p>', "score")
	edges = np.linspace(0, 100, 21)
	score = m["lead_score"].to_numpy(dtype=float)
	cats = m["category"].to_numpy(dtype=object) if "category" in m else np.full(len(m), "potential")
	stacks = {c: np.histogram(score[cats == c], bins=edges)[0] for c in reversed(CATEGORIES)}
	counts = {c: float((cats == c).sum()) for c in reversed(CATEGORIES)}
	chart = histogram(edges, stacks, CATEGORY_COLOURS, label="Lead score", x_label="lead score (0–100)")
	parts = [
		f"{p} {m[c].mean():.1f}"
		for p, c in (("fit", "score_fit"), ("engagement", "score_engagement"), ("value", "score_value"))
		if c in m
	]
	sub = "Profiles by lead score, stacked by category. Mean points per part: " + ", ".join(parts) + "."
	return _section(
		"Lead score",
		sub,
		chart + _legend({c: CATEGORY_COLOURS[c] for c in reversed(CATEGORIES)}, counts),
		"score",
	)


def _grade_section(m: pd.DataFrame) -> str:
	if "category" not in m or "value_grade" not in m:
		return _section(
			"Value grade by category", "", '<p class="note">No categories or grades.</p>', "grades"
		)
	table = pd.crosstab(m["category"], m["value_grade"])
	cats = [c for c in CATEGORIES if c in table.index] + [c for c in table.index if c not in CATEGORIES]
	grades = [g for g in GRADE_ORDER if g in table.columns] + [
		g for g in table.columns if g not in GRADE_ORDER
	]
	table = table.reindex(index=cats, columns=grades, fill_value=0)
	spend = m.groupby("category")["total_amount"].sum() if "total_amount" in m else None
	clv = m.groupby("category")["clv"].sum() if "clv" in m else None
	headers = [("category", False)] + [(f"grade {g}", True) for g in grades] + [("profiles", True)]
	if spend is not None:
		headers.append(("net revenue", True))
	if clv is not None:
		headers.append(("CLV", True))
	peak = float(table.to_numpy().max()) or 1.0
	rows = []
	for c in cats:
		cells = [f'<span class="pill" style="background:{CATEGORY_COLOURS.get(c, GRID)}">{_esc(c)}</span>']
		for g in grades:
			v = float(table.loc[c, g])
			t = math.log1p(v) / math.log1p(peak)
			cells.append(
				f'<span style="display:inline-block;min-width:64px;padding:2px 6px;border-radius:4px;background:{_mix(HEAT_LOW, HEAT_HIGH, t * 0.8)};color:{_text_on(t * 0.8)}">{_int(v)}</span>'
			)
		cells.append(_int(table.loc[c].sum()))
		if spend is not None:
			cells.append(_short(float(spend.get(c, 0))))
		if clv is not None:
			cells.append(_short(float(clv.get(c, 0))))
		rows.append(cells)
	sub = "Profiles per pond category and RFM value grade (never-purchased profiles are graded low), with their money."
	bars = hbar_chart(
		[(c, float(table.loc[c].sum())) for c in cats],
		label="Categories",
		colours=CATEGORY_COLOURS,
		width=540,
	)
	return _section(
		"Value grade by category",
		sub,
		_table(headers, rows) + '<div style="margin-top:14px">' + bars + "</div>",
		"grades",
	)


def _tags_section(result: Any, n: int) -> str:
	tags = getattr(result, "tags", None)
	rules = getattr(getattr(result, "config", None), "tags", ())
	if tags is None or tags.empty:
		msg = "No tag rules are configured." if not rules else "No profile matched a tag rule."
		return _section("Tags", "", f'<p class="note">{msg}</p>', "tags")
	counts = tags["tag"].value_counts()
	note = {t: _pct(c / n) for t, c in counts.items()} if n else None
	chart = hbar_chart(list(counts.items()), label="Tags", width=540, note=note, colours="#2563eb")
	examples = tags.drop_duplicates("tag").set_index("tag")["reason"]
	rows = [[_esc(t), _int(c), _esc(examples.get(t, ""))] for t, c in counts.items()]
	table = _table([("tag", False), ("profiles", True), ("example reason", False)], rows)
	return _section(
		"Tags",
		f"{_int(len(tags))} tags on {_int(tags['profile'].nunique())} profiles.",
		chart + table,
		"tags",
	)


def _dupes_section(result: Any, profiles: pd.DataFrame | None, limit: int = 10) -> str:
	dups = getattr(result, "duplicates", None)
	if dups is None or dups.empty:
		return _section("Duplicate candidates", "", '<p class="note">No duplicate candidates.</p>', "dupes")
	# a sample across the confidence range, not only the obvious ones at the top
	picks = np.unique(np.linspace(0, len(dups) - 1, min(limit, len(dups))).round().astype(int))
	sample = dups.iloc[picks]
	info = None
	if profiles is not None and "profile" in profiles:
		cols = [c for c in ("person_name", "company_name", "email", "phone") if c in profiles]
		info = profiles.set_index(profiles["profile"].astype(str))[cols]

	def who(pid: str) -> str:
		if info is None or pid not in info.index:
			return _esc(pid)
		row = info.loc[pid]

		def join(cols: Sequence[str]) -> str:
			vals = [_esc(row[c]) for c in cols if c in row.index and pd.notna(row[c]) and str(row[c]).strip()]
			return " · ".join(vals)

		lines = [
			f"<b>{_esc(pid)}</b> {join(('person_name',))}",
			join(("company_name",)),
			join(("email", "phone")),
		]
		return "<br>".join(x for x in lines if x)

	rows = [
		[who(a), who(b), _pct(c, 0), _esc(r)]
		for a, b, c, r in sample[["profile_a", "profile_b", "confidence", "reason"]].itertuples(index=False)
	]
	table = _table(
		[("profile A", False), ("profile B", False), ("confidence", True), ("reason", False)], rows
	)
	conf = dups["confidence"].to_numpy(dtype=float)
	sub = (
		f"{_int(len(dups))} candidate pairs, {_int((conf >= 0.9).sum())} of them at 90% confidence or more. "
		f"A sample of {len(sample)} across the confidence range:"
	)
	return _section("Duplicate candidates", sub, table, "dupes")


def _models_section(result: Any) -> str:
	models = getattr(result, "models", None)
	if models is None:
		return ""
	blocks = []
	bg = models.bgnbd
	if bg is not None:
		rows = [
			["r", _num(bg.r, 4), "shape of the purchase-rate heterogeneity"],
			["α", _num(bg.alpha, 4), "scale of the purchase rate (days)"],
			["a", _num(bg.a, 4), "drop-out Beta(a, b)"],
			["b", _num(bg.b, 4), f"mean drop-out chance per purchase {bg.a / (bg.a + bg.b):.1%}"],
			["n", _int(bg.n), "customers fitted on"],
			[
				"log-likelihood",
				_num(bg.log_likelihood, 1),
				"converged" if bg.converged else "did NOT converge",
			],
		]
		blocks.append(
			"<div><h3>BG/NBD</h3>"
			+ _table([("parameter", False), ("value", True), ("meaning", False)], rows)
			+ "</div>"
		)
	else:
		blocks.append(
			'<div><h3>BG/NBD</h3><p class="note">Not fitted: nobody has bought twice yet.</p></div>'
		)
	gg = models.gamma_gamma
	if gg is not None:
		mean = getattr(gg, "mean_spend", None)
		mean = mean() if callable(mean) else mean
		rows = [
			["p", _num(gg.p, 4), "shape of the spend per purchase"],
			["q", _num(gg.q, 4), "shape of the customers' mean spend"],
			["v", _num(gg.v, 2), "scale of the customers' mean spend"],
			[
				"mean spend",
				_num(mean, 2) if mean is not None and np.isfinite(mean) else "–",
				"population mean per purchase",
			],
			["n", _int(gg.n), "repeat customers fitted on"],
		]
		blocks.append(
			"<div><h3>Gamma-Gamma</h3>"
			+ _table([("parameter", False), ("value", True), ("meaning", False)], rows)
			+ "</div>"
		)
	else:
		blocks.append(
			'<div><h3>Gamma-Gamma</h3><p class="note">Not fitted (fewer than two repeat buyers).</p></div>'
		)
	th = models.rfm
	if th is not None:
		rows = [
			["R: days since last purchase", ", ".join(_num(x, 0) for x in th.recency) or "–"],
			["F: orders", ", ".join(_num(x, 1) for x in th.frequency) or "–"],
			["M: net spend", ", ".join(_short(x) for x in th.monetary) or "–"],
		]
		blocks.append(
			f"<div><h3>RFM cut points ({_esc(th.method)}, {th.bins} bins)</h3>"
			+ _table([("dimension", False), ("cut points", False)], rows)
			+ "</div>"
		)
	fitted = getattr(models, "fitted_on", None)
	sub = (
		f"Fitted as of {_esc(pd.Timestamp(fitted).date()) if fitted is not None else '–'} on {_int(models.n)} customers"
		+ ("" if getattr(result, "refitted", True) else " (reused from an earlier full run)")
	)
	return _section("Fitted models", sub + ".", f'<div class="params">{"".join(blocks)}</div>', "models")


def _reasons(row: pd.Series, score_config: Any, k: int = 3) -> str:
	try:
		items = explain(row, score_config)
	except (KeyError, TypeError, ValueError):  # a reason we cannot render must not sink the report
		return ""
	top = [it for it in items if it.get("points", 0) > 0][:k]
	lis = "".join(f"<li>{_esc(it['reason'])} <b>+{it['points']:.1f}</b></li>" for it in top)
	return f'<ul class="why">{lis}</ul>'


def _catch_rows(top: pd.DataFrame, result: Any, info: pd.DataFrame | None) -> list[list[str]]:
	score_config = getattr(getattr(result, "config", None), "score", None)
	rows = []
	for pid, row in top.iterrows():  # at most 20 rows: formatting, not computation
		full = row
		name = []
		if info is not None and pid in info.index:
			extra = info.loc[pid]
			full = pd.concat([extra[[c for c in extra.index if c not in row.index]], row])
			for c in ("person_name", "company_name"):
				v = extra.get(c)
				if v is not None and pd.notna(v) and str(v).strip():
					name.append(_esc(v))
		who = f"<b>{_esc(pid)}</b>" + ("<br>" + "<br>".join(name) if name else "")
		cat = row.get("category", "")
		status = f'<span class="pill" style="background:{CATEGORY_COLOURS.get(cat, GRID)}">{_esc(cat)}</span>'
		if row["why"] == "at risk":
			status += f' <span class="pill" style="background:#fde68a">P(alive) {_pct(float(row.get("p_alive", 0)), 0)}</span>'
		status += f'<br><span style="color:{MUTED}">{_esc(row.get("stage", ""))}</span>'
		rows.append(
			[
				who,
				status,
				_num(row["lead_score"]),
				_short(row["value_if_won"]),
				f"<b>{_short(row['catch_value'])}</b>",
				_reasons(full, score_config),
			]
		)
	return rows


def _catch_section(m: pd.DataFrame, result: Any, profiles: pd.DataFrame | None) -> str:
	half = CATCH_N // 2
	prospects = catch_next(m, half, "prospect")
	at_risk = catch_next(m, CATCH_N - len(prospects) if len(prospects) < half else half, "at risk")
	if len(at_risk) < CATCH_N - half:  # few customers at risk: give the rest to prospects
		prospects = catch_next(m, CATCH_N - len(at_risk), "prospect")
	if prospects.empty and at_risk.empty:
		return _section("Catch next", "", '<p class="note">No prospects or customers at risk.</p>', "catch")
	info = (
		profiles.set_index(profiles["profile"].astype(str))
		if profiles is not None and "profile" in profiles
		else None
	)
	headers = [
		("profile", False),
		("status", False),
		("lead score", True),
		("value if won", True),
		("catch value", True),
		("why the score", False),
	]
	body = ""
	for title, top in (("Prospects to win", prospects), ("Customers to keep", at_risk)):
		if len(top):
			body += f'<h3 style="margin:14px 0 4px;font-size:14px">{title} ({len(top)})</h3>'
			body += _table(headers, _catch_rows(top, result, info))
	sub = (
		"The 20 profiles most worth working on now: prospects not yet won and customers at risk (churn band "
		"medium or high), ranked by <b>catch value = lead score / 100 × value if won</b>. For a customer at risk the "
		"value is its CLV if it stays active (CLV / P(alive)); for a prospect, the mean CLV of the customers won "
		"in the last year. The reasons are the lead score's largest contributions."
	)
	return _section("Catch next", sub, body, "catch")


def _timings(result: Any) -> str:
	t = getattr(result, "timings", None) or {}
	if not t:
		return ""
	steps = ", ".join(f"{k} {v:.2f} s" for k, v in t.items() if k != "total")
	return f"run_pond took {t.get('total', 0):.2f} s ({steps})."


def render_report(result: Any, inputs: Any = None, title: str = "Fish-pond report") -> str:
	"""The report as one HTML string (see :func:`write_report`)."""
	m = result.metrics
	profiles = getattr(inputs, "profiles", None)
	as_of = getattr(result, "as_of", None)
	stamp = pd.Timestamp(as_of) if as_of is not None else None
	when = f"{stamp.day} {stamp:%B %Y}" if stamp is not None else ""
	sizes = ""
	if inputs is not None:
		sizes = ", ".join(
			f"{_int(len(getattr(inputs, k)))} {k}"
			for k in ("profiles", "transactions", "interactions", "events")
			if hasattr(inputs, k)
		)
	head = f"<h1>{_esc(title)}</h1><p>As of {_esc(when)}" + (f" · {_esc(sizes)}" if sizes else "") + "</p>"
	body = [
		_headline(m, result),
		_catch_section(m, result, profiles),
		_rfm_section(m, result),
		'<div class="grid">',
		_funnel_section(m, result),
		_churn_section(m, result),
		"</div>",
		'<div class="grid">',
		_score_section(m),
		_tags_section(result, len(m)),
		"</div>",
		_grade_section(m),
		_dupes_section(result, profiles),
		_models_section(result),
	]
	foot = _esc(_timings(result)) + " Generated by crm_fishpond.engine.report."
	return (
		'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
		'<meta name="viewport" content="width=device-width, initial-scale=1">'
		f"<title>{_esc(title)} — {_esc(when)}</title><style>{CSS}</style></head><body>"
		f'<header><div class="wrap">{head}</div></header><main class="wrap">{"".join(body)}</main>'
		f'<footer class="wrap">{foot}</footer></body></html>'
	)


def write_report(result: Any, path: str | Path, inputs: Any = None, title: str = "Fish-pond report") -> Path:
	"""Write a self-contained HTML report of a :class:`~.pipeline.PondResult` to ``path``.

	``inputs`` (the run's :class:`~.pipeline.PondInputs`) is optional; with it the report shows
	names, companies and contact details next to profile ids and the fit answers behind the lead
	score. Creates the parent directory; returns the path written.
	"""
	path = Path(path)
	path.parent.mkdir(parents=True, exist_ok=True)
	path.write_text(render_report(result, inputs, title), encoding="utf-8")
	return path

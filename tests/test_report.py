"""The HTML report: one valid, self-contained file with every section, and the catch-next ranking."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from crm_fishpond.engine.config import EngineConfig, example_tag_rules
from crm_fishpond.engine.pipeline import PondInputs, run_pond
from crm_fishpond.engine.report import catch_next, render_report, write_report
from crm_fishpond.engine.synth import DEFAULT_AS_OF, generate_pond

SECTIONS = ("catch", "rfm", "stages", "churn", "score", "tags", "grades", "dupes", "models")
VOID = {"meta", "br", "rect", "line", "path", "circle", "img", "link", "input", "hr"}


class Checker(HTMLParser):
	"""Collects ids, counts elements and checks that every non-void element is closed in order."""

	def __init__(self):
		super().__init__()
		self.stack: list[str] = []
		self.ids: set[str] = set()
		self.counts: dict[str, int] = {}
		self.errors: list[str] = []
		self.external: list[str] = []
		self.text: list[str] = []

	def handle_starttag(self, tag, attrs):
		self.counts[tag] = self.counts.get(tag, 0) + 1
		attrs = dict(attrs)
		if "id" in attrs:
			self.ids.add(attrs["id"])
		for key in ("src", "href"):
			if key in attrs:
				self.external.append(attrs[key])
		if tag == "script":
			self.errors.append("script element")
		if tag not in VOID:
			self.stack.append(tag)

	def handle_startendtag(self, tag, attrs):
		self.counts[tag] = self.counts.get(tag, 0) + 1

	def handle_endtag(self, tag):
		if tag in VOID:
			return
		if not self.stack or self.stack[-1] != tag:
			self.errors.append(f"unexpected </{tag}> (open: {self.stack[-3:]})")
			return
		self.stack.pop()

	def handle_data(self, data):
		self.text.append(data)


@pytest.fixture(scope="module")
def pond():
	return generate_pond(n_profiles=2000, n_transactions=20_000, seed=4)


@pytest.fixture(scope="module")
def result(pond):
	return run_pond(pond, EngineConfig(tags=tuple(example_tag_rules())), as_of=DEFAULT_AS_OF)


def check(html: str) -> Checker:
	c = Checker()
	c.feed(html)
	c.close()
	assert not c.errors, c.errors[:5]
	assert not c.stack, f"unclosed elements: {c.stack}"
	return c


def test_writes_one_valid_self_contained_file(tmp_path, result, pond):
	path = write_report(result, tmp_path / "sub" / "report.html", pond)
	assert path.exists()
	html = path.read_text(encoding="utf-8")
	assert html.startswith("<!DOCTYPE html>")
	c = check(html)
	assert set(SECTIONS) <= c.ids
	assert c.counts.get("svg", 0) >= 6  # rfm grid, segments, funnel, churn, score, tags, categories
	assert c.external == []  # no scripts, stylesheets or images to fetch
	assert "<style>" in html
	text = " ".join(c.text)
	for heading in (
		"Profiles",
		"Customers",
		"Catch next",
		"RFM grid",
		"Lifecycle funnel",
		"Churn risk",
		"Lead score",
		"Value grade by category",
		"Tags",
		"Duplicate candidates",
		"Fitted models",
		"BG/NBD",
		"Gamma-Gamma",
	):
		assert heading in text, heading


def test_catch_next_lists_twenty_with_reasons(result, pond):
	html = render_report(result, pond)
	catch = html[html.index('id="catch"') : html.index('id="rfm"')]
	assert catch.count("<tr>") == 20 + 2  # two tables with a header row each
	assert catch.count('class="why"') == 20
	assert "catch value = lead score / 100 × value if won" in catch
	# names come from the inputs when given
	name = pond.profiles.set_index("profile").loc[
		catch_next(result.metrics, 1, "prospect").index[0], "person_name"
	]
	assert name in catch


def test_catch_next_definition(result):
	m = result.metrics
	top = catch_next(m, 20)
	assert len(top) == 20
	assert top["catch_value"].is_monotonic_decreasing
	assert np.allclose(top["catch_value"], top["lead_score"] / 100 * top["value_if_won"])
	assert set(top["why"]) <= {"prospect", "at risk"}
	prospects = catch_next(m, 10, "prospect")
	assert (prospects["orders"] == 0).all() and prospects["value_if_won"].nunique() == 1
	at_risk = catch_next(m, 10, "at risk")
	assert (at_risk["orders"] > 0).all() and at_risk["churn_band"].isin(["medium", "high"]).all()
	# nobody in the pool ranks above the top ones
	pool = catch_next(m, len(m))
	assert pool["catch_value"].iloc[0] == top["catch_value"].iloc[0]
	assert not pool.index.isin(m.index[(m["orders"] > 0) & (m["churn_band"] == "low")]).any()
	with pytest.raises(ValueError):
		catch_next(m, 5, "whales")


def test_report_without_inputs_tags_model_or_duplicates(tmp_path):
	profiles = pd.DataFrame({"profile": [f"p{i}" for i in range(30)]})
	tx = pd.DataFrame(
		{
			"profile": ["p1", "p2"],
			"date": pd.to_datetime(["2024-05-01", "2024-06-01"]),
			"amount": [10.0, 20.0],
		}
	)
	r = run_pond(PondInputs(profiles, tx), None, as_of="2025-01-01")
	html = write_report(r, tmp_path / "r.html").read_text(encoding="utf-8")
	c = check(html)
	assert set(SECTIONS) <= c.ids
	text = " ".join(c.text)
	assert "No tag rules are configured." in text
	assert "No duplicate candidates." in text
	assert "Not fitted" in text


def test_text_is_escaped(tmp_path):
	profiles = pd.DataFrame(
		{
			"profile": ["<b>x</b>", "y"],
			"person_name": ["<script>alert(1)</script>", "A & B"],
			"email": ["a@x.io", "a@x.io"],
		}
	)
	r = run_pond(
		PondInputs(profiles),
		{"tags": [{"tag": "<i>t</i>", "condition": {"field": "orders", "op": "=", "value": 0}}]},
		as_of="2025-01-01",
	)
	html = render_report(r, PondInputs(profiles))
	check(html)
	assert "<script>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "&lt;i&gt;t&lt;/i&gt;" in html

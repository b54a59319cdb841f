"""The Simplified Chinese translation names every concept with its own word (docs/glossary.md) and
translates every label the workspace shows, so nothing falls back to another app's wording."""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZH_PO = ROOT / "crm_fishpond" / "locale" / "zh.po"
POT = ROOT / "crm_fishpond" / "locale" / "main.pot"
GLOSSARY = ROOT / "docs" / "glossary.md"
WORKSPACE = ROOT / "crm_fishpond" / "crm_fishpond" / "workspace" / "fishpond_crm" / "fishpond_crm.json"


def read_po(path: Path) -> dict[tuple[str | None, str], str]:
	"""{(msgctxt, msgid): msgstr} of a gettext PO/POT file (no plurals are used by the app)."""
	entries: dict[tuple[str | None, str], str] = {}
	current: dict[str, str] = {}
	key = None

	def flush():
		if current.get("msgid"):
			entries[(current.get("msgctxt"), current["msgid"])] = current.get("msgstr", "")
		current.clear()

	for raw in path.read_text(encoding="utf-8").splitlines():
		line = raw.strip()
		if not line or line.startswith("#"):
			if not line:
				flush()
				key = None
			continue
		match = re.match(r'^(msgctxt|msgid|msgstr)\s+(".*")$', line)
		if match:
			if match.group(1) in ("msgctxt", "msgid") and "msgstr" in current:
				flush()
			key = match.group(1)
			current[key] = ast.literal_eval(match.group(2))
		elif line.startswith('"') and key:
			current[key] += ast.literal_eval(line)
	flush()
	return entries


def glossary() -> list[tuple[list[str], str]]:
	"""Rows of the glossary table: ([English names], Chinese term). The English cell lists a concept's
	names as they appear in the UI, separated by " / "; a parenthesised note is not a name."""
	rows = []
	for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
		cells = [c.strip() for c in line.strip().strip("|").split("|")]
		if len(cells) < 3 or not line.lstrip().startswith("|") or set(cells[0]) <= set("-: "):
			continue
		if cells[0].lower() == "english":
			continue
		names = [re.sub(r"\(.*?\)", "", n).strip().strip("*`").strip() for n in cells[0].split(" / ")]
		rows.append(([n for n in names if n], cells[1].strip("*` ")))
	return rows


def test_the_glossary_gives_every_concept_its_own_word():
	rows = glossary()
	assert len(rows) >= 12, "the glossary table is missing or too short"
	by_term = defaultdict(list)
	for names, term in rows:
		assert term, f"{names}: no Chinese term"
		by_term[term].append(names[0])
	shared = {t: n for t, n in by_term.items() if len(n) > 1}
	assert not shared, f"one Chinese word for several concepts: {shared}"


def test_concept_names_are_translated_as_the_glossary_says_and_never_alike():
	zh = {msgid: msgstr for (ctx, msgid), msgstr in read_po(ZH_PO).items() if ctx is None and msgstr}
	concept_of: dict[str, set[str]] = defaultdict(set)
	differ = []
	for names, term in glossary():
		for name in names:
			if name in zh:
				concept_of[zh[name]].add(names[0])
				if zh[name] != term:
					differ.append(f"{name!r} is {zh[name]!r} in zh.po, {term!r} in the glossary")
	clashes = {word: sorted(c) for word, c in concept_of.items() if len(c) > 1}
	assert not clashes, f"different concepts share a Chinese word: {clashes}"
	assert not differ, "\n".join(differ)


def workspace_labels() -> set[str]:
	ws = json.loads(WORKSPACE.read_text())
	labels = {ws["label"]}
	labels |= {link["label"] for link in ws["links"] if link.get("label")}
	labels |= {s["label"] for s in ws["shortcuts"] if s.get("label")}
	for block in json.loads(ws["content"]):
		if block["type"] in ("header", "paragraph"):
			labels.add(block["data"]["text"])  # Desk translates a header's HTML as one message
	return labels


def test_every_workspace_label_has_a_chinese_translation():
	zh = {msgid: msgstr for (ctx, msgid), msgstr in read_po(ZH_PO).items() if ctx is None}
	missing = sorted(label for label in workspace_labels() if not zh.get(label))
	assert not missing, f"workspace labels without a zh.po translation: {missing}"


def test_every_workspace_label_is_in_the_template():
	pot = {msgid for (ctx, msgid) in read_po(POT) if ctx is None}
	missing = sorted(label for label in workspace_labels() if label not in pot)
	assert not missing, f"workspace labels missing from main.pot: {missing}"


def test_the_po_reader_reads_context_and_continuation_lines(tmp_path):
	po = tmp_path / "x.po"
	po.write_text(
		'msgid ""\nmsgstr ""\n"Language: zh\\n"\n\n#: a.py\nmsgctxt "Pool"\nmsgid "Claim"\nmsgstr "领取"\n\n'
		'msgid "A "\n"long \\"one\\""\nmsgstr ""\n"长"\n',
		encoding="utf-8",
	)
	assert read_po(po) == {("Pool", "Claim"): "领取", (None, 'A long "one"'): "长"}

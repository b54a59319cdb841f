"""The setup onboarding's files (no site needed): the workspace names it, every step it lists ships
and opens something of the app, the step names match the doc events that tick them off, and every
text Desk shows from them has a Simplified Chinese translation."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from test_locale import POT, ZH_PO, read_po

ROOT = Path(__file__).resolve().parents[1]
MODULE = ROOT / "crm_fishpond" / "crm_fishpond"
WORKSPACE = MODULE / "workspace" / "fishpond_crm" / "fishpond_crm.json"
EVENTS = ROOT / "crm_fishpond" / "events" / "onboarding.py"
# the fields of a Module Onboarding and an Onboarding Step that Desk translates (frappe.desk.desktop,
# frappe/public/js/frappe/widgets/onboarding_widget.js), as frappe's gettext extractors list them
ONBOARDING_TEXTS = ("title", "subtitle", "success_message")
STEP_TEXTS = ("title", "action_label", "description")


def scrub(name: str) -> str:
	return name.lower().replace(" ", "_").replace("-", "_")


def load(path: Path) -> dict:
	return json.loads(path.read_text())


def onboardings() -> list[dict]:
	return [load(p) for p in sorted(MODULE.glob("module_onboarding/*/*.json"))]


def steps() -> dict[str, dict]:
	return {d["name"]: d for d in (load(p) for p in sorted(MODULE.glob("onboarding_step/*/*.json")))}


def constants() -> dict[str, object]:
	"""The module-level string constants of crm_fishpond/events/onboarding.py (read, not imported:
	it imports frappe)."""
	values: dict[str, object] = {}
	for node in ast.parse(EVENTS.read_text()).body:
		if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
			if isinstance(node.value, ast.Constant):
				values[node.targets[0].id] = node.value.value
			elif isinstance(node.value, ast.Tuple):
				values[node.targets[0].id] = tuple(values[e.id] for e in node.value.elts)
	return values


def test_the_workspace_shows_the_app_onboarding():
	names = {d["name"] for d in onboardings()}
	blocks = [b for b in json.loads(load(WORKSPACE)["content"]) if b["type"] == "onboarding"]
	assert [b["data"]["onboarding_name"] for b in blocks] == ["Fishpond CRM"]
	assert names == {"Fishpond CRM"}


def test_every_listed_step_ships_in_its_folder_and_none_is_left_over():
	shipped = steps()
	for path in MODULE.glob("onboarding_step/*/*.json"):
		assert path.stem == path.parent.name == scrub(load(path)["name"]), path
	for onboarding in onboardings():
		assert onboarding["module"] == "CRM Fishpond"
		assert not onboarding["is_complete"]
		listed = [row["step"] for row in onboarding["steps"]]
		assert listed and set(listed) <= set(shipped), set(listed) - set(shipped)
		assert set(shipped) <= set(listed), f"steps no onboarding lists: {set(shipped) - set(listed)}"


def test_the_doc_events_name_the_shipped_steps_in_order():
	values = constants()
	assert values["ONBOARDING"] == "Fishpond CRM"
	order = [row["step"] for row in onboardings()[0]["steps"]]
	assert list(values["STEPS"]) == order


def test_every_step_opens_something_the_app_ships():
	doctypes = {
		load(p)["name"] for p in MODULE.glob("doctype/*/*.json") if load(p).get("doctype") == "DocType"
	}
	routes = {scrub(d).replace("_", "-") for d in doctypes} | {"fishpond-crm"}
	for name, step in steps().items():
		assert not step["is_complete"] and not step["is_skipped"], name
		if step["action"] == "Create Entry":
			assert step["reference_document"] in doctypes, name
			assert step["show_full_form"], f"{name}: a quick entry shows no child table"
		else:
			assert step["action"] == "Go to Page", name
			assert step["path"].startswith("app/") and step["path"][4:] in routes, name


def test_every_onboarding_text_is_translated_and_in_the_template():
	zh = {msgid: msgstr for (ctx, msgid), msgstr in read_po(ZH_PO).items() if ctx is None}
	pot = {msgid for (ctx, msgid) in read_po(POT) if ctx is None}
	texts = {d[f] for d in onboardings() for f in ONBOARDING_TEXTS if d.get(f)}
	texts |= {s[f] for s in steps().values() for f in STEP_TEXTS if s.get(f)}
	assert not sorted(t for t in texts if not zh.get(t)), "onboarding texts without a zh.po translation"
	assert not sorted(t for t in texts if t not in pot), "onboarding texts missing from main.pot"

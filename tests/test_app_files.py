"""Checks of the app's own files that need no site: doctype JSON, links, hooks targets, fixtures."""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "crm_fishpond"
MODULE = APP / "crm_fishpond"
REFERENCE = ROOT.parent / "shared" / "reference" / "frappe15-erpnext15-doctypes.tsv"
# Fallback list used when ../shared/reference is absent (a checkout outside the workplace): the
# framework doctypes the app links to, checked against the reference whenever it is present.
KNOWN_FRAMEWORK = {
	"Workflow",
	"Workflow State",
	"Workflow Action Master",
	"ToDo",
	"Notification",
	"File",
	"Company",
	"Contact",
	"Coupon Code",
	"Country",
	"Currency",
	"Customer",
	"DocType",
	"Industry Type",
	"Item",
	"Item Group",
	"Lead",
	"Lead Source",
	"Loyalty Point Entry",
	"Loyalty Program",
	"POS Invoice",
	"Role",
	"Sales Invoice",
	"Sales Order",
	"Territory",
	"User",
	"Communication",
	"Event",
	"Payment Entry",
	"Journal Entry",
	"Payment Ledger Entry",
	"Email Template",
	"Customer Group",
	"Pricing Rule",
	"Email Queue",
}

DOCTYPE_FILES = sorted(MODULE.glob("doctype/*/*.json"))
# default records an admin edits in Desk: shipped once from setup_data/ by install.ensure_defaults
SETUP_DATA = APP / "setup_data"
ADMIN_OWNED = {"Lifecycle Stage", "Notification", "Workflow", "Workflow State", "Workflow Action Master"}


def load(path: Path) -> dict:
	return json.loads(path.read_text())


def app_doctypes() -> dict[str, dict]:
	return {d["name"]: d for d in (load(p) for p in DOCTYPE_FILES) if d.get("doctype") == "DocType"}


def framework_doctypes() -> set[str]:
	if not REFERENCE.exists():
		return KNOWN_FRAMEWORK
	with REFERENCE.open() as fh:
		return {row["doctype"] for row in csv.DictReader(fh, delimiter="\t")}


def test_every_doctype_json_loads_and_sits_in_its_folder():
	assert DOCTYPE_FILES, "no doctypes found"
	for path in DOCTYPE_FILES:
		doc = load(path)
		assert doc["doctype"] == "DocType", path
		assert doc["module"] == "CRM Fishpond", path
		folder = doc["name"].lower().replace(" ", "_").replace("-", "_")  # frappe.scrub
		assert path.parent.name == folder and path.stem == folder, path
		assert (path.parent / f"{folder}.py").exists(), f"{doc['name']} has no controller"
		assert (path.parent / "__init__.py").exists(), f"{doc['name']} folder is not a package"


def test_field_order_matches_fields_and_names_are_unique():
	for name, doc in app_doctypes().items():
		names = [f["fieldname"] for f in doc["fields"]]
		assert len(names) == len(set(names)), f"{name}: duplicate fieldnames"
		assert doc["field_order"] == names, f"{name}: field_order differs from fields"


def test_links_point_at_existing_doctypes():
	ours = set(app_doctypes())
	known = framework_doctypes() | ours
	for name, doc in app_doctypes().items():
		fieldnames = {f["fieldname"] for f in doc["fields"]}
		for f in doc["fields"]:
			if f["fieldtype"] in ("Link", "Table", "Table MultiSelect"):
				assert f.get("options") in known, (
					f"{name}.{f['fieldname']} links to unknown {f.get('options')!r}"
				)
			if f["fieldtype"] in ("Table", "Table MultiSelect"):
				assert app_doctypes()[f["options"]].get("istable"), (
					f"{name}.{f['fieldname']}: not a child table"
				)
			if f["fieldtype"] == "Dynamic Link":
				assert f.get("options") in fieldnames, (
					f"{name}.{f['fieldname']}: dynamic link without its type field"
				)


def test_permissions_use_known_roles():
	roles = {r["role_name"] for r in json.loads((SETUP_DATA / "role.json").read_text())}
	roles |= {"System Manager", "Accounts User", "Accounts Manager", "Sales User", "Sales Manager", "All"}
	for name, doc in app_doctypes().items():
		if doc.get("istable"):
			assert not doc.get("permissions"), f"{name}: child tables carry no permissions"
			continue
		assert doc.get("permissions"), f"{name}: no permissions"
		for perm in doc["permissions"]:
			assert perm["role"] in roles, f"{name}: unknown role {perm['role']}"


def _hooks() -> dict:
	tree = ast.parse((APP / "hooks.py").read_text())
	values = {}
	for node in tree.body:
		if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
			try:
				values[node.targets[0].id] = ast.literal_eval(node.value)
			except ValueError:
				pass
	return values


def _dotted_paths(value) -> list[str]:
	if isinstance(value, str):
		return [value] if value.startswith("crm_fishpond.") else []
	if isinstance(value, dict):
		return [p for v in value.values() for p in _dotted_paths(v)]
	if isinstance(value, list | tuple):
		return [p for v in value for p in _dotted_paths(v)]
	return []


def _function_defined(dotted: str) -> bool:
	module, _, func = dotted.rpartition(".")
	path = ROOT / Path(*module.split("."))
	source = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
	if not source.exists():
		return False
	tree = ast.parse(source.read_text())
	return any(isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == func for n in tree.body)


def test_every_hook_target_resolves_to_a_function_of_the_app():
	hooks = _hooks()
	assert hooks["required_apps"] == ["erpnext"]
	paths = _dotted_paths(
		{k: v for k, v in hooks.items() if k not in ("fixtures", "doctype_js", "app_include_js")}
	)
	assert paths, "hooks name no functions"
	missing = [p for p in paths if not _function_defined(p)]
	assert not missing, f"hooks.py names functions that do not exist: {missing}"


def test_doctype_js_and_assets_exist():
	hooks = _hooks()
	for doctype, path in hooks.get("doctype_js", {}).items():
		assert (APP / path).exists(), f"doctype_js for {doctype}: {path} missing"
	for doctype in hooks.get("doc_events", {}):
		assert doctype in framework_doctypes() | set(app_doctypes()), (
			f"doc_events on unknown doctype {doctype}"
		)


def test_fixtures_are_filtered_and_files_exist():
	hooks = _hooks()
	for fixture in hooks.get("fixtures", []):
		dt = fixture["dt"] if isinstance(fixture, dict) else fixture
		assert dt != "Custom Field" or fixture.get("filters"), "never an unfiltered Custom Field fixture"
		if dt not in app_doctypes():
			assert isinstance(fixture, dict) and fixture.get("filters"), (
				f"framework fixture {dt} must be filtered"
			)
		assert (APP / "fixtures" / f"{dt.lower().replace(' ', '_')}.json").exists(), f"fixture file for {dt}"


def test_no_fixture_overwrites_what_an_admin_edits():
	"""bench migrate re-imports, overwriting, every JSON file under fixtures/ (declared in hooks or not).
	Records an admin tunes in Desk ship once from setup_data/ through crm_fishpond.install instead."""
	declared = {f["dt"] if isinstance(f, dict) else f for f in _hooks().get("fixtures", [])}
	assert not declared & ADMIN_OWNED, f"declared as fixtures: {declared & ADMIN_OWNED}"
	for path in sorted((APP / "fixtures").glob("**/*.json")):
		doctypes = {d.get("doctype") for d in json.loads(path.read_text())}
		assert not doctypes & ADMIN_OWNED, f"{path.name} would be re-imported on every migrate"


def test_shipped_defaults_are_inserted_by_install():
	install = (APP / "install.py").read_text()
	files = sorted(SETUP_DATA.glob("*.json"))
	assert {p.stem for p in files} >= {dt.lower().replace(" ", "_") for dt in ADMIN_OWNED}
	for path in files:
		records = json.loads(path.read_text())
		assert records and all(
			r["doctype"].lower().replace(" ", "_").replace("-", "_") == path.stem for r in records
		), path
		assert f'"{path.name}"' in install, f"install.py never reads {path.name}"


def test_default_lifecycle_stages_are_the_five():
	stages = json.loads((SETUP_DATA / "lifecycle_stage.json").read_text())
	assert [s["stage_key"] for s in sorted(stages, key=lambda s: s["sequence"])] == [
		"acquisition",
		"conversion",
		"growth",
		"retention",
		"churn",
	]


def test_patches_resolve():
	for line in (APP / "patches.txt").read_text().splitlines():
		line = line.strip()
		if not line or line.startswith(("#", "[")):
			continue
		path = ROOT / Path(*line.split(".")).with_suffix(".py")
		assert path.exists(), f"patch {line} missing"
		assert "def execute" in path.read_text(), f"patch {line} has no execute()"


def test_module_is_declared():
	assert (APP / "modules.txt").read_text().split() == ["CRM", "Fishpond"]
	assert (MODULE / "__init__.py").exists()


@pytest.mark.parametrize("path", sorted(APP.glob("engine/*.py")), ids=lambda p: p.name)
def test_engine_never_imports_frappe(path):
	tree = ast.parse(path.read_text())
	for node in ast.walk(tree):
		if isinstance(node, ast.Import):
			assert not any(a.name.split(".")[0] == "frappe" for a in node.names), path
		if isinstance(node, ast.ImportFrom):
			assert (node.module or "").split(".")[0] != "frappe", path


def test_workspace_links_exist():
	ws = load(MODULE / "workspace" / "fishpond_crm" / "fishpond_crm.json")
	ours = set(app_doctypes())
	reports = {p.parent.name for p in MODULE.glob("report/*/*.json")}
	for link in ws["links"]:
		if link["type"] == "Link" and link["link_type"] == "DocType":
			assert link["link_to"] in ours | framework_doctypes(), link["link_to"]
		if link["type"] == "Link" and link["link_type"] == "Report":
			assert link["link_to"].lower().replace(" ", "_") in reports, link["link_to"]
	# a workspace named like a doctype would shadow that doctype's /app/<name> route
	assert ws["name"].lower().replace(" ", "-") not in {d.lower().replace(" ", "-") for d in ours}
	for shortcut in ws["shortcuts"]:
		assert shortcut["link_to"] in ours, shortcut["link_to"]


def test_bant_answers_on_the_form_are_the_engine_vocabulary():
	"""Every BANT option a rep can pick scores through the engine's default fit factors."""
	from crm_fishpond.engine.scoring import default_fit_factors, normalise_answer

	fields = {f["fieldname"]: f for f in app_doctypes()["Fishpond Lead"]["fields"]}
	for factor in default_fit_factors():
		options = [o for o in fields[factor.field]["options"].split("\n") if o]
		assert options, factor.field
		unknown = [o for o in options if normalise_answer(o) not in factor.points]
		assert not unknown, f"{factor.field}: {unknown} score nothing"


def _workspaces() -> list[dict]:
	return [load(p) for p in sorted(MODULE.glob("workspace/*/*.json"))]


def test_no_workspace_shortcut_counts_a_single_doctype():
	"""Desk (Frappe 15) counts the records behind every DocType shortcut unless its view is "New".
	A Single has no table, so that count fails with a Server Error the moment the workspace opens.
	A Single's route ignores the view, so "New" still opens its form and asks for no count."""
	singles = {name for name, doc in app_doctypes().items() if doc.get("issingle")}
	assert singles, "the app ships Fishpond Settings"
	for ws in _workspaces():
		for shortcut in ws["shortcuts"]:
			if shortcut["type"] == "DocType" and shortcut["link_to"] in singles:
				assert shortcut.get("doc_view") == "New" and not shortcut.get("stats_filter"), (
					f"{ws['name']}: the shortcut to {shortcut['link_to']} counts a Single"
				)


def test_every_doctype_desk_links_to_has_a_list_its_readers_can_open():
	"""A doctype marked read_only ("User Cannot Search") is left out of the Desk routes of a role that
	may only read it, so its list answers "Page not found"."""
	for name, doc in app_doctypes().items():
		if doc.get("istable") or doc.get("issingle") or not doc.get("read_only"):
			continue
		readers_only = [p["role"] for p in doc["permissions"] if not (p.get("write") or p.get("create"))]
		assert not readers_only, f"{name} is read_only: {readers_only} cannot open its list"


def test_every_shipped_text_is_listed_for_the_translation_tools():
	"""The _("...") strings of the shipped Email Templates and the shipped surveys' questions are
	rendered in the recipient's language: crm_fishpond/shipped_texts.py lists each for main.pot."""
	import re

	shipped = []
	for template in json.loads((SETUP_DATA / "email_template.json").read_text()):
		for key in ("subject", "response"):
			shipped += re.findall(r'_\("((?:[^"\\]|\\.)*)"\)', template.get(key) or "")
	for survey in json.loads((SETUP_DATA / "fishpond_survey.json").read_text()):
		shipped += [survey["question"], survey["comment_label"]]
	tree = ast.parse((APP / "shipped_texts.py").read_text())
	listed = {
		node.args[0].value
		for node in ast.walk(tree)
		if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_lt"
	}
	assert set(shipped) == listed


def _app_imports() -> dict[str, set[str]]:
	"""Each module of the app (tests aside) -> the app modules it imports, at the top or inside a
	function (a deferred import is a dependency all the same)."""
	modules = {}
	for path in APP.rglob("*.py"):
		parts = path.relative_to(ROOT).with_suffix("").parts
		if "tests" in parts or parts[-1].startswith("test_"):
			continue
		name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
		modules[name] = path
	graph: dict[str, set[str]] = {}
	for name, path in modules.items():
		package = name if path.name == "__init__.py" else name.rpartition(".")[0]
		targets = set()
		for node in ast.walk(ast.parse(path.read_text(), str(path))):
			if isinstance(node, ast.Import):
				targets.update(alias.name for alias in node.names)
			elif isinstance(node, ast.ImportFrom):
				base = node.module or ""
				if node.level:
					anchor = package.split(".")
					anchor = anchor[: len(anchor) - (node.level - 1)]
					base = ".".join([*anchor, base] if base else anchor)
				targets.add(base)
				targets.update(f"{base}.{alias.name}" for alias in node.names)
		graph[name] = {t for t in targets if t in modules and t != name}
	return graph


def test_app_modules_depend_one_way():
	"""No two modules of the app import each other, directly or around a circle (issue 14, item 8)."""
	graph = _app_imports()
	state: dict[str, int] = {}  # 1: on the current path, 2: done
	circles = []

	def visit(module: str, path: list[str]) -> None:
		state[module] = 1
		for target in sorted(graph[module]):
			if state.get(target) == 1:
				circles.append(" -> ".join([*path[path.index(target) :], target]))
			elif target not in state:
				visit(target, [*path, target])
		state[module] = 2

	for module in sorted(graph):
		if module not in state:
			visit(module, [module])
	assert not circles, "imports that go round in a circle:\n" + "\n".join(circles)

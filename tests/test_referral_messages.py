"""The site words every reason of the referral engine: same codes, same placeholders (no site needed)."""

import ast
import string
from pathlib import Path

from crm_fishpond.engine.referrals import MESSAGES

SITE = Path(__file__).parents[1] / "crm_fishpond" / "referrals" / "messages.py"


def _site_texts() -> dict[str, str]:
	tree = ast.parse(SITE.read_text())
	fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_texts")
	ret = next(n for n in ast.walk(fn) if isinstance(n, ast.Return))
	out = {}
	for key, value in zip(ret.value.keys, ret.value.values, strict=True):
		assert isinstance(value, ast.Call) and value.func.id == "_", f"{key.value} is not a literal _()"
		out[key.value] = "".join(a.value for a in value.args)
	return out


def _fields(template: str) -> set[str]:
	return {f for _lit, f, _spec, _conv in string.Formatter().parse(template) if f}


def test_every_engine_reason_has_a_translatable_text():
	site = _site_texts()
	assert set(site) == set(MESSAGES)
	for code, english in MESSAGES.items():
		assert site[code] == english, code
		assert _fields(site[code]) == _fields(english), code

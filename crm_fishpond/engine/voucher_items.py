"""Which item rows of a voucher differ between the pond's copy and ERPNext, and how.

Both sides are the summarised rows the pond stores: one per (item code, item group) with ``qty`` and
``base_net_amount``. Each difference names its item and says what a person has to look at:

- ``changed``: the row is on both sides and ``field`` differs (``pond`` and ``erpnext`` are the values);
  an item whose group changed is one changed row (field ``item_group``), not a missing and an extra one;
- ``missing``: ERPNext has the row, the pond does not (``erpnext`` holds its qty and amount);
- ``extra``: the pond has a row ERPNext no longer has (``pond`` holds its qty and amount).
"""

from __future__ import annotations

from collections import defaultdict

VALUE_FIELDS = ("qty", "base_net_amount")


def _number(value) -> float:
	return round(float(value or 0), 6)


def _text(value) -> str | None:
	return value or None


def _index(rows: list[dict]) -> dict[tuple, dict]:
	out: dict[tuple, dict] = {}
	for r in rows:
		key = (_text(r.get("item_code")), _text(r.get("item_group")))
		values = out.setdefault(key, dict.fromkeys(VALUE_FIELDS, 0.0))
		for f in VALUE_FIELDS:
			values[f] = _number(values[f] + _number(r.get(f)))
	return out


def _sort_key(key: tuple) -> tuple:
	return (key[0] or "", key[1] or "")


def _changed(code, group, field, pond, erpnext) -> dict:
	return {
		"item_code": code,
		"item_group": group,
		"change": "changed",
		"field": field,
		"pond": pond,
		"erpnext": erpnext,
	}


def item_differences(pond_rows: list[dict], erp_rows: list[dict]) -> list[dict]:
	"""Every difference between two lists of item rows, ordered by item code then group."""
	pond, erp = _index(pond_rows), _index(erp_rows)
	diffs: list[tuple[tuple, dict]] = []
	for key in pond.keys() & erp.keys():
		for f in VALUE_FIELDS:
			if pond[key][f] != erp[key][f]:
				diffs.append((key, _changed(*key, f, pond[key][f], erp[key][f])))
	only_pond = defaultdict(list)
	only_erp = defaultdict(list)
	for key in pond.keys() - erp.keys():
		only_pond[key[0]].append(key)
	for key in erp.keys() - pond.keys():
		only_erp[key[0]].append(key)
	for code in only_pond.keys() | only_erp.keys():
		p_keys, e_keys = only_pond.get(code, []), only_erp.get(code, [])
		if code is not None and len(p_keys) == 1 and len(e_keys) == 1:  # the item moved to another group
			p, e = p_keys[0], e_keys[0]
			diffs.append((e, _changed(code, e[1], "item_group", p[1], e[1])))
			for f in VALUE_FIELDS:
				if pond[p][f] != erp[e][f]:
					diffs.append((e, _changed(code, e[1], f, pond[p][f], erp[e][f])))
			continue
		for key in e_keys:
			diffs.append((key, _row(key, "missing", None, erp[key])))
		for key in p_keys:
			diffs.append((key, _row(key, "extra", pond[key], None)))
	order = {"changed": 0, "missing": 1, "extra": 2}
	fields = {"item_group": 0, "qty": 1, "base_net_amount": 2, None: 3}
	diffs.sort(key=lambda kd: (_sort_key(kd[0]), order[kd[1]["change"]], fields[kd[1]["field"]]))
	return [d for _k, d in diffs]


def _row(key: tuple, change: str, pond: dict | None, erpnext: dict | None) -> dict:
	return {
		"item_code": key[0],
		"item_group": key[1],
		"change": change,
		"field": None,
		"pond": dict(pond) if pond else None,
		"erpnext": dict(erpnext) if erpnext else None,
	}

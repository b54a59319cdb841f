"""Naming the item rows that differ between the pond's copy of a voucher and ERPNext's."""

from hypothesis import given
from hypothesis import strategies as st

from crm_fishpond.engine.voucher_items import item_differences


def row(code, qty, amount, group="Products"):
	return {"item_code": code, "item_group": group, "qty": qty, "base_net_amount": amount}


def test_equal_rows_have_no_difference_whatever_their_order_or_number_types():
	pond = [row("B", 20.0, 200.0), row("A", 10, 100)]
	erp = [row("A", 10.0, 100.0000001), row("B", 20, 200)]
	assert item_differences(pond, erp) == []


def test_qty_moved_between_two_items_names_both_rows_and_both_values():
	"""Same total quantity (30 = 30) on both sides: the header alone cannot show this."""
	pond = [row("A", 10, 100), row("B", 20, 200)]
	erp = [row("A", 20, 100), row("B", 10, 200)]
	assert item_differences(pond, erp) == [
		{
			"item_code": "A",
			"item_group": "Products",
			"change": "changed",
			"field": "qty",
			"pond": 10.0,
			"erpnext": 20.0,
		},
		{
			"item_code": "B",
			"item_group": "Products",
			"change": "changed",
			"field": "qty",
			"pond": 20.0,
			"erpnext": 10.0,
		},
	]


def test_amount_change_on_one_row():
	diffs = item_differences([row("A", 1, 100)], [row("A", 1, 90.5)])
	assert diffs == [
		{
			"item_code": "A",
			"item_group": "Products",
			"change": "changed",
			"field": "base_net_amount",
			"pond": 100.0,
			"erpnext": 90.5,
		}
	]


def test_missing_and_extra_rows():
	diffs = item_differences([row("A", 1, 10), row("OLD", 2, 20)], [row("A", 1, 10), row("NEW", 3, 30)])
	assert diffs == [
		{
			"item_code": "NEW",
			"item_group": "Products",
			"change": "missing",
			"field": None,
			"pond": None,
			"erpnext": {"qty": 3.0, "base_net_amount": 30.0},
		},
		{
			"item_code": "OLD",
			"item_group": "Products",
			"change": "extra",
			"field": None,
			"pond": {"qty": 2.0, "base_net_amount": 20.0},
			"erpnext": None,
		},
	]


def test_an_item_moved_to_another_group_is_one_changed_row():
	diffs = item_differences([row("A", 1, 10, "Old Group")], [row("A", 1, 10, "New Group")])
	assert diffs == [
		{
			"item_code": "A",
			"item_group": "New Group",
			"change": "changed",
			"field": "item_group",
			"pond": "Old Group",
			"erpnext": "New Group",
		}
	]


def test_rows_without_item_code_still_compare():
	assert item_differences([row(None, 1, 5, None)], [row(None, 1, 5, "")]) == []
	assert item_differences([], [row(None, 1, 5, None)])[0]["change"] == "missing"


amounts = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda x: round(x, 2))
rows = st.lists(
	st.builds(row, st.sampled_from(["A", "B", "C", "D"]), amounts, amounts, st.sampled_from(["G1", "G2"])),
	max_size=6,
	unique_by=lambda r: (r["item_code"], r["item_group"]),
)


@given(rows, rows)
def test_no_difference_exactly_when_the_summaries_match(pond, erp):
	def key(r):
		return (r["item_code"], r["item_group"], r["qty"], r["base_net_amount"])

	diffs = item_differences(pond, erp)
	assert (diffs == []) == (sorted(map(key, pond)) == sorted(map(key, erp)))
	assert item_differences(erp, erp) == []

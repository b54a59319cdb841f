"""Integration: the tables a full rescore reads by profile have an index holding every column the
loaders read, in the order they filter (each profile's rows are one range of it, no row is looked up
on its own: on a 10M-row pond a chunk's reads through the single-column index took seconds each)."""

from __future__ import annotations

import frappe

from crm_fishpond.crm_fishpond.doctype.fishpond_behaviour_event.fishpond_behaviour_event import (
	EVENTS_INDEX,
	EVENTS_INDEX_COLUMNS,
)
from crm_fishpond.crm_fishpond.doctype.fishpond_interaction.fishpond_interaction import (
	INTERACTIONS_INDEX,
	INTERACTIONS_INDEX_COLUMNS,
)
from crm_fishpond.crm_fishpond.doctype.fishpond_transaction.fishpond_transaction import (
	PURCHASES_INDEX,
	PURCHASES_INDEX_COLUMNS,
)
from crm_fishpond.tests.utils import FishpondTestCase

# what crm_fishpond.scoring.loader selects or filters on, per table
READ = {
	"Fishpond Transaction": {
		"fishpond_lead",
		"voucher_type",
		"docstatus_state",
		"posting_date",
		"base_grand_total",
	},
	"Fishpond Interaction": {"fishpond_lead", "interaction_time", "interaction_type", "direction"},
	"Fishpond Behaviour Event": {"fishpond_lead", "event_time", "event_type", "weight"},
}


class TestRescoreIndexes(FishpondTestCase):
	def test_each_table_the_rescore_reads_by_profile_has_its_covering_index(self):
		for doctype, index, columns in (
			("Fishpond Transaction", PURCHASES_INDEX, PURCHASES_INDEX_COLUMNS),
			("Fishpond Interaction", INTERACTIONS_INDEX, INTERACTIONS_INDEX_COLUMNS),
			("Fishpond Behaviour Event", EVENTS_INDEX, EVENTS_INDEX_COLUMNS),
		):
			rows = frappe.db.sql(f"show index from `tab{doctype}` where Key_name = %s", index, as_dict=True)
			stored = [r.Column_name for r in sorted(rows, key=lambda r: r.Seq_in_index)]
			self.assertEqual(stored, columns, f"{doctype}: index {index}")
			self.assertEqual(columns[0], "fishpond_lead", f"{doctype}: a profile's rows are one range")
			self.assertLessEqual(
				READ[doctype], set(columns), f"{doctype}: the loader reads a column it lacks"
			)

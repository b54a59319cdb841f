"""Create or join the profiles of many Customers at once (backfill path): two queries and bulk writes."""

from __future__ import annotations

import frappe
from frappe.model.naming import parse_naming_series
from frappe.utils import now_datetime

from crm_fishpond import bulk
from crm_fishpond.sync.profiles import customer_values, default_pool

SERIES = "FPL-.YYYY.-"
CUSTOMER_FIELDS = (
	"name",
	"customer_name",
	"customer_type",
	"lead_name",
	"email_id",
	"mobile_no",
	"territory",
	"industry",
	"customer_primary_contact",
	"account_manager",
)
INSERTED_FIELDS = (
	"lead_name",
	"company_name",
	"email_id",
	"mobile_no",
	"territory",
	"industry",
	"contact",
	"lead_owner",
	"claimed_on",
	"status",
	"fishpond",
	"customer",
)


def reserve_names(count: int, series: str = SERIES) -> list[str]:
	"""Reserve `count` consecutive names of the naming series in one locked update."""
	prefix = parse_naming_series(series)
	table = frappe.qb.DocType("Series")
	row = frappe.qb.from_(table).select(table.current).where(table.name == prefix).for_update().run()
	start = row[0][0] if row else 0
	if row:
		frappe.qb.update(table).set(table.current, start + count).where(table.name == prefix).run()
	else:
		frappe.qb.into(table).columns(table.name, table.current).insert(prefix, count).run()
	return [f"{prefix}{i:05d}" for i in range(start + 1, start + count + 1)]


def ensure_profiles_for_customers(customers: list[str]) -> dict[str, str]:
	"""customer -> profile for every given customer, creating or joining profiles in bulk."""
	customers = sorted({c for c in customers if c})
	if not customers:
		return {}
	lead = frappe.qb.DocType("Fishpond Lead")
	found = dict(
		(frappe.qb.from_(lead).select(lead.customer, lead.name).where(lead.customer.isin(customers))).run()
	)
	missing = [c for c in customers if c not in found]
	if not missing:
		return found
	cust = frappe.qb.DocType("Customer")
	records = (
		frappe.qb.from_(cust).select(*[cust[f] for f in CUSTOMER_FIELDS]).where(cust.name.isin(missing))
	).run(as_dict=True)
	# Customers made from a Lead join that Lead's profile when it has no customer yet
	lead_names = [r.lead_name for r in records if r.lead_name]
	lead_profiles = {}
	if lead_names:
		lead_profiles = {
			r.lead: r
			for r in (
				frappe.qb.from_(lead)
				.select(lead.name, lead.lead, lead.customer, lead.status)
				.where(lead.lead.isin(lead_names))
			).run(as_dict=True)
		}
	joins: dict[str, dict] = {}
	inserts = []
	for record in records:
		joined = lead_profiles.get(record.lead_name)
		if joined and not joined.customer and joined.name not in joins:
			status = "Converted" if joined.status in ("In Pool", "Claimed") else joined.status
			joins[joined.name] = {"customer": record.name, "status": status}
			found[record.name] = joined.name
		else:
			inserts.append(record)
	if joins:
		frappe.db.bulk_update("Fishpond Lead", joins, chunk_size=500)
	if inserts:
		names = reserve_names(len(inserts))
		now, user, pool = now_datetime(), frappe.session.user, default_pool()
		rows = []
		for name, record in zip(names, inserts, strict=True):
			values = customer_values(record)
			values["fishpond"] = pool
			rows.append([name, now, now, user, user, 0, SERIES] + [values.get(f) for f in INSERTED_FIELDS])
			found[record.name] = name
		bulk.insert_rows(
			"Fishpond Lead",
			[
				"name",
				"creation",
				"modified",
				"owner",
				"modified_by",
				"docstatus",
				"naming_series",
				*INSERTED_FIELDS,
			],
			rows,
			chunk_size=1000,
		)
	if frappe.db.has_column("Customer", "fishpond_lead"):
		frappe.db.bulk_update(
			"Customer",
			{c: {"fishpond_lead": found[c]} for c in missing if c in found},
			chunk_size=500,
			update_modified=False,
		)
	return found

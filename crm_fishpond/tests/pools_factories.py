"""Get-or-create factories for the pool tests: pools, members, reps, managers and profiles."""

from __future__ import annotations

import itertools

import frappe
from frappe.utils import now_datetime

from crm_fishpond.tests.utils import FishpondTestCase

_serial = itertools.count(1)

POOL_DEFAULTS = {
	"enabled": 1,
	"visibility": "Members See and Claim",
	"max_claimed_per_user": 0,
	"max_claims_per_day": 0,
	"count_converted": 0,
	"claim_cooldown_days": 0,
	"recycle_enabled": 0,
	"recycle_no_followup_days": 0,
	"recycle_no_order_days": 0,
	"recycle_warn_days": 0,
	"recycle_to": None,
	"exempt_locked": 1,
	"exempt_open_sales_order": 1,
	"exempt_unpaid_invoice": 1,
	"exempt_value_grades": None,
	"lost_handling": "Release to Pool",
}


def pool(name: str, exempt_stages: list[str] | None = None, **values) -> str:
	"""A pool whose settings are reset to `values` on every call (tests of a class share a transaction)."""
	if not frappe.db.exists("Fishpond", name):
		frappe.get_doc({"doctype": "Fishpond", "pool_name": name}).insert(ignore_permissions=True)
	doc = frappe.get_doc("Fishpond", name)
	doc.update({**POOL_DEFAULTS, **values})
	doc.set("exempt_stages", [{"lifecycle_stage": s} for s in exempt_stages or []])
	doc.save(ignore_permissions=True)
	return doc.name


def user(email: str, roles: list[str]) -> str:
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{
				"doctype": "User",
				"email": email,
				"first_name": email.split("@")[0],
				"send_welcome_email": 0,
				"user_type": "System User",
			}
		).insert(ignore_permissions=True)
	doc = frappe.get_doc("User", email)
	missing = [r for r in roles if r not in {d.role for d in doc.roles}]
	if missing:
		doc.flags.ignore_permissions = True
		doc.add_roles(*missing)
	return email


def add_member(pool_name: str, user_id: str | None = None, role: str | None = None, manager: bool = False):
	doc = frappe.get_doc("Fishpond", pool_name)
	for row in doc.members:
		if (user_id and row.user == user_id) or (role and row.role == role):
			if bool(row.is_pool_manager) != manager:
				row.is_pool_manager = int(manager)
				doc.save(ignore_permissions=True)
			return
	doc.append(
		"members",
		{
			"member_type": "User" if user_id else "Role",
			"user": user_id,
			"role": role,
			"is_pool_manager": int(manager),
		},
	)
	doc.save(ignore_permissions=True)


def rep(email: str, pools=(), manages=()) -> str:
	"""A sales rep (Fishpond User) who is a member of `pools` and a pool manager of `manages`."""
	user(email, ["Fishpond User"])
	for p in pools:
		add_member(p, user_id=email)
	for p in manages:
		add_member(p, user_id=email, manager=True)
	return email


def manager(email: str) -> str:
	return user(email, ["Fishpond User", "Fishpond Manager"])


def forget_profiles(label: str, pools=()) -> None:
	"""Remove profiles an earlier run of a test class left behind (named ``label ...`` or in
	``pools``), and the unclaimed profiles of pools every rep belongs to by role (the default pool,
	where the public sign-up page puts its leads), with their child rows, so counts over what a rep
	sees hold this run's records only. Runs inside the test's transaction: rolled back with it."""
	member = frappe.qb.DocType("Fishpond Member")
	by_role = [
		r[0]
		for r in frappe.qb.from_(member)
		.select(member.parent)
		.where((member.member_type == "Role") & (member.role == "Fishpond User"))
		.run()
	]
	pools = [*pools, *by_role]
	lead = frappe.qb.DocType("Fishpond Lead")
	mine = lead.lead_name.like(f"{label}%")
	unclaimed_in_pools = lead.fishpond.isin(list(pools)) & (
		lead.lead_owner.isnull() | (lead.lead_owner == "")
	)
	names = [r[0] for r in frappe.qb.from_(lead).select(lead.name).where(mine | unclaimed_in_pools).run()]
	if not names:
		return
	for child in ("Fishpond Lead Tag", "Fishpond Stage History"):
		frappe.db.delete(child, {"parent": ("in", names), "parenttype": "Fishpond Lead"})
	frappe.db.delete("Fishpond Lead", {"name": ("in", names)})


def lead(label: str, pool_name: str | None, owner: str | None = None, **values) -> str:
	"""A new profile (never reused: tests change ownership), optionally already claimed by `owner`."""
	doc = frappe.get_doc(
		{
			"doctype": "Fishpond Lead",
			"lead_name": f"{label} {next(_serial)}",
			"fishpond": pool_name,
			"status": "Claimed" if owner else "In Pool",
			"lead_owner": owner,
			"claimed_on": now_datetime() if owner else None,
			**values,
		}
	)
	doc.insert(ignore_permissions=True)
	return doc.name


class PoolTestCase(FishpondTestCase):
	"""Each test runs inside a savepoint that is rolled back: ownership, caps and logs never leak
	from one test into the next (the class's fixtures, made in setUpClass, stay)."""

	SAVEPOINT = "fishpond_pool_test"

	def setUp(self):
		frappe.set_user("Administrator")
		frappe.db.savepoint(self.SAVEPOINT)

	def tearDown(self):
		frappe.set_user("Administrator")
		frappe.db.rollback(save_point=self.SAVEPOINT)

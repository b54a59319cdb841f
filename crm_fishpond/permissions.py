"""Who sees which profile: ONE criterion behind both permission hooks.

A user's reach into the pond is a :class:`PondScope` (the pools they manage, the pools whose unclaimed
leads they may see and claim, or everything). The same scope renders the SQL condition that list views,
reports, link search, exports and ``/api/resource`` queries append (``permission_query_conditions``)
and answers the per-document check that forms, ``frappe.client.get`` and ``/api/resource/<doctype>/<name>``
make (``has_permission``), so the two can never disagree (the pattern of frappe/crm's
``crm/permissions/org_hierarchy.py``).

- Fishpond Manager, System Manager and Administrator see everything.
- A pool manager (a Fishpond Member row flagged *Pool Manager*, by user or by role) sees every lead of
  the pools they manage, claimed or not.
- A pool member sees the unclaimed leads of the enabled pools whose visibility is *Members See and
  Claim*; in a *Managers Assign* pool members see only what is assigned to them.
- Everyone sees the leads they own. Nobody else sees a rep's claimed lead.

Satellites (interactions, behaviour events, transactions, claim logs, transfer requests, referral
rewards, duplicate candidates) follow their profile: a row is visible exactly when its profile is. A
referral reward names two profiles (referrer and referee); it is visible when either is, and changed only
by who may change both. A duplicate candidate names two profiles too but is visible only when BOTH are
(it would otherwise reveal the other profile).
Accounts users read every transaction and every referral reward (they read the vouchers and ledger
entries behind them in ERPNext anyway) but no profile: on Fishpond Lead they have Frappe's *select*
permission only, so the lists of those satellites show each row's profile by its title.

``has_permission`` can only deny. Reads use the read criterion; writes need more: the lead's owner or a
manager of its pool (a pool member may look at an unclaimed lead but changes it only after claiming).
Checks read the stored owner and pool, never the values a request is trying to save.
"""

from __future__ import annotations

from dataclasses import dataclass

import frappe

LEAD = "Fishpond Lead"
MANAGER_ROLES = frozenset({"System Manager", "Fishpond Manager"})
CLAIM_VISIBILITY = "Members See and Claim"
# doctype -> the Link fields naming its profiles
SATELLITES = {
	"Fishpond Interaction": ("fishpond_lead",),
	"Fishpond Behaviour Event": ("fishpond_lead",),
	"Fishpond Transaction": ("fishpond_lead",),
	"Fishpond Claim Log": ("profile",),
	"Fishpond Transfer Request": ("fishpond_lead",),
	"Referral Reward": ("referrer", "referee"),
	"Fishpond Referral": ("referrer", "referee"),
	"Fishpond Duplicate Candidate": ("profile_a", "profile_b"),
	"Fishpond Plan Enrolment": ("fishpond_lead",),
	"Fishpond Claim Request": ("fishpond_lead",),
	"Fishpond Feedback": ("fishpond_lead",),
	"Fishpond Survey Invitation": ("fishpond_lead",),
}
# satellites naming several profiles are read when ANY of them is visible (a reward names two),
# except these, read only when EVERY profile is: a duplicate candidate would show a rep a profile
# they may not see
READ_NEEDS_ALL = frozenset({"Fishpond Duplicate Candidate"})
ACCOUNTANTS = frozenset({"Accounts User", "Accounts Manager"})
# roles that read every row of a satellite regardless of the profile
SATELLITE_BYPASS = {
	"Fishpond Transaction": ACCOUNTANTS,
	"Referral Reward": ACCOUNTANTS,
	"Fishpond Referral": ACCOUNTANTS,
}
READ_PTYPES = frozenset({"read", "select", "print", "email", "report", "export", "share"})


@dataclass(frozen=True)
class PondScope:
	user: str
	everything: bool = False
	managed: frozenset[str] = frozenset()  # every lead of these pools
	claimable: frozenset[str] = frozenset()  # the unclaimed leads of these pools

	# -- the criterion, in Python ---------------------------------------------------------------
	def can_read(self, lead_owner: str | None, fishpond: str | None) -> bool:
		if self.everything:
			return True
		pool = _key(fishpond)
		if lead_owner:
			return _key(lead_owner) == _key(self.user) or pool in self.managed
		return bool(pool) and (pool in self.managed or pool in self.claimable)

	def can_write(self, lead_owner: str | None, fishpond: str | None) -> bool:
		if self.everything:
			return True
		return (bool(lead_owner) and _key(lead_owner) == _key(self.user)) or _key(fishpond) in self.managed

	def manages(self, fishpond: str | None) -> bool:
		return self.everything or _key(fishpond) in self.managed

	def may_claim_from(self, fishpond: str | None) -> bool:
		return self.everything or _key(fishpond) in self.managed or _key(fishpond) in self.claimable

	# -- the same criterion, in SQL -------------------------------------------------------------
	def sql(self, table: str = "`tabFishpond Lead`") -> str:
		"""The WHERE condition on Fishpond Lead; empty when the user sees everything."""
		if self.everything:
			return ""
		esc = frappe.db.escape
		parts = [f"{table}.`lead_owner` = {esc(self.user)}"]
		if self.managed:
			parts.append(f"{table}.`fishpond` in ({', '.join(esc(p) for p in sorted(self.managed))})")
		if self.claimable:
			pools = ", ".join(esc(p) for p in sorted(self.claimable))
			parts.append(
				f"(({table}.`lead_owner` is null or {table}.`lead_owner` = '') and {table}.`fishpond` in ({pools}))"
			)
		return "(" + " or ".join(parts) + ")"

	def satellite_sql(self, doctype: str) -> str:
		if self.everything:
			return ""
		visible = f"(select `tabFishpond Lead`.`name` from `tabFishpond Lead` where {self.sql()})"
		joiner = " and " if doctype in READ_NEEDS_ALL else " or "
		return (
			"(" + joiner.join(f"`tab{doctype}`.`{field}` in {visible}" for field in SATELLITES[doctype]) + ")"
		)


def _key(value: str | None) -> str:
	# the database compares names case-insensitively; so does the Python side of the criterion
	return (value or "").casefold()


def pond_scope(user: str | None = None) -> PondScope:
	"""The user's reach into the pond: one small query over pool memberships."""
	user = user or frappe.session.user
	roles = set(frappe.get_roles(user))
	if user == "Administrator" or roles & MANAGER_ROLES:
		return PondScope(user=user, everything=True)
	member = frappe.qb.DocType("Fishpond Member")
	pool = frappe.qb.DocType("Fishpond")
	is_member = (member.member_type == "User") & (member.user == user)
	if roles:
		is_member = is_member | ((member.member_type == "Role") & member.role.isin(sorted(roles)))
	rows = (
		frappe.qb.from_(member)
		.join(pool)
		.on(pool.name == member.parent)
		.select(pool.name, pool.enabled, pool.visibility, member.is_pool_manager)
		.where(member.parenttype == "Fishpond")
		.where(member.parentfield == "members")
		.where(is_member)
	).run(as_dict=True)
	managed = {_key(r.name) for r in rows if r.is_pool_manager}
	claimable = {
		_key(r.name) for r in rows if r.enabled and (r.visibility or CLAIM_VISIBILITY) == CLAIM_VISIBILITY
	}
	return PondScope(user=user, managed=frozenset(managed), claimable=frozenset(claimable - managed))


def is_pond_manager(user: str | None = None) -> bool:
	return pond_scope(user).everything


# -- hooks -------------------------------------------------------------------------------------
def query_conditions(user: str | None = None, doctype: str | None = None) -> str:
	"""permission_query_conditions for Fishpond Lead and its satellites."""
	from crm_fishpond.pools.field_stripping import ensure_converging_field_stripping

	ensure_converging_field_stripping()
	user = user or frappe.session.user
	doctype = doctype or LEAD
	if doctype in SATELLITE_BYPASS and set(frappe.get_roles(user)) & SATELLITE_BYPASS[doctype]:
		return ""
	scope = pond_scope(user)
	if doctype == LEAD:
		return scope.sql()
	return scope.satellite_sql(doctype)


def has_permission(
	doc, ptype: str | None = None, user: str | None = None, debug: bool = False
) -> bool | None:
	"""has_permission for Fishpond Lead and its satellites: the same criterion, on stored values."""
	user = user or frappe.session.user
	ptype = ptype or "read"
	if doc.doctype in SATELLITE_BYPASS and set(frappe.get_roles(user)) & SATELLITE_BYPASS[doc.doctype]:
		if ptype in READ_PTYPES:
			return None
	scope = pond_scope(user)
	if scope.everything:
		return None
	check = scope.can_read if ptype in READ_PTYPES else scope.can_write
	if doc.doctype == LEAD:
		if doc.is_new() or not doc.name:
			# creating a profile: into a pool the user may claim from or manage (owner set by claiming)
			return None if (not doc.get("fishpond") or scope.may_claim_from(doc.get("fishpond"))) else False
		stored = _stored_lead(doc.name)
		if stored is None:
			return False
		return None if check(*stored) else False
	fields = SATELLITES.get(doc.doctype)
	if not fields:
		return None
	profiles = {doc.get(field) for field in fields}
	if not doc.is_new() and doc.name:
		stored_links = frappe.db.get_value(doc.doctype, doc.name, list(fields), as_dict=True) or {}
		profiles |= set(stored_links.values())
	profiles -= {None, ""}
	if not profiles:
		return False  # a satellite of no profile belongs to managers
	allowed = []
	for profile in sorted(profiles):
		stored = _stored_lead(profile)
		allowed.append(stored is not None and check(*stored))
	# reading needs one visible profile (a reward names two), or every one (READ_NEEDS_ALL);
	# changing needs every one
	ok = any(allowed) if ptype in READ_PTYPES and doc.doctype not in READ_NEEDS_ALL else all(allowed)
	return None if ok else False


def _stored_lead(name: str) -> tuple[str | None, str | None] | None:
	row = frappe.db.get_value(LEAD, name, ["lead_owner", "fishpond"])
	return tuple(row) if row else None

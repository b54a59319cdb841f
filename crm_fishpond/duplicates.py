"""Duplicates in the pond: the profile's open pairs, dismiss, and Merge profiles.

The pairs are found by the duplicate pass (crm_fishpond.duplicate_pass), which stores them as
*Fishpond Duplicate Candidate* records named ``<profile_a>~<profile_b>`` (``profile_a < profile_b``).

**Merge** (``merge``, Fishpond Managers only) keeps one profile (by default the older one) and folds
the other into it with Frappe's own ``rename_doc(..., merge=True)``, which moves every Link pointing at
the merged profile (transactions, interactions, behaviour events, claim log, transfer requests,
referral rewards as referrer and referee, referred-by, the ``fishpond_lead`` fields on Customer and
Lead), dynamic links (comments, assignments, attachments, versions), then deletes it (a Deleted
Document keeps its data). Child rows are not links, so tags and stage history are moved first. See
docs/duplicates.md.
"""

from __future__ import annotations

import frappe
from frappe import _
from frappe.model.rename_doc import rename_doc
from frappe.utils import now_datetime

from crm_fishpond import jobs, permissions
from crm_fishpond.crm_fishpond.doctype.fishpond_duplicate_candidate.fishpond_duplicate_candidate import (
	pair_name,
)
from crm_fishpond.nurture import enrol as nurture_enrol
from crm_fishpond.nurture import steps as nurture_steps

CANDIDATE = "Fishpond Duplicate Candidate"
LEAD = "Fishpond Lead"
ENROLMENT = "Fishpond Plan Enrolment"
OPEN, MERGED, DISMISSED = "Open", "Merged", "Dismissed"
# the ERPNext records a profile links to: the survivor keeps its own and takes the other's when empty
PARTY_LINKS = ("customer", "lead", "contact")
CONTACT_FIELDS = ("email_id", "phone", "mobile_no")


# --------------------------------------------------------------------------------------------------
# the profile's candidates, dismiss


def open_candidates(profile: str) -> list[dict]:
	"""The Open pairs of ``profile`` the session user may read (both profiles visible), best first."""
	return frappe.get_list(
		CANDIDATE,
		filters={"status": OPEN},
		or_filters={"profile_a": profile, "profile_b": profile},
		fields=["name", "profile_a", "profile_b", "name_a", "name_b", "score", "evidence"],
		order_by="score desc, name asc",
	)


def dismiss(candidate: str) -> None:
	"""Mark a pair as not duplicates: the pass never reopens it. Needs write on both profiles."""
	doc = frappe.get_doc(CANDIDATE, candidate, for_update=True)
	doc.check_permission("read")
	for profile in (doc.profile_a, doc.profile_b):
		frappe.get_doc(LEAD, profile).check_permission("write")
	if doc.status != OPEN:
		frappe.throw(_("Only an open pair can be dismissed; this one is {0}.").format(_(doc.status)))
	doc.db_set({"status": DISMISSED, "decided_by": frappe.session.user})
	doc.add_comment("Info", _("Dismissed: not duplicates"))


# --------------------------------------------------------------------------------------------------
# merge


def merge(candidate: str, survivor: str | None = None, owner: str | None = None) -> dict:
	"""Fold one profile of an Open pair into the other (see the module docstring). Managers only."""
	if not permissions.is_pond_manager():
		frappe.throw(_("Only a Fishpond Manager can merge profiles."), frappe.PermissionError)
	# locked: two managers merging the same pair at once see one merge and one refusal
	doc = frappe.get_doc(CANDIDATE, candidate, for_update=True)
	if doc.status != OPEN:
		frappe.throw(_("Only an open pair can be merged; this one is {0}.").format(_(doc.status)))
	fields = ["name", "creation", "lead_owner", "claimed_on", "status", *PARTY_LINKS, *CONTACT_FIELDS]
	rows = {r.name: r for r in frappe.get_all(LEAD, {"name": ("in", [doc.profile_a, doc.profile_b])}, fields)}
	if len(rows) != 2:
		frappe.throw(_("One of the two profiles no longer exists."))
	if survivor and survivor not in rows:
		frappe.throw(_("The profile to keep must be one of the pair."))
	keep = rows[survivor] if survivor else min(rows.values(), key=lambda r: (r.creation, r.name))
	gone = rows[doc.profile_b if keep.name == doc.profile_a else doc.profile_a]
	if keep.customer and gone.customer:
		frappe.throw(
			_(
				"Both profiles have a Customer ({0} and {1}). Customers are merged by an accountant "
				"(Customer merge in ERPNext); merge the Customers first, then the profiles."
			).format(frappe.bold(keep.customer), frappe.bold(gone.customer))
		)
	owners = [r.lead_owner for r in sorted(rows.values(), key=_claim_order) if r.lead_owner]
	if owner and owner not in owners:
		frappe.throw(_("The owner to keep must own one of the two profiles."))
	new_owner = owner or (owners[0] if owners else None)
	_fold(keep, gone, new_owner, doc.name)
	return {"survivor": keep.name, "merged": gone.name, "owner": new_owner}


def merge_into(keep: str, gone: str) -> dict:
	"""Fold profile ``gone`` into ``keep`` without a manager's choice: the owner who claimed first
	stays. Used when ERPNext merges their Customers (crm_fishpond.accounting.customer_merge), after
	``gone`` let go of its Customer. Leaves the same tombstone as a merge from the profile form."""
	fields = ["name", "creation", "lead_owner", "claimed_on", "status", *PARTY_LINKS, *CONTACT_FIELDS]
	rows = {r.name: r for r in frappe.get_all(LEAD, {"name": ("in", [keep, gone])}, fields)}
	if len(rows) != 2 or keep == gone:
		frappe.throw(_("One of the two profiles no longer exists."))
	owners = [r.lead_owner for r in sorted(rows.values(), key=_claim_order) if r.lead_owner]
	new_owner = owners[0] if owners else None
	name = pair_name(keep, gone)
	if not frappe.db.exists(CANDIDATE, name):
		a, b = sorted((keep, gone))
		frappe.get_doc(
			{"doctype": CANDIDATE, "name": name, "profile_a": a, "profile_b": b, "status": OPEN, "score": 1}
		).db_insert()
	_fold(rows[keep], rows[gone], new_owner, name)
	return {"survivor": keep, "merged": gone, "owner": new_owner}


def _fold(keep, gone, new_owner: str | None, candidate: str) -> None:
	"""Move everything of ``gone`` to ``keep`` and leave the candidate ``candidate`` as the tombstone."""
	_drop_other_candidates(gone.name, candidate)
	_move_children(gone.name, keep.name)
	_merge_enrolments(gone.name, keep.name)
	updates = {f: gone.get(f) for f in (*PARTY_LINKS, *CONTACT_FIELDS) if not keep.get(f) and gone.get(f)}
	# the merged profile lets go of its ERPNext records first: one record keeps one profile
	frappe.db.set_value(LEAD, gone.name, {f: None for f in PARTY_LINKS}, update_modified=False)
	if new_owner != keep.lead_owner:
		updates.update(lead_owner=new_owner, status="Claimed" if new_owner else keep.status)
	if updates:
		frappe.db.set_value(LEAD, keep.name, updates)
	for field, doctype in (("customer", "Customer"), ("lead", "Lead")):
		value = updates.get(field)
		if value and frappe.db.has_column(doctype, "fishpond_lead"):
			frappe.db.set_value(doctype, value, "fishpond_lead", keep.name, update_modified=False)

	# force: profiles are not renamed by hand (allow_rename is off). The callers decided who may merge
	# (a Fishpond Manager; or whoever may merge the two Customers in ERPNext, whose profiles follow),
	# so Frappe's own write check on the profiles is not asked again
	rename_doc(
		doctype=LEAD,
		old=gone.name,
		new=keep.name,
		force=True,
		merge=True,
		show_alert=False,
		rebuild_search=False,
		ignore_permissions=True,
	)
	frappe.db.set_value(
		CANDIDATE,
		candidate,
		{
			"status": MERGED,
			"merged_from": gone.name,
			"merged_into": keep.name,
			"decided_by": frappe.session.user,
		},
	)
	jobs.mark_dirty([keep.name])


def _claim_order(row) -> tuple:
	# "the older owner": whoever claimed first; unclaimed or undated claims last
	return (row.claimed_on is None, row.claimed_on or row.creation, row.creation, row.name)


def _drop_other_candidates(gone: str, keep_candidate: str) -> None:
	"""Pairs of the merged profile with third profiles: the next pass finds them again for the survivor."""
	cand = frappe.qb.DocType(CANDIDATE)
	(
		frappe.qb.from_(cand)
		.delete()
		.where((cand.profile_a == gone) | (cand.profile_b == gone))
		.where(cand.name != keep_candidate)
		.where(cand.status != MERGED)
	).run()


def _move_children(gone: str, keep: str) -> None:
	"""Tags (the survivor's own win) and stage history (appended after the survivor's) move across."""
	tag = frappe.qb.DocType("Fishpond Lead Tag")
	have = (frappe.qb.from_(tag).select(tag.tag).where(tag.parenttype == LEAD).where(tag.parent == keep)).run(
		pluck=True
	)
	offset = frappe.db.count("Fishpond Lead Tag", {"parenttype": LEAD, "parent": keep})
	move = frappe.qb.update(tag).set(tag.parent, keep).set(tag.idx, tag.idx + offset)
	move = move.where(tag.parenttype == LEAD).where(tag.parent == gone)
	if have:
		move = move.where(tag.tag.notin(have))
	move.run()
	frappe.qb.from_(tag).delete().where(tag.parenttype == LEAD).where(tag.parent == gone).run()

	history = frappe.qb.DocType("Fishpond Stage History")
	offset = frappe.db.count("Fishpond Stage History", {"parenttype": LEAD, "parent": keep})
	(
		frappe.qb.update(history)
		.set(history.parent, keep)
		.set(history.idx, history.idx + offset)
		.where(history.parenttype == LEAD)
		.where(history.parent == gone)
	).run()


def _merge_enrolments(gone: str, keep: str) -> None:
	"""One active enrolment per plan and profile: the merged profile's enrolment in a plan the kept
	profile follows too ends (Stopped, By Hand, with a note); its others carry on under the kept
	profile (their unique key follows it before the rename moves the link)."""
	rows = frappe.get_all(
		ENROLMENT,
		filters={"fishpond_lead": ("in", [gone, keep]), "status": "Active"},
		fields=["name", "plan", "fishpond_lead"],
	)
	kept_plans = {r.plan for r in rows if r.fishpond_lead == keep}
	doubled = [r.name for r in rows if r.fishpond_lead == gone and r.plan in kept_plans]
	nurture_steps.end(
		doubled, "Stopped", now_datetime(), reason="By Hand", note=_("Merged into {0}").format(keep)
	)
	for r in rows:
		if r.fishpond_lead == gone and r.plan not in kept_plans:
			frappe.db.set_value(
				ENROLMENT, r.name, "active_key", nurture_enrol.active_key(r.plan, keep), update_modified=False
			)


def resolve_profile(name: str) -> str | None:
	"""The profile ``name`` is now: itself, or (following merge tombstones) the profile it went into."""
	seen = set()
	while name and not frappe.db.exists(LEAD, name) and name not in seen:
		seen.add(name)
		name = frappe.db.get_value(CANDIDATE, {"status": MERGED, "merged_from": name}, "merged_into")
	return name if name and frappe.db.exists(LEAD, name) else None

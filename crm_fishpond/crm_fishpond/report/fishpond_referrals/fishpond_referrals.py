"""Script Report: referrers, their referees, conversion, paid revenue from referred customers, and
the rewards posted, reversed and owed back.

One row per referrer, over the referrals the user may read (reps: those of their own profiles).
Converted: an accepted referee whose Customer has a submitted Sales Invoice. Paid revenue: the
company-currency total of the referees' fully paid invoices net of credit notes. Rewards: points or
coupon value the referrer keeps on Posted rewards; Reversed counts rewards taken back; debt is what
was redeemed or used beyond what a reward keeps (docs/referrals.md)."""

from __future__ import annotations

from collections import defaultdict

import frappe
from frappe import _
from frappe.query_builder import Case
from frappe.query_builder.functions import Sum

from crm_fishpond.engine.referrals import PAID_TOLERANCE


def execute(filters=None):
	filters = frappe._dict(filters or {})
	data = rows(filters)
	return columns(), data, None, chart(data)


def chart(data: list[dict]) -> dict | None:
	"""The referrers who brought the most paid revenue (top 10), with their referrals accepted."""
	top = [r for r in data if r["paid_revenue"] or r["accepted"]][:10]
	if not top:
		return None
	return {
		"data": {
			"labels": [r["referrer_name"] or r["referrer"] for r in top],
			"datasets": [
				{"name": _("Paid Revenue"), "values": [r["paid_revenue"] for r in top], "chartType": "bar"},
			],
		},
		"type": "bar",
		"fieldtype": "Currency",
	}


def rows(filters) -> list[dict]:
	conditions = {}
	if filters.company:
		conditions["company"] = filters.company
	if filters.referrer:
		conditions["referrer"] = filters.referrer
	# the referrer's territory, pool and owner
	profile_filters = {k: filters.get(k) for k in ("territory", "fishpond", "lead_owner") if filters.get(k)}
	if profile_filters:
		if filters.referrer:
			profile_filters["name"] = filters.referrer
		names = frappe.get_list("Fishpond Lead", filters=profile_filters, pluck="name", limit_page_length=0)
		conditions["referrer"] = ("in", names or [""])
	if filters.from_date and filters.to_date:
		conditions["referred_on"] = ("between", [filters.from_date, filters.to_date])
	elif filters.from_date:
		conditions["referred_on"] = (">=", filters.from_date)
	elif filters.to_date:
		conditions["referred_on"] = ("<=", filters.to_date)
	referrals = frappe.get_list(
		"Fishpond Referral",
		filters=conditions,
		fields=["name", "referrer", "referee", "status", "company"],
		limit_page_length=0,
	)
	if not referrals:
		return []
	profiles = sorted({r.referrer for r in referrals} | {r.referee for r in referrals})
	lead = frappe.qb.DocType("Fishpond Lead")
	info = {
		r.name: r
		for r in frappe.qb.from_(lead)
		.select(lead.name, lead.lead_name, lead.customer)
		.where(lead.name.isin(profiles))
		.run(as_dict=True)
	}
	revenue, invoiced = _revenue(
		sorted(
			{info[r.referee].customer for r in referrals if r.referee in info and info[r.referee].customer}
		),
		filters.company,
	)
	rewards = _rewards([r.name for r in referrals])
	out: dict[str, dict] = {}
	for r in referrals:
		row = out.setdefault(
			r.referrer,
			{
				"referrer": r.referrer,
				"referrer_name": info.get(r.referrer, {}).get("lead_name"),
				"referrals": 0,
				"accepted": 0,
				"refused": 0,
				"converted": 0,
				"paid_revenue": 0.0,
				"points_posted": 0.0,
				"coupons_posted": 0.0,
				"reversed": 0,
				"pending": 0,
				"debt_amount": 0.0,
			},
		)
		row["referrals"] += 1
		row["refused"] += r.status == "Refused"
		customer = info.get(r.referee, {}).get("customer")
		if r.status == "Accepted":
			row["accepted"] += 1
			row["converted"] += bool(customer and invoiced.get(customer))
			row["paid_revenue"] += revenue.get(customer, 0.0) if customer else 0.0
		for w in rewards.get(r.name, ()):
			if w.beneficiary != "Referrer":
				continue
			if w.status == "Posted":
				key = "coupons_posted" if w.reward_type == "Coupon Code" else "points_posted"
				row[key] += w.kept or 0
			row["reversed"] += w.status == "Reversed"
			row["pending"] += w.status in ("Pending", "Qualified")
			row["debt_amount"] += w.debt_amount or 0
	for row in out.values():
		row["conversion"] = 100.0 * row["converted"] / row["accepted"] if row["accepted"] else 0.0
	return sorted(out.values(), key=lambda r: (-r["paid_revenue"], -r["referrals"], r["referrer"]))


def _revenue(customers: list[str], company: str | None) -> tuple[dict, dict]:
	"""Per customer: the net company-currency total of fully paid invoices (credit notes netted), and
	the number of submitted invoices (a referee with one is converted)."""
	if not customers:
		return {}, {}
	si = frappe.qb.DocType("Sales Invoice")
	paid = (si.outstanding_amount <= PAID_TOLERANCE) | (si.is_return == 1)
	query = (
		frappe.qb.from_(si)
		.select(
			si.customer,
			Sum(Case().when(paid, si.base_grand_total).else_(0)),
			Sum(Case().when(si.is_return == 0, 1).else_(0)),
		)
		.where(si.customer.isin(customers) & (si.docstatus == 1))
		.groupby(si.customer)
	)
	if company:
		query = query.where(si.company == company)
	revenue, invoiced = {}, {}
	for customer, total, count in query.run():
		revenue[customer] = float(total or 0)
		invoiced[customer] = int(count or 0)
	return revenue, invoiced


def _rewards(referrals: list[str]) -> dict[str, list]:
	out = defaultdict(list)
	for w in frappe.get_list(
		"Referral Reward",
		filters={"referral": ("in", referrals)},
		fields=["referral", "beneficiary", "status", "reward_type", "kept", "debt_amount"],
		limit_page_length=0,
	):
		out[w.referral].append(w)
	return out


def columns() -> list[dict]:
	return [
		{
			"fieldname": "referrer",
			"label": _("Referrer"),
			"fieldtype": "Link",
			"options": "Fishpond Lead",
			"width": 150,
		},
		{"fieldname": "referrer_name", "label": _("Name"), "fieldtype": "Data", "width": 160},
		{"fieldname": "referrals", "label": _("Referrals"), "fieldtype": "Int", "width": 90},
		{"fieldname": "accepted", "label": _("Accepted"), "fieldtype": "Int", "width": 90},
		{"fieldname": "refused", "label": _("Refused"), "fieldtype": "Int", "width": 80},
		{"fieldname": "converted", "label": _("Converted"), "fieldtype": "Int", "width": 90},
		{"fieldname": "conversion", "label": _("Conversion %"), "fieldtype": "Percent", "width": 110},
		{
			"fieldname": "paid_revenue",
			"label": _("Paid Revenue (Company Currency)"),
			"fieldtype": "Currency",
			"width": 200,
		},
		{
			"fieldname": "points_posted",
			"label": _("Points Kept"),
			"fieldtype": "Float",
			"precision": 0,
			"width": 100,
		},
		{
			"fieldname": "coupons_posted",
			"label": _("Coupon Value Kept"),
			"fieldtype": "Currency",
			"width": 140,
		},
		{"fieldname": "pending", "label": _("Rewards Pending"), "fieldtype": "Int", "width": 120},
		{"fieldname": "reversed", "label": _("Rewards Reversed"), "fieldtype": "Int", "width": 130},
		{"fieldname": "debt_amount", "label": _("Debt Outstanding"), "fieldtype": "Currency", "width": 140},
	]

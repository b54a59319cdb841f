"""The Referral Programme doctype as the engine's ``Programme``, and its checks on save."""

from __future__ import annotations

import frappe
from frappe import _
from frappe.utils import getdate
from frappe.utils.nestedset import get_descendants_of

from crm_fishpond.engine import referrals as R
from crm_fishpond.referrals.messages import reason_text

KINDS = {
	"Points": R.FIXED_POINTS,
	"Amount as Points": R.AMOUNT_AS_POINTS,
	"Percent as Points": R.PERCENT_AS_POINTS,
	"Coupon": R.COUPON,
}
CLAWBACK = {"Proportional": R.PROPORTIONAL, "Full": R.FULL}
CREATE_CUSTOMER = "Create Customer"
# the engine's names of the programme's fields -> the form's fieldnames
FORM_FIELDS = {
	"name": "programme_name",
	"referrer_reward.kind": "referrer_reward_type",
	"referrer_reward.value": "referrer_reward_value",
	"referee_reward.kind": "referee_reward_type",
	"referee_reward.value": "referee_reward_value",
	"invoices": "qualifying_invoices",
	"conversion_factor": "loyalty_program",
}
PROGRAMME_FIELDS = (
	"name",
	"company",
	"valid_from",
	"valid_upto",
	"referrer_reward_type",
	"referrer_reward_value",
	"referee_reward_type",
	"referee_reward_value",
	"loyalty_program",
	"coupon_valid_days",
	"minimum_amount",
	"qualifying_invoices",
	"within_days",
	"review_days",
	"clawback",
	"cap_per_month",
	"cap_lifetime",
	"prospect_rewards",
	"thank_you_template",
)


def _rule(kind: str | None, value) -> R.RewardRule | None:
	if not kind:
		return None
	value = float(value or 0)
	if kind == "Points" and value.is_integer():
		value = int(value)
	return R.RewardRule(KINDS.get(kind, kind), value)


def _optional_int(value) -> int | None:
	return int(value) if value else None


def to_engine(row, groups=(), territories=()) -> R.Programme:
	"""``row``: a Referral Programme (doc or dict); ``groups``/``territories``: its eligible ones."""
	factor = 1.0
	if row.get("loyalty_program"):
		factor = float(
			frappe.get_cached_value("Loyalty Program", row.get("loyalty_program"), "conversion_factor") or 0
		)
	return R.Programme(
		name=row.get("name") or row.get("programme_name"),
		company=row.get("company"),
		valid_from=getdate(row.get("valid_from")) if row.get("valid_from") else None,
		valid_upto=getdate(row.get("valid_upto")) if row.get("valid_upto") else None,
		referrer_reward=_rule(row.get("referrer_reward_type"), row.get("referrer_reward_value")),
		referee_reward=_rule(row.get("referee_reward_type"), row.get("referee_reward_value")),
		loyalty_program=row.get("loyalty_program"),
		conversion_factor=factor,
		minimum_amount=float(row.get("minimum_amount") or 0),
		invoices=int(row.get("qualifying_invoices") or 0),
		within_days=_optional_int(row.get("within_days")),
		review_days=int(row.get("review_days") or 0),
		cap_per_month=_optional_int(row.get("cap_per_month")),
		cap_lifetime=_optional_int(row.get("cap_lifetime")),
		customer_groups=_with_descendants("Customer Group", groups),
		territories=_with_descendants("Territory", territories),
		clawback=CLAWBACK.get(row.get("clawback") or "Proportional", row.get("clawback")),
		coupon_valid_days=_optional_int(row.get("coupon_valid_days")),
	)


def _with_descendants(doctype: str, names) -> frozenset[str]:
	out = set()
	for name in names or ():
		out.add(name)
		out.update(get_descendants_of(doctype, name, ignore_permissions=True))
	return frozenset(out)


def load(company: str | None = None) -> dict[str, tuple[R.Programme, frappe._dict]]:
	"""Every programme (of one company), as the engine's Programme beside its stored row."""
	filters = {"company": company} if company else {}
	rows = frappe.get_all("Referral Programme", filters=filters, fields=list(PROGRAMME_FIELDS))
	if not rows:
		return {}
	names = [r.name for r in rows]
	groups = _children("Referral Programme Customer Group", "customer_group", names)
	territories = _children("Referral Programme Territory", "territory", names)
	return {r.name: (to_engine(r, groups.get(r.name, ()), territories.get(r.name, ())), r) for r in rows}


def _children(doctype: str, field: str, parents: list[str]) -> dict[str, list[str]]:
	out: dict[str, list[str]] = {}
	for row in frappe.get_all(
		doctype,
		filters={"parent": ("in", parents), "parenttype": "Referral Programme"},
		fields=["parent", field],
		order_by="idx asc",
	):
		out.setdefault(row.parent, []).append(row.get(field))
	return out


def _form_label(params) -> dict:
	"""The problem's parameters with the engine's field label replaced by the form's own label (the
	engine says "Reward Value", the form "Referrer's Reward Value")."""
	params = dict(params)
	field = params.get("field")
	fieldname = FORM_FIELDS.get(field, field)
	meta = frappe.get_meta("Referral Programme")
	if "label" in params and fieldname and meta.has_field(fieldname):
		params["label"] = meta.get_label(fieldname)
	return params


def validate_programme(doc) -> None:
	"""The form's checks: the engine's problems of this programme and overlaps with the company's
	others, each naming the field."""
	if not doc.get("referee_reward_type"):
		doc.referee_reward_value = 0
	mine = to_engine(
		doc,
		[r.customer_group for r in doc.get("customer_groups")],
		[r.territory for r in doc.get("territories")],
	)
	others = [p for name, (p, _row) in load(doc.company).items() if name not in (doc.name, mine.name)]
	problems = R.check_programme(mine) + [
		p
		for p in R.check_programmes([*others, mine])
		if p.code == "programme_overlap" and mine.name in (p.params.get("first"), p.params.get("second"))
	]
	if problems:
		frappe.throw(
			"<br>".join(
				frappe.utils.escape_html(reason_text(p.code, _form_label(p.params))) for p in problems
			),
			frappe.ValidationError,
			title=_("This programme cannot run"),
		)
	if doc.loyalty_program:
		lp_company = frappe.db.get_value("Loyalty Program", doc.loyalty_program, "company")
		if lp_company and lp_company != doc.company:
			frappe.throw(
				_("Loyalty Program {0} belongs to {1}, not to {2}.").format(
					doc.loyalty_program, lp_company, doc.company
				),
				frappe.ValidationError,
			)

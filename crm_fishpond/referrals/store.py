"""The Referral Reward row <-> the engine's ``StoredReward``: names, fields and reasons."""

from __future__ import annotations

import json

import frappe
from frappe.utils import getdate

from crm_fishpond.engine import referrals as R
from crm_fishpond.referrals.messages import reason_text

SLOT_PREFIX = {R.REFERRER: "R", R.REFEREE: "W"}  # W: the referee's welcome reward
# engine field -> Referral Reward fieldname (reason is stored as code, params and text)
COLUMNS = {
	"state": "status",
	"programme": "programme",
	"customer": "customer",
	"channel": "reward_type",
	"invoice": "qualifying_invoice",
	"credit_notes": "credit_notes",
	"paid_on": "paid_on",
	"post_on": "post_on",
	"earned": "earned",
	"kept": "kept",
	"debt_points": "debt_points",
	"debt_amount": "debt_amount",
}
READ_FIELDS = (
	"name",
	"referral",
	"beneficiary",
	"slot",
	"reason_code",
	"reason_params",
	*COLUMNS.values(),
)


def reward_name(referral: str, beneficiary: str, slot: int) -> str:
	"""The row's name is its key: FPR-00012-R1 (the referrer's first), FPR-00012-W1 (welcome)."""
	return f"{referral}-{SLOT_PREFIX.get(beneficiary, 'R')}{int(slot or 1)}"


def key_name(key: R.RewardKey) -> str:
	return reward_name(key.referral, key.beneficiary, key.slot)


def to_columns(fields: dict) -> dict:
	"""Engine fields of a SaveReward -> the row's values."""
	out = {}
	for f, value in fields.items():
		if f == "reason":
			out["reason_code"] = value.code if value else None
			out["reason_params"] = json.dumps(dict(value.params), sort_keys=True) if value else None
			out["reason"] = reason_text(value.code, value.params) if value else None
		elif f == "credit_notes":
			out["credit_notes"] = "\n".join(value or ()) or None
		elif f in COLUMNS:
			out[COLUMNS[f]] = value
	return out


def from_row(row) -> R.StoredReward:
	key = R.RewardKey(row.referral, row.beneficiary, int(row.slot or 1))
	reason = None
	if row.reason_code:
		reason = R.Reason(row.reason_code, json.loads(row.reason_params or "{}"))
	return R.StoredReward(
		key=key,
		state=row.status,
		reason=reason,
		programme=row.programme,
		customer=row.customer,
		channel=row.reward_type or None,
		invoice=row.qualifying_invoice,
		credit_notes=tuple(x for x in (row.credit_notes or "").split("\n") if x),
		paid_on=getdate(row.paid_on) if row.paid_on else None,
		post_on=getdate(row.post_on) if row.post_on else None,
		earned=float(row.earned or 0),
		kept=float(row.kept or 0),
		debt_points=int(row.debt_points or 0),
		debt_amount=float(row.debt_amount or 0),
	)


def load(referrals: list[str]) -> dict[R.RewardKey, R.StoredReward]:
	if not referrals:
		return {}
	rows = frappe.get_all(
		"Referral Reward", filters={"referral": ("in", referrals)}, fields=list(READ_FIELDS)
	)
	return {s.key: s for s in map(from_row, rows)}

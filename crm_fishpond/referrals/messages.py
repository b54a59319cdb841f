"""Every reason of crm_fishpond.engine.referrals in the user's language.

The engine words its reasons in English (``MESSAGES``); here each code has its own literal ``_()`` so
that the translation tools find it. tests/test_referral_messages.py checks both lists hold the same
codes and placeholders."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import frappe
from frappe import _, _lt


def _texts() -> dict[str, str]:
	return {
		"accepted": _("the referral is valid"),
		"override": _("accepted by a manager: {note}"),
		"referral_cancelled": _("the referral was cancelled"),
		"no_programme": _("no referral programme of {company} was running on {date}"),
		"self_referral": _("the referrer and the referee have the same {via}"),
		"already_customer": _(
			"the referee has been a customer since {since}, before the referral on {referred_on}"
		),
		"customer_group": _("the referee's customer group {customer_group} is not in the programme"),
		"territory": _("the referee's territory {territory} is not in the programme"),
		"circular": _(
			"the referee {referee} referred the referrer {referrer} before (directly or through others)"
		),
		"duplicate_referee": _("the referee was already referred in {winner}"),
		"awaiting_invoice": _("waiting for a paid invoice of the referee"),
		"awaiting_payment": _("invoice {invoice} is not fully paid yet ({outstanding} outstanding)"),
		"below_minimum": _("invoice {invoice} is for {amount}, below the programme's minimum of {minimum}"),
		"returned": _("invoice {invoice} was returned ({credit_notes}): {amount} of {gross} remains"),
		"invoice_cancelled": _("invoice {invoice} was cancelled"),
		"window_closed": _("no qualifying invoice within {days} days of the referral"),
		"awaiting_review": _("invoice {invoice} was paid on {paid_on}; the reward posts on {post_on}"),
		"awaiting_customer": _(
			"invoice {invoice} qualifies, but the {beneficiary} has no Customer to reward"
		),
		"posted": _("invoice {invoice} was paid on {paid_on} and the review period ended on {post_on}"),
		"reduced": _(
			"invoice {invoice} was partly returned ({credit_notes}): the reward keeps {kept} of {earned}"
		),
		"cap_month": _("the referrer already has {cap} rewards in {month}"),
		"cap_lifetime": _("the referrer already has {cap} rewards"),
		"no_reward_rule": _("the programme gives the {beneficiary} no reward"),
		"nothing_to_reward": _("invoice {invoice} for {amount} earns no reward once rounded"),
		"programme_needs": _("{label} is required"),
		"programme_number": _("{label} must be a number of at least {minimum}, got {value}"),
		"programme_positive": _("{label} must be a number above 0, got {value}"),
		"programme_percent": _("{label} is a percent: above 0 and at most 100, got {value}"),
		"programme_whole": _("{label} must be a whole number of at least {minimum}, got {value}"),
		"programme_choice": _("{label} must be one of {options}, got {value}"),
		"programme_dates": _("the programme ends on {valid_upto}, before it starts on {valid_from}"),
		"programme_overlap": _("programmes {first} and {second} of {company} both run on {date}"),
	}


# words the reasons put into their templates, translated too (lazily: the translation tools find
# each literal, and the user's language is applied when the reason is worded)
_WORDS = {
	"via": {
		"profile": _lt("profile"),
		"customer": _lt("Customer"),
		"email": _lt("email address"),
		"phone": _lt("phone number"),
		"tax_id": _lt("tax id"),
		"address": _lt("address"),
	},
	"beneficiary": {"Referrer": _lt("referrer"), "Referee": _lt("referee")},
}


def reason_text(code: str | None, params: Mapping[str, Any] | str | None = None) -> str:
	"""The reason in the user's language; unknown codes fall back to the code itself."""
	if not code:
		return ""
	if isinstance(params, str):
		params = json.loads(params or "{}")
	values = dict(params or {})
	for key, words in _WORDS.items():
		if key in values and values[key] in words:
			values[key] = str(words[values[key]])
	if "label" in values:
		values["label"] = _(values["label"])
	template = _texts().get(code)
	if template is None:
		return code
	try:
		return template.format(**values)
	except (KeyError, IndexError, ValueError):
		return f"{template} {frappe.as_json(values)}"

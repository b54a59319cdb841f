"""Plan a company's referrals and apply the plan: the only writer of Referral Reward.

Nothing here counts events. Each run reads ERPNext's facts as they are now (crm_fishpond.referrals.inputs),
asks the engine what every referral and reward should be (crm_fishpond.engine.referrals.plan) and writes
only the differences: screening onto Fishpond Referral, changed reward rows with a log line for each
change of state, and Loyalty Point Entries and Coupon Codes for what must be given or taken back. A
replayed or missed event therefore changes nothing, and :func:`reconcile` (the same comparison,
without writing) lists what a run would change.

Runs are enqueued (crm_fishpond.jobs.enqueue, one job per company, deduplicated) by the events in
crm_fishpond.events.referrals, and nightly for every company, which posts rewards whose review period
ended. A run locks the company's programme rows, so two runs of one company never interleave.
"""

from __future__ import annotations

import json
from collections import defaultdict

import frappe
from frappe import _
from frappe.utils import getdate, now_datetime
from redis import Redis

from crm_fishpond import jobs
from crm_fishpond.engine import referrals as R
from crm_fishpond.referrals import inputs as I
from crm_fishpond.referrals import ledgers, programmes, store
from crm_fishpond.referrals.messages import reason_text

JOB = "crm_fishpond.referrals.sync.run_company"
WAITING = "fishpond:referral_runs_waiting"  # companies whose facts changed since their last run
MAX_ROUNDS = 5
OUTCOME_STATUS = {R.ACCEPTED: "Accepted", R.REFUSED_OUTCOME: "Refused", R.CANCELLED_OUTCOME: "Cancelled"}


def enqueue_company(company: str | None) -> None:
	"""Ask for the company's run. The company is marked as waiting once the caller's transaction has
	committed, and the job is enqueued (deduplicated): a run already going sees the mark and runs
	again, so a change committed while it read is never lost; the */5 cron enqueues what is still
	marked should a mark land just as a run ends."""
	if not company:
		return
	if jobs.runs_inline():
		frappe.cache.sadd(WAITING, company)
	else:
		frappe.db.after_commit.add(lambda: frappe.cache.sadd(WAITING, company))
	jobs.enqueue(JOB, job_id=f"crm_fishpond:referrals:{company}", company=company, timeout=1500)


def run_company(company: str) -> None:
	"""The job: run the company while it is marked as waiting (at least once)."""
	for round_ in range(MAX_ROUNDS):
		# rq's Redis.srem says whether the mark was there (Frappe's wrapper returns nothing)
		if not Redis.srem(frappe.cache, frappe.cache.make_key(WAITING), company) and round_:
			break
		sync_company(company)
		if not jobs.runs_inline():
			frappe.db.commit()  # nosemgrep: each round's writes stand before the next round reads


def enqueue_waiting() -> None:
	"""Cron safety net: enqueue every company still marked as waiting."""
	for company in frappe.cache.smembers(WAITING) or ():
		company = company.decode() if isinstance(company, bytes) else company
		jobs.enqueue(JOB, job_id=f"crm_fishpond:referrals:{company}", company=company, timeout=1500)


def companies_with_referrals() -> list[str]:
	return frappe.get_all("Fishpond Referral", pluck="company", distinct=True)


def scheduled_sync() -> None:
	"""Nightly: every company, so rewards whose review period ended today post."""
	from crm_fishpond.referrals.codes import codes_for_customers

	codes_for_customers()
	for company in companies_with_referrals():
		enqueue_company(company)


def build_plan(company: str, today=None) -> tuple[I.Inputs, R.Plan]:
	progs = programmes.load(company)
	data = I.load(company, progs)
	plan = R.plan(
		[p for p, _row in progs.values()],
		data.referrals,
		data.invoices,
		getdate(today),
		ledgers=data.ledgers,
		stored=data.stored,
	)
	return data, plan


def sync_company(company: str, today=None) -> dict:
	"""Apply the plan of one company; returns counts of what it wrote."""
	for name in frappe.get_all(
		"Referral Programme", filters={"company": company}, pluck="name", order_by="name"
	):
		frappe.db.get_value("Referral Programme", name, "name", for_update=True)
	data, plan = build_plan(company, today)
	if _create_customers(data, plan):
		data, plan = build_plan(company, today)
	counts = {"referrals": _save_decisions(data, plan), "rewards": 0, "ledger_rows": 0}
	referral_rows = {r.name: r for r in data.referral_rows}
	for action in plan.actions:
		name = store.key_name(action.key)
		if isinstance(action, R.SaveReward):
			_save_reward(action, referral_rows[action.key.referral], company, data)
			counts["rewards"] += 1
		else:
			rows = ledgers.apply_action(action, name, company, data.entries.get(name, []))
			counts["ledger_rows"] += len(rows)
			if isinstance(action, R.PostPoints | R.ReversePoints):
				data.entries[name] = _entries(name)
	return counts


def _entries(reward: str) -> list:
	return frappe.get_all(
		"Loyalty Point Entry",
		filters={"fishpond_referral_reward": reward},
		fields=["name", "loyalty_points", "customer", "loyalty_program", "expiry_date", "redeem_against"],
		order_by="creation asc",
	)


def _save_decisions(data: I.Inputs, plan: R.Plan) -> int:
	"""Screening onto each Fishpond Referral, and each referee's Referred By (the referrer of its
	accepted referral; cleared when that referral no longer stands). Changed rows only."""
	rows = {r.name: r for r in data.referral_rows}
	changed = 0
	accepted: dict[str, str] = {}
	for d in plan.decisions:
		row = rows[d.referral]
		values = {
			"status": OUTCOME_STATUS[d.outcome],
			"rule": d.reason.code,
			"reason": reason_text(d.reason.code, d.reason.params),
			"programme": d.programme,
		}
		stored = {k: row.get(k) for k in ("status", "rule", "programme")}
		if {k: values[k] for k in stored} != stored:
			frappe.db.set_value("Fishpond Referral", d.referral, values)
			changed += 1
		if d.accepted:
			accepted[row.referee] = row.referrer
	referrers = defaultdict(set)
	for row in data.referral_rows:
		referrers[row.referee].add(row.referrer)
	current = dict(
		frappe.get_all(
			"Fishpond Lead",
			filters={"name": ("in", sorted(referrers) or [""])},
			fields=["name", "referred_by"],
			as_list=True,
		)
	)
	for referee, referrer_set in referrers.items():
		want = accepted.get(referee)
		have = current.get(referee)
		# a Referred By typed by hand, naming nobody in these referrals, stays as it is
		if have != want and (want or have in referrer_set):
			frappe.db.set_value("Fishpond Lead", referee, "referred_by", want, update_modified=False)
	return changed


def _save_reward(action: R.SaveReward, referral, company: str, data: I.Inputs) -> None:
	values = store.to_columns(dict(action.fields))
	if "qualifying_invoice" in values:
		# a POS Invoice attributed to the referee qualifies as a Sales Invoice does
		values["qualifying_invoice_type"] = (
			"POS Invoice" if values["qualifying_invoice"] in data.pos_invoices else "Sales Invoice"
		)
	name = store.key_name(action.key)
	if action.new:
		doc = frappe.get_doc(
			{
				"doctype": "Referral Reward",
				"referral": action.key.referral,
				"beneficiary": action.key.beneficiary,
				"slot": action.key.slot,
				"referrer": referral.referrer,
				"referee": referral.referee,
				"company": company,
				**values,
			}
		)
	else:
		doc = frappe.get_doc("Referral Reward", name)
		doc.update(values)
	if action.log:
		doc.append(
			"log",
			{
				"changed_on": now_datetime(),
				"old_state": action.log.old,
				"new_state": action.log.new,
				"reason_code": action.log.reason.code,
				"reason": reason_text(action.log.reason.code, action.log.reason.params),
			},
		)
	loyalty_program = None
	if action.fields.get("programme") and doc.reward_type == R.LOYALTY_POINTS:
		programme = data.programmes.get(doc.programme)
		loyalty_program = programme[0].loyalty_program if programme else None
	if loyalty_program and not doc.loyalty_program:
		doc.loyalty_program = loyalty_program
	doc.flags.ignore_permissions = True
	doc.save() if not action.new else doc.insert()
	if action.log and action.log.new == R.POSTED and action.log.old != R.POSTED:
		_thank(doc, data)


def _thank(reward, data: I.Inputs) -> None:
	"""The referrer's thank-you (the programme's Email Template), through the email queue."""
	if reward.beneficiary != R.REFERRER:
		return
	programme = data.programmes.get(reward.programme)
	template = programme and programme[1].thank_you_template
	if not template:
		return
	email = frappe.db.get_value("Fishpond Lead", reward.referrer, "email_id")
	if not email:
		return
	context = {
		"reward": reward.as_dict(),
		"referrer": frappe.db.get_value(
			"Fishpond Lead", reward.referrer, ["name", "lead_name"], as_dict=True
		),
		"referee": frappe.db.get_value("Fishpond Lead", reward.referee, ["name", "lead_name"], as_dict=True),
	}
	mail = frappe.get_doc("Email Template", template).get_formatted_email(context)
	try:
		frappe.sendmail(
			recipients=[email],
			subject=mail["subject"],
			message=mail["message"],
			reference_doctype="Referral Reward",
			reference_name=reward.name,
			delayed=True,
		)
	except frappe.OutgoingEmailError:
		# the thank-you is optional: a site without an outgoing Email Account still posts the reward
		frappe.clear_last_message()
		frappe.log_error(
			title=_("Referral thank-you not sent"),
			message=_("Set up a default outgoing Email Account to thank referrers."),
			reference_doctype="Referral Reward",
			reference_name=reward.name,
		)


def _create_customers(data: I.Inputs, plan: R.Plan) -> bool:
	"""Programmes set to Create Customer: a beneficiary without one, whose reward is due, gets one."""
	made = False
	for e in plan.rewards:
		if e.reason.code != "awaiting_customer" or not e.programme:
			continue
		row = data.programmes.get(e.programme)
		if not row or row[1].prospect_rewards != programmes.CREATE_CUSTOMER:
			continue
		if e.post_on and e.post_on > getdate():
			continue
		profile = e.referrer if e.key.beneficiary == R.REFERRER else e.referee
		if not frappe.db.get_value("Fishpond Lead", profile, "customer"):
			make_customer(profile)
			made = True
	return made


def make_customer(profile: str) -> str:
	"""A Customer for a prospect's profile: from its ERPNext Lead when it has one (ERPNext's own
	mapping), else from the profile's name; the party hooks link it to the profile."""
	from crm_fishpond.sync.profiles import profile_for

	row = frappe.db.get_value("Fishpond Lead", profile, ["lead", "lead_name", "company_name"], as_dict=True)
	if row.lead:
		from erpnext.crm.doctype.lead.lead import _make_customer

		customer = _make_customer(row.lead, ignore_permissions=True)
	else:
		customer = frappe.get_doc(
			{
				"doctype": "Customer",
				"customer_name": row.company_name or row.lead_name or profile,
				"customer_type": "Company" if row.company_name else "Individual",
			}
		)
	customer.flags.ignore_permissions = True
	customer.insert()
	if profile_for(customer=customer.name) != profile:
		frappe.db.set_value("Fishpond Lead", profile, "customer", customer.name)
		frappe.db.set_value("Customer", customer.name, "fishpond_lead", profile, update_modified=False)
	return customer.name


def reconcile(company: str | None = None, today=None) -> list[dict]:
	"""What a run would change, without writing: one row per difference (reward, field, have, want)."""
	out = []
	for comp in [company] if company else companies_with_referrals():
		data, plan = build_plan(comp, today)
		for d in plan.differences:
			out.append(
				{
					"company": comp,
					"reward": store.key_name(d.key),
					"field": d.field,
					"have": _plain(d.have),
					"want": _plain(d.want),
				}
			)
		rows = {r.name: r for r in data.referral_rows}
		for dec in plan.decisions:
			row = rows[dec.referral]
			if row.status != OUTCOME_STATUS[dec.outcome] or (row.rule or None) != dec.reason.code:
				out.append(
					{
						"company": comp,
						"reward": dec.referral,
						"field": "screening",
						"have": f"{row.status} {row.rule or ''}".strip(),
						"want": f"{OUTCOME_STATUS[dec.outcome]} {dec.reason.code}",
					}
				)
	return out


def _plain(value):
	if isinstance(value, R.Reason):
		return value.code
	if isinstance(value, dict):
		return json.dumps({k: _plain(v) for k, v in value.items()}, default=str, sort_keys=True)
	if isinstance(value, tuple | list):
		return ", ".join(str(_plain(v)) for v in value)
	return value if value is None or isinstance(value, int | float | str) else str(value)


def check_permission() -> None:
	if not frappe.has_permission("Referral Programme", "write"):
		frappe.throw(_("Only Fishpond Managers may run the referral reconciliation."), frappe.PermissionError)

"""The demo's plan (crm_fishpond.demo.plan): pure, seeded, and consistent with what ERPNext accepts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_fishpond.demo.plan import CATALOGUE, FOREIGN_SHARE, PAID, PART, UNPAID, build_plan

AS_OF = date(2026, 12, 3)


@pytest.fixture(scope="module")
def plan():
	return build_plan(120, 2, seed=0, as_of=AS_OF, foreign_currency="EUR")


def test_the_same_arguments_give_the_same_plan(plan):
	again = build_plan(120, 2, seed=0, as_of=AS_OF, foreign_currency="EUR")
	assert again.people == plan.people
	assert build_plan(120, 2, seed=1, as_of=AS_OF, foreign_currency="EUR").people != plan.people


def test_exactly_the_customers_asked_for_with_unique_names_and_prospects(plan):
	customers = plan.customers
	assert len(customers) == 120
	names = [p.customer_name.lower() for p in customers]
	assert len(set(names)) == len(names)
	assert all(p.invoices for p in customers)
	prospects = [p for p in plan.people if not p.is_customer and p.account is None]
	assert len(prospects) == round(120 * 0.8)
	assert [p.key for p in plan.people] == list(range(len(plan.people)))


def test_one_lead_per_email_and_colleagues_point_at_their_customer(plan):
	emails = [p.email.lower() for p in plan.people if p.email]
	assert len(set(emails)) == len(emails)
	by_key = {p.key: p for p in plan.people}
	colleagues = [p for p in plan.people if p.account is not None]
	assert colleagues
	for person in colleagues:
		account = by_key[person.account]
		assert account.is_customer and account.company_name == person.company_name
		assert account.key < person.key and not person.invoices


def test_documents_happen_in_order_and_never_after_today(plan):
	start = AS_OF - timedelta(days=2 * 365)
	for person in plan.people:
		created = person.created.date()
		assert start <= created <= AS_OF
		for invoice in person.invoices:
			assert created <= invoice.date <= AS_OF
			if invoice.order_date:
				assert created <= invoice.order_date < invoice.date
			if invoice.pay_date:
				assert invoice.date <= invoice.pay_date <= AS_OF
			if invoice.return_qty:
				assert invoice.date <= invoice.return_date <= AS_OF
				assert all(
					0 <= r <= line.qty for r, line in zip(invoice.return_qty, invoice.lines, strict=True)
				)
				assert sum(invoice.return_qty) >= 1
			assert all(0 <= line.item < len(CATALOGUE) and line.qty >= 1 for line in invoice.lines)
		for order in person.open_orders:
			assert (AS_OF - order.date).days <= 21
		for moment, *_rest in person.interactions + person.events:
			assert created <= moment.date() <= AS_OF
	assert plan.start == min(
		[p.created.date() for p in plan.people]
		+ [d for p in plan.people for i in p.invoices for d in (i.date, i.order_date) if d]
	)


def test_most_invoices_are_paid_some_partly_some_not(plan):
	counts = plan.counts()
	assert counts["paid"] > 0.7 * counts["invoices"]
	assert counts["part_paid"] > 0 and counts["unpaid"] > 0 and counts["returns"] > 0
	assert counts["open_orders"] > 0 and counts["orders"] > counts["open_orders"]
	for invoice in (i for p in plan.people for i in p.invoices):
		returned_all = invoice.return_qty and sum(invoice.return_qty) == sum(li.qty for li in invoice.lines)
		if returned_all:
			assert invoice.payment == UNPAID  # nothing is left to pay
		if invoice.payment == PART:
			assert 0 < invoice.pay_share < 1
		if invoice.payment in (PAID, PART):
			assert invoice.pay_date


def test_a_few_customers_are_billed_in_the_foreign_currency(plan):
	foreign = [p for p in plan.people if p.foreign]
	assert 1 <= len(foreign) <= max(1, int(120 * FOREIGN_SHARE))
	assert all(p.is_customer for p in foreign)
	assert not any(p.foreign for p in build_plan(20, 1, seed=0, as_of=AS_OF).people)


def test_answers_use_the_profile_form_words(plan):
	budget = {None, "Approved", "Allocated", "Planned", "Exploring"}
	authority = {None, "Decision Maker", "Influencer", "User"}
	need = {None, "Critical", "High", "Medium", "Low"}
	timeline = {None, "Immediate", "1-3 Months", "3-6 Months", "6-12 Months", "Over 12 Months"}
	groups = {None, "Commercial", "Individual", "Government", "Non Profit"}
	for person in plan.people:
		assert person.budget in budget and person.authority in authority
		assert person.need in need and person.timeline in timeline
		assert person.customer_group in groups
		assert person.first_name and (person.company_name or person.customer_group != "Commercial")


def test_sizes_are_checked():
	with pytest.raises(ValueError):
		build_plan(0, 2)
	with pytest.raises(ValueError):
		build_plan(10, 0)
	small = build_plan(1, 1, seed=4, as_of=AS_OF)
	assert len(small.customers) == 1


def test_some_customers_answered_surveys_after_paying_and_never_in_the_future(plan):
	answers = [(p, a) for p in plan.customers for a in p.feedback]
	assert plan.counts()["feedback"] == len(answers) > 0
	assert {kind for _p, (_when, kind, _score, _comment) in answers} == {"NPS", "CSAT"}
	for person, (when, kind, score, _comment) in answers:
		assert when.date() <= plan.as_of
		assert 0 <= score <= 10 if kind == "NPS" else 1 <= score <= 5
		if kind == "NPS":  # after an invoice paid before it
			assert any(i.pay_date and i.pay_date < when.date() for i in person.invoices)

"""bench commands: `bench --site S fishpond-reconcile`, `bench --site S fishpond-backfill`,
`bench --site S fishpond-demo`, `bench --site S fishpond-referrals`."""

import json

import click
from frappe.commands import get_site, pass_context


@click.command("fishpond-reconcile")
@click.option("--json", "as_json", is_flag=True, help="Print every difference as JSON")
@click.option(
	"--repair",
	is_flag=True,
	help="Re-sync the differing vouchers from ERPNext (as the document events do), then compare again",
)
@pass_context
def fishpond_reconcile(context, as_json=False, repair=False):
	"""Compare the pond's transaction history with ERPNext's Sales Orders and Sales Invoices."""
	import frappe

	from crm_fishpond.sync import reconcile as rec

	frappe.init(site=get_site(context))
	frappe.connect()
	try:
		result = rec.reconcile()
		if repair and result["vouchers"]:
			counts = rec.repair(result["vouchers"])
			frappe.db.commit()
			click.echo(f"repaired: {counts['synced']} re-synced, {counts['removed']} removed")
			result = rec.reconcile()
		lines = {id(row): rec.describe(row) for row in result["vouchers"]}
	finally:
		frappe.destroy()
	if as_json:
		for row in result["vouchers"]:
			row["described"] = lines[id(row)]
		click.echo(json.dumps(result, default=str, indent=1))
	else:
		click.echo(f"customers checked: {result['customers_checked']}")
		click.echo(f"differences: {result['differences']}")
		for row in result["vouchers"][:50]:
			click.echo(f"  {row['kind']:<9} {row['voucher_type']} {row['voucher_no']} {row['customer']}")
			for line in lines[id(row)]:
				click.echo(f"      {line}")
		if len(result["vouchers"]) > 50:
			click.echo(f"  ... {len(result['vouchers']) - 50} more (--json lists all)")
	if result["differences"]:
		raise SystemExit(1)


@click.command("fishpond-backfill")
@pass_context
def fishpond_backfill(context):
	"""Run the transaction-history backfill in this process (resumes an interrupted run)."""
	import frappe

	from crm_fishpond.sync import backfill, runs

	frappe.init(site=get_site(context))
	frappe.connect()
	try:
		run = runs.active_run(backfill.RUN_TYPE) or runs.create_run(backfill.RUN_TYPE, "Administrator")
		frappe.db.commit()
		result = backfill.run_backfill(run, here=True)
		click.echo(json.dumps({"run": run, **result}, default=str))
	finally:
		frappe.destroy()


@click.command("fishpond-demo")
@click.option(
	"--customers", default=300, show_default=True, type=click.IntRange(1, 20000), help="Customers to make"
)
@click.option("--years", default=2, show_default=True, type=click.IntRange(1, 10), help="Years of history")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated pond")
@click.option("--clear", is_flag=True, help="Remove what the demo made, and nothing else")
@pass_context
def fishpond_demo(context, customers=300, years=2, seed=0, clear=False):
	"""Fill the site with a seeded demo pond of real ERPNext records (idempotent), or clear it."""
	import frappe

	from crm_fishpond.demo import build, report
	from crm_fishpond.demo import clear as demo_clear
	from crm_fishpond.demo.masters import DemoError

	frappe.init(site=get_site(context))
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		if clear:
			report.print_cleared(demo_clear.clear_demo(echo=click.echo), click.echo)
		else:
			report.print_summary(build.make_demo(customers, years, seed, echo=click.echo), click.echo)
	except DemoError as error:
		click.echo(str(error), err=True)
		raise SystemExit(1) from None
	finally:
		frappe.destroy()


@click.command("fishpond-referrals")
@click.option("--company", default=None, help="One company (default: every company with referrals)")
@click.option("--apply", "apply_", is_flag=True, help="Run the referral sync first, then compare")
@click.option("--json", "as_json", is_flag=True, help="Print every difference as JSON")
@pass_context
def fishpond_referrals(context, company=None, apply_=False, as_json=False):
	"""Compare every referral reward with what ERPNext's invoices, payments and ledgers say it should
	be; exits 1 when something differs."""
	import frappe

	from crm_fishpond.referrals import sync

	frappe.init(site=get_site(context))
	frappe.connect()
	frappe.set_user("Administrator")
	try:
		if apply_:
			for comp in [company] if company else sync.companies_with_referrals():
				counts = sync.sync_company(comp)
				frappe.db.commit()
				click.echo(f"{comp}: {counts}")
		rows = sync.reconcile(company)
	finally:
		frappe.destroy()
	if as_json:
		click.echo(json.dumps(rows, default=str, indent=1))
	else:
		click.echo(f"differences: {len(rows)}")
		for row in rows[:100]:
			click.echo(
				f"  {row['reward']:<22} {row['field']:<12} have {row['have']!s:<24} want {row['want']}"
			)
	if rows:
		raise SystemExit(1)


commands = [fishpond_reconcile, fishpond_backfill, fishpond_demo, fishpond_referrals]

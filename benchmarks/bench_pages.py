"""Server time of every analytics page the app ships, on a site holding a large pond.

For each Script Report of the module (run as Desk runs it, no filters), the Fishpond CRM workspace
(its page configuration, every Number Card and every Dashboard Chart, fresh), and the profile form
(`getdoc` of the profile with the most transactions, with its summary and timeline), prints the
median server time of --repeat runs as Administrator, who sees the whole pond, against the goals of
issue "See the pond": each report and the workspace under 2 s, the profile form under 1 s. A prepared
report (run in the background by Desk) is timed generating its result, and said so.

Fill a site first with `benchmarks/bench_rescore.py generate --profiles 20000 --transactions 200000`
and `... rescore --reset`, then (metrics history) `bench --site S execute
crm_fishpond.analytics.snapshots.take_snapshots`:

	/opt/frappe-bench/env/bin/python benchmarks/bench_pages.py --site S
"""

from __future__ import annotations

import json
import statistics
import time

from _site import connect, peak_rss_mib

REPORT_GOAL = 2.0
FORM_GOAL = 1.0


def _args(parser):
	parser.add_argument("--repeat", type=int, default=3)


def timed(fn, repeat: int) -> float:
	times = []
	for _ in range(repeat):
		started = time.perf_counter()
		fn()
		times.append(time.perf_counter() - started)
	return statistics.median(times)


def main() -> None:
	args = connect(__doc__.splitlines()[0], _args)
	import frappe
	from frappe.desk import desktop
	from frappe.desk.doctype.dashboard_chart.dashboard_chart import get as chart_get
	from frappe.desk.doctype.number_card.number_card import get_result
	from frappe.desk.form.load import getdoc
	from frappe.desk.query_report import run
	from frappe.query_builder.functions import Count

	rows = []
	profiles = frappe.db.count("Fishpond Lead")
	transactions = frappe.db.count("Fishpond Transaction")
	print(f"site {args.site}: {profiles:,} profiles, {transactions:,} transactions")

	for report in frappe.get_all(
		"Report",
		filters={"module": "CRM Fishpond", "report_type": "Script Report"},
		fields=["name", "prepared_report"],
		order_by="name",
	):
		seconds = timed(lambda r=report: run(r.name, filters={}, ignore_prepared_report=True), args.repeat)
		note = "prepared: generated in the background" if report.prepared_report else ""
		rows.append((f"report {report.name}", seconds, REPORT_GOAL, note))

	page = json.dumps({"name": "Fishpond CRM", "title": "Fishpond CRM"})
	workspace = frappe.get_doc("Workspace", "Fishpond CRM")

	def load_workspace():
		desktop.get_desktop_page(page)
		for card in workspace.number_cards:
			doc = frappe.get_doc("Number Card", card.number_card_name)
			get_result(doc, doc.filters_json or "[]")
		for chart in workspace.charts:
			chart_get(chart_name=chart.chart_name, refresh=1)

	rows.append(
		(
			f"workspace ({len(workspace.number_cards)} cards, {len(workspace.charts)} charts)",
			timed(load_workspace, args.repeat),
			REPORT_GOAL,
			"",
		)
	)

	t = frappe.qb.DocType("Fishpond Transaction")
	busiest = (
		frappe.qb.from_(t)
		.select(t.fishpond_lead)
		.groupby(t.fishpond_lead)
		.orderby(Count("*"), order=frappe.qb.desc)
		.limit(1)
		.run()
	)
	if busiest:
		name = busiest[0][0]
		seconds = timed(lambda: getdoc("Fishpond Lead", name), args.repeat)
		rows.append((f"profile form {name}", seconds, FORM_GOAL, "with summary and timeline"))
		frappe.local.response = frappe._dict(docs=[])

	print(f"{'page':<60} {'server s':>9} {'goal s':>7}  within")
	for label, seconds, goal, note in rows:
		ok = "yes" if seconds < goal else "NO"
		print(f"{label:<60} {seconds:>9.3f} {goal:>7.1f}  {ok}  {note}")
	print(f"peak RSS {peak_rss_mib():.0f} MiB")
	frappe.db.rollback()


if __name__ == "__main__":
	main()

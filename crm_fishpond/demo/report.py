"""What the demo command prints."""

from __future__ import annotations

from collections.abc import Callable

from frappe import _


def print_summary(summary: dict, echo: Callable) -> None:
	params, counts = summary["params"], summary["counts"]
	echo(
		_("Demo on {0} ({1}): {2} customers over {3} years, seed {4}, up to {5}").format(
			summary["site"],
			summary["company"],
			params["customers"],
			params["years"],
			params["seed"],
			params["as_of"],
		)
	)
	statuses = ", ".join(f"{_(status)} {n}" for status, n in sorted(summary["invoice_status"].items()))
	foreign = counts["foreign-currency Sales Invoice"]
	rows = [
		(_("Leads"), counts["Lead"]),
		(_("Contacts"), counts["Contact"]),
		(_("Customers"), counts["Customer"]),
		(_("Items"), counts["Item"]),
		(_("Sales Orders"), _("{0} ({1} open)").format(counts["Sales Order"], counts["open Sales Order"])),
		(
			_("Sales Invoices"),
			_("{0} ({1} in {2}): {3}").format(
				counts["Sales Invoice"], foreign, params.get("foreign") or "-", statuses
			),
		),
		(_("Credit Notes"), counts["credit note"]),
		(_("Payment Entries"), counts["Payment Entry"]),
		(
			_("POS Invoices"),
			_("{0} walk-in sales ({1} in the accountants' link queue)").format(
				counts.get("POS Invoice", 0), counts.get("queued POS Invoice", 0)
			),
		),
		(
			_("Profiles"),
			_("{0} ({1} scored, {2} claimed by {3} reps in {4} pools)").format(
				counts["Fishpond Lead"],
				counts["scored"],
				counts["claimed"],
				counts["rep"],
				counts["Fishpond"],
			),
		),
		(_("Transactions"), counts["Fishpond Transaction"]),
		(_("Interactions"), counts["Fishpond Interaction"]),
		(_("Behaviour Events"), counts["Fishpond Behaviour Event"]),
		(_("Survey Answers"), counts.get("Fishpond Feedback", 0)),
	]
	width = max(len(label) for label, _value in rows) + 2
	for label, value in rows:
		echo(f"  {label:<{width}}{value}")
	seconds = summary["seconds"]
	if summary["created"] and seconds:
		phases = ", ".join(f"{phase} {value} s" for phase, value in seconds.items() if phase != "total")
		echo(_("Took {0} s ({1})").format(seconds.get("total", 0), phases))


def print_cleared(result: dict, echo: Callable) -> None:
	if not result["removed"] and not result["kept"]:
		echo(_("No demo on this site: nothing to clear."))
		return
	echo(_("Removed:"))
	for doctype, n in sorted(result["removed"].items()):
		echo(f"  {_(doctype)}: {n}")
	if result["kept"]:
		echo(_("Kept, because something else depends on them:"))
		for record, reason in sorted(result["kept"].items())[:50]:
			echo(f"  {record}: {reason}")
	echo(_("Took {0} s").format(result["seconds"]))

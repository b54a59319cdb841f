// Managers take the snapshots now (the monthly job does it on the 1st) or rebuild final months.
frappe.listview_settings["Fishpond Metrics Snapshot"] = {
	onload(listview) {
		if (!frappe.user.has_role(["Fishpond Manager", "System Manager"])) return;
		const take = (rebuild) =>
			frappe
				.call({
					method: "crm_fishpond.api.analytics.take_snapshot_now",
					type: "POST",
					args: { rebuild: rebuild ? 1 : 0 },
				})
				.then(() =>
					frappe.show_alert({
						message: __("Snapshot queued: the list refreshes when it is taken."),
						indicator: "green",
					})
				);
		listview.page.add_inner_button(__("Take Snapshot Now"), () => take(false));
		listview.page.add_menu_item(__("Recompute Final Months"), () =>
			frappe.confirm(
				__(
					"Recompute every month from today's history, final months included? Their figures then change to what the history says now."
				),
				() => take(true)
			)
		);
	},
};

frappe.listview_settings["Fishpond Run"] = {
	add_fields: ["status", "progress"],
	get_indicator(doc) {
		const colors = { Queued: "gray", Running: "blue", Completed: "green", Failed: "red", Cancelled: "gray" };
		return [__(doc.status), colors[doc.status], "status,=," + doc.status];
	},
};

frappe.listview_settings["Fishpond Run"].onload = function (listview) {
	if (!frappe.user.has_role("Fishpond Manager") && !frappe.user.has_role("System Manager")) return;
	listview.page.add_inner_button(__("Start Backfill"), () => {
		frappe.call({ method: "crm_fishpond.api.sync.start_backfill", type: "POST" }).then((r) => {
			frappe.show_alert({ message: __("Backfill {0} queued", [r.message]), indicator: "blue" });
			listview.refresh();
		});
	});
	listview.page.add_inner_button(__("Start Rescore"), () => {
		frappe.call({ method: "crm_fishpond.api.scoring.start_rescore", type: "POST" }).then((r) => {
			frappe.show_alert({ message: __("Rescore {0} queued", [r.message]), indicator: "blue" });
			listview.refresh();
		});
	});
};

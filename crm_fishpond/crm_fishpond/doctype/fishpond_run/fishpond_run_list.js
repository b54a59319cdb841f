frappe.listview_settings["Fishpond Run"] = {
	add_fields: ["status", "progress"],
	get_indicator(doc) {
		const colors = { Queued: "gray", Running: "blue", Completed: "green", Failed: "red", Cancelled: "gray" };
		return [__(doc.status), colors[doc.status], "status,=," + doc.status];
	},
};

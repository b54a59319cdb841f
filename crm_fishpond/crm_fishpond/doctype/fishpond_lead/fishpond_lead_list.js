frappe.listview_settings["Fishpond Lead"] = {
	add_fields: ["status", "lead_owner", "lifecycle_stage", "value_grade", "churn_band"],
	get_indicator(doc) {
		const colors = {
			"In Pool": "blue",
			Claimed: "orange",
			Converted: "green",
			Lost: "gray",
			Churned: "red",
		};
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
};

frappe.query_reports["Fishpond Pond Metrics"] = {
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			description: __("Empty: the whole pond"),
		},
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_months(frappe.datetime.month_start(), -23),
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.month_start(),
		},
	],
	onload(report) {
		report.page.add_inner_button(__("Take Snapshot Now"), () =>
			frappe.call({
				method: "crm_fishpond.api.analytics.take_snapshot_now",
				type: "POST",
				callback: () =>
					frappe.show_alert({ message: __("Snapshot queued"), indicator: "blue" }),
			})
		);
	},
};

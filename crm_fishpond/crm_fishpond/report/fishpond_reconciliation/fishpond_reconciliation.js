frappe.query_reports["Fishpond Reconciliation"] = {
	filters: [
		{
			fieldname: "view",
			label: __("View"),
			fieldtype: "Select",
			options: ["Per Voucher", "Per Customer"],
			default: "Per Voucher",
		},
		{ fieldname: "customer", label: __("Customer"), fieldtype: "Link", options: "Customer" },
		{
			fieldname: "show_matching",
			label: __("Show Matching Customers"),
			fieldtype: "Check",
			depends_on: "eval:doc.view=='Per Customer'",
		},
	],
	onload(report) {
		// backfill and repair are a Fishpond Manager's (the API refuses accountants too)
		if (!frappe.user.has_role(["Fishpond Manager", "System Manager"])) return;
		report.page.add_inner_button(__("Run Backfill"), () => {
			frappe.call({ method: "crm_fishpond.api.sync.start_backfill", type: "POST" }).then((r) => {
				frappe.set_route("Form", "Fishpond Run", r.message);
			});
		});
		report.page.add_inner_button(__("Repair Differences"), () => {
			frappe.confirm(
				__("Re-sync every voucher listed here from ERPNext? This runs in the background."),
				() => {
					frappe
						.call({ method: "crm_fishpond.api.sync.repair_differences", type: "POST" })
						.then(() => frappe.show_alert(__("Repair queued: refresh the report when it is done")));
				}
			);
		});
	},
};

frappe.query_reports["Fishpond Time to Claim"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_days(frappe.datetime.get_today(), -90),
			reqd: 1,
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
			reqd: 1,
		},
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "user", label: __("Rep"), fieldtype: "Link", options: "User" },
		{ fieldname: "detail", label: __("One Row per Lead"), fieldtype: "Check", default: 0 },
	],
};

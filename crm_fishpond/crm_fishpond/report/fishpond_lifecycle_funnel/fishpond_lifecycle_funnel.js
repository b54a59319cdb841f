frappe.query_reports["Fishpond Lifecycle Funnel"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_months(frappe.datetime.get_today(), -12),
			reqd: 1,
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
			reqd: 1,
		},
		{ fieldname: "company", label: __("Company"), fieldtype: "Link", options: "Company" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "lead_owner", label: __("Owner (Rep)"), fieldtype: "Link", options: "User" },
	],
};

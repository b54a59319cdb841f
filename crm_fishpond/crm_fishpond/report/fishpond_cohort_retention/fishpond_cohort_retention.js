frappe.query_reports["Fishpond Cohort Retention"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("First Purchase From"),
			fieldtype: "Date",
			default: frappe.datetime.add_months(frappe.datetime.month_start(), -11),
			reqd: 1,
		},
		{
			fieldname: "to_date",
			label: __("First Purchase To"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
			reqd: 1,
		},
		{ fieldname: "company", label: __("Company"), fieldtype: "Link", options: "Company" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "lead_owner", label: __("Owner (Rep)"), fieldtype: "Link", options: "User" },
		{ fieldname: "months", label: __("Months Since"), fieldtype: "Int", default: 12 },
		{
			fieldname: "show",
			label: __("Show"),
			fieldtype: "Select",
			options: [
				{ value: "Retention %", label: __("Retention %") },
				{ value: "Buyers", label: __("Buyers") },
			],
			default: "Retention %",
		},
	],
};

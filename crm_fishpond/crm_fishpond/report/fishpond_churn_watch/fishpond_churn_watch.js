frappe.query_reports["Fishpond Churn Watch"] = {
	filters: [
		{ fieldname: "company", label: __("Company"), fieldtype: "Link", options: "Company" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "lead_owner", label: __("Owner (Rep)"), fieldtype: "Link", options: "User" },
		{ fieldname: "from_date", label: __("First Purchase From"), fieldtype: "Date" },
		{ fieldname: "to_date", label: __("First Purchase To"), fieldtype: "Date" },
		{
			fieldname: "churn_band",
			label: __("Churn Band"),
			fieldtype: "Select",
			options: ["", "High", "Medium", "Low"],
		},
		{ fieldname: "limit", label: __("Rows"), fieldtype: "Int", default: 500 },
	],
};

frappe.query_reports["Fishpond Referrals"] = {
	filters: [
		{
			fieldname: "company",
			label: __("Company"),
			fieldtype: "Link",
			options: "Company",
			default: frappe.defaults.get_user_default("Company"),
		},
		{ fieldname: "from_date", label: __("Referred From"), fieldtype: "Date" },
		{ fieldname: "to_date", label: __("Referred To"), fieldtype: "Date" },
		{ fieldname: "referrer", label: __("Referrer"), fieldtype: "Link", options: "Fishpond Lead" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "lead_owner", label: __("Owner"), fieldtype: "Link", options: "User" },
	],
};

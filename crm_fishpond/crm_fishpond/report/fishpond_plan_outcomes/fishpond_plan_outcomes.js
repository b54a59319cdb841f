// Per follow-up plan: enrolments by status and the win-back rate (docs/nurture.md).
frappe.query_reports["Fishpond Plan Outcomes"] = {
	filters: [
		{
			fieldname: "from_date",
			label: __("From Date"),
			fieldtype: "Date",
			default: frappe.datetime.add_months(frappe.datetime.get_today(), -12),
		},
		{
			fieldname: "to_date",
			label: __("To Date"),
			fieldtype: "Date",
			default: frappe.datetime.get_today(),
		},
		{ fieldname: "plan", label: __("Plan"), fieldtype: "Link", options: "Fishpond Follow-up Plan" },
	],
};

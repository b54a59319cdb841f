frappe.query_reports["Fishpond RFM Grid"] = {
	filters: [
		{ fieldname: "company", label: __("Company"), fieldtype: "Link", options: "Company" },
		{ fieldname: "territory", label: __("Territory"), fieldtype: "Link", options: "Territory" },
		{ fieldname: "fishpond", label: __("Pool"), fieldtype: "Link", options: "Fishpond" },
		{ fieldname: "lead_owner", label: __("Owner (Rep)"), fieldtype: "Link", options: "User" },
		{ fieldname: "from_date", label: __("First Purchase From"), fieldtype: "Date" },
		{ fieldname: "to_date", label: __("First Purchase To"), fieldtype: "Date" },
	],

	formatter(value, row, column, data, default_formatter) {
		const formatted = default_formatter(value, row, column, data);
		const match = /^f(\d+)_count$|^count$/.exec(column.fieldname);
		if (!match || !data || !value) return formatted;
		const r = data.r_score ? cint(data.r_score) : 0;
		const f = match[1] ? cint(match[1]) : 0;
		return `<a href="#" title="${__("Open these customers")}"
			onclick="frappe.query_reports['Fishpond RFM Grid'].open_cell(${r}, ${f}); return false;">${formatted}</a>`;
	},

	// the Fishpond Lead list filtered to one cell (0 = any score), with the report's filters
	open_cell(r, f) {
		const values = frappe.query_report.get_filter_values();
		const options = {
			r_score: r ? r : [">", 0],
			f_score: f ? f : [">", 0],
		};
		for (const field of ["company", "fishpond", "lead_owner"]) {
			if (values[field]) options[field] = values[field];
		}
		if (values.territory) options.territory = ["descendants of (inclusive)", values.territory];
		if (values.from_date && values.to_date) {
			options.first_purchase = ["between", [values.from_date, values.to_date]];
		} else if (values.from_date) {
			options.first_purchase = [">=", values.from_date];
		} else if (values.to_date) {
			options.first_purchase = ["<=", values.to_date];
		}
		frappe.route_options = options;
		frappe.set_route("List", "Fishpond Lead");
	},
};

frappe.listview_settings["Fishpond Transaction"] = {
	add_fields: ["docstatus_state", "is_return"],
	get_indicator(doc) {
		if (doc.docstatus_state === "Cancelled") return [__("Cancelled"), "red", "docstatus_state,=,Cancelled"];
		if (doc.is_return) return [__("Credit Note"), "orange", "is_return,=,1"];
		return [__("Submitted"), "green", "docstatus_state,=,Submitted"];
	},
};

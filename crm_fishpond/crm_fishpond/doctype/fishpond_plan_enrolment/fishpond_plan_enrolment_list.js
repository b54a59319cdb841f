// Overdue steps (issued, not done by the end of their due day) show red; "My Overdue Steps" lists
// the user's own. docs/nurture.md
frappe.listview_settings["Fishpond Plan Enrolment"] = {
	add_fields: ["status", "step_state", "next_due", "assigned_to"],
	get_indicator(doc) {
		const today = frappe.datetime.get_today();
		if (doc.status === "Active" && doc.step_state === "Open" && doc.next_due && doc.next_due < today) {
			return [__("Overdue"), "red", `status,=,Active|step_state,=,Open|next_due,<,${today}`];
		}
		if (doc.status === "Active" && doc.step_state === "Open") {
			return [__("Open"), "orange", "status,=,Active|step_state,=,Open"];
		}
		const colors = { Active: "blue", Completed: "green", Stopped: "gray" };
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
	onload(listview) {
		listview.page.add_inner_button(__("My Overdue Steps"), () => {
			listview.filter_area.clear().then(() =>
				listview.filter_area.add([
					["Fishpond Plan Enrolment", "status", "=", "Active"],
					["Fishpond Plan Enrolment", "step_state", "=", "Open"],
					["Fishpond Plan Enrolment", "assigned_to", "=", frappe.session.user],
					["Fishpond Plan Enrolment", "next_due", "<", frappe.datetime.get_today()],
				])
			);
		});
	},
};

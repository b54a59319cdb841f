// One profile's way through a follow-up plan (docs/nurture.md). Steps are issued by the scheduler;
// logging the interaction on the profile completes the open one.
frappe.ui.form.on("Fishpond Plan Enrolment", {
	refresh(frm) {
		if (frm.is_new()) return;
		frm.add_custom_button(__("Profile"), () =>
			frappe.set_route("Form", "Fishpond Lead", frm.doc.fishpond_lead)
		);
		if (frm.doc.status !== "Active") return;
		if (frm.doc.step_state === "Open" && frm.doc.next_due < frappe.datetime.get_today()) {
			frm.dashboard.set_headline_alert(
				__("Step {0} is overdue since {1}.", [
					frm.doc.current_step,
					frappe.datetime.str_to_user(frm.doc.next_due),
				]),
				"red"
			);
		}
		frm.add_custom_button(__("Stop"), () =>
			frappe.prompt(
				{ fieldname: "note", fieldtype: "Small Text", label: __("Why") },
				(v) =>
					frappe.call({
						method: "crm_fishpond.api.nurture.stop",
						type: "POST",
						args: { enrolment: frm.doc.name, note: v.note },
						callback: () => frm.reload_doc(),
					}),
				__("Stop the Follow-up"),
				__("Stop")
			)
		);
	},
});

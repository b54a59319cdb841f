// Lead form: a way into the Fishpond profile of this lead.
frappe.ui.form.on("Lead", {
	refresh(frm) {
		if (frm.is_new() || !frm.doc.fishpond_lead) return;
		frm.add_custom_button(__("Fishpond Profile"), () => {
			frappe.set_route("Form", "Fishpond Lead", frm.doc.fishpond_lead);
		}, __("View"));
		// the profile at a glance (crm_fishpond/public/js/profile_summary.js)
		frappe.require("/assets/crm_fishpond/js/profile_summary.js", () =>
			crm_fishpond.profile.show_for(frm)
		);
	},
});

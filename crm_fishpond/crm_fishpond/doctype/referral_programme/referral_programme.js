// A programme's rules (crm_fishpond.referrals.programmes checks them on save). Run Now queues the
// company's referral run, which otherwise runs nightly and after every payment.
frappe.ui.form.on("Referral Programme", {
	setup(frm) {
		frm.set_query("loyalty_program", () => ({ filters: { company: frm.doc.company } }));
	},
	refresh(frm) {
		if (frm.is_new()) return;
		frm.add_custom_button(__("Referrals"), () =>
			frappe.set_route("List", "Fishpond Referral", { programme: frm.doc.name })
		);
		frm.add_custom_button(__("Rewards"), () =>
			frappe.set_route("List", "Referral Reward", { programme: frm.doc.name })
		);
		frm.add_custom_button(__("Run Now"), () =>
			frappe.call({
				method: "crm_fishpond.api.referrals.run_now",
				type: "POST",
				args: { company: frm.doc.company },
				callback: () => frappe.show_alert({ message: __("Referral run queued"), indicator: "green" }),
			})
		);
	},
});

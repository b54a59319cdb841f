frappe.ui.form.on("Fishpond Run", {
	refresh(frm) {
		if (["Queued", "Running"].includes(frm.doc.status)) {
			frm.dashboard.show_progress(__("Progress"), frm.doc.progress || 0, `${frm.doc.processed || 0} / ${frm.doc.total || 0}`);
		}
		if (frm.doc.run_type === "Rescore") {
			crm_fishpond_rescore.add_buttons(frm);
		}
		frappe.realtime.off("fishpond_run_progress");
		frappe.realtime.on("fishpond_run_progress", (data) => {
			if (data.run !== frm.doc.name) return;
			frm.dashboard.show_progress(__("Progress"), data.progress, data.message);
			if (data.progress >= 100 || data.message === __("Failed")) frm.reload_doc();
		});
	},
});

const crm_fishpond_rescore = {
	is_manager() {
		return frappe.user.has_role("Fishpond Manager") || frappe.user.has_role("System Manager");
	},

	add_buttons(frm) {
		const timings = JSON.parse(frm.doc.timings || "{}");
		if (timings.model_fit) {
			frm.add_custom_button(__("Model Fit"), () => frappe.set_route("Form", "Fishpond Model Fit", timings.model_fit));
		}
		if (!this.is_manager()) return;
		if (frm.doc.status === "Failed") {
			frm.add_custom_button(__("Resume"), () => this.start(frm.doc.name));
		}
		if (["Completed", "Failed", "Cancelled"].includes(frm.doc.status)) {
			frm.add_custom_button(__("Rescore Now"), () => this.start());
		}
	},

	start(resume) {
		return frappe
			.call({ method: "crm_fishpond.api.scoring.start_rescore", type: "POST", args: { resume: resume || null } })
			.then((r) => {
				frappe.show_alert({ message: __("Rescore {0} queued", [r.message]), indicator: "blue" });
				frappe.set_route("Form", "Fishpond Run", r.message);
			});
	},
};

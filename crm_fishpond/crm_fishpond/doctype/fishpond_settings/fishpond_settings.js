frappe.ui.form.on("Fishpond Settings", {
	refresh(frm) {
		if (!frappe.user.has_role("Fishpond Manager") && !frappe.user.has_role("System Manager")) return;
		frm.add_custom_button(__("Rescore Now"), () => {
			frappe.confirm(__("Rescore every profile now? Scores, grades, stages and rule tags are recomputed in the background."), () =>
				frappe.call({ method: "crm_fishpond.api.scoring.start_rescore", type: "POST" }).then((r) => {
					frappe.show_alert({ message: __("Rescore {0} queued", [r.message]), indicator: "blue" });
					frm.trigger("show_rescore_status");
				})
			);
		});
		frm.add_custom_button(__("Model Fits"), () => frappe.set_route("List", "Fishpond Model Fit"), __("View"));
		frm.add_custom_button(__("Rescore Runs"), () => frappe.set_route("List", "Fishpond Run", { run_type: "Rescore" }), __("View"));
		frm.trigger("show_rescore_status");
	},

	after_save() {
		frappe.show_alert(
			{
				message: __("Saved. Profiles are scored with these settings from their next rescore; Rescore Now rescores every profile."),
				indicator: "green",
			},
			8
		);
	},

	show_rescore_status(frm) {
		frappe.call({ method: "crm_fishpond.api.scoring.rescore_status" }).then((r) => {
			const run = r.message || {};
			frm.dashboard.clear_headline();
			if (!run.name) {
				frm.dashboard.set_headline(__("No full rescore has run yet."));
				return;
			}
			const link = `<a href="/app/fishpond-run/${encodeURIComponent(run.name)}">${frappe.utils.escape_html(run.name)}</a>`;
			if (["Queued", "Running"].includes(run.status)) {
				frm.dashboard.show_progress(__("Rescore"), run.progress || 0, `${run.processed || 0} / ${run.total || 0}`);
				frm.dashboard.set_headline(__("Rescore {0} is {1}.", [link, __(run.status)]));
				setTimeout(() => frm.trigger("show_rescore_status"), 5000);
			} else {
				const when = run.finished_at ? frappe.datetime.comment_when(run.finished_at) : "";
				frm.dashboard.set_headline(__("Last rescore {0}: {1} {2}", [link, __(run.status), when]));
			}
		});
	},
});

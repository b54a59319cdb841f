frappe.ui.form.on("Fishpond Run", {
	refresh(frm) {
		if (["Queued", "Running"].includes(frm.doc.status)) {
			frm.dashboard.show_progress(__("Progress"), frm.doc.progress || 0, `${frm.doc.processed || 0} / ${frm.doc.total || 0}`);
		}
		frappe.realtime.off("fishpond_run_progress");
		frappe.realtime.on("fishpond_run_progress", (data) => {
			if (data.run !== frm.doc.name) return;
			frm.dashboard.show_progress(__("Progress"), data.progress, data.message);
			if (data.progress >= 100) frm.reload_doc();
		});
	},
});

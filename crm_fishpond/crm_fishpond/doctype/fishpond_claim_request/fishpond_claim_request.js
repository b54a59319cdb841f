// A rep's request for a lead a colleague holds: the owner or a pool manager approves or declines,
// the requester withdraws from the lead list (crm_fishpond.pools.requests checks who may do what).
frappe.ui.form.on("Fishpond Claim Request", {
	refresh(frm) {
		frm.disable_save();
		if (frm.doc.status !== "Pending") return;
		const decide = (approve) =>
			frappe.prompt(
				{ fieldname: "note", fieldtype: "Small Text", label: __("Note for the requester") },
				(v) =>
					frappe
						.xcall("crm_fishpond.api.pools.decide_claim_request", {
							request: frm.doc.name,
							approve: approve ? 1 : 0,
							note: v.note,
						})
						.then(() => frm.reload_doc()),
				approve ? __("Approve: hand the lead over") : __("Decline the request"),
				approve ? __("Approve") : __("Decline")
			);
		// only who may see the lead opens the request: its owner, a pool manager, a Fishpond Manager
		frm.add_custom_button(__("Approve"), () => decide(true)).addClass("btn-primary");
		frm.add_custom_button(__("Decline"), () => decide(false));
	},
});

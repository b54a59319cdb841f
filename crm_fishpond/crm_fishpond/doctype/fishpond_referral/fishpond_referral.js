// A manager's decisions on a referral (crm_fishpond.api.referrals): Override a refusal with a
// reason (the fraud rules are bypassed; the first-wins rule still holds), or Cancel the referral
// (its rewards are cancelled, or reversed when already given).
frappe.ui.form.on("Fishpond Referral", {
	refresh(frm) {
		if (frm.is_new()) return;
		const indicator = { Accepted: "green", Refused: "red", Cancelled: "gray", Pending: "orange" };
		frm.page.set_indicator(__(frm.doc.status), indicator[frm.doc.status] || "gray");
		if (frm.doc.reason) {
			frm.dashboard.set_headline_alert(
				frappe.utils.escape_html(frm.doc.reason),
				frm.doc.status === "Refused" ? "red" : "blue"
			);
		}
		frm.add_custom_button(__("Rewards"), () =>
			frappe.set_route("List", "Referral Reward", { referral: frm.doc.name })
		);
		if (!frappe.user.has_role(["Fishpond Manager", "System Manager"]) || frm.doc.cancelled) return;
		const act = (method, title) =>
			frappe.prompt(
				{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 },
				(v) =>
					frappe.call({
						method: "crm_fishpond.api.referrals." + method,
						type: "POST",
						args: { referral: frm.doc.name, reason: v.reason },
						freeze: true,
						callback: () => frm.reload_doc(),
					}),
				title
			);
		if (frm.doc.status === "Refused" && !frm.doc.override_reason) {
			frm.add_custom_button(__("Override"), () => act("override", __("Accept this referral")), __("Actions"));
		}
		frm.add_custom_button(__("Cancel Referral"), () => act("cancel", __("Cancel this referral")), __("Actions"));
	},
});

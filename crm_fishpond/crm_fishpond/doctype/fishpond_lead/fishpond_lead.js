// Pool actions on the form: Claim, Release, Mark Lost, Assign, Transfer, Request Transfer.
// Which buttons show comes from the server (crm_fishpond.api.pools.actions_for), so the form never
// offers what the permission criterion would refuse.
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		if (frm.is_new()) return;
		frappe.call({
			method: "crm_fishpond.api.pools.actions_for",
			type: "GET",
			args: { name: frm.doc.name },
			callback: (r) => fishpond_pool_buttons(frm, r.message || {}),
		});
	},
});

function fishpond_pool_buttons(frm, can) {
	const group = __("Pool");
	const call = (method, args) =>
		frappe.call({
			method: "crm_fishpond.api.pools." + method,
			type: "POST",
			args: { name: frm.doc.name, ...args },
			freeze: true,
			callback: () => frm.reload_doc(),
		});
	if (can.can_claim) {
		frm.add_custom_button(__("Claim"), () => call("claim", {})).addClass("btn-primary");
	}
	if (can.can_release) {
		frm.add_custom_button(
			__("Release"),
			() =>
				frappe.prompt(
					{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason") },
					(v) => call("release", v),
					__("Release to the Pool"),
					__("Release")
				),
			group
		);
	}
	if (can.can_mark_lost) {
		frm.add_custom_button(
			__("Mark Lost"),
			() =>
				frappe.prompt(
					{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 },
					(v) => call("mark_lost", v),
					__("Mark the Lead Lost"),
					__("Mark Lost")
				),
			group
		);
	}
	if (can.can_assign) {
		frm.add_custom_button(
			__("Assign"),
			() =>
				frappe.prompt(
					[
						{ fieldname: "user", fieldtype: "Link", options: "User", label: __("Rep"), reqd: 1 },
						{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason") },
					],
					(v) => call("assign", v),
					__("Assign to a Rep"),
					__("Assign")
				),
			group
		);
	}
	if (can.can_transfer) {
		frm.add_custom_button(
			__("Transfer"),
			() =>
				frappe.prompt(
					[
						{
							fieldname: "to_pool",
							fieldtype: "Link",
							options: "Fishpond",
							label: __("To Pool"),
							reqd: 1,
						},
						{ fieldname: "keep_owner", fieldtype: "Check", label: __("Keep Owner") },
						{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason") },
					],
					(v) => call("transfer", v),
					__("Transfer to Another Pool"),
					__("Transfer")
				),
			group
		);
	}
	if (can.can_request_transfer) {
		frm.add_custom_button(
			__("Request Transfer"),
			() =>
				frappe.new_doc("Fishpond Transfer Request", {
					fishpond_lead: frm.doc.name,
				}),
			group
		);
	}
	if (can.protected_by && can.protected_by.length) {
		frm.dashboard.set_headline_alert(
			__("Protected from recycling: {0}", [
				can.protected_by.map(frappe.utils.escape_html).join(", "),
			]),
			"blue"
		);
	}
	frm.add_custom_button(
		__("Claim History"),
		() => frappe.set_route("List", "Fishpond Claim Log", { profile: frm.doc.name }),
		group
	);
}

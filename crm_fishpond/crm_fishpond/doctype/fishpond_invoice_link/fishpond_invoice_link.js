// The accountant's link queue: one invoice whose customer is not the real one, with its suggestions.
// Every action asks for a reason (kept in the audit log) and calls crm_fishpond.api.accounting.

const API = "crm_fishpond.api.accounting.";

function with_reason(title, fields, action) {
	const d = new frappe.ui.Dialog({
		title: title,
		fields: [
			...(fields || []),
			{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 },
		],
		primary_action_label: __("Confirm"),
		primary_action(values) {
			d.hide();
			action(values);
		},
	});
	d.show();
	return d;
}

function get(method, args) {
	// reads are whitelisted for GET only (frappe.xcall always POSTs)
	return frappe.call({ method: API + method, args: args, type: "GET" }).then((r) => r.message);
}

function post(frm, method, args, message) {
	return frappe.xcall(API + method, args).then((r) => {
		if (message) frappe.show_alert({ message: message, indicator: "green" });
		frm.reload_doc();
		return r;
	});
}

frappe.ui.form.on("Fishpond Invoice Link", {
	refresh(frm) {
		frm.disable_save();
		render_suggestions(frm);
		if (frm.doc.status === "Open") {
			frm.add_custom_button(__("Create Customer"), () =>
				with_reason(
					__("Create a Customer from {0}", [frm.doc.voucher_no]),
					[
						{
							fieldname: "customer_name",
							fieldtype: "Data",
							label: __("Customer Name"),
							reqd: 1,
							default: frm.doc.customer_name,
						},
					],
					(v) =>
						post(
							frm,
							"create_customer",
							{ link: frm.doc.name, reason: v.reason, customer_name: v.customer_name },
							__("Customer created and the invoice attributed")
						)
				)
			);
			frm.add_custom_button(__("Dismiss Invoice"), () =>
				with_reason(__("Nobody can be told from this invoice"), [], (v) =>
					post(frm, "dismiss_invoice", { link: frm.doc.name, reason: v.reason }, __("Dismissed"))
				)
			);
			if (frm.doc.reason === "Likely Duplicate" && frm.doc.duplicate_of) {
				frm.add_custom_button(__("Merge Customers"), () => merge_customers(frm));
			}
		}
		if (frm.doc.status === "Dismissed") {
			frm.add_custom_button(__("Reopen"), () =>
				with_reason(__("Back to the queue"), [], (v) =>
					post(frm, "reopen", { link: frm.doc.name, reason: v.reason }, __("Reopened"))
				)
			);
		}
		if (frm.doc.status === "Attributed" && frm.doc.attribution) {
			frm.add_custom_button(__("Undo Attribution"), () =>
				with_reason(__("Undo the attribution"), [], (v) =>
					post(
						frm,
						"undo",
						{ attribution_name: frm.doc.attribution, reason: v.reason },
						__("Undone: the invoice is back on its customer's profile")
					)
				)
			);
		}
	},
});

function render_suggestions(frm) {
	const wrapper = frm.get_field("suggestions_view").$wrapper;
	wrapper.empty();
	if (frm.is_new() || !frm.doc.suggestions || !frm.doc.suggestions.length) {
		wrapper.html(`<p class="text-muted">${__("No suggestions: nothing on the invoice matches a profile.")}</p>`);
		return;
	}
	get("entry", { link: frm.doc.name }).then((data) => {
		const open = frm.doc.status === "Open";
		const rows = data.suggestions
			.map(
				(s, i) => `<tr>
				<td>${i + 1}</td>
				<td><b>${frappe.utils.escape_html(s.lead_name || s.profile)}</b><br>
					<span class="text-muted">${frappe.utils.escape_html(s.customer || "")}</span></td>
				<td>${format_number(s.score, null, 3)}${s.confident ? ` <span class="indicator-pill green">${__("Confident")}</span>` : ""}</td>
				<td>${s.evidence.map((e) => frappe.utils.escape_html(e)).join("<br>")}</td>
				<td>${
					open
						? `<button class="btn btn-xs btn-primary fp-attribute" data-profile="${frappe.utils.escape_html(s.profile)}">${__("Attribute")}</button>
						   <button class="btn btn-xs btn-default fp-dismiss" data-profile="${frappe.utils.escape_html(s.profile)}">${__("Dismiss")}</button>`
						: ""
				}</td></tr>`
			)
			.join("");
		const $table = $(`<div class="fishpond-suggestions">
			<table class="table table-bordered table-sm">
			<thead><tr><th>#</th><th>${__("Profile")}</th><th>${__("Score")}</th><th>${__("Evidence")}</th><th></th></tr></thead>
			<tbody>${rows}</tbody></table></div>`);
		wrapper.empty().append($table);
		$table.find(".fp-attribute").on("click", (e) => {
			const profile = $(e.currentTarget).attr("data-profile");
			with_reason(__("Attribute {0} to {1}", [frm.doc.voucher_no, profile]), [], (v) =>
				post(frm, "attribute", { link: frm.doc.name, profile: profile, reason: v.reason }, __("Attributed"))
			);
		});
		$table.find(".fp-dismiss").on("click", (e) => {
			const profile = $(e.currentTarget).attr("data-profile");
			with_reason(__("{0} is not {1}'s", [frm.doc.voucher_no, profile]), [], (v) =>
				post(frm, "dismiss", { link: frm.doc.name, profile: profile, reason: v.reason }, __("Dismissed"))
			);
		});
	});
}

function merge_customers(frm) {
	const source = frm.doc.customer;
	const target = frm.doc.duplicate_of;
	get("preview_customer_merge", { source: source, target: target }).then((p) => {
		if (p.refusal) {
			frappe.msgprint({ title: __("Customers cannot be merged"), message: p.refusal, indicator: "red" });
			return;
		}
		const moves = p.moves
			.map((m) => `<li>${frappe.utils.escape_html(m.label)}: ${m.count}</li>`)
			.join("");
		with_reason(
			__("Merge Customer {0} into {1}", [source, target]),
			[
				{
					fieldtype: "HTML",
					options: `<p>${__("ERPNext moves these records to {0}; {1} is deleted, and its profile joins {0}'s.", [
						frappe.utils.escape_html(target),
						frappe.utils.escape_html(source),
					])}</p><ul>${moves}</ul>`,
				},
			],
			(v) =>
				frappe
					.xcall(API + "merge_customers", { source: source, target: target, reason: v.reason })
					.then(() => {
						frappe.show_alert({ message: __("Customers merged"), indicator: "green" });
						frappe.set_route("List", "Fishpond Invoice Link");
					})
		);
	});
}

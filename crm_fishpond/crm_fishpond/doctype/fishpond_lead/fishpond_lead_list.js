const FISHPOND_API = "crm_fishpond.api.pools.";

frappe.listview_settings["Fishpond Lead"] = {
	add_fields: ["status", "lead_owner", "fishpond", "lifecycle_stage", "value_grade", "churn_band"],
	get_indicator(doc) {
		const colors = {
			"In Pool": "blue",
			Claimed: "orange",
			Converted: "green",
			Lost: "gray",
			Churned: "red",
		};
		return [__(doc.status), colors[doc.status] || "gray", "status,=," + doc.status];
	},
	onload(listview) {
		// a lead a colleague holds is not in the list: ask for it by what you know of it
		listview.page.add_inner_button(__("Request a Held Lead"), () =>
			frappe.prompt(
				[
					{ fieldname: "email", fieldtype: "Data", options: "Email", label: __("Its E-mail") },
					{ fieldname: "phone", fieldtype: "Data", label: __("Or Its Phone") },
					{ fieldname: "reason", fieldtype: "Small Text", label: __("Why"), reqd: 1 },
				],
				(v) =>
					frappe
						.xcall(FISHPOND_API + "request_claim", v)
						.then((r) =>
							frappe.msgprint(
								r.sent
									? __("Your request went to the colleague who holds it, and to its pool's managers.")
									: __("No colleague holds a lead with that e-mail or phone. If it is in a pool, claim it there.")
							)
						),
				__("Request a Lead a Colleague Holds"),
				__("Send Request")
			)
		);
		listview.page.add_inner_button(__("My Lead Requests"), () => fishpond_my_requests());
		const selected = () => listview.get_checked_items(true);
		const run = (method, args, verb) => {
			const names = selected();
			if (!names.length) {
				frappe.msgprint(__("Select the leads first."));
				return;
			}
			frappe.call({
				method: FISHPOND_API + method,
				type: "POST",
				args: { names: JSON.stringify(names), ...args },
				freeze: true,
				callback: (r) => {
					fishpond_show_outcome(r.message, verb);
					listview.clear_checked_items();
					listview.refresh();
				},
			});
		};
		listview.page.add_actions_menu_item(
			__("Claim"),
			() => run("bulk_claim", {}, __("Claimed")),
			false
		);
		listview.page.add_actions_menu_item(
			__("Release"),
			() =>
				frappe.prompt(
					{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason") },
					(v) => run("bulk_release", v, __("Released")),
					__("Release to the Pool"),
					__("Release")
				),
			false
		);
		listview.page.add_actions_menu_item(
			__("Mark Lost"),
			() =>
				frappe.prompt(
					{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 },
					(v) => run("bulk_mark_lost", v, __("Marked lost")),
					__("Mark the Leads Lost"),
					__("Mark Lost")
				),
			false
		);
		listview.page.add_actions_menu_item(
			__("Assign"),
			() =>
				frappe.prompt(
					[
						{ fieldname: "user", fieldtype: "Link", options: "User", label: __("Rep"), reqd: 1 },
						{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason") },
					],
					(v) => run("bulk_assign", v, __("Assigned")),
					__("Assign to a Rep"),
					__("Assign")
				),
			false
		);
		listview.page.add_actions_menu_item(
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
					(v) => run("bulk_transfer", v, __("Transferred")),
					__("Transfer to Another Pool"),
					__("Transfer")
				),
			false
		);
		// follow-up plans (docs/nurture.md): enrol the selected profiles by hand
		listview.page.add_actions_menu_item(
			__("Enrol in Follow-up Plan"),
			() => fishpond_enrol_in_plan(listview),
			false
		);
	},
};

function fishpond_enrol_in_plan(listview) {
	const names = listview.get_checked_items(true);
	if (!names.length) {
		frappe.msgprint(__("Select the leads first."));
		return;
	}
	frappe.prompt(
		{
			fieldname: "plan",
			fieldtype: "Link",
			options: "Fishpond Follow-up Plan",
			label: __("Follow-up Plan"),
			reqd: 1,
			get_query: () => ({ filters: { enabled: 1 } }),
		},
		(v) =>
			frappe.call({
				method: "crm_fishpond.api.nurture.enrol",
				type: "POST",
				args: { plan: v.plan, names: JSON.stringify(names) },
				freeze: true,
				callback: (r) => {
					const out = r.message || {};
					const lines = [
						__("Enrolled: {0}", [(out.enrolled || []).length]),
						__("Already in the plan: {0}", [(out.already || []).length]),
						__("Not yours to enrol: {0}", [(out.refused || []).length]),
					];
					frappe.msgprint({
						title: __("Enrol in Follow-up Plan"),
						message: lines.map((l) => `<p>${l}</p>`).join(""),
						indicator: (out.refused || []).length ? "orange" : "green",
					});
					listview.clear_checked_items();
				},
			}),
		__("Enrol in Follow-up Plan"),
		__("Enrol")
	);
}

function fishpond_show_outcome(outcome, verb) {
	if (!outcome) return;
	const done = outcome.done || [];
	const failed = outcome.failed || {};
	const failures = Object.keys(failed);
	let html = `<p>${__("{0}: {1}", [verb, done.length])}</p>`;
	if (failures.length) {
		html += `<p>${__("Not done: {0}", [failures.length])}</p><ul>`;
		html += failures
			.map(
				(name) =>
					`<li><b>${frappe.utils.escape_html(name)}</b>: ${frappe.utils.escape_html(
						failed[name]
					)}</li>`
			)
			.join("");
		html += "</ul>";
	}
	frappe.msgprint({
		title: __("Pool Action"),
		message: html,
		indicator: failures.length ? (done.length ? "orange" : "red") : "green",
	});
}

// a rep's own requests for leads colleagues hold: their reason and status, never the lead
function fishpond_my_requests() {
	frappe.call({ method: FISHPOND_API + "my_claim_requests", type: "GET" }).then((r) => {
		const rows = r.message || [];
		const d = new frappe.ui.Dialog({ title: __("My Lead Requests"), fields: [{ fieldtype: "HTML", fieldname: "list" }] });
		const html = rows.length
			? `<table class="table table-sm"><thead><tr><th>${__("Why")}</th><th>${__("Status")}</th><th></th></tr></thead><tbody>${rows
					.map(
						(row) => `<tr><td>${frappe.utils.escape_html(row.reason || "")}</td><td>${__(row.status)}</td><td>${
							row.status === "Pending"
								? `<button class="btn btn-xs btn-default fp-withdraw" data-name="${frappe.utils.escape_html(row.name)}">${__("Withdraw")}</button>`
								: ""
						}</td></tr>`
					)
					.join("")}</tbody></table>`
			: `<p class="text-muted">${__("You have asked for no lead.")}</p>`;
		d.fields_dict.list.$wrapper.html(html);
		d.fields_dict.list.$wrapper.find(".fp-withdraw").on("click", (e) => {
			frappe
				.xcall(FISHPOND_API + "withdraw_claim_request", { request: $(e.currentTarget).attr("data-name") })
				.then(() => {
					d.hide();
					fishpond_my_requests();
				});
		});
		d.show();
	});
}

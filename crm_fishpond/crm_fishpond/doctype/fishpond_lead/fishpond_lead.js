// Pool actions on the form: Claim, Release, Mark Lost, Assign, Transfer, Request Transfer.
// Which buttons show comes from the server (crm_fishpond.api.pools.actions_for), so the form never
// offers what the permission criterion would refuse.
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		if (frm.is_new()) return;
		// the profile at a glance and its score in words (crm_fishpond.profile.summary, sent with the form)
		const summary = (frm.doc.__onload || {}).fishpond_summary;
		if (summary) {
			frappe.require("/assets/crm_fishpond/js/profile_summary.js", () =>
				crm_fishpond.profile.render(frm, summary)
			);
		}
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

// Possible duplicates (crm_fishpond.api.duplicates): the open pairs of this profile the user may see,
// with Not a duplicate (dismissed: never suggested again) and, for managers, Merge profiles (this profile is kept).
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		if (frm.is_new()) return;
		frappe.call({
			method: "crm_fishpond.api.duplicates.profile_candidates",
			type: "GET",
			args: { profile: frm.doc.name },
			callback: (r) => fishpond_duplicates_section(frm, r.message || {}),
		});
	},
});

function fishpond_duplicates_section(frm, data) {
	const rows = data.candidates || [];
	if (!rows.length) return;
	const esc = frappe.utils.escape_html;
	const body = $(`<div class="fishpond-duplicates"></div>`);
	rows.forEach((row) => {
		const other = row.profile_a === frm.doc.name ? row.profile_b : row.profile_a;
		const other_name = row.profile_a === frm.doc.name ? row.name_b : row.name_a;
		const line = $(`<div class="flex justify-between align-center" style="margin-bottom: var(--margin-sm)">
			<div><a href="/app/fishpond-lead/${encodeURIComponent(other)}">${esc(other_name || other)}</a>
				<span class="text-muted">(${esc(other)}) · ${__("Score")} ${format_number(row.score, null, 2)}
				· ${esc(row.evidence || "")}</span></div>
			<div class="fishpond-duplicate-actions"></div></div>`);
		const actions = line.find(".fishpond-duplicate-actions");
		$(`<button class="btn btn-xs btn-default">${__("Not a duplicate")}</button>`)
			.appendTo(actions)
			.on("click", () =>
				frappe.call({
					method: "crm_fishpond.api.duplicates.dismiss",
					type: "POST",
					args: { candidate: row.name },
					freeze: true,
					callback: () => frm.reload_doc(),
				})
			);
		if (data.can_merge) {
			$(`<button class="btn btn-xs btn-default" style="margin-left: var(--margin-xs)">
				${__("Merge profiles")}</button>`)
				.appendTo(actions)
				.on("click", () => fishpond_merge_dialog(frm, row, other));
		}
		body.append(line);
	});
	frm.dashboard.add_section(body, __("Possible duplicates"));
	frm.dashboard.show();
}

function fishpond_merge_dialog(frm, row, other) {
	const dialog = new frappe.ui.Dialog({
		title: __("Merge profiles"),
		fields: [
			{
				fieldname: "survivor",
				fieldtype: "Select",
				label: __("Profile to keep"),
				options: [frm.doc.name, other],
				default: frm.doc.name,
				reqd: 1,
			},
			{
				fieldname: "owner",
				fieldtype: "Link",
				options: "User",
				label: __("Owner to keep"),
				description: __("Empty: the owner who claimed first keeps the profile"),
			},
		],
		primary_action_label: __("Merge profiles"),
		primary_action(values) {
			frappe.call({
				method: "crm_fishpond.api.duplicates.merge",
				type: "POST",
				args: { candidate: row.name, survivor: values.survivor, owner: values.owner },
				freeze: true,
				callback: (r) => {
					dialog.hide();
					if (r.message.survivor === frm.doc.name) frm.reload_doc();
					else frappe.set_route("Form", "Fishpond Lead", r.message.survivor);
				},
			});
		},
	});
	dialog.show();
}

// Qualification: the questions of the framework that scores (Fishpond Settings, Qualification) show;
// the other framework's stay visible only where they hold an answer. A new profile shows all of them.
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		const framework = (frm.doc.__onload || {}).qualification_framework;
		if (!framework) return;
		const champ = framework === "CHAMP";
		for (const field of ["need", "timeline"]) frm.toggle_display(field, !champ || !!frm.doc[field]);
		for (const field of ["challenges", "priority"]) frm.toggle_display(field, champ || !!frm.doc[field]);
		frm.set_df_property("budget", "label", champ ? __("Money (Budget)") : __("Budget"));
	},
});

// Referrals (crm_fishpond.api.referrals): the profile's code and the link to share, and a rep
// recording who referred this profile (by the referrer's code or profile). The screening decides
// which referral counts; the Connections tab lists referrals and rewards.
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		if (frm.is_new()) return;
		const group = __("Referral");
		frm.add_custom_button(
			frm.doc.referral_code ? __("Share Referral Link") : __("Create Referral Code"),
			() =>
				frappe.call({
					method: "crm_fishpond.api.referrals.referral_code",
					type: "POST",
					args: { profile: frm.doc.name },
					freeze: true,
					callback: (r) => {
						const { code, link } = r.message || {};
						if (!code) return;
						if (!frm.doc.referral_code) frm.reload_doc();
						frappe.msgprint({
							title: __("Referral code {0}", [frappe.utils.escape_html(code)]),
							message: `<p>${__("Share this link: a sign-up through it records the referral.")}</p>
								<p><a href="${encodeURI(link)}" target="_blank" rel="noopener">${frappe.utils.escape_html(link)}</a></p>`,
						});
						if (navigator.clipboard) navigator.clipboard.writeText(link).catch(() => {});
					},
				}),
			group
		);
		if (!frm.perm[0] || !frm.perm[0].write) return;
		frm.add_custom_button(
			__("Record Referral"),
			() => {
				const dialog = new frappe.ui.Dialog({
					title: __("Who referred {0}?", [frappe.utils.escape_html(frm.doc.lead_name || frm.doc.name)]),
					fields: [
						{ fieldname: "code", fieldtype: "Data", label: __("Referrer's Referral Code") },
						{
							fieldname: "referrer",
							fieldtype: "Link",
							options: "Fishpond Lead",
							label: __("Or the Referrer's Profile"),
						},
					],
					primary_action_label: __("Record"),
					primary_action(values) {
						if (!values.code && !values.referrer) {
							frappe.msgprint(__("Give the referrer's referral code or choose the referrer."));
							return;
						}
						frappe.call({
							method: "crm_fishpond.api.referrals.record",
							type: "POST",
							args: { referee: frm.doc.name, code: values.code, referrer: values.referrer },
							freeze: true,
							callback: (r) => {
								dialog.hide();
								frappe.show_alert({
									message: __("Referral {0} recorded", [r.message]),
									indicator: "green",
								});
								frm.reload_doc();
							},
						});
					},
				});
				dialog.show();
			},
			group
		);
	},
});

// Feedback (crm_fishpond.api.feedback): send an NPS or CSAT survey now, or log an answer heard on a
// call. Answers show in the timeline and the Connections; the last NPS and CSAT on the Segmentation tab.
frappe.ui.form.on("Fishpond Lead", {
	refresh(frm) {
		if (frm.is_new() || !frm.perm[0] || !frm.perm[0].write) return;
		const group = __("Feedback");
		frm.add_custom_button(
			__("Send Survey"),
			() => {
				const dialog = new frappe.ui.Dialog({
					title: __("Send a survey to {0}", [frappe.utils.escape_html(frm.doc.lead_name || frm.doc.name)]),
					fields: [
						{
							fieldname: "survey",
							fieldtype: "Link",
							options: "Fishpond Survey",
							label: __("Survey"),
							reqd: 1,
							get_query: () => ({ filters: { enabled: 1 } }),
						},
					],
					primary_action_label: __("Send"),
					primary_action(values) {
						frappe.call({
							method: "crm_fishpond.api.feedback.send_survey",
							type: "POST",
							args: { profile: frm.doc.name, survey: values.survey },
							freeze: true,
							callback: () => {
								dialog.hide();
								frappe.show_alert({ message: __("Survey sent"), indicator: "green" });
								frm.reload_doc();
							},
						});
					},
				});
				dialog.show();
			},
			group
		);
		frm.add_custom_button(
			__("Log Feedback"),
			() => frappe.new_doc("Fishpond Feedback", { fishpond_lead: frm.doc.name }),
			group
		);
	},
});

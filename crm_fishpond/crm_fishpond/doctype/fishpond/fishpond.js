// The recycle dry run: as an admin edits the rules, show how many leads the next run would recycle,
// computed on the server from the unsaved form values (crm_fishpond.api.pools.recycle_preview).
const FISHPOND_RULE_FIELDS = [
	"recycle_enabled",
	"recycle_no_followup_days",
	"recycle_no_order_days",
	"recycle_warn_days",
	"recycle_to",
	"exempt_locked",
	"exempt_open_sales_order",
	"exempt_unpaid_invoice",
	"exempt_value_grades",
	"exempt_stages",
];

const fishpond_rule_handlers = {
	refresh(frm) {
		fishpond_preview(frm);
		if (!frm.is_new()) {
			frm.add_custom_button(__("Leads"), () =>
				frappe.set_route("List", "Fishpond Lead", { fishpond: frm.doc.name })
			);
			frm.add_custom_button(__("Claim Log"), () =>
				frappe.set_route("List", "Fishpond Claim Log", { to_pool: frm.doc.name })
			);
		}
	},
};
FISHPOND_RULE_FIELDS.forEach((field) => {
	fishpond_rule_handlers[field] = (frm) => fishpond_preview(frm);
});
frappe.ui.form.on("Fishpond", fishpond_rule_handlers);

function fishpond_preview(frm) {
	const wrapper = frm.get_field("recycle_preview")?.$wrapper;
	if (!wrapper) return;
	if (!frm.doc.recycle_enabled) {
		wrapper.html("");
		return;
	}
	clearTimeout(frm._fishpond_preview_timer);
	frm._fishpond_preview_timer = setTimeout(() => {
		frappe.call({
			method: "crm_fishpond.api.pools.recycle_preview",
			type: "POST",
			args: { pool: JSON.stringify(frm.doc) },
			callback: (r) => wrapper.html(fishpond_preview_html(r.message || {}, frm)),
			error: () => wrapper.html(""),
		});
	}, 400);
}

function fishpond_preview_html(result, frm) {
	const esc = frappe.utils.escape_html;
	if (!result.active) {
		return `<p class="text-muted">${__("Set at least one rule to recycle leads.")}</p>`;
	}
	const table = (rows) =>
		`<table class="table table-bordered table-sm small"><thead><tr>
			<th>${__("Lead")}</th><th>${__("Owner")}</th><th>${__("Claimed On")}</th>
			<th>${__("Due")}</th><th>${__("Rule")}</th></tr></thead><tbody>${rows
			.map(
				(row) =>
					`<tr><td><a href="/app/fishpond-lead/${encodeURIComponent(row.name)}">${esc(
						row.lead_name || row.name
					)}</a></td><td>${esc(row.lead_owner || "")}</td><td>${frappe.datetime.str_to_user(
						row.claimed_on
					)}</td><td>${frappe.datetime.str_to_user(row.due_on)}</td><td>${esc(row.rule)}</td></tr>`
			)
			.join("")}</tbody></table>`;
	let html = `<p><b>${__("{0} leads would be recycled at the next run", [result.count])}</b></p>`;
	if (result.leads && result.leads.length) {
		html += table(result.leads);
		if (result.count > result.leads.length) {
			html += `<p class="text-muted small">${__("Showing the first {0}.", [
				result.leads.length,
			])}</p>`;
		}
	}
	if (result.warn_count) {
		html += `<p>${__("{0} more would get a warning first", [result.warn_count])}</p>`;
		html += table(result.upcoming || []);
	}
	if (frm.is_dirty()) {
		html += `<p class="text-muted small">${__("Computed from the unsaved rules above.")}</p>`;
	}
	return html;
}

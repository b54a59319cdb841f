// Rules built by clicking, with a preview before saving. Used by the Fishpond Tag and Lifecycle
// Stage forms (loaded with frappe.require). The builder is Frappe's own filter UI
// (frappe.ui.FilterGroup) over "Fishpond Profile Facts": every field a rule can read, labelled as
// the profile form labels it. The rows are stored in `rule_filters`, the server compiles them into
// the JSON condition (crm_fishpond.scoring.rules.sync_builder); "Edit as JSON" shows the JSON.
frappe.provide("crm_fishpond.rules");

crm_fishpond.rules.FACTS = "Fishpond Profile Facts";

// opts: {condition: fieldname of the JSON condition, active(frm): whether the form has a rule}
crm_fishpond.rules.setup = function (frm, opts) {
	const field = frm.get_field("rule_builder");
	if (!field) return;
	const wrapper = field.$wrapper;
	wrapper.empty();
	frm._fishpond_rule_opts = opts;
	if (!opts.active(frm)) {
		crm_fishpond.rules.show_preview(frm, null);
		return;
	}
	if (!frm.perm[0] || !frm.perm[0].write) {
		// a reader sees the rule, read-only; the preview (which reads the whole pond) is for editors
		crm_fishpond.rules.show_rows(frm, wrapper);
		return;
	}
	if (frm.doc.advanced_rule) {
		crm_fishpond.rules.preview(frm);
		return;
	}
	frappe.model.with_doctype(crm_fishpond.rules.FACTS, () => {
		wrapper.empty();
		const area = $('<div class="fishpond-rule-builder"></div>').appendTo(wrapper);
		$(`<p class="text-muted small">${__(
			"Add a condition per row. Select fields show their options; Churn Risk is a percent."
		)}</p>`).appendTo(wrapper);
		const group = new frappe.ui.FilterGroup({
			parent: area,
			doctype: crm_fishpond.rules.FACTS,
			on_change: () => crm_fishpond.rules.rows_changed(frm, group),
		});
		frm._fishpond_filter_group = group;
		group.add_filters_to_filter_group(crm_fishpond.rules.stored_rows(frm));
		crm_fishpond.rules.preview(frm);
	});
};

crm_fishpond.rules.show_rows = function (frm, wrapper) {
	const rows = crm_fishpond.rules.stored_rows(frm);
	if (!rows.length) return;
	frappe.model.with_doctype(crm_fishpond.rules.FACTS, () => {
		const esc = frappe.utils.escape_html;
		const label = (f) => __(frappe.meta.get_label(crm_fishpond.rules.FACTS, f) || f);
		const joiner = frm.doc.rule_match === "Any" ? __("or") : __("and");
		wrapper.html(
			`<p class="fishpond-rule-rows">${rows
				.map((r) => `${esc(label(r[1]))} <b>${esc(r[2])}</b> ${esc(JSON.stringify(r[3] ?? ""))}`)
				.join(` <i>${joiner}</i> `)}</p>`
		);
	});
};

crm_fishpond.rules.stored_rows = function (frm) {
	try {
		const rows = JSON.parse(frm.doc.rule_filters || "[]");
		return Array.isArray(rows) ? rows : [];
	} catch (e) {
		return [];
	}
};

crm_fishpond.rules.rows_changed = function (frm, group) {
	// a row still being filled in (no value yet) is not part of the rule
	const rows = group
		.get_filters()
		.map((f) => f.slice(0, 4))
		.filter((f) => f[2] === "is" || !["", "%", "%%", null, undefined].includes(f[3]));
	const value = rows.length ? JSON.stringify(rows) : "";
	const stored = crm_fishpond.rules.stored_rows(frm);
	if (JSON.stringify(stored) === JSON.stringify(rows)) return;
	frm.set_value("rule_filters", value);
	if (!rows.length) {
		// the builder was emptied: so is the rule
		frm.set_value(frm._fishpond_rule_opts.condition, "");
	}
	crm_fishpond.rules.preview(frm);
};

// "Edit as JSON" off again: the JSON must be one the builder can show
crm_fishpond.rules.advanced_toggled = function (frm) {
	const opts = frm._fishpond_rule_opts;
	if (!frm.doc.advanced_rule && frm.doc[opts.condition] && !frm.doc.rule_filters && !frm.is_new()) {
		if (frm.is_dirty()) {
			frappe.msgprint(__("Save the JSON first; the builder then shows it when it can."));
			frm.set_value("advanced_rule", 1);
			return;
		}
	}
	crm_fishpond.rules.setup(frm, opts);
};

crm_fishpond.rules.preview = function (frm) {
	const opts = frm._fishpond_rule_opts;
	if (!opts || !opts.active(frm)) return;
	clearTimeout(frm._fishpond_preview_timer);
	// the count on screen is for the rule as it was: say so at once, not after the pause
	const token = (frm._fishpond_preview_token = (frm._fishpond_preview_token || 0) + 1);
	crm_fishpond.rules.show_preview(frm, { status: "queued" });
	frm._fishpond_preview_timer = setTimeout(() => {
		frappe.call({
			method: "crm_fishpond.api.rules.preview",
			type: "POST",
			args: { doctype: frm.doctype, doc: JSON.stringify(frm.doc) },
			callback: (r) => crm_fishpond.rules.poll(frm, r.message || {}, token, 0),
			error: () => crm_fishpond.rules.show_preview(frm, { status: "invalid" }),
		});
	}, 500);
};

crm_fishpond.rules.poll = function (frm, result, token, tries) {
	if (token !== frm._fishpond_preview_token) return; // the rule changed meanwhile
	if (result.status !== "queued" || tries > 120) {
		crm_fishpond.rules.show_preview(frm, result);
		return;
	}
	crm_fishpond.rules.show_preview(frm, result);
	setTimeout(() => {
		frappe.call({
			method: "crm_fishpond.api.rules.preview_result",
			type: "GET",
			args: { doctype: frm.doctype, key: result.key },
			callback: (r) => crm_fishpond.rules.poll(frm, r.message || {}, token, tries + 1),
		});
	}, 1000);
};

crm_fishpond.rules.show_preview = function (frm, result) {
	const field = frm.get_field("rule_preview");
	if (!field) return;
	const esc = frappe.utils.escape_html;
	if (!result) {
		field.$wrapper.html("");
		return;
	}
	let html = "";
	if (result.status === "queued") {
		html = `<p class="text-muted fishpond-rule-preview" data-status="queued">${__(
			"Counting the profiles this rule matches…"
		)}</p>`;
	} else if (result.status === "invalid") {
		html = `<p class="text-muted fishpond-rule-preview" data-status="invalid">${__(
			"Fix the rule to see how many profiles it matches."
		)}${result.error ? `<br><span class="small">${esc(result.error)}</span>` : ""}</p>`;
	} else if (result.status === "empty") {
		html = `<p class="text-muted fishpond-rule-preview" data-status="empty">${__(
			"Add a condition to see how many profiles it matches."
		)}</p>`;
	} else if (result.status === "failed") {
		html = `<p class="text-danger fishpond-rule-preview" data-status="failed">${esc(
			result.error || __("The preview failed.")
		)}</p>`;
	} else if (result.status === "expired") {
		html = "";
	} else {
		const stage = frm.doctype === "Lifecycle Stage";
		const headline = stage
			? __("{0} of {1} profiles would be in this stage now", [result.count, result.total])
			: __("{0} of {1} profiles match now", [result.count, result.total]);
		html = `<p class="fishpond-rule-preview" data-status="done" data-count="${cint(
			result.count
		)}"><b>${headline}</b></p>`;
		if (result.sample && result.sample.length) {
			html += `<table class="table table-bordered table-sm small"><thead><tr>
				<th>${__("Profile")}</th><th>${__("Company")}</th><th>${__("Lifecycle Stage")}</th>
				<th>${__("Owner (Rep)")}</th></tr></thead><tbody>${result.sample
				.map(
					(row) => `<tr><td><a href="/app/fishpond-lead/${encodeURIComponent(
						row.name
					)}">${esc(row.lead_name || row.name)}</a></td><td>${esc(
						row.company_name || ""
					)}</td><td>${esc(row.lifecycle_stage || "")}</td><td>${esc(
						row.lead_owner || ""
					)}</td></tr>`
				)
				.join("")}</tbody></table>`;
			if (result.count > result.sample.length) {
				html += `<p class="text-muted small">${__("Showing the first {0}.", [
					result.sample.length,
				])}</p>`;
			}
		}
		if (stage && result.moves && result.moves.length) {
			html += `<p><b>${__("Stage changes the next rescore would make")}</b></p>
				<table class="table table-bordered table-sm small fishpond-stage-moves"><thead><tr>
				<th>${__("From")}</th><th>${__("To")}</th><th>${__("Profiles")}</th></tr></thead><tbody>${result.moves
				.map(
					(m) =>
						`<tr><td>${esc(m.from)}</td><td>${esc(m.to)}</td><td>${cint(
							m.count
						)}</td></tr>`
				)
				.join("")}</tbody></table>`;
		}
	}
	field.$wrapper.html(html);
};

// The profile at a glance (crm_fishpond.profile.summary): stage, category, grade, score, churn, owner and
// pool; the score explained per factor; the linked Customer's ERPNext figures. Shown on the Fishpond
// Lead form, and on the Customer and Lead forms of a customer or lead that has a profile.
frappe.provide("crm_fishpond.profile");

crm_fishpond.profile.render = function (frm, summary, opts = {}) {
	if (!summary) return;
	const esc = frappe.utils.escape_html;
	const shown = (h) => {
		if (h.fieldname === "lead_owner") return frappe.user.full_name(h.value);
		if (h.fieldname === "churn_risk") return `${format_number(h.value, null, 0)}%`;
		if (h.fieldname === "lead_score") return format_number(h.value, null, 1);
		return __(String(h.value));
	};
	let html = `<div class="fishpond-summary">`;
	if (opts.title) {
		html += `<p><a href="/app/fishpond-lead/${encodeURIComponent(summary.name)}"><b>${esc(
			summary.title
		)}</b></a></p>`;
	}
	html += `<div class="fishpond-summary-header">${summary.header
		.map(
			(h) =>
				`<span class="indicator-pill gray mr-2 mb-2" data-fieldname="${esc(h.fieldname)}">${esc(
					h.label
				)}: ${esc(shown(h))}</span>`
		)
		.join("")}</div>`;
	if (summary.score && summary.score.length) {
		html += `<p class="mt-3 mb-1"><b>${__("Why this score")}</b></p>
			<table class="table table-sm table-bordered small fishpond-score-lines"><thead><tr>
			<th>${__("Part")}</th><th>${__("Factor")}</th><th>${__("Value")}</th><th>${__("Points")}</th>
			</tr></thead><tbody>${summary.score
				.map(
					(l) =>
						`<tr><td>${esc(l.part)}</td><td>${esc(l.label)}</td><td>${esc(
							l.value || ""
						)}</td><td>${__("{0} of {1}", [
							format_number(l.points, null, 1),
							format_number(l.max_points, null, 1),
						])}</td></tr>`
				)
				.join("")}</tbody></table>`;
	}
	const erp = summary.erp;
	if (erp) {
		const owed = (erp.outstanding || [])
			.map((o) => format_currency(o.amount, o.currency))
			.join(", ");
		html += `<p class="mt-3 mb-1"><b>${__("In ERPNext")}</b></p><p class="small fishpond-erp">
			${__("Customer")}: <a href="/app/customer/${encodeURIComponent(erp.customer)}">${esc(
			erp.customer_name || erp.customer
		)}</a> · ${__("Invoices")}: ${cint(erp.invoices)} · ${__("Outstanding")}: ${
			owed || format_currency(0)
		}`;
		if (erp.last_invoice) {
			const li = erp.last_invoice;
			html += ` · ${__("Last Invoice")}: <a href="/app/sales-invoice/${encodeURIComponent(
				li.name
			)}">${esc(li.name)}</a> ${frappe.datetime.str_to_user(li.posting_date)} ${format_currency(
				li.grand_total,
				li.currency
			)}`;
		}
		html += `</p>`;
	}
	const ref = summary.referrals;
	if (ref) {
		const link = (p, name) =>
			`<a href="/app/fishpond-lead/${encodeURIComponent(p)}">${esc(name || p)}</a>`;
		html += `<p class="mt-3 mb-1"><b>${__("Referrals")}</b></p><p class="small fishpond-referrals">`;
		if (ref.referred_by) {
			html += `${__("Referred by")}: ${link(ref.referred_by.profile, ref.referred_by.name)}<br>`;
		}
		if ((ref.referred || []).length) {
			html += `${__("Referred")}: ${ref.referred
				.map((r) => `${link(r.profile, r.name)} (${esc(r.status)})`)
				.join(", ")}<br>`;
		}
		if ((ref.rewards || []).length) {
			html += `${__("Rewards")}: ${ref.rewards
				.map(
					(w) =>
						`${cint(w.count)} ${esc(w.status)}${w.type ? " " + esc(w.type) : ""}` +
						(w.kept ? ` (${format_number(w.kept, null, 2)})` : "")
				)
				.join(", ")}`;
		}
		if (ref.debt) {
			html += `<br><span class="text-danger">${__("Owes back")}: ${format_currency(ref.debt)}</span>`;
		}
		html += `</p>`;
	}
	html += `</div>`;
	frm.dashboard.add_section(html, opts.label || __("At a Glance"));
	frm.dashboard.show();
};

// Customer and Lead forms: ask for the summary of their profile
crm_fishpond.profile.show_for = function (frm) {
	if (frm.is_new() || !frm.doc.fishpond_lead) return;
	frappe.call({
		method: "crm_fishpond.api.profile.summary",
		type: "GET",
		args: { doctype: frm.doctype, name: frm.doc.name },
		callback: (r) =>
			crm_fishpond.profile.render(frm, r.message, { title: true, label: __("Fishpond Profile") }),
	});
};

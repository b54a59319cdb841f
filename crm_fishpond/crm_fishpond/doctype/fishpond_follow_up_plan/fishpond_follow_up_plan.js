// A plan's crowd is built by clicking, like a tag rule (crm_fishpond/public/js/rule_builder.js), and
// previewed before saving. docs/nurture.md
const FISHPOND_PLAN_RULE = {
	condition: "condition",
	active: (frm) => !!frm.doc.enrol_automatically,
};

function fishpond_plan_rules(frm, fn) {
	frappe.require("/assets/crm_fishpond/js/rule_builder.js", () => fn(frm));
}

frappe.ui.form.on("Fishpond Follow-up Plan", {
	refresh(frm) {
		fishpond_plan_rules(frm, (f) => crm_fishpond.rules.setup(f, FISHPOND_PLAN_RULE));
		if (frm.is_new()) return;
		frm.add_custom_button(__("Enrolments"), () =>
			frappe.set_route("List", "Fishpond Plan Enrolment", { plan: frm.doc.name })
		);
		if (frm.doc.enrol_automatically && frm.perm[0] && frm.perm[0].write) {
			frm.add_custom_button(__("Enrol the Crowd Now"), () =>
				frappe.call({
					method: "crm_fishpond.api.nurture.enrol_crowd_now",
					type: "POST",
					args: { plan: frm.doc.name },
					callback: () =>
						frappe.show_alert({
							message: __("Looking for the crowd in the background; reload to see the count."),
							indicator: "blue",
						}),
				})
			);
		}
	},
	enrol_automatically(frm) {
		fishpond_plan_rules(frm, (f) => crm_fishpond.rules.setup(f, FISHPOND_PLAN_RULE));
	},
	advanced_rule(frm) {
		fishpond_plan_rules(frm, (f) => crm_fishpond.rules.advanced_toggled(f));
	},
	rule_match(frm) {
		fishpond_plan_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
	condition(frm) {
		if (frm.doc.advanced_rule) fishpond_plan_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
});

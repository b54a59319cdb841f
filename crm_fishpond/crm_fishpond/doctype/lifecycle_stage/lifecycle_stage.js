// A stage's entry rule is built by clicking (crm_fishpond/public/js/rule_builder.js) and previewed
// before saving: how many profiles would be in the stage, and which stage changes the next rescore
// would make.
const FISHPOND_STAGE_RULE = {
	condition: "entry_condition",
	active: () => true,
};

function fishpond_stage_rules(frm, fn) {
	frappe.require("/assets/crm_fishpond/js/rule_builder.js", () => fn(frm));
}

frappe.ui.form.on("Lifecycle Stage", {
	refresh(frm) {
		fishpond_stage_rules(frm, (f) => crm_fishpond.rules.setup(f, FISHPOND_STAGE_RULE));
	},
	advanced_rule(frm) {
		fishpond_stage_rules(frm, (f) => crm_fishpond.rules.advanced_toggled(f));
	},
	rule_match(frm) {
		fishpond_stage_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
	sequence(frm) {
		fishpond_stage_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
	entry_condition(frm) {
		if (frm.doc.advanced_rule) fishpond_stage_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
});

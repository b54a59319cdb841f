// A rule tag is built by clicking (crm_fishpond/public/js/rule_builder.js), previewed before saving.
const FISHPOND_TAG_RULE = {
	condition: "condition",
	active: (frm) => frm.doc.tag_type === "Rule",
};

function fishpond_tag_rules(frm, fn) {
	frappe.require("/assets/crm_fishpond/js/rule_builder.js", () => fn(frm));
}

frappe.ui.form.on("Fishpond Tag", {
	refresh(frm) {
		fishpond_tag_rules(frm, (f) => crm_fishpond.rules.setup(f, FISHPOND_TAG_RULE));
	},
	tag_type(frm) {
		fishpond_tag_rules(frm, (f) => crm_fishpond.rules.setup(f, FISHPOND_TAG_RULE));
	},
	advanced_rule(frm) {
		fishpond_tag_rules(frm, (f) => crm_fishpond.rules.advanced_toggled(f));
	},
	rule_match(frm) {
		fishpond_tag_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
	condition(frm) {
		if (frm.doc.advanced_rule) fishpond_tag_rules(frm, (f) => crm_fishpond.rules.preview(f));
	},
});

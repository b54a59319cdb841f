frappe.listview_settings["Fishpond Invoice Link"] = {
	add_fields: ["status", "confident", "reason"],
	get_indicator(doc) {
		const colour = { Open: "orange", Attributed: "green", Dismissed: "gray" }[doc.status];
		return [__(doc.status), colour, `status,=,${doc.status}`];
	},
	onload(listview) {
		listview.page.add_inner_button(__("Refresh Queue"), () =>
			frappe.xcall("crm_fishpond.api.accounting.refresh_queue").then(() =>
				frappe.show_alert({ message: __("The queue is being refreshed in the background"), indicator: "blue" })
			)
		);
		listview.page.add_actions_menu_item(__("Attribute Confident Suggestions"), () => {
			const links = listview.get_checked_items(true);
			const d = new frappe.ui.Dialog({
				title: __("Attribute {0} invoices to their confident suggestion", [links.length]),
				fields: [{ fieldname: "reason", fieldtype: "Small Text", label: __("Reason"), reqd: 1 }],
				primary_action_label: __("Attribute"),
				primary_action(v) {
					d.hide();
					frappe
						.xcall("crm_fishpond.api.accounting.attribute_confident", { links: links, reason: v.reason })
						.then((r) => {
							if (r.queued) {
								frappe.show_alert({
									message: __("{0} invoices are being attributed in the background", [r.queued]),
									indicator: "blue",
								});
								return;
							}
							frappe.msgprint(
								__("{0} attributed, {1} skipped (not open or not confident).", [
									r.attributed.length,
									r.skipped.length,
								])
							);
							listview.refresh();
						});
				},
			});
			d.show();
		});
	},
};

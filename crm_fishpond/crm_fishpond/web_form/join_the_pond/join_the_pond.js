// The join form posts to crm_fishpond.api.capture.submit_lead instead of the generic web form
// endpoint: that method checks every field, requires consent, rate-limits per IP and carries a
// honeypot (a hidden "website" input people never see and bots fill in).
frappe.ready(() => {
	const form = frappe.web_form;
	if (!form || !form.fields) return;

	$(".web-form-wrapper").append(`
		<div class="form-group">
			<label class="control-label" for="fishpond-message">${__("Message")}</label>
			<textarea class="form-control" id="fishpond-message" rows="4" maxlength="5000"></textarea>
		</div>
		<div style="position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden"
			aria-hidden="true">
			<label for="fishpond-website">Website</label>
			<input type="text" id="fishpond-website" name="website" tabindex="-1" autocomplete="off">
		</div>`);

	form.save = () => {
		const values = form.get_values();
		if (!values || window.saving) return false;
		window.saving = true;
		frappe.call({
			type: "POST",
			method: "crm_fishpond.api.capture.submit_lead",
			args: {
				first_name: values.first_name,
				email: values.email_id,
				company: values.company_name,
				mobile: values.mobile_no,
				referral_code: values.fishpond_referral_code,
				consent: values.fishpond_consent ? 1 : 0,
				message: $("#fishpond-message").val(),
				website: $("#fishpond-website").val(),
			},
			freeze: true,
			callback: (r) => {
				if (r.exc) return;
				$(".success-message").text(r.message.message);
				$(".web-form-container").hide();
				$(".success-page").removeClass("hide");
			},
			always: () => {
				window.saving = false;
			},
		});
		return false;
	};
});

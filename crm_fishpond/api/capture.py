"""The public way into the pond: the *Join the pond* web form posts here.

A guest endpoint, so it trusts nothing: every field is checked for type, length and shape before
anything is written, a filled honeypot is answered like a success and writes nothing, consent is
required, and Frappe's rate limiter caps it per IP. A new ERPNext Lead is inserted; the Lead's
``after_insert`` hook (crm_fishpond.events.party) then creates its profile in the default pool.
"""

import re

import frappe
from frappe import _
from frappe.rate_limiter import rate_limit

from crm_fishpond.sync.ingest import is_clean, is_one_email

WEB_FORM = "join-the-pond"
CAPTURE_LIMIT = 5  # requests per IP
CAPTURE_WINDOW = 60  # seconds
HONEYPOT = "website"  # hidden on the form: people leave it empty, form-filling bots do not
MAX_LENGTHS = {
	"first_name": 140,
	"email": 140,
	"company": 140,
	"mobile": 30,
	"referral_code": 40,
	"message": 5000,
}
MOBILE = re.compile(r"^\+?[0-9 ()./-]{5,30}$")
REFERRAL_CODE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
YES = {"1", "true", "yes", "on"}


def field_labels() -> dict[str, str]:
	return {
		"first_name": _("First Name"),
		"email": _("Email"),
		"company": _("Company"),
		"mobile": _("Mobile No"),
		"referral_code": _("Referral Code"),
		"message": _("Message"),
	}


@frappe.whitelist(allow_guest=True, methods=["POST"])
@rate_limit(limit=CAPTURE_LIMIT, seconds=CAPTURE_WINDOW)
def submit_lead(
	first_name=None,
	email=None,
	company=None,
	mobile=None,
	message=None,
	referral_code=None,
	consent=None,
	website=None,
) -> dict:
	"""Create a Lead (and so a profile) from the public form. Returns a thank-you message only, the
	same for a new Lead, a known email and a caught bot, so the form tells a stranger nothing."""
	thanks = {"message": _("Thank you! We will be in touch soon.")}
	values = clean_values(
		first_name=first_name,
		email=email,
		company=company,
		mobile=mobile,
		message=message,
		referral_code=referral_code,
	)
	if website not in (None, ""):
		return thanks  # honeypot filled: a bot; answer as if accepted, write nothing
	if str(consent).strip().lower() not in YES:
		frappe.throw(_("Please tick the consent box so that we may contact you."), frappe.ValidationError)
	existing = frappe.db.get_value("Lead", {"email_id": values["email"]}, "name")
	if existing:
		# a second sign-up of a known email adds its message to that Lead instead of a duplicate
		add_message(existing, values)
		return thanks
	lead = frappe.get_doc(
		{
			"doctype": "Lead",
			"first_name": values["first_name"],
			"company_name": values["company"],
			"email_id": values["email"],
			"mobile_no": values["mobile"],
			"fishpond_referral_code": values["referral_code"],
			"fishpond_consent": 1,
			"source": "Website" if frappe.db.exists("Lead Source", "Website") else None,
			# Lead Owner defaults to the session user: "Guest" here; the pool decides who works it
			"lead_owner": "",
		}
	)
	lead.flags.fishpond_capture = True
	lead.insert(ignore_permissions=True)
	add_message(lead.name, values)
	return thanks


def clean_values(**raw) -> dict:
	"""Stripped strings within their lengths and shapes, or a translated error naming the field."""
	labels = field_labels()
	values = {}
	for field, value in raw.items():
		if value is not None and not isinstance(value, str | int | float):
			frappe.throw(_("{0} must be text.").format(labels[field]), frappe.ValidationError)
		text = "" if value is None else str(value).strip()
		if len(text) > MAX_LENGTHS[field]:
			frappe.throw(
				_("{0} is too long: at most {1} characters.").format(labels[field], MAX_LENGTHS[field]),
				frappe.ValidationError,
			)
		if not is_clean(text):
			frappe.throw(
				_("{0} contains an invalid character.").format(labels[field]), frappe.ValidationError
			)
		values[field] = text or None
	if not values["first_name"]:
		frappe.throw(_("Please enter your first name."), frappe.ValidationError)
	if not values["email"] or not is_one_email(values["email"]):
		frappe.throw(_("Please enter a valid email address."), frappe.ValidationError)
	values["email"] = values["email"].lower()
	if values["mobile"] and not MOBILE.match(values["mobile"]):
		frappe.throw(_("Please enter a valid mobile number."), frappe.ValidationError)
	if values["referral_code"] and not REFERRAL_CODE.match(values["referral_code"]):
		frappe.throw(
			_("A referral code holds only letters, digits, dashes and underscores."), frappe.ValidationError
		)
	return values


def add_message(lead: str, values: dict) -> None:
	if values["message"]:
		frappe.get_doc("Lead", lead).add_comment(
			"Comment", text=frappe.utils.escape_html(values["message"]), comment_email=values["email"]
		)

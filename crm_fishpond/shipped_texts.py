"""Words the app ships inside records rather than code: the ``{{ _("...") }}`` strings of the shipped
Email Templates (setup_data/email_template.json) and the shipped surveys' questions
(setup_data/fishpond_survey.json). They are rendered in the recipient's language at run time; listing
them here with ``_lt`` is how the translation tools find them, so main.pot and zh.po hold them.
tests/test_app_files.py checks that this list and the shipped records say the same."""

from frappe import _lt

SHIPPED_TEXTS = (
	# Fishpond Win-back
	_lt("We miss you, {0}"),
	_lt("It has been a while since your last order, and we would like to know how we can help again."),
	_lt("As a welcome back, use the coupon {0} on your next order."),
	_lt("Just reply to this email and we will be in touch."),
	# Fishpond NPS Survey, Fishpond CSAT Survey
	_lt("How likely are you to recommend us?"),
	_lt("Dear {0},"),
	_lt(
		"Thank you for your business. One question, one click: how likely are you to recommend us to a friend or colleague?"
	),
	_lt("Answer the survey"),
	_lt("The link is yours alone and works once."),
	_lt("How satisfied are you with your order?"),
	_lt("Your order has been delivered. How satisfied are you with it? It takes one click."),
	# Fishpond Birthday Greeting, Fishpond Purchase Anniversary
	_lt("Happy birthday, {0}!"),
	_lt("Everyone here wishes you a very happy birthday and a wonderful year ahead."),
	_lt("Thank you for being with us."),
	_lt("Thank you for your trust, {0}"),
	_lt("A year ago today you placed your first order with us."),
	_lt("{0} years ago today you placed your first order with us."),
	_lt("Thank you for being with us; we look forward to the years ahead."),
	# the shipped surveys' questions and comment prompts
	_lt("How likely are you to recommend us to a friend or colleague?"),
	_lt("What is the main reason for your score?"),
	_lt("What could we do better?"),
)

app_name = "crm_fishpond"
app_title = "CRM Fishpond"
app_publisher = "crm_fishpond developers"
app_description = (
	"A fish-pond CRM inside ERPNext: pools, RFM grades, lead scores, churn risk and lifecycle stages"
)
app_email = "dev@crm-fishpond.invalid"
app_license = "MIT"
required_apps = ["erpnext"]
export_python_type_annotations = True

add_to_apps_screen = [
	{
		"name": "crm_fishpond",
		"logo": "/assets/crm_fishpond/images/fishpond.svg",
		"title": "Fishpond CRM",
		"route": "/app/fishpond-crm",
	}
]

# Install / uninstall
# -------------------
after_install = "crm_fishpond.install.after_install"
after_migrate = "crm_fishpond.install.after_migrate"
before_uninstall = "crm_fishpond.install.before_uninstall"
before_tests = "crm_fishpond.tests.utils.before_tests"

# Desk
# ----
doctype_js = {
	"Customer": "public/js/customer.js",
	"Lead": "public/js/lead.js",
}

# the profile's one chronological feed: transactions, interactions, events, stages, claims, tags, rewards
additional_timeline_content = {"Fishpond Lead": ["crm_fishpond.profile.timeline.timeline_content"]}

# Fixtures: none. Frappe re-imports fixtures on every migrate, overwriting what an admin changed, so
# the default roles, lifecycle stages, notification and workflow ship in setup_data/ and
# crm_fishpond.install.ensure_defaults creates the missing ones (never an unfiltered Custom Field).
fixtures = []

# Permissions: one criterion serves both hooks (crm_fishpond/permissions.py)
# ---------------------------------------------------------------------
permission_query_conditions = {
	"Fishpond Lead": "crm_fishpond.permissions.query_conditions",
	"Fishpond Interaction": "crm_fishpond.permissions.query_conditions",
	"Fishpond Behaviour Event": "crm_fishpond.permissions.query_conditions",
	"Fishpond Transaction": "crm_fishpond.permissions.query_conditions",
	"Fishpond Claim Log": "crm_fishpond.permissions.query_conditions",
	"Fishpond Transfer Request": "crm_fishpond.permissions.query_conditions",
	"Referral Reward": "crm_fishpond.permissions.query_conditions",
	"Fishpond Referral": "crm_fishpond.permissions.query_conditions",
	"Fishpond Duplicate Candidate": "crm_fishpond.permissions.query_conditions",
	"Fishpond Plan Enrolment": "crm_fishpond.permissions.query_conditions",
	"Fishpond Claim Request": "crm_fishpond.permissions.query_conditions",
	"Fishpond Feedback": "crm_fishpond.permissions.query_conditions",
	"Fishpond Survey Invitation": "crm_fishpond.permissions.query_conditions",
}
has_permission = {
	"Fishpond Lead": "crm_fishpond.permissions.has_permission",
	"Fishpond Interaction": "crm_fishpond.permissions.has_permission",
	"Fishpond Behaviour Event": "crm_fishpond.permissions.has_permission",
	"Fishpond Transaction": "crm_fishpond.permissions.has_permission",
	"Fishpond Claim Log": "crm_fishpond.permissions.has_permission",
	"Fishpond Transfer Request": "crm_fishpond.permissions.has_permission",
	"Referral Reward": "crm_fishpond.permissions.has_permission",
	"Fishpond Referral": "crm_fishpond.permissions.has_permission",
	"Fishpond Duplicate Candidate": "crm_fishpond.permissions.has_permission",
	"Fishpond Plan Enrolment": "crm_fishpond.permissions.has_permission",
	"Fishpond Claim Request": "crm_fishpond.permissions.has_permission",
	"Fishpond Feedback": "crm_fishpond.permissions.has_permission",
	"Fishpond Survey Invitation": "crm_fishpond.permissions.has_permission",
}

# The accountant's queue and attributions name an invoice: they never stop ERPNext from cancelling or
# deleting it (an attribution stays as the record of a decision; the queue entry goes with the invoice)
ignore_links_on_delete = ["Fishpond Invoice Link", "Fishpond Invoice Attribution"]

# Document events on ERPNext doctypes: thin adapters in crm_fishpond.events
# ------------------------------------------------------------------------
doc_events = {
	"Fishpond Lead": {
		# ownership, pool and lock change only through crm_fishpond.pools.claim (caps, log)
		"validate": "crm_fishpond.pools.claim.guard_ownership_fields",
		# a saved change to what the engine reads (BANT answers, a stage set by hand) rescores it
		"on_update": "crm_fishpond.events.profile.on_update",
	},
	"Sales Order": {
		"validate": "crm_fishpond.events.referrals.check_code_field",
		"on_submit": ["crm_fishpond.events.sales.on_submit", "crm_fishpond.events.referrals.order_on_submit"],
		"on_cancel": "crm_fishpond.events.sales.on_cancel",
		"on_update_after_submit": "crm_fishpond.events.sales.on_update_after_submit",
		"on_trash": "crm_fishpond.events.sales.on_trash",
	},
	"Sales Invoice": {
		"validate": [
			"crm_fishpond.events.referrals.check_code_field",
			"crm_fishpond.events.referrals.return_outside_a_later_loyalty_program",
		],
		"on_submit": ["crm_fishpond.events.sales.on_submit", "crm_fishpond.events.referrals.order_on_submit"],
		"on_cancel": [
			"crm_fishpond.events.sales.on_cancel",
			"crm_fishpond.events.referrals.voucher_on_cancel",
		],
		"on_update_after_submit": "crm_fishpond.events.sales.on_update_after_submit",
		"on_trash": "crm_fishpond.events.sales.on_trash",
	},
	# a POS Invoice is in the history once POS closing consolidates it into a Sales Invoice (above)
	"POS Invoice": {"on_trash": "crm_fishpond.events.sales.pos_on_trash"},
	"Payment Entry": {
		"on_submit": "crm_fishpond.events.sales.on_payment_change",
		"on_cancel": [
			"crm_fishpond.events.sales.on_payment_change",
			"crm_fishpond.events.referrals.voucher_on_cancel",
		],
	},
	"Journal Entry": {
		"on_submit": "crm_fishpond.events.sales.on_payment_change",
		"on_cancel": [
			"crm_fishpond.events.sales.on_payment_change",
			"crm_fishpond.events.referrals.voucher_on_cancel",
		],
	},
	# every posting against a Sales Invoice (payments, POS, allocated credit): referral rewards
	"Payment Ledger Entry": {"on_submit": "crm_fishpond.events.referrals.ledger_on_submit"},
	"Lead": {
		"before_insert": "crm_fishpond.events.capture.lead_before_insert",
		"validate": "crm_fishpond.events.referrals.check_code_field",
		"after_insert": [
			"crm_fishpond.events.party.lead_after_insert",
			"crm_fishpond.events.referrals.lead_after_insert",
		],
		"on_update": [
			"crm_fishpond.events.party.lead_on_update",
			"crm_fishpond.events.referrals.lead_on_update",
		],
		"on_trash": "crm_fishpond.events.party.unlink_on_trash",
	},
	"Customer": {
		"after_insert": [
			"crm_fishpond.events.party.customer_after_insert",
			"crm_fishpond.events.referrals.customer_after_insert",
		],
		"on_update": "crm_fishpond.events.party.customer_on_update",
		"on_trash": "crm_fishpond.events.party.unlink_on_trash",
		# a Customer merged into another (ERPNext's rename-with-merge): their profiles become one
		"before_rename": "crm_fishpond.events.party.customer_before_rename",
		"after_rename": "crm_fishpond.events.party.customer_after_rename",
	},
	"Contact": {
		"on_update": "crm_fishpond.events.party.contact_on_update",
		"on_trash": "crm_fishpond.events.party.unlink_on_trash",
	},
	"Communication": {
		"after_insert": "crm_fishpond.events.communication.after_insert",
		"on_trash": "crm_fishpond.events.communication.on_trash",
	},
	# the onboarding's steps are ticked off however the work was done (crm_fishpond.events.onboarding)
	"Fishpond": {"on_update": "crm_fishpond.events.onboarding.pool_on_update"},
	"Fishpond Tag": {"on_update": "crm_fishpond.events.onboarding.tag_on_update"},
	"Fishpond Run": {"after_insert": "crm_fishpond.events.onboarding.run_after_insert"},
	# follow-up plans: an interaction completes a step, a closed reminder too (crm_fishpond.nurture)
	"Fishpond Interaction": {"after_insert": "crm_fishpond.nurture.events.interaction_after_insert"},
	"ToDo": {"on_update": "crm_fishpond.nurture.events.todo_on_update"},
}

# Background jobs
# ---------------
scheduler_events = {
	"hourly_long": [
		"crm_fishpond.sync.backfill.resume_stuck_runs",
		"crm_fishpond.duplicate_pass.resume_stale_passes",
		"crm_fishpond.pools.recycle.scheduled_recycle",
		"crm_fishpond.pools.recycle.scheduled_warnings",
		"crm_fishpond.sync.ingest.rematch_parked",
		# NPS and CSAT surveys after paid invoices and delivered orders (crm_fishpond.feedback)
		"crm_fishpond.feedback.invitations.scheduled",
	],
	"daily_long": [
		"crm_fishpond.sync.reconcile_summary.refresh",
		# the accountant's link queue and its suggestions (docs/accountants.md)
		"crm_fishpond.accounting.queue.scheduled_refresh",
		# rewards whose review period ended post; customers get their referral codes
		"crm_fishpond.referrals.sync.scheduled_sync",
	],
	# the month that ended becomes final in the metrics history (docs/analytics.md)
	"monthly_long": ["crm_fishpond.analytics.snapshots.scheduled_snapshot"],
	"cron": {
		"*/5 * * * *": [
			"crm_fishpond.jobs.reconcile_dirty",
			"crm_fishpond.referrals.sync.enqueue_waiting",
			"crm_fishpond.nurture.steps.scheduled",
		],
		"*/10 * * * *": ["crm_fishpond.scoring.runner.schedule_rescore"],
	},
}

def get_context(context):
	"""The form posts to crm_fishpond.api.capture.submit_lead (see join_the_pond.js)."""
	context.no_cache = 1

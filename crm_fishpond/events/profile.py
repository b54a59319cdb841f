"""doc_events for Fishpond Lead: a saved change to what the engine reads rescores the profile.

Scores are written back by SQL (crm_fishpond.scoring.writer), never by a save, so this handler only
sees people's edits: a BANT answer, the source, a stage set by hand, a link to a customer.
"""

from crm_fishpond import jobs
from crm_fishpond.scoring.loader import PROFILE_FIELDS


def on_update(doc, method=None):
	if any(doc.has_value_changed(field) for field in PROFILE_FIELDS.values()):
		jobs.mark_dirty([doc.name])

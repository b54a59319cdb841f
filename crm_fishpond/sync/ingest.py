"""Behaviour events sent from outside (a website tracker, an app backend) through
crm_fishpond.api.ingest.behaviour_events.

One call is one *Fishpond Ingest Batch*, named from the caller and its idempotency key: a repeat of
the key returns the first answer and writes nothing. Each row is checked on its own; a bad row gets
a translated error naming its position and the good rows of the same batch are still written. A row
whose email matches no profile yet is *parked* in the batch (never dropped) and moved to the profile's
behaviour events by :func:`rematch_parked` once a profile with that email exists. A request that is
bad as a whole (no key, not a list, more than MAX_ROWS rows), or whose every row is bad, writes
nothing at all.
"""

import hashlib
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import frappe
from frappe import _
from frappe.utils import get_datetime, get_system_timezone, now_datetime, validate_email_address

from crm_fishpond import jobs
from crm_fishpond.bulk import DOC_COLUMNS, insert_rows

BATCH = "Fishpond Ingest Batch"
EVENT = "Fishpond Behaviour Event"
MAX_ROWS = 1000
MAX_KEY = 140
MAX_EMAIL = 140
MAX_EVENT_TYPE = 140
MAX_URL = 2000
MAX_PAYLOAD = 16384  # characters of the row's payload as JSON
CHANNELS = ("Web", "App", "Other")
ROW_KEYS = {"email", "profile", "event_type", "event_time", "channel", "url", "payload", "weight"}
EARLIEST = datetime(1970, 1, 1)
EVENT_FIELDS = (
	*DOC_COLUMNS,
	"idx",
	"fishpond_lead",
	"event_type",
	"channel",
	"event_time",
	"weight",
	"url",
	"payload",
)


def ingest(events, idempotency_key, user: str) -> dict:
	"""Check, store and answer one batch: ``{"batch", "accepted", "parked", "errors": [{"row",
	"error"}]}``; rows are numbered from 0, their position in ``events``."""
	key = check_key(idempotency_key)
	rows = parse_events(events)
	name = batch_name(user, key)
	stored = frappe.db.get_value(BATCH, name, "result")
	if stored:
		return {**json.loads(stored), "replayed": True}

	errors, checked = [], []
	for position, row in enumerate(rows):
		values, error = check_row(row)
		if error:
			errors.append({"row": position, "error": error})
		else:
			checked.append((position, values))

	known = profiles_by_email({v["email"] for _p, v in checked if v.get("email")})
	existing = existing_profiles({v["profile"] for _p, v in checked if v.get("profile")})
	matched, parked = [], []
	for position, values in checked:
		if values.get("profile"):
			if values["profile"] in existing:
				matched.append((values["profile"], values))
			else:
				errors.append(
					{"row": position, "error": _("No profile is named {0}.").format(values["profile"])}
				)
		elif values["email"].lower() in known:
			matched.append((known[values["email"].lower()], values))
		else:
			parked.append({"row": position, **values})
	errors.sort(key=lambda e: e["row"])
	result = {"batch": None, "accepted": len(matched), "parked": len(parked), "errors": errors}
	if not matched and not parked:
		return result  # nothing good in it: a bad request writes nothing, not even its batch

	result["batch"] = name
	batch = frappe.get_doc(
		{
			"doctype": BATCH,
			"idempotency_key": key,
			"submitted_by": user,
			"received": len(rows),
			"accepted": len(matched),
			"parked": len(parked),
			"rejected": len(errors),
			"parked_rows": json.dumps(parked, default=str) if parked else None,
			"result": json.dumps(result),
		}
	)
	# first, so a concurrent call with the same key fails on the primary key before writing events
	batch.insert(ignore_permissions=True, set_name=name)
	insert_events(matched, user)
	jobs.mark_dirty({profile for profile, _v in matched})
	return result


def check_key(key) -> str:
	if not isinstance(key, str) or not key.strip():
		frappe.throw(_("Send an idempotency_key: any text that names this batch."), frappe.ValidationError)
	key = key.strip()
	if len(key) > MAX_KEY or not is_clean(key):
		frappe.throw(
			_("The idempotency_key is too long: at most {0} characters.").format(MAX_KEY),
			frappe.ValidationError,
		)
	return key


def parse_events(events) -> list:
	if isinstance(events, str | bytes):
		try:
			events = json.loads(events)
		except (ValueError, RecursionError):
			events = None
	if not isinstance(events, list) or not events:
		frappe.throw(_("Send events as a non-empty JSON list of objects."), frappe.ValidationError)
	if len(events) > MAX_ROWS:
		frappe.throw(
			_("A batch holds at most {0} events; this one has {1}. Split it.").format(MAX_ROWS, len(events)),
			frappe.ValidationError,
		)
	return events


def batch_name(user: str, key: str) -> str:
	"""Keys belong to their sender: two integrations may both send a batch called "1"."""
	return hashlib.sha256(f"{user}\n{key}".encode()).hexdigest()[:32]


def check_row(row) -> tuple[dict, str | None]:
	"""The row's clean values, or a translated error saying what is wrong with it."""
	if not isinstance(row, dict):
		return {}, _("Each event must be an object.")
	unknown = sorted(str(k)[:40] for k in row if k not in ROW_KEYS)
	if unknown:
		return {}, _("Unknown fields: {0}.").format(", ".join(unknown))
	values = {}
	email, profile = row.get("email"), row.get("profile")
	if profile not in (None, ""):
		if not isinstance(profile, str) or len(profile) > MAX_EMAIL or not is_clean(profile):
			return {}, _("profile must be the name of a Fishpond Lead.")
		values["profile"] = profile.strip()
	elif email not in (None, ""):
		if not isinstance(email, str) or len(email) > MAX_EMAIL or not is_one_email(email.strip()):
			return {}, _("email is not a valid email address.")
		values["email"] = email.strip()
	else:
		return {}, _("Send an email or a profile for each event.")

	event_type = row.get("event_type")
	if not isinstance(event_type, str) or not event_type.strip():
		return {}, _("event_type is required and must be text.")
	if len(event_type.strip()) > MAX_EVENT_TYPE or not is_clean(event_type):
		return {}, _("event_type is too long: at most {0} characters.").format(MAX_EVENT_TYPE)
	values["event_type"] = event_type.strip()

	event_time, error = check_time(row.get("event_time"))
	if error:
		return {}, error
	values["event_time"] = event_time

	channel = row.get("channel")
	if channel in (None, ""):
		values["channel"] = "Web"
	else:
		match = isinstance(channel, str) and next((c for c in CHANNELS if c.lower() == channel.lower()), None)
		if not match:
			return {}, _("channel must be one of {0}.").format(", ".join(CHANNELS))
		values["channel"] = match

	url = row.get("url")
	if url not in (None, ""):
		if not isinstance(url, str) or len(url) > MAX_URL or not is_clean(url):
			return {}, _("url must be text of at most {0} characters.").format(MAX_URL)
		values["url"] = url
	else:
		values["url"] = None

	weight = row.get("weight", 1)
	if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 <= weight <= 1e6:
		return {}, _("weight must be a number from 0 to 1,000,000.")
	values["weight"] = float(weight)

	payload = row.get("payload")
	if payload is None:
		values["payload"] = None
	elif isinstance(payload, dict | list):
		try:
			text = json.dumps(payload, allow_nan=False)
		except (TypeError, ValueError, RecursionError):
			return {}, _("payload must be a JSON object or list.")
		if len(text) > MAX_PAYLOAD:
			return {}, _("payload is too large: at most {0} characters as JSON.").format(MAX_PAYLOAD)
		values["payload"] = text
	else:
		return {}, _("payload must be a JSON object or list.")
	return values, None


def is_clean(text: str) -> bool:
	"""No NUL and no lone surrogate (JSON can carry both; the database takes neither)."""
	if "\x00" in text:
		return False
	try:
		text.encode("utf-8")
	except UnicodeEncodeError:
		return False
	return True


def is_one_email(text: str) -> bool:
	return (
		is_clean(text)
		and "," not in text
		and ";" not in text
		and " " not in text
		and bool(validate_email_address(text))
	)


def check_time(value) -> tuple[datetime | None, str | None]:
	error = _("event_time must be a date and time such as 2026-12-03T09:30:00Z, not in the future.")
	if not isinstance(value, str) or not value.strip() or len(value) > 40 or not is_clean(value):
		return None, error
	try:
		moment = get_datetime(value.strip())
	except (ValueError, TypeError, OverflowError):
		return None, error
	if not isinstance(moment, datetime):
		return None, error
	if moment.tzinfo:
		moment = moment.astimezone(ZoneInfo(get_system_timezone())).replace(tzinfo=None)
	if moment < EARLIEST or moment > now_datetime() + timedelta(days=1):
		return None, error
	return moment, None


def profiles_by_email(emails: set[str]) -> dict[str, str]:
	"""Lower-cased email -> the oldest profile with it."""
	if not emails:
		return {}
	lead = frappe.qb.DocType("Fishpond Lead")
	rows = (
		frappe.qb.from_(lead)
		.select(lead.name, lead.email_id)
		.where(lead.email_id.isin(sorted(emails)))
		.orderby(lead.creation)
		.run()
	)
	found = {}
	for name, email in rows:
		found.setdefault((email or "").lower(), name)
	return found


def existing_profiles(names: set[str]) -> set[str]:
	if not names:
		return set()
	return set(frappe.get_all("Fishpond Lead", filters={"name": ("in", sorted(names))}, pluck="name"))


def insert_events(matched: list[tuple[str, dict]], user: str) -> None:
	now = now_datetime()
	insert_rows(
		EVENT,
		EVENT_FIELDS,
		(
			(
				frappe.generate_hash(length=10),
				now,
				now,
				user,
				user,
				0,
				0,
				profile,
				v["event_type"],
				v["channel"],
				v["event_time"],
				v["weight"],
				v["url"],
				v["payload"],
			)
			for profile, v in matched
		),
	)


def rematch_parked() -> int:
	"""Move parked rows whose email now has a profile into its behaviour events; returns how many.
	Runs hourly (hooks); each batch row is locked while its parked list shrinks."""
	moved = 0
	for name in frappe.get_all(BATCH, filters={"parked": (">", 0)}, pluck="name", order_by="creation"):
		batch = frappe.db.get_value(
			BATCH, name, ["parked_rows", "submitted_by"], as_dict=True, for_update=True
		)
		rows = json.loads(batch.parked_rows or "[]")
		known = profiles_by_email({r["email"] for r in rows})
		matched = [(known[r["email"].lower()], r) for r in rows if r["email"].lower() in known]
		if not matched:
			continue
		still = [r for r in rows if r["email"].lower() not in known]
		for _profile, r in matched:
			r["event_time"] = get_datetime(r["event_time"])
		insert_events(matched, batch.submitted_by or "Administrator")
		frappe.db.set_value(
			BATCH,
			name,
			{"parked": len(still), "parked_rows": json.dumps(still) if still else None},
			update_modified=False,
		)
		jobs.mark_dirty({profile for profile, _r in matched})
		moved += len(matched)
	return moved

"""Feedback and satisfaction: the pure decisions behind NPS and CSAT surveys.

* what an answer means (:func:`category`, :func:`is_detractor`) and whether it is a valid answer
  (:func:`check_score`);
* who gets a survey now (:func:`choose_invitations`): among the vouchers that made someone ready for a
  survey (a paid invoice, a delivered order), one survey per profile, never a second time for the same
  voucher, and never within the quiet period after the profile's last survey;
* the figures over a set of answers (:func:`nps`, :func:`csat`, :func:`summary`).

Nothing here touches a database or a clock of its own: ``now`` is passed in.

NPS answers are 0-10: 9-10 promoters, 7-8 passives, 0-6 detractors; the NPS is the percentage of
promoters minus the percentage of detractors (-100..100). CSAT answers are 1-5: 4-5 satisfied, 3
neutral, 1-2 unsatisfied; the CSAT is the percentage of satisfied answers (0..100). An unsatisfied
CSAT answer is followed up like a detractor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

NPS = "NPS"
CSAT = "CSAT"
SURVEY_TYPES = (NPS, CSAT)
SCALES = {NPS: (0, 10), CSAT: (1, 5)}

PROMOTER = "Promoter"
PASSIVE = "Passive"
DETRACTOR = "Detractor"
SATISFIED = "Satisfied"
NEUTRAL = "Neutral"
UNSATISFIED = "Unsatisfied"

DEFAULT_QUIET_DAYS = 90
MAX_COMMENT = 2000


def check_score(survey_type: str, score) -> str | None:
	"""Why ``score`` is no answer to a survey of ``survey_type`` (a code for the adapter to word), or
	None when it is one. Codes: ``bad_type``, ``not_a_number``, ``out_of_range``."""
	if survey_type not in SCALES:
		return "bad_type"
	if isinstance(score, bool):
		return "not_a_number"
	if isinstance(score, str):
		text = score.strip()
		if not text.lstrip("-").isdigit() or len(text) > 3:
			return "not_a_number"
		score = int(text)
	if isinstance(score, float):
		if not score.is_integer():
			return "not_a_number"
		score = int(score)
	if not isinstance(score, int):
		return "not_a_number"
	low, high = SCALES[survey_type]
	return None if low <= score <= high else "out_of_range"


def category(survey_type: str, score: int) -> str:
	"""Promoter / Passive / Detractor for NPS, Satisfied / Neutral / Unsatisfied for CSAT."""
	if survey_type == NPS:
		return PROMOTER if score >= 9 else PASSIVE if score >= 7 else DETRACTOR
	return SATISFIED if score >= 4 else NEUTRAL if score == 3 else UNSATISFIED


def is_detractor(survey_type: str, score: int) -> bool:
	"""An answer that asks for a follow-up: an NPS detractor (0-6) or an unsatisfied CSAT (1-2)."""
	return category(survey_type, score) in (DETRACTOR, UNSATISFIED)


def nps(scores: Iterable[int]) -> float | None:
	"""% promoters - % detractors of NPS answers (None for no answer)."""
	values = np.asarray(list(scores), dtype=float)
	if not len(values):
		return None
	return float(100.0 * ((values >= 9).mean() - (values <= 6).mean()))


def csat(scores: Iterable[int]) -> float | None:
	"""% of CSAT answers that are satisfied (4 or 5); None for no answer."""
	values = np.asarray(list(scores), dtype=float)
	if not len(values):
		return None
	return float(100.0 * (values >= 4).mean())


def summary(answers: pd.DataFrame) -> dict:
	"""The figures over ``answers`` (columns ``survey_type``, ``score``): NPS and CSAT with their
	answer counts and the number of promoters, passives and detractors."""
	frame = answers if len(answers) else pd.DataFrame({"survey_type": [], "score": []})
	n = frame.loc[frame["survey_type"] == NPS, "score"].astype(float)
	c = frame.loc[frame["survey_type"] == CSAT, "score"].astype(float)
	return {
		"nps": nps(n),
		"nps_answers": len(n),
		"promoters": int((n >= 9).sum()),
		"passives": int(((n >= 7) & (n <= 8)).sum()),
		"detractors": int((n <= 6).sum()),
		"csat": csat(c),
		"csat_answers": len(c),
	}


def choose_invitations(
	candidates: pd.DataFrame,
	last_invited: pd.Series,
	invited_refs: Iterable[tuple],
	now: dt.datetime,
	quiet_days: int,
) -> pd.DataFrame:
	"""The surveys to send now.

	``candidates`` has one row per (profile, survey, voucher) that made the profile ready for that
	survey: columns ``profile``, ``survey``, ``reference_doctype``, ``reference_name`` and
	``ready_on`` (when the voucher became paid or delivered, plus the survey's delay; a row whose
	``ready_on`` is after ``now`` waits). ``last_invited`` maps a profile to when it was last sent any
	survey. ``invited_refs`` are the (survey, reference_doctype, reference_name) already surveyed.

	Returns at most one row per profile (the earliest ready, then by survey and voucher name), none for
	a profile surveyed in the last ``quiet_days`` days nor for a voucher already surveyed."""
	columns = ["profile", "survey", "reference_doctype", "reference_name", "ready_on"]
	if not len(candidates):
		return pd.DataFrame(columns=columns)
	frame = candidates[columns].copy()
	frame["ready_on"] = pd.to_datetime(frame["ready_on"])
	frame = frame[frame["ready_on"] <= pd.Timestamp(now)]
	done = set(invited_refs)
	if done:
		keys = list(zip(frame["survey"], frame["reference_doctype"], frame["reference_name"], strict=True))
		frame = frame[[k not in done for k in keys]]
	last = pd.to_datetime(frame["profile"].map(last_invited))
	quiet_since = pd.Timestamp(now) - pd.Timedelta(days=int(quiet_days))
	frame = frame[last.isna() | (last <= quiet_since)]
	frame = frame.sort_values(["profile", "ready_on", "survey", "reference_name"], kind="stable")
	return frame.drop_duplicates("profile", keep="first").reset_index(drop=True)

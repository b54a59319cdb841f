"""Which loyalty points a customer really spent, from their Loyalty Point Entries alone.

ERPNext's ``apply_loyalty_points`` books each redemption against the entries it takes from
(``redeem_against``), but it works out what is left on an entry by *adding* the (negative) sum of
earlier redemptions, so an entry already spent, or taken back by a referral claw-back, looks more
available and takes the next redemption again. ``redeem_against`` therefore does not say which points
were spent. :func:`replay` walks a customer's entries in the order they were made instead:

* a positive entry is a lot of points;
* a reversal made by the referral programme (``ours``) takes from the lot it names;
* any other negative entry (a redemption) spends from the lots still holding points, earliest expiry
  first, skipping lots expired on the redemption's date, as ERPNext means to; what no lot can cover
  is booked against the entry ERPNext named, so nothing is lost.

Pure: no frappe. crm_fishpond.referrals.ledgers reads the rows and applies the answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

FAR_FUTURE = date(9999, 12, 31)


@dataclass(frozen=True)
class PointEntry:
	"""One Loyalty Point Entry. ``ours``: made by the referral programme (a reward or its reversal)."""

	name: str
	customer: str
	points: int
	program: str | None = None
	company: str | None = None
	posting_date: date | None = None
	expiry_date: date | None = None
	redeem_against: str | None = None
	ours: bool = False


@dataclass(frozen=True)
class Replay:
	left: dict[str, int]  # positive entry -> points still on it
	spent: dict[str, int]  # positive entry -> points redemptions spent from it

	def unspent(self) -> dict[str, int]:
		return {name: max(0, points) for name, points in self.left.items()}


def replay(entries: Iterable[PointEntry]) -> Replay:
	"""Replay ``entries`` in the order given (the order they were made)."""
	left: dict[str, int] = {}
	spent: dict[str, int] = defaultdict(int)
	lots: dict[tuple, list[tuple[int, PointEntry]]] = defaultdict(list)
	for order, e in enumerate(entries):
		pot = (e.customer, e.program, e.company)
		if e.points > 0:
			left[e.name] = e.points
			lots[pot].append((order, e))
		elif e.points < 0 and e.ours:
			if e.redeem_against in left:
				left[e.redeem_against] = max(0, left[e.redeem_against] + e.points)
		elif e.points < 0:
			need = -e.points
			for _order, lot in sorted(lots[pot], key=lambda x: (x[1].expiry_date or FAR_FUTURE, x[0])):
				if need <= 0:
					break
				if e.posting_date and lot.expiry_date and lot.expiry_date < e.posting_date:
					continue
				take = min(left[lot.name], need)
				if take > 0:
					left[lot.name] -= take
					spent[lot.name] += take
					need -= take
			if need > 0 and e.redeem_against in left:  # more than was left: as ERPNext recorded it
				left[e.redeem_against] -= need
				spent[e.redeem_against] += need
	return Replay(left, dict(spent))

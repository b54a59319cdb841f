"""Which loyalty points a customer really spent (crm_fishpond.engine.loyalty), no site needed."""

from datetime import date

from crm_fishpond.engine.loyalty import PointEntry, replay

D = date(2026, 1, 1)
LATER = date(2026, 6, 1)


def entry(name, points, **kw):
	return PointEntry(name=name, customer="C", points=points, program="P", company="X", **kw)


def test_a_redemption_spends_the_earliest_expiring_points_left():
	got = replay(
		[
			entry("A", 100, expiry_date=date(2026, 12, 31)),
			entry("B", 100, expiry_date=date(2026, 3, 31)),
			entry("R1", -150, posting_date=D, redeem_against="B"),
		]
	)
	assert got.spent == {"B": 100, "A": 50}
	assert got.unspent() == {"A": 50, "B": 0}


def test_a_reversed_lot_is_not_spent_again_whatever_erpnext_booked():
	# ERPNext adds earlier redemptions instead of subtracting them, so its second redemption names the
	# lot the programme already took back: the replay spends the other lot
	got = replay(
		[
			entry("REWARD", 60, expiry_date=date(2026, 12, 31)),
			entry("OWN", 40, expiry_date=date(2027, 12, 31)),
			entry("BACK", -60, redeem_against="REWARD", ours=True),
			entry("R1", -40, posting_date=D, redeem_against="REWARD"),
		]
	)
	assert got.spent == {"OWN": 40}
	assert got.unspent() == {"REWARD": 0, "OWN": 0}


def test_expired_lots_are_skipped_and_an_overspend_stays_on_the_named_entry():
	got = replay(
		[
			entry("OLD", 50, expiry_date=date(2026, 2, 1)),
			entry("NEW", 30, expiry_date=date(2027, 1, 1)),
			entry("R1", -50, posting_date=LATER, redeem_against="NEW"),
		]
	)
	# OLD expired before the redemption; NEW covers 30 and the 20 nobody covers stay where ERPNext put them
	assert got.spent == {"NEW": 50}
	assert got.left == {"OLD": 50, "NEW": -20}
	assert got.unspent() == {"OLD": 50, "NEW": 0}


def test_customers_programs_and_companies_are_separate_pots():
	got = replay(
		[
			entry("A", 100),
			PointEntry("B", "OTHER", 100, program="P", company="X"),
			PointEntry("R", "OTHER", -30, program="P", company="X", redeem_against="A"),
		]
	)
	assert got.spent == {"B": 30}

"""Referral programmes on ERPNext's ledgers: thin adapters around crm_fishpond.engine.referrals.

* codes: every profile's short referral code and its shareable link
* capture: a referral recorded from the link, a Lead, a Sales Order or Invoice, or a rep
* programmes: the Referral Programme doctype as the engine's Programme
* inputs: ERPNext's rows (profiles, invoices and their payments, ledgers, stored rewards) as engine inputs
* ledgers: Loyalty Point Entries and Gift Card Coupon Codes posted, reversed and withdrawn
* sync: plan a company's referrals and apply the plan (the only writer of Referral Reward)
* messages: every reason in the user's language

See docs/referrals.md.
"""

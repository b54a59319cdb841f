"""Customer analytics behind the Script Reports Fishpond Lifecycle Funnel, Fishpond RFM Grid, Fishpond
Churn Watch and Fishpond Cohort Retention (docs/analytics.md).

Each module reads rows with ``frappe.qb``, scoped to the profiles the user may list
(:mod:`.scope`), and leaves the arithmetic to the pure engine (``crm_fishpond.engine.funnel``,
``crm_fishpond.engine.cohorts``) or to one SQL aggregate.
"""

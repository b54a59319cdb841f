"""The accountant's desk: every invoice on the right customer (docs/accountants.md).

* ``config``: the matcher's settings and the generic (walk-in) customers, from Fishpond Settings.
* ``queue``: the link queue (Fishpond Invoice Link), rebuilt set-based in a background job, with
  suggestions from the pure matcher ``crm_fishpond.engine.invoice_match``.
* ``attribution``: attribute an invoice to a profile (and undo it), create a Customer from an
  invoice, dismiss a suggestion or an invoice.
* ``customer_merge``: merge two Customers through ERPNext's own rename-with-merge, and keep one
  profile per Customer when anyone does.

The decisions (which profile an invoice probably belongs to) are the engine's; this package reads,
applies and records. The transaction sync only *reads* attributions (crm_fishpond.sync.attributions).
"""

"""`bench --site S fishpond-demo`: a seeded, realistic pond made of real ERPNext records.

* :mod:`.plan` turns :func:`crm_fishpond.engine.synth.generate_pond` into a plan of people, their
  orders, invoices, payments, credit notes, interactions and behaviour events (pure Python, no
  frappe: tested in ``tests/test_demo_plan.py``);
* :mod:`.masters` makes what the documents need (fiscal years, territories, lead sources, items, a
  receivable account in another currency, reps and pools);
* :mod:`.records` creates each person's Lead, Contact, Customer, Sales Orders, Sales Invoices,
  credit notes and Payment Entries through ERPNext's own API, and their pond activity;
* :mod:`.build` runs the phases (resumable, one commit per batch), then the backfill, a full
  rescore and the duplicate pass; :mod:`.clear` removes exactly what the demo made;
* :mod:`.state` keeps the demo's ledger (parameters, progress, the shared records it created).

Nothing here is imported by the app at run time: only the bench command and the tests use it.
"""

"""The fish-pond engine: pure Python + pandas, never imports frappe.

Every computation takes DataFrames (columns documented in docs/engine.md and
:mod:`crm_fishpond.engine.schema`) plus plain config dataclasses, and returns
DataFrames indexed by ``profile`` (one row per profile) or dataclasses.
"""

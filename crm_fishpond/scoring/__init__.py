"""Scoring adapters: read the pond set-based, run the engine, write back what changed.

``loader`` reads the engine's input frames, ``config`` builds the EngineConfig from Desk settings,
``models`` stores fitted population models (Fishpond Model Fit), ``writer`` writes only the changed
columns, stage history and rule tags in bulk, and ``runner`` is the durable full-rescore run plus the
incremental rescore of dirty profiles.
"""

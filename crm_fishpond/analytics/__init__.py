"""Pond analytics adapters: the metrics history (snapshots.py) reads the pond set-based, lets
crm_fishpond.engine.metrics compute, and stores one Fishpond Metrics Snapshot per month."""

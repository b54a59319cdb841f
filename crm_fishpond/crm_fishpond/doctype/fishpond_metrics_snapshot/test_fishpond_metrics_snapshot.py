# The snapshots are tested in crm_fishpond/tests/test_metrics_history.py.
from crm_fishpond.tests.utils import FishpondTestCase


class TestFishpondMetricsSnapshot(FishpondTestCase):
	pass

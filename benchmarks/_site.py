"""Connect a benchmark script to a site of the bench it runs in (no test framework involved)."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time


def connect(description: str, extra=None) -> argparse.Namespace:
	parser = argparse.ArgumentParser(description=description)
	parser.add_argument("--site", default=os.environ.get("FISHPOND_SITE", "fishpond.localhost"))
	parser.add_argument("--bench", default=os.environ.get("FISHPOND_BENCH", "/opt/frappe-bench"))
	if extra:
		extra(parser)
	args = parser.parse_args()
	sites = os.path.join(args.bench, "sites")
	os.chdir(sites)
	sys.path.insert(0, os.path.join(args.bench, "apps", "frappe"))
	import frappe

	frappe.init(site=args.site, sites_path=sites)
	frappe.connect()
	frappe.set_user("Administrator")
	return args


def peak_rss_mib() -> float:
	return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Workers:
	"""N real `bench worker --queue long` processes; samples the largest process of each (the
	worker or the work horse it forks per job) for its peak RSS."""

	def __init__(self, count: int):
		import os
		import subprocess
		import threading

		import frappe

		env = {k: v for k, v in os.environ.items() if k != "CI"}
		sites = os.path.abspath(frappe.local.sites_path)
		self.procs = [
			subprocess.Popen(
				[sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "worker", "--queue", "long"],
				cwd=sites,
				env=env,
				stdout=subprocess.DEVNULL,
				stderr=subprocess.DEVNULL,
				start_new_session=True,
			)
			for _ in range(count)
		]
		self.peak = [0.0] * count
		self.stop = threading.Event()
		self.thread = threading.Thread(target=self._sample, daemon=True)
		self.thread.start()

	def _sample(self) -> None:
		import psutil

		while not self.stop.is_set():
			for i, proc in enumerate(self.procs):
				try:
					tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
					rss = max(p.memory_info().rss for p in tree)
				except psutil.Error:
					continue
				self.peak[i] = max(self.peak[i], rss / 2**20)
			self.stop.wait(0.2)

	def close(self) -> None:
		import os
		import signal

		self.stop.set()
		self.thread.join()
		for proc in self.procs:
			if proc.poll() is None:
				os.killpg(proc.pid, signal.SIGTERM)
		for proc in self.procs:
			try:
				proc.wait(timeout=30)
			except Exception:
				os.killpg(proc.pid, signal.SIGKILL)


def drain_long_queue(limit: float = 1800) -> None:
	"""Wait until the long queue holds nothing queued or running, so the next run starts clean."""
	from frappe.utils.background_jobs import get_queue
	from rq.registry import StartedJobRegistry

	queue = get_queue("long")
	started = StartedJobRegistry(queue=queue)
	deadline = time.monotonic() + limit
	while time.monotonic() < deadline and (queue.count or started.count):
		time.sleep(1)

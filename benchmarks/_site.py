"""Connect a benchmark script to a site of the bench it runs in (no test framework involved)."""

from __future__ import annotations

import argparse
import os
import resource
import sys


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

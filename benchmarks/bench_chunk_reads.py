"""A rescore chunk's reads by a list of its names ÷ by its range of names: same site, same chunks, same process.

A full rescore's chunk reads its profiles, interactions, events and purchases
(crm_fishpond.scoring.loader). Asked for by a list of the chunk's names, every query carries that
list (20,000 names) to build, send and parse; asked for by the chunk's range (``between``), every
query is one range of an index. Both must return the same frames. The script warms each chunk once,
then alternates the two ways on each chunk, and prints the medians and their ratio.

Run from anywhere, on a site with a large pond (bench_rescore.py generate):
  /opt/frappe-bench/env/bin/python benchmarks/bench_chunk_reads.py --site scale.localhost
"""

from __future__ import annotations

import statistics
import time

from _site import connect


def main():
	def options(p):
		p.add_argument("--chunk", type=int, default=20_000, help="profiles a chunk (the runner's CHUNK)")
		p.add_argument("--chunks", type=int, default=3, help="chunks read, spread over the pond")
		p.add_argument("--rounds", type=int, default=3, help="reads of each chunk each way")

	args = connect(__doc__.splitlines()[0], options)
	from crm_fishpond.scoring import loader

	everyone = loader.profile_names()
	if len(everyone) < args.chunk:
		raise SystemExit(f"the pond has {len(everyone)} profiles: fewer than one chunk")
	step = len(everyone) // (args.chunks + 1)
	times: dict[str, list[tuple[float, float]]] = {"names": [], "range": []}
	for k in range(1, args.chunks + 1):
		first = everyone[k * step]
		last = everyone[min(k * step + args.chunk, len(everyone)) - 1]
		names = loader.profile_names_between(first, last)

		def read(between):
			inputs = loader.load_inputs(names, purchases=False, between=between)
			return inputs, loader.load_purchases(names, between)

		read(None)  # the buffer pool's pages for this chunk
		for _ in range(args.rounds):
			for way, between in (("names", None), ("range", (first, last))):
				wall, cpu = time.perf_counter(), time.process_time()
				read(between)
				times[way].append((time.perf_counter() - wall, time.process_time() - cpu))
		by_names, by_range = read(None), read((first, last))
		rows = [len(by_names[0].interactions), len(by_names[0].events), len(by_names[1])]
		if rows != [len(by_range[0].interactions), len(by_range[0].events), len(by_range[1])]:
			raise SystemExit(f"chunk {k}: the two ways read different rows")
		print(f"chunk {k}: {len(names):,} profiles, interactions/events/purchases {rows}")

	for way, values in times.items():
		print(
			f"{way:>5}: wall median {statistics.median(w for w, _ in values):.3f} s, "
			f"this process's CPU median {statistics.median(c for _, c in values):.3f} s"
		)
	ratio = statistics.median(w for w, _ in times["names"]) / statistics.median(w for w, _ in times["range"])
	print(f"by names ÷ by range (wall): {ratio:.2f}")


if __name__ == "__main__":
	main()

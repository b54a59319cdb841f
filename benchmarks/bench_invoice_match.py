"""Suggestions (issue 10): how often the invoice matcher's top suggestion is right, and how fast it is.

Builds a labelled synthetic set: profiles in 12 countries (people and companies, with e-mails,
mobiles, tax ids, addresses, some past invoices from an extra phone), namesake profiles (the same
person name, other contacts), and queued invoices typed the way a shop counter types them:

* invoices of a real profile (80%) carry a random subset of its details, each possibly missing:
  the name with typos, reordered words, another case or another legal form (``Ltd`` / ``Limited``,
  ``GmbH`` / ``G.m.b.H.``, or none); the phone in E.164, international, national or ``00`` form,
  with or without spaces (sometimes typed at a till in another country, so a national number parses
  wrongly), or a number the profile only used on earlier invoices; the e-mail in another case, with
  Gmail dots or a ``+tag``; the tax id with spaces or dashes; the address abbreviated or reordered;
* invoices of nobody in the pond (20%), half of them decoys sharing one weak signal with a profile:
  the same person name, the same company name under another legal form (with another tax id when
  it has one), or the same address.

Prints the precision and recall of the top suggestion at several thresholds (precision: right top
suggestions / invoices with a top suggestion at or above the threshold; recall: right top suggestions
/ invoices that have a real profile), the lowest threshold whose precision is at least 0.95 with the
best recall, the same for the ``confident`` flag at the default settings, and the time of one
:func:`suggest` over the whole set with a cold and a warm phone cache (wall and process CPU time).

	python benchmarks/bench_invoice_match.py                                   # 20,000 x 2,000
	python benchmarks/bench_invoice_match.py --profiles 100000 --invoices 10000 --seed 7
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import phonenumbers

from crm_fishpond.engine.dedupe import clear_phone_cache
from crm_fishpond.engine.invoice_match import MatchConfig, suggest

# the synthetic pond's pools: countries with their mobile plans and legal forms, names, company words
from crm_fishpond.engine.synth import _COMPANY_A, _COMPANY_B, _COMPANY_C, _COUNTRIES, _FREE_MAIL, _NAMES

STREETS = (
	"High Market Church Station Mill King Queen Park Victoria Bridge Main Oak Elm Maple River Hill Lake "
	"Garden Spring Castle School North South West East Cedar Rose"
).split()
STREET_KINDS = (("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Lane", "Ln"), ("Drive", "Dr"))
CITIES = "London Berlin Paris Amsterdam Shanghai Mumbai Sydney Singapore Tokyo Sao Paulo Dubai Boston".split()


class Maker:
	def __init__(self, seed: int):
		self.rng = np.random.default_rng(seed)
		shares = np.array([c.share for c in _COUNTRIES])
		self.shares = shares / shares.sum()
		self.used_numbers: set[str] = set()
		self.used_emails: set[str] = set()

	def unique_email(self, local: str, domain: str) -> str:
		"""An address nobody else has (two profiles with one address would be duplicates)."""
		email, n = f"{local}@{domain}", 1
		while email.replace(".", "") in self.used_emails:
			n += 1
			email = f"{local}{n}@{domain}"
		self.used_emails.add(email.replace(".", ""))
		return email

	def pick(self, seq):
		return seq[int(self.rng.integers(len(seq)))]

	def chance(self, p: float) -> bool:
		return bool(self.rng.random() < p)

	def country(self):
		return _COUNTRIES[int(self.rng.choice(len(_COUNTRIES), p=self.shares))]

	def number(self, c) -> str:
		"""A new national significant number of the country's mobile plan."""
		while True:
			prefix = self.pick(c.prefixes)
			rest = "".join(str(d) for d in self.rng.integers(0, 10, c.n_digits - len(prefix)))
			nsn = prefix + rest
			if nsn not in self.used_numbers and phonenumbers.is_valid_number(
				phonenumbers.parse("+" + c.cc + nsn)
			):
				self.used_numbers.add(nsn)
				return nsn

	def person(self, c) -> tuple[str, str]:
		first, last = _NAMES[c.names]
		return self.pick(first.split()), self.pick(last.split())

	def company(self) -> str:
		words = [self.pick(_COMPANY_A), self.pick(_COMPANY_B), self.pick(_COMPANY_C)]
		return " ".join(w for w in words if w)

	def address(self) -> str:
		kind = self.pick(STREET_KINDS)[0]
		return f"{int(self.rng.integers(1, 300))} {self.pick(STREETS)} {kind}, {self.pick(CITIES)}"

	def tax_id(self, c) -> str:
		return c.code + "".join(str(d) for d in self.rng.integers(0, 10, 9))

	# ---- noise

	def typo(self, text: str) -> str:
		words = text.split()
		long = [k for k, w in enumerate(words) if len(w) >= 4]
		if not long:
			return text
		k = self.pick(long)
		w = words[k]
		at = int(self.rng.integers(1, len(w) - 1))
		op = int(self.rng.integers(3))
		if op == 0:
			w = w[:at] + w[at + 1 :]  # a letter dropped
		elif op == 1:
			w = w[:at] + w[at + 1] + w[at] + w[at + 2 :]  # two letters swapped
		else:
			w = w[:at] + self.pick("aeinorst") + w[at + 1 :]  # a letter replaced
		words[k] = w
		return " ".join(words)

	def case(self, text: str) -> str:
		return self.pick((text, text.upper(), text.lower(), text.title()))

	def phone_as_typed(self, nsn: str, c) -> str:
		digits = iter(nsn)
		national = "".join(next(digits) if ch == "#" else ch for ch in c.national)
		digits = iter(nsn)
		international = "".join(next(digits) if ch == "#" else ch for ch in c.international)
		forms = [
			international,
			national,
			"+" + c.cc + nsn,
			national.replace(" ", ""),
			national.replace(" ", "-"),
			international.replace(" ", ""),
		]
		idd = phonenumbers.PhoneMetadata.metadata_for_region(c.code).preferred_international_prefix
		idd = idd or phonenumbers.PhoneMetadata.metadata_for_region(c.code).international_prefix
		if idd and idd.isdigit():
			forms.append(idd + c.cc + " " + nsn)
		return self.pick(forms)

	def email_as_typed(self, email: str) -> str:
		local, _, domain = email.partition("@")
		if domain == "gmail.com" and self.chance(0.5):
			if self.chance(0.5) and len(local) > 3:
				at = int(self.rng.integers(1, len(local) - 1))
				local = local.replace(".", "")[:at] + "." + local.replace(".", "")[at:]
			else:
				local += "+" + self.pick(("shop", "orders", "pos", "news"))
		email = local + "@" + domain
		return email.upper() if self.chance(0.15) else email

	def tax_as_typed(self, tax: str) -> str:
		return self.pick(
			(tax, tax.lower(), f"{tax[:2]} {tax[2:5]} {tax[5:8]} {tax[8:]}", f"{tax[:2]}-{tax[2:]}")
		)

	def address_as_typed(self, address: str) -> str:
		for long, short in STREET_KINDS:
			if self.chance(0.5):
				address = address.replace(long, short + ("." if self.chance(0.5) else ""))
		if self.chance(0.3):
			street, _, city = address.partition(", ")
			number, _, rest = street.partition(" ")
			address = f"{rest} {number} {city}"
		return self.case(address)


def build(n_profiles: int, n_invoices: int, seed: int = 1):
	"""(profiles, invoices, history, truth): truth maps each invoice to its profile or None."""
	mk = Maker(seed)
	rng = mk.rng
	profiles, info = [], []
	for k in range(n_profiles):
		c = mk.country()
		first, last = mk.person(c)
		is_company = mk.chance(0.45)
		row = {"profile": f"P{k:06d}", "customer": f"CUST-{k:06d}", "region": c.code}
		person = f"{first} {last}"
		if is_company:
			company = mk.company()
			legal = mk.pick(c.legal)
			names = [f"{company} {legal}"] + ([person] if mk.chance(0.6) else [])
			domain = "".join(company.split()[:2]).lower() + "." + c.tld
			email = mk.unique_email(first.lower(), domain) if mk.chance(0.6) else None
			tax = mk.tax_id(c) if mk.chance(0.7) else None
		else:
			company, legal = None, None
			names = [person]
			local = f"{first}.{last}".lower().replace(" ", "")
			if mk.chance(0.4):
				local += str(int(rng.integers(1, 99)))
			email = mk.unique_email(local, mk.pick(_FREE_MAIL)) if mk.chance(0.7) else None
			tax = None
		phones = [mk.number(c) for _ in range(1 if mk.chance(0.85) else 0)]
		if phones and mk.chance(0.15):
			phones.append(mk.number(c))
		address = mk.address() if mk.chance(0.5) else None
		row.update(
			name=names,
			email=[email] if email else [],
			phone=[mk.phone_as_typed(n, c) for n in phones],
			tax_id=tax,
			address=address,
		)
		profiles.append(row)
		info.append(
			{"c": c, "person": person, "company": company, "legal": legal, "phones": phones, "alt": None}
		)
	# namesakes: the same person name, other contacts
	for k in rng.choice(n_profiles, size=n_profiles // 20, replace=False).tolist():
		c = info[k]["c"]
		profiles.append(
			{
				"profile": f"N{k:06d}",  # renamed below
				"customer": f"CUST-N{k:06d}",
				"region": c.code,
				"name": [info[k]["person"]],
				"email": [],
				"phone": [mk.phone_as_typed(mk.number(c), c)],
				"tax_id": None,
				"address": mk.address() if mk.chance(0.3) else None,
			}
		)
	# past invoices: the profile's own contacts, sometimes from a number the profile does not list
	history = []
	for k in rng.choice(n_profiles, size=int(n_profiles * 0.3), replace=False).tolist():
		c = info[k]["c"]
		alt = mk.number(c) if mk.chance(0.3) else None
		info[k]["alt"] = alt
		for j in range(int(rng.integers(1, 4))):
			own = info[k]["phones"]
			number = alt if alt and mk.chance(0.7) else (own[0] if own else None)
			history.append(
				{
					"profile": profiles[k]["profile"],
					"invoice": f"OLD-{k:06d}-{j}",
					"posting_date": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 365))),
					"phone": mk.phone_as_typed(number, c) if number else None,
					"email": profiles[k]["email"][0] if profiles[k]["email"] and mk.chance(0.5) else None,
					"region": c.code,
				}
			)

	invoices, truth = [], {}
	n_true = int(n_invoices * 0.8)
	owners = rng.choice(n_profiles, size=n_true, replace=False).tolist()
	for j in range(n_invoices):
		inv = {"invoice": f"INV-{j:06d}", "posting_date": pd.Timestamp("2025-03-01")}
		if j < n_true:
			k = owners[j]
			p, i = profiles[k], info[k]
			c = i["c"]
			inv["region"] = c.code if mk.chance(0.9) else mk.country().code
			while len(inv) <= 3:  # at least one identifying detail
				if mk.chance(0.85):
					if i["company"] and mk.chance(0.7):
						legal = mk.pick((i["legal"], *c.legal_alt, ""))
						name = f"{i['company']} {legal}".strip()
					else:
						name = i["person"]
						if mk.chance(0.15):
							name = " ".join(reversed(name.split(" ", 1)))
					if mk.chance(0.25):
						name = mk.typo(name)
					inv["name"] = mk.case(name)
				numbers = i["phones"] + ([i["alt"]] * 2 if i["alt"] else [])
				if numbers and mk.chance(0.55):
					inv["phone"] = mk.phone_as_typed(mk.pick(numbers), c)
				if p["email"] and mk.chance(0.35):
					inv["email"] = mk.email_as_typed(p["email"][0])
				if p["tax_id"] and mk.chance(0.4):
					inv["tax_id"] = mk.tax_as_typed(p["tax_id"])
				if p["address"] and mk.chance(0.4):
					inv["address"] = mk.address_as_typed(p["address"])
			truth[inv["invoice"]] = p["profile"]
		else:
			c = mk.country()
			inv["region"] = c.code
			first, last = mk.person(c)
			inv["name"] = f"{first} {last}"
			inv["phone"] = mk.phone_as_typed(mk.number(c), c) if mk.chance(0.6) else None
			if mk.chance(0.5):  # a decoy: one weak signal shared with a profile
				k = int(rng.integers(n_profiles))
				p, i = profiles[k], info[k]
				what = int(rng.integers(3))
				if what == 0:
					inv["name"] = i["person"]
				elif what == 1 and i["company"]:
					inv["name"] = f"{i['company']} {mk.pick(('Group', 'Holdings', 'International', ''))}"
					if p["tax_id"]:
						inv["tax_id"] = mk.tax_id(i["c"])
				elif p["address"]:
					inv["address"] = p["address"]
			truth[inv["invoice"]] = None
		invoices.append(inv)
	order = rng.permutation(len(invoices))
	invoices = pd.DataFrame([invoices[k] for k in order])
	# profile ids in random order, so that ties broken by id favour neither originals nor namesakes
	ids = {
		p["profile"]: f"P{k:06d}"
		for p, k in zip(profiles, rng.permutation(len(profiles)).tolist(), strict=True)
	}
	profiles = pd.DataFrame(profiles).assign(profile=lambda f: f["profile"].map(ids))
	history = pd.DataFrame(history).assign(profile=lambda f: f["profile"].map(ids))
	return profiles, invoices, history, pd.Series(truth, dtype=object).map(ids)


def top_suggestions(result: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
	top = result[result["rank"] == 1].set_index("invoice")
	out = pd.DataFrame({"truth": truth})
	out["top"] = top["profile"].reindex(out.index)
	out["score"] = top["score"].reindex(out.index).fillna(0.0)
	out["confident"] = top["confident"].reindex(out.index).astype("boolean").fillna(False).astype(bool)
	out["right"] = out["top"].notna() & (out["top"] == out["truth"])
	return out


def precision_recall(tops: pd.DataFrame, threshold: float) -> tuple[float, float, int]:
	made = tops["top"].notna() & (tops["score"] >= threshold)
	right = int((made & tops["right"]).sum())
	findable = int(tops["truth"].notna().sum())
	return (right / made.sum() if made.any() else 1.0), right / findable, int(made.sum())


def best_threshold(tops: pd.DataFrame, target: float = 0.95) -> tuple[float, float, float] | None:
	"""The threshold (a score that occurs) with precision >= target and the best recall."""
	best = None
	for t in sorted(set(tops.loc[tops["top"].notna(), "score"].tolist())):
		p, r, _ = precision_recall(tops, t)
		if p >= target and (best is None or r > best[2]):
			best = (t, p, r)
	return best


def timed(fn):
	wall, cpu = time.perf_counter(), time.process_time()
	out = fn()
	return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
	ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
	ap.add_argument("--profiles", type=int, default=20_000)
	ap.add_argument("--invoices", type=int, default=2_000)
	ap.add_argument("--seed", type=int, default=1)
	args = ap.parse_args()

	(profiles, invoices, history, truth), wall, _ = timed(
		lambda: build(args.profiles, args.invoices, args.seed)
	)
	print(
		f"synthetic set: {len(profiles):,} profiles ({len(profiles) - args.profiles:,} namesakes), "
		f"{len(invoices):,} invoices ({int(truth.notna().sum()):,} of a real profile), "
		f"{len(history):,} past invoices; built in {wall:.1f} s\n"
	)
	everything = MatchConfig(suggest_threshold=0.0, confident_threshold=MatchConfig().confident_threshold)
	clear_phone_cache()
	result, wall, cpu = timed(lambda: suggest(invoices, profiles, history, everything))
	print(f"suggest(), cold phone cache: {wall:6.2f} s wall {cpu:6.2f} s cpu")
	_, wall2, cpu2 = timed(lambda: suggest(invoices, profiles, history, everything))
	print(f"suggest(), warm phone cache: {wall2:6.2f} s wall {cpu2:6.2f} s cpu")
	print(
		f"  {len(invoices) / wall:,.0f} invoices/s against {len(profiles):,} profiles (cold); "
		f"{len(result):,} candidate rows\n"
	)

	tops = top_suggestions(result, truth)
	print("top suggestion      threshold  precision  recall  suggested")
	for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
		p, r, n = precision_recall(tops, t)
		print(f"{'':20}{t:9.2f}  {p:9.3f}  {r:6.3f}  {n:9,}")
	best = best_threshold(tops)
	if best:
		print(
			f"\nprecision >= 0.95 with the best recall: threshold {best[0]:.3f} (precision {best[1]:.3f}, recall {best[2]:.3f})"
		)
	else:
		print("\nno threshold gives precision >= 0.95")
	conf = tops["confident"]
	right = int((conf & tops["right"]).sum())
	print(
		f"confident flag (threshold {everything.confident_threshold:g}, margin {everything.confident_margin:g}): "
		f"precision {right / max(int(conf.sum()), 1):.3f}, recall {right / int(tops['truth'].notna().sum()):.3f}, "
		f"{int(conf.sum()):,} invoices"
	)
	wrong = tops[tops["top"].notna() & ~tops["right"] & (tops["score"] >= MatchConfig().suggest_threshold)]
	if len(wrong):
		print(
			f"\nwrong top suggestions at the default threshold {MatchConfig().suggest_threshold:g}, by evidence:"
		)
		top = result[result["rank"] == 1].set_index("invoice")
		kinds = top.loc[wrong.index, "evidence"].map(
			lambda ev: " + ".join(e.code for e in ev if e.points > 0)
		)
		print(kinds.value_counts().head(8).to_string())


if __name__ == "__main__":
	main()

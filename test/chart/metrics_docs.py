#!/usr/bin/python3
"""Compares a /metrics scrape with the table in docs/metrics.md.

  metrics_docs.py METRICS.txt docs/metrics.md

Every family in the scrape must be documented with the same type and label names;
every name must follow the conventions (jetstream_scaler_ prefix, _total counters,
_seconds durations). Prints PASS/FAIL lines.
"""
import re
import sys

scrape_path, docs_path = sys.argv[1:3]
failures = 0


def check(ok, name, why=""):
    global failures
    print(f"PASS {name}" if ok else f"FAIL {name}: {why}")
    failures += 0 if ok else 1


types, labels = {}, {}
for line in open(scrape_path):
    m = re.match(r"^# TYPE (\S+) (\S+)", line)
    if m:
        types[m.group(1)] = m.group(2)
        labels.setdefault(m.group(1), set())
        continue
    m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? ", line)
    if m and not line.startswith("#"):
        name = m.group(1)
        fam = name if name in types else re.sub(r"_(bucket|sum|count)$", "", name)
        keys = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        keys.discard("le")
        labels.setdefault(fam, set()).update(keys)

documented = {}
for line in open(docs_path):
    m = re.match(r"^\| `(jetstream_scaler_[a-z0-9_]+)` \| (\w+) \|([^|]*)\|", line)
    if m:
        documented[m.group(1)] = (m.group(2), set(re.findall(r"`([a-z_]+)`", m.group(3))))

check(len(types) >= 10, f"scrape has {len(types)} families", "too few")
for fam, typ in sorted(types.items()):
    doc = documented.get(fam)
    if not doc:
        check(False, f"{fam} documented in docs/metrics.md", "missing from the table")
        continue
    check(doc[0] == typ, f"{fam} documented as {typ}", f"docs say {doc[0]}")
    check(doc[1] == labels.get(fam, set()), f"{fam} labels {sorted(labels.get(fam, set()))}",
          f"docs say {sorted(doc[1])}")
    ok = fam.startswith("jetstream_scaler_") and (typ != "counter" or fam.endswith("_total")) \
        and not re.search(r"_(ms|milliseconds|microseconds)\b", fam)
    check(ok, f"{fam} follows the naming conventions", "prefix/_total/base units")
    if typ == "histogram":
        check(fam.endswith("_seconds"), f"{fam} is in seconds", "histograms here are durations")
sys.exit(1 if failures else 0)

#!/usr/bin/python3
"""Static checks of the Grafana dashboard, and its queries as recording rules.

  dashboard.py DASHBOARD.json docs/metrics.md RULES_OUT.yaml

Checks structure (uid, unique panel ids, the data source variable, no overlapping
panels, the panels the issue asks for) and that every metric a query uses is
documented; writes each query, with Grafana variables filled in, as a recording rule
to RULES_OUT.yaml so `promtool check rules` parses all the PromQL. Prints PASS/FAIL.
"""
import json
import re
import sys

import yaml

dash_path, docs_path, rules_out = sys.argv[1:4]
failures = 0


def check(ok, name, why=""):
    global failures
    print(f"PASS dashboard: {name}" if ok else f"FAIL dashboard: {name}: {why}")
    failures += 0 if ok else 1


d = json.load(open(dash_path))
docs = open(docs_path).read()
panels = d.get("panels", [])
check(d.get("uid") == "jetstream-scaler" and d.get("title"), "uid and title", d.get("uid"))
ids = [p["id"] for p in panels]
check(len(ids) == len(set(ids)), "panel ids unique", ids)
var_names = [v["name"] for v in d.get("templating", {}).get("list", [])]
check({"datasource", "job", "namespace"} <= set(var_names), "datasource/job/namespace variables",
      var_names)
cells = {}
overlap = []
for p in panels:
    g = p["gridPos"]
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            if (x, y) in cells:
                overlap.append((p["title"], cells[(x, y)]))
            cells[(x, y)] = p["title"]
    if g["x"] + g["w"] > 24:
        overlap.append((p["title"], "wider than 24 columns"))
check(not overlap, "panels do not overlap", overlap[:3])

exprs = [(p["title"], t["expr"]) for p in panels for t in p.get("targets", [])]
for p in panels:
    for t in p.get("targets", []):
        if t.get("datasource", {}).get("uid") != "${datasource}":
            check(False, f"{p['title']} uses the datasource variable", t.get("datasource"))
for title, expr in exprs:
    for m in set(re.findall(r"jetstream_scaler_[a-z_]+", expr)):
        fam = re.sub(r"_(bucket|sum|count)$", "", m)
        check(f"`{fam}`" in docs, f"{title}: {fam} documented", "not in docs/metrics.md")
    check('job=~"$job"' in expr or "up{" in expr or "vector(" in expr,
          f"{title}: filtered by $job", expr)

text = " ".join(e for _, e in exprs)
for need, what in (("jetstream_scaler_grpc_requests_total", "requests/s by RPC and code"),
                   ("jetstream_scaler_grpc_request_duration_seconds_bucket", "RPC latency"),
                   ("jetstream_scaler_nats_connection_up", "NATS health"),
                   ("jetstream_scaler_consumer_lag{", "lag per consumer")):
    check(need in text, f"has a {what} panel", need)
check(any("by (method, code)" in e for _, e in exprs), "requests split by method and code", "")

rules = []
for i, (title, expr) in enumerate(exprs):
    for k, v in {"$__rate_interval": "1m", "$job": "jetstream-scaler", "$namespace": ".*",
                 "$stream": ".*"}.items():
        expr = expr.replace(k, v)
    rules.append({"record": f"dashboard:query_{i}", "expr": expr})
with open(rules_out, "w") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f)
sys.exit(1 if failures else 0)

#!/usr/bin/python3
"""The chart's schema and the scaler agree on every bounded flag, at every bound.

    flag_bounds.py JETSTREAM_SCALER_BIN HELM CHART_DIR

For each value in scripts/chart-values.py's RANGES (config.requestTimeout, lagCacheTTL,
reloadInterval, pushInterval, pushIdleResync, pushReadRate, maxInflightRequests, ...) it takes each bound, the value just inside
it and just outside it, in several spellings (10ms, 9ms, 5m, 300000ms, 300001ms, 6m, ...), and
  - renders the chart with `helm template --set config.<key>=<value>` (accepted or refused by
    values.schema.json), and
  - starts the real binary with the flag exactly as the chart rendered it (or as
    --<flag>=<value> when the chart refused it): accepted means it logs "jetstream-scaler
    started" (then it gets SIGTERM), refused means it exits 2 naming the flag.
Both must give the expected answer, so a value the chart accepts can never crash-loop the pod
and a value the binary accepts is not refused by the chart. Prints PASS/FAIL lines.
"""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    "chart_values", os.path.join(ROOT, "scripts", "chart-values.py"))
chart_values = importlib.util.module_from_spec(spec)
spec.loader.exec_module(chart_values)


def probes(kind, lo, hi):
    """(value, inside?) pairs around both bounds."""
    if kind == "integer":
        return [(str(lo), True), (str(hi), True), (str(lo - 1), False), (str(hi + 1), False)]
    fmt = chart_values.fmt_ms
    out = [(fmt(lo), True), (fmt(hi), True), (f"{hi}ms", True), (f"{hi + 1}ms", False)]
    unit = re.sub(r"^[0-9]+", "", fmt(hi))
    out.append((f"{hi // chart_values.MS[unit] + 1}{unit}", False))
    if lo > 0:
        out += [(f"{lo}ms", True), (f"{lo - 1}ms", False)]
        unit = re.sub(r"^[0-9]+", "", fmt(lo))
        below = lo // chart_values.MS[unit] - 1
        # For duration-or-off a lower bound of 1<unit> puts 0<unit> here, which means off.
        if unit != "ms" and not (below == 0 and kind == "duration-or-off"):
            out.append((f"{below}{unit}", False))
    else:
        out += [("0s", True), ("1ms", True)]
    if kind == "duration-or-off" and lo > 0:
        out += [("0", True), ("0s", True)]  # off
    return list(dict.fromkeys(out))  # 10ms is both fmt(lo) and f"{lo}ms"


def render(helm, chart, key, value, set_flag):
    """The rendered container args, or None when the chart refuses the value."""
    proc = subprocess.run([helm, "template", "x", chart, set_flag, f"config.{key}={value}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        if f"config.{key}" not in proc.stderr:
            raise RuntimeError(f"helm refused config.{key}={value} without naming it: {proc.stderr}")
        return None
    for doc in yaml.safe_load_all(proc.stdout):
        if doc and doc.get("kind") == "Deployment":
            return doc["spec"]["template"]["spec"]["containers"][0]["args"]
    raise RuntimeError("no Deployment rendered")


def binary_accepts(binary, arg, flag):
    """True if the scaler starts with `arg`, False if it exits 2 naming `flag`."""
    with tempfile.TemporaryFile(mode="w+") as log:
        proc = subprocess.Popen(
            [binary, arg, "--grpc-address", "127.0.0.1:0", "--metrics-address", "127.0.0.1:0",
             "--nats-url", "nats://127.0.0.1:1", "--log-format", "text"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                code = proc.poll()
                log.seek(0)
                text = log.read()
                if code is not None:
                    if code == 2 and flag in text:
                        return False
                    raise RuntimeError(f"{arg}: exit {code} without naming {flag}: {text[-300:]}")
                if "jetstream-scaler started" in text:
                    return True
                time.sleep(0.05)
            raise RuntimeError(f"{arg}: neither started nor refused within 30 s")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main():
    binary, helm, chart = sys.argv[1:4]
    for key, (flag, kind, lo, hi) in chart_values.RANGES.items():
        cases = [(v, inside, "--set" if kind == "integer" else "--set-string")
                 for v, inside in probes(kind, lo, hi)]
        if kind != "integer" and (lo == 0 or kind == "duration-or-off"):
            cases.append(("0", True, "--set"))  # a bare 0 arrives as an integer
        for value, inside, set_flag in cases:
            name = f"config.{key}={value} ({set_flag})"
            try:
                args = render(helm, chart, key, value, set_flag)
                rendered = [a for a in (args or []) if a.startswith(flag + "=")]
                if args is not None and len(rendered) != 1:
                    raise RuntimeError(f"rendered args have no single {flag}=: {args}")
                arg = rendered[0] if rendered else f"{flag}={value}"
                chart_ok = args is not None
                binary_ok = binary_accepts(binary, arg, flag)
            except RuntimeError as e:
                print(f"FAIL {name}: {e}")
                continue
            want = "accepted" if inside else "refused"
            if chart_ok == binary_ok == inside:
                print(f"PASS {name}: {want} by the chart and by the binary ({arg})")
            else:
                print(f"FAIL {name}: expected {want}; chart {'accepts' if chart_ok else 'refuses'}, "
                      f"binary {'accepts' if binary_ok else 'refuses'} {arg}")


if __name__ == "__main__":
    main()

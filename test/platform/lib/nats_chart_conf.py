#!/usr/bin/python3
"""The nats.conf that the NATS Helm chart 1.1.5 makes of platform/bootstrap/components/01-nats.yaml.

  nats_chart_conf.py --root REPO [--out FILE]

DERIVED, NOT RENDERED BY HELM. The chart repository cannot be reached from the machines that run
the tests (no package registry serves the chart), so this script follows the structure of the
chart's own templates at tag nats-1.1.5 (helm/charts/nats in nats-io/k8s) instead of running
`helm template`:
  - files/config/config.yaml: server_name << $POD_NAME >>, lame-duck settings, pid_file (the
    reloader's path while reloader.enabled, the chart default), port from config.nats.port,
    http_port when config.monitor.enabled, a jetstream block when config.jetstream.enabled;
  - files/config/jetstream.yaml: max_memory_store << maxSize >> when the memory store is enabled
    (0 when disabled), store_dir and max_file_store << fileStore.maxSize >>, falling back to
    << pvc.size >> when maxSize is unset and the PVC is enabled (values.yaml: "defaults to the
    PVC size"); 0 when the file store is disabled;
  - nats.loadMergePatch: config.merge is merged over that map (mergeOverwrite), config.patch (a
    JSON patch) applied after it;
  - nats.formatConfig: the map as pretty JSON with every "<< X >>" string unquoted, so X reaches
    nats-server as a bare token (a size such as 2Gi, or a $VARIABLE from the environment).
Only the chart defaults this file's values rely on are modelled; a value the model does not know
is refused (KeyError naming it) rather than silently dropped. config.patch is refused too: the
platform uses none, and a JSON-patch engine would be more imitation than this check needs.

A test runs the result on loopback with command-line flags for what only a pod has (`-a 127.0.0.1
-p -1 -m -1`: flags override the file's ports; POD_NAME in the environment). The two paths are
replaced in the file (--store-dir, --pid-file), because nats-server refuses `-sd` beside a
store_dir ("Duplicate 'store_dir' configuration"); the header comment says so. nats_users_check.py
formats its server configuration with format_config below.
"""

import argparse
import copy
import json
import os
import re
import sys

import yaml

NATS_APP = "platform/bootstrap/components/01-nats.yaml"

# The chart 1.1.5 defaults that config.yaml and jetstream.yaml read (values.yaml at nats-1.1.5).
CHART_DEFAULTS = {
    "config": {
        "nats": {"port": 4222},
        "monitor": {"enabled": True, "port": 8222},
        "jetstream": {
            "enabled": False,
            "fileStore": {"enabled": True, "dir": "/data", "pvc": {"enabled": True, "size": "10Gi"}, "maxSize": None},
            "memoryStore": {"enabled": False, "maxSize": "1Gi"},
        },
        "merge": {},
    },
    "reloader": {"enabled": True},
}

# Values under config that the model above renders, or that change nothing in nats.conf here.
KNOWN_CONFIG = {"nats", "monitor", "jetstream", "merge"}


def deep_merge(base, over):
    """Helm's mergeOverwrite for maps: over wins, maps are merged key by key."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def chart_values(app_values):
    unknown = set(app_values.get("config", {})) - KNOWN_CONFIG
    if unknown:
        raise KeyError(f"config.{sorted(unknown)[0]}: not modelled by nats_chart_conf.py (extend the model "
                       "from the chart's files/config/*.yaml)")
    return deep_merge(CHART_DEFAULTS, app_values)


def config_map(values):
    """The map files/config/config.yaml + jetstream.yaml produce, before formatConfig."""
    v = chart_values(values)
    c = v["config"]
    conf = {
        "server_name": "<< $POD_NAME >>",
        "lame_duck_grace_period": "10s",
        "lame_duck_duration": "30s",
        "pid_file": "/var/run/nats/nats.pid" if v["reloader"]["enabled"] else "/var/run/nats.pid",
        "port": c["nats"]["port"],
    }
    if c["monitor"]["enabled"]:
        conf["http_port"] = c["monitor"]["port"]
    js = c["jetstream"]
    if js["enabled"]:
        block = {}
        mem = js["memoryStore"]
        if mem["enabled"]:
            if mem.get("maxSize"):
                block["max_memory_store"] = f"<< {mem['maxSize']} >>"
        else:
            block["max_memory_store"] = 0
        fs = js["fileStore"]
        if fs["enabled"]:
            block["store_dir"] = fs["dir"]
            if fs.get("maxSize"):
                block["max_file_store"] = f"<< {fs['maxSize']} >>"
            elif fs["pvc"]["enabled"]:
                block["max_file_store"] = f"<< {fs['pvc']['size']} >>"
        else:
            block["max_file_store"] = 0
        conf["jetstream"] = block
    if c.get("patch"):
        raise KeyError("config.patch: JSON patches are not modelled by nats_chart_conf.py")
    return deep_merge(conf, c.get("merge") or {})


def format_config(conf):
    """nats.formatConfig: pretty JSON, "<< X >>" strings unquoted."""
    text = json.dumps(conf, indent=2, sort_keys=True)
    return re.sub(r'"<<\s+(.*)\s+>>"', r"\1", text)


def load_values(root):
    with open(os.path.join(root, NATS_APP), encoding="utf-8") as f:
        return yaml.safe_load(f)["spec"]["source"]["helm"]["valuesObject"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--out", help="write here instead of stdout")
    ap.add_argument("--store-dir", help="replace the chart's JetStream store_dir (a test's temporary directory)")
    ap.add_argument("--pid-file", help="replace the chart's pid_file")
    args = ap.parse_args()
    try:
        conf = config_map(load_values(args.root))
        header = ("# Derived from " + NATS_APP + " by test/platform/lib/nats_chart_conf.py following the NATS\n"
                  "# chart 1.1.5 templates; not rendered by helm.\n")
        if args.store_dir and "jetstream" in conf:
            header += f"# Test-only: store_dir {conf['jetstream'].get('store_dir')} replaced by {args.store_dir}\n"
            conf["jetstream"]["store_dir"] = args.store_dir
        if args.pid_file:
            header += f"# Test-only: pid_file {conf['pid_file']} replaced by {args.pid_file}\n"
            conf["pid_file"] = args.pid_file
        text = header + format_config(conf) + "\n"
    except (OSError, KeyError, TypeError, yaml.YAMLError) as e:
        print(f"nats_chart_conf.py: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

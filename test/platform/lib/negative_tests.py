#!/usr/bin/python3
"""Proves the checks can fail: each case breaks one thing in a copy of the tree and expects
platform_check.py's analysis to report a failure whose message names the breakage.

  negative_tests.py --root REPO --scaler-keys FILE --node-modules DIR

Prints "PASS negative: <case>" or "FAIL negative: <case>" (with the checker's output). All cases
share one node/tsc run, which keeps this fast.
"""

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import traceback

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import platform_check  # noqa: E402

COMPOSITION = "platform/04-apis/compositions/agent-executor-composition.yaml"
XRD = "platform/04-apis/definitions/xagentexecutors.yaml"
CLAIM = "platform/04-apis/examples/test-claim.yaml"
NATS = "platform/bootstrap/components/01-nats.yaml"
SCALER_APP = "platform/bootstrap/components/02-jetstream-scaler.yaml"


def edit(root, rel, fn, index=0):
    path = os.path.join(root, rel)
    with open(path, encoding="utf-8") as f:
        docs = list(yaml.safe_load_all(f))
    fn(docs[index])
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump_all(docs, f, sort_keys=False)


def resource(comp, name):
    for r in comp["spec"]["pipeline"][0]["input"]["resources"]:
        if r["name"] == name:
            return r
    raise KeyError(name)


def manifest(comp, name):
    return resource(comp, name)["base"]["spec"]["forProvider"]["manifest"]


def patch_to(comp, name, suffix):
    for p in resource(comp, name)["patches"]:
        if p.get("toFieldPath", "").endswith(suffix):
            return p
    raise KeyError(suffix)


def main_container(comp):
    return manifest(comp, "deployment")["spec"]["template"]["spec"]["containers"][0]


# (case, expected substring of the checker output, mutation of the copied tree)
CASES = [
    ("bad fromFieldPath (spec.natsStreamNam)", "fromFieldPath 'spec.natsStreamNam'",
     lambda r: edit(r, COMPOSITION, lambda c: patch_to(c, "scaled-object", "metadata.stream").update(
         fromFieldPath="spec.natsStreamNam"))),
    ("XRD enum value missing from the size map (xlarge)", "no entry for enum value(s) xlarge",
     lambda r: edit(r, XRD, lambda x: x["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
                    ["spec"]["properties"]["size"]["enum"].append("xlarge"))),
    ("size map lacks an enum value (large)", "no entry for enum value(s) large",
     lambda r: edit(r, COMPOSITION, lambda c: patch_to(c, "deployment", "containers[0].resources")
                    ["transforms"][0]["map"].pop("large"))),
    ("trigger metadata key the scaler does not accept (lagTreshold)", "metadata key 'lagTreshold' is not accepted",
     lambda r: edit(r, COMPOSITION, lambda c: manifest(c, "scaled-object")["spec"]["triggers"][0]
                    ["metadata"].update(lagTreshold="5"))),
    ("trigger type is not the external scaler (nats-jetstream)", "type(s) nats-jetstream",
     lambda r: edit(r, COMPOSITION, lambda c: manifest(c, "scaled-object")["spec"]["triggers"][0].update(
         type="nats-jetstream"))),
    ("Object schema violation (readiness.policy Derive)", "spec.readiness.policy",
     lambda r: edit(r, COMPOSITION, lambda c: resource(c, "deployment")["base"]["spec"]["readiness"].update(
         policy="Derive"))),
    ("unknown field in a composed Deployment (readynessProbe)", "readynessProbe",
     lambda r: edit(r, COMPOSITION, lambda c: main_container(c).update(
         readynessProbe=main_container(c).pop("readinessProbe")))),
    ("wrong type in a composed Deployment (containerPort \"8080\")", "containerPort",
     lambda r: edit(r, COMPOSITION, lambda c: main_container(c)["ports"][0].update(containerPort="8080"))),
    ("toFieldPath to a field the target kind lacks (imagee)", "imagee",
     lambda r: edit(r, COMPOSITION, lambda c: patch_to(c, "deployment", "containers[0].image").update(
         toFieldPath="spec.forProvider.manifest.spec.template.spec.containers[0].imagee"))),
    ("integer patched into string trigger metadata (convert removed)", "metadata.lagThreshold",
     lambda r: edit(r, COMPOSITION, lambda c: patch_to(c, "scaled-object", "metadata.lagThreshold").pop(
         "transforms"))),
    ("HPA-owned field set in the Deployment (spec.replicas)", "spec.replicas must not be set",
     lambda r: edit(r, COMPOSITION, lambda c: manifest(c, "deployment")["spec"].update(replicas=2))),
    ("claim violates the XRD (size: huge)", "huge",
     lambda r: edit(r, CLAIM, lambda d: d["spec"].update(size="huge"))),
    ("claim violates an XRD CEL rule (pushInterval without external-push)", "violates CEL rule",
     lambda r: edit(r, CLAIM, lambda d: d["spec"].update(pushInterval="250ms"))),
    ("NATS chart value key that chart 1.1.5 does not have (memStore)", "memStore",
     lambda r: edit(r, NATS, lambda a: a["spec"]["source"]["helm"]["valuesObject"]["config"]["jetstream"]
                    .update(memStore={"enabled": True}))),
    ("memory store as large as the memory limit (the plan's 2Gi/2Gi)", "at most 90% of the memory limit",
     lambda r: edit(r, NATS, lambda a: a["spec"]["source"]["helm"]["valuesObject"]["container"]["merge"]
                    ["resources"]["limits"].update(memory="2Gi"))),
    ("container.merge of the NATS chart is not a Container fragment (resourcez)", "resourcez",
     lambda r: edit(r, NATS, lambda a: a["spec"]["source"]["helm"]["valuesObject"]["container"]["merge"]
                    .update(resourcez={}))),
    ("scaler chart value that charts/jetstream-scaler does not have (nats.url)", "nats.url",
     lambda r: edit(r, SCALER_APP, lambda a: a["spec"]["source"]["helm"]["valuesObject"]["nats"].update(
         url="nats://nats.nats.svc:4222"))),
    ("unknown field in an Argo CD Application (syncPolicy.automatic)", "automatic",
     lambda r: edit(r, SCALER_APP, lambda a: a["spec"]["syncPolicy"].update(automatic={"prune": True}))),
    ("scaler not configured for the XRD's default natsUrl", "not among the scaler's nats.urls",
     lambda r: edit(r, SCALER_APP, lambda a: a["spec"]["source"]["helm"]["valuesObject"]["nats"].update(
         urls=["nats://nats.other.svc:4222"]))),
]


def copy_tree(src, dst):
    for part in ("platform", "docs/standards", "docs/platform-runbook.md", "charts/jetstream-scaler"):
        s = os.path.join(src, part)
        d = os.path.join(dst, part)
        if os.path.isdir(s):
            shutil.copytree(s, d)
        elif os.path.exists(s):
            os.makedirs(os.path.dirname(d), exist_ok=True)
            shutil.copy2(s, d)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=".")
    ap.add_argument("--scaler-keys", required=True)
    ap.add_argument("--node-modules", required=True)
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    keys = platform_check.read_keys(args.scaler_keys)

    analysed = []  # (case name, expected, report or None, problem)
    for name, expected, mutate in CASES:
        with tempfile.TemporaryDirectory(prefix="platform-negative-") as tmp:
            copy_tree(root, tmp)
            try:
                mutate(tmp)
            except (KeyError, IndexError, TypeError) as e:
                analysed.append((name, expected, None, f"mutation could not be applied (the tree changed?): {e!r}"))
                continue
            try:
                report, validator = platform_check.analyse(tmp, keys)
            except Exception:  # a crash is a checker bug, not a rejection
                analysed.append((name, expected, None, "the checker crashed:\n" + traceback.format_exc()))
                continue
            analysed.append((name, expected, (report, validator), None))
    platform_check.run_node([a[2][1] for a in analysed if a[2]], args.node_modules)

    failed = 0
    for name, expected, result, problem in analysed:
        if result is not None:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                n_failed = result[0].emit()
            text = out.getvalue()
            if n_failed == 0:
                problem = "the checker passed the broken tree"
            elif expected not in text:
                problem = f"the checker failed, but without mentioning {expected!r}:\n{text[-3000:]}"
            else:
                hit = next(line.strip() for line in text.splitlines() if expected in line)
                print(f"PASS negative: {name} is rejected")
                print(f"       -> {hit[:220]}")
                continue
        failed += 1
        print(f"FAIL negative: {name}")
        for line in problem.splitlines():
            print(f"       {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

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
KEDA_APP = "platform/bootstrap/components/00-keda.yaml"
PROVIDER_APP = "platform/bootstrap/components/00-provider-kubernetes.yaml"
PROVIDER = "platform/bootstrap/provider-kubernetes/provider.yaml"  # Provider, DeploymentRuntimeConfig
RBAC = "platform/bootstrap/provider-kubernetes/rbac.yaml"  # ClusterRole, ClusterRoleBinding
PROVIDER_CONFIG = "platform/bootstrap/provider-kubernetes/providerconfig.yaml"
NATS_POLICY = "platform/bootstrap/network-policies/nats.yaml"
MEDIUM = "platform/04-apis/examples/claim-medium.yaml"
GIT_APPS = (SCALER_APP, PROVIDER_APP, "platform/bootstrap/components/03-network-policies.yaml",
            "platform/04-apis.yaml")


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


def age_patch(comp, field):
    """The scaled-object patch writing triggers[1].<field> (the age trigger)."""
    for p in resource(comp, "scaled-object")["patches"]:
        if p.get("toFieldPath", "").endswith("triggers[1]." + field):
            return p
    raise KeyError(field)


def from_field(p, source):
    """Turns a patch into a plain FromCompositeFieldPath from source."""
    p.pop("combine", None)
    p.update(type="FromCompositeFieldPath", fromFieldPath=source)


def manifest(comp, name):
    return resource(comp, name)["base"]["spec"]["forProvider"]["manifest"]


def patch_to(comp, name, suffix):
    for p in resource(comp, name)["patches"]:
        if p.get("toFieldPath", "").endswith(suffix):
            return p
    raise KeyError(suffix)


def main_container(comp):
    return manifest(comp, "deployment")["spec"]["template"]["spec"]["containers"][0]


def pod(comp):
    return manifest(comp, "deployment")["spec"]["template"]["spec"]


def values(app):
    return app["spec"]["source"]["helm"]["valuesObject"]


def nats_user(app, name):
    users = values(app)["config"]["merge"]["authorization"]["users"]
    return next(u for u in users if u["user"] == name)


def xrd_root(xrd):
    return xrd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def every_git_app(root, url):
    for rel in GIT_APPS:
        edit(root, rel, lambda a: a["spec"]["source"].update(repoURL=url))


def set_claim_name(name):
    return lambda r: edit(r, MEDIUM, lambda c: c["metadata"].update(name=name))


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
    # --- issue 12: blockers -------------------------------------------------------------------
    ("scaler image is the chart's bare default (jetstream-scaler)", "names no registry",
     lambda r: edit(r, SCALER_APP, lambda a: values(a)["image"].update(repository="jetstream-scaler"))),
    ("scaler image tag latest, no digest", "set a released tag",
     lambda r: edit(r, SCALER_APP, lambda a: values(a)["image"].update(tag="latest"))),
    ("scaler image tag behind the chart's appVersion", "is not the chart's appVersion",
     lambda r: edit(r, SCALER_APP, lambda a: values(a)["image"].update(tag="0.0.9"))),
    ("one Application of this repository points at another URL", "disagree on the source",
     lambda r: edit(r, PROVIDER_APP, lambda a: a["spec"]["source"].update(repoURL="https://github.com/other/fork.git"))),
    ("repository URL left as a placeholder", "is a placeholder",
     lambda r: every_git_app(r, "https://github.com/example-org/zerotouch-platform.git")),
    ("provider-kubernetes in the same sync wave as the APIs layer", "earlier wave",
     lambda r: edit(r, PROVIDER_APP, lambda a: a["metadata"]["annotations"].update({"argocd.argoproj.io/sync-wave": "1"}))),
    ("the Function in the same wave as the Composition", "must come before",
     lambda r: edit(r, "platform/04-apis/functions/function-patch-and-transform.yaml", lambda f: f["metadata"]
                    ["annotations"].update({"argocd.argoproj.io/sync-wave": "1"}))),
    ("KEDA's CRDs without Prune=false,Delete=false", "crds.additionalAnnotations",
     lambda r: edit(r, KEDA_APP, lambda a: a["spec"]["source"]["helm"].pop("valuesObject"))),
    ("Provider package not pinned (:latest)", "must be pinned",
     lambda r: edit(r, PROVIDER, lambda p: p["spec"].update(
         package="xpkg.crossplane.io/crossplane-contrib/provider-kubernetes:latest"))),
    ("provider-kubernetes without server-side apply", "--enable-server-side-apply",
     lambda r: edit(r, PROVIDER, lambda d: d["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]
                    ["containers"][0].update(args=[]), index=1)),
    ("ServiceAccount name not fixed by the DeploymentRuntimeConfig", "serviceAccountTemplate.metadata.name",
     lambda r: edit(r, PROVIDER, lambda d: d["spec"].pop("serviceAccountTemplate"), index=1)),
    ("ClusterRole also grants secrets", "never composes",
     lambda r: edit(r, RBAC, lambda c: c["rules"][0]["resources"].append("secrets"))),
    ("ClusterRole lacks KEDA ScaledObjects", "may not manage ['scaledobjects']",
     lambda r: edit(r, RBAC, lambda c: c["rules"].pop(2))),
    ("ClusterRole grants list and watch", "verbs",
     lambda r: edit(r, RBAC, lambda c: c["rules"][1]["verbs"].extend(["list", "watch"]))),
    ("ClusterRoleBinding bound to another ServiceAccount", "no ClusterRoleBinding binds",
     lambda r: edit(r, RBAC, lambda b: b["subjects"][0].update(name="crossplane"), index=1)),
    ("ProviderConfig with Secret credentials", "must be InjectedIdentity",
     lambda r: edit(r, PROVIDER_CONFIG, lambda p: p["spec"]["credentials"].update(source="Secret"))),
    # --- issue 12: hazards --------------------------------------------------------------------
    ("Argo CD tracking label on composed objects (app.kubernetes.io/instance)", "app.kubernetes.io/instance",
     lambda r: edit(r, COMPOSITION, lambda c: c["spec"]["pipeline"][0]["input"]["patchSets"][0]["patches"].append(
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.claimRef.name",
          "toFieldPath": "spec.forProvider.manifest.metadata.labels[app.kubernetes.io/instance]"}))),
    ("XRD without Prune=false,Delete=false", "needs annotation argocd.argoproj.io/sync-options",
     lambda r: edit(r, XRD, lambda x: x["metadata"]["annotations"].pop("argocd.argoproj.io/sync-options"))),
    ("Composition without Prune=false,Delete=false", "Composition/agent-executor-composition: needs annotation",
     lambda r: edit(r, COMPOSITION, lambda c: c["metadata"]["annotations"].update(
         {"argocd.argoproj.io/sync-options": "Prune=false"}))),
    ("scalerAddress back in the claim API", "must not be part of the claim API",
     lambda r: edit(r, XRD, lambda x: xrd_root(x)["properties"]["spec"]["properties"].update(
         scalerAddress={"type": "string", "description": "where KEDA connects"}))),
    ("trigger scalerAddress patched from the claim", "never a claim's",
     lambda r: edit(r, COMPOSITION, lambda c: resource(c, "scaled-object")["patches"].append(
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.natsUrl",
          "toFieldPath": "spec.forProvider.manifest.spec.triggers[0].metadata.scalerAddress"}))),
    ("age trigger's stream patched from natsStreamName alone (a half trigger in every claim)", "partial trigger",
     lambda r: edit(r, COMPOSITION, lambda c: from_field(age_patch(c, "metadata.stream"), "spec.natsStreamName"))),
    ("age trigger's scalerAddress match gives another address", "never a claim's",
     lambda r: edit(r, COMPOSITION, lambda c: age_patch(c, "metadata.scalerAddress")["transforms"][-1]["match"][
         "patterns"][0].update(result="scaler.attacker.example:6000"))),
    ("age trigger's scalerAddress falls back to the claim's value", "never a claim's",
     lambda r: edit(r, COMPOSITION, lambda c: age_patch(c, "metadata.scalerAddress")["transforms"][-1]["match"].update(
         fallbackTo="Input"))),
    ("claim sets activationAgeSeconds without scaleOnAgeSeconds", "violates CEL rule '!has(self.activationAgeSeconds)",
     lambda r: edit(r, CLAIM, lambda d: d["spec"].update(activationAgeSeconds=5))),
    ("init container may escalate privileges", "allowPrivilegeEscalation must be false",
     lambda r: edit(r, COMPOSITION, lambda c: pod(c)["initContainers"][0]["securityContext"].update(
         allowPrivilegeEscalation=True))),
    ("main container keeps its capabilities", "capabilities.drop must contain ALL",
     lambda r: edit(r, COMPOSITION, lambda c: main_container(c)["securityContext"].pop("capabilities"))),
    ("pod may run as root", "runAsNonRoot must be true",
     lambda r: edit(r, COMPOSITION, lambda c: pod(c)["securityContext"].pop("runAsNonRoot"))),
    ("pod mounts a ServiceAccount token", "automountServiceAccountToken must be false",
     lambda r: edit(r, COMPOSITION, lambda c: pod(c).pop("automountServiceAccountToken"))),
    ("claim named default", "violates CEL rule \"self.metadata.name != 'default'\"", set_claim_name("default")),
    ("claim name with a dot (task.runner)", "violates CEL rule \"self.metadata.name.matches", set_claim_name("task.runner")),
    ("claim name with a leading digit (1runner)", "violates CEL rule \"self.metadata.name.matches", set_claim_name("1runner")),
    ("claim name of 53 characters", "size(self.metadata.name) <= 52", set_claim_name("r" * 53)),
    ("XRD without the claim-name rules", "passes the XRD's root CEL rules",
     lambda r: edit(r, XRD, lambda x: xrd_root(x).pop("x-kubernetes-validations"))),
    ("Deployment ready on AllTrue", "AllTrue counts ReplicaFailure=True as ready",
     lambda r: edit(r, COMPOSITION, lambda c: resource(c, "deployment")["base"]["spec"].update(
         readiness={"policy": "AllTrue"}))),
    ("scaler chart NetworkPolicy disabled", "networkPolicy.enabled must be true",
     lambda r: edit(r, SCALER_APP, lambda a: values(a)["networkPolicy"].update(enabled=False))),
    ("NATS monitoring port open to other namespaces", "only 4222",
     lambda r: edit(r, NATS_POLICY, lambda n: n["spec"]["ingress"][2].update({"from": [{"namespaceSelector": {}}]}))),
    ("scaler NATS user may publish anywhere", "may publish to",
     lambda r: edit(r, NATS, lambda a: nats_user(a, "jetstream-scaler")["permissions"]["publish"]["allow"].append(">"))),
    ("scaler NATS user subscribes to system subjects", "must deny",
     lambda r: edit(r, NATS, lambda a: nats_user(a, "jetstream-scaler")["permissions"]["subscribe"].pop("deny"))),
    ("NATS users without no_auth_user", "no_auth_user",
     lambda r: edit(r, NATS, lambda a: values(a)["config"]["merge"].pop("no_auth_user"))),
    ("literal NATS password in Git", "not a literal",
     lambda r: edit(r, NATS, lambda a: nats_user(a, "tenant").update(password="hunter2"))),
    # --- issue 12: rendered goldens -----------------------------------------------------------
    ("Function upgraded without the renderer (v0.10.9)", "render.py reproduces",
     lambda r: edit(r, "platform/04-apis/functions/function-patch-and-transform.yaml", lambda f: f["spec"].update(
         package="xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform:v0.10.9"))),
    ("golden out of date (a base label changed)", "golden differs from the render",
     lambda r: edit(r, COMPOSITION, lambda c: manifest(c, "service")["metadata"]["labels"].update(
         {"app.kubernetes.io/component": "api"}))),
    ("Composition uses a transform the renderer does not reproduce (math)", "Unsupported: transform type 'math'",
     lambda r: edit(r, COMPOSITION, lambda c: patch_to(c, "scaled-object", "spec.minReplicaCount").update(
         transforms=[{"type": "math", "math": {"type": "Multiply", "multiply": 1}}]))),
    ("shrink case: an empty imagePullSecrets list is left behind", "must be absent",
     lambda r: edit(r, COMPOSITION, lambda c: pod(c).update(imagePullSecrets=[]))),
]


def copy_tree(src, dst):
    for part in ("platform", "docs/standards", "docs/platform-runbook.md", "charts/jetstream-scaler",
                 "test/platform/golden"):
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
                report, validator = platform_check.analyse(tmp, keys, validate_goldens=False)
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

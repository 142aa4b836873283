#!/usr/bin/python3
"""Offline checks of the platform manifests (platform/) and the manifests shown in the docs.

  platform_check.py --root REPO --scaler-keys FILE --node-modules DIR

Prints one line per check, "PASS <name>", "FAIL <name>" (followed by indented reasons) or
"SKIP <name>: <why>", and exits 1 if any check failed. Nothing is rendered: the composition is
analysed patch by patch (each source path against the XRD, each target path and value type
against the target kind's schema); turning a claim into objects needs Crossplane itself.
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import OrderedDict

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdschema  # noqa: E402
from crdschema import ANY, format_path, parse_path  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(os.path.dirname(HERE), "schemas")

# Trigger metadata keys KEDA's external / external-push scaler reads itself (scalerAddress, TLS)
# and passes on to the scaler, which ignores them.
KEDA_EXTERNAL_KEYS = {"scalerAddress", "enableTLS", "unsafeSsl", "caCert", "tlsClientCert",
                      "tlsClientKey", "tlsCertFile"}
# Keys the composition may set that older scaler builds do not list yet. pushInterval is the
# external-push re-read interval, added to the scaler together with push support; a build that
# does not print it would still accept it (unknown keys are ignored), so it is allowed here with
# a note. Remove it from this set once every supported scaler build lists it.
PENDING_SCALER_KEYS = {"pushInterval"}
TRIGGER_TYPES = {"external", "external-push"}

# Crossplane sets these on every LegacyCluster XR (internal/xcrd/schemas.go); patches may read them.
XR_INJECTED = {
    "metadata": {"type": "object", "properties": {
        "name": {"type": "string"}, "uid": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}}},
        "additionalProperties": False},
    "spec": {
        "claimRef": {"type": "object", "additionalProperties": False, "properties": {
            k: {"type": "string"} for k in ("apiVersion", "kind", "name", "namespace")}},
        "compositionRef": {"type": "object", "properties": {"name": {"type": "string"}}},
        "compositionSelector": {"type": "object"},
        "compositionRevisionRef": {"type": "object", "properties": {"name": {"type": "string"}}},
        "compositionUpdatePolicy": {"type": "string", "enum": ["Automatic", "Manual"]},
        "resourceRefs": {"type": "array", "items": {"type": "object"}},
        "writeConnectionSecretToRef": {"type": "object"},
    },
}
# Fields Crossplane adds to every claim's spec.
CLAIM_INJECTED = {
    "compositionRef": {"type": "object", "properties": {"name": {"type": "string"}},
                       "additionalProperties": False},
    "compositionSelector": {"type": "object", "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}}},
    "compositionRevisionRef": {"type": "object", "properties": {"name": {"type": "string"}}},
    "compositionRevisionSelector": {"type": "object"},
    "compositionUpdatePolicy": {"type": "string", "enum": ["Automatic", "Manual"]},
    "compositeDeletePolicy": {"type": "string", "enum": ["Background", "Foreground"]},
    "resourceRef": {"type": "object"},
    "writeConnectionSecretToRef": {"type": "object", "properties": {"name": {"type": "string"}}},
}

# CEL rules of our own XRD, evaluated offline. A rule not listed here fails the XRD check, so a
# new rule cannot go unnoticed: add its Python equivalent here. Rules on spec get the spec.
CEL_RULES = {
    "self.minReplicas <= self.maxReplicas":
        lambda s: s.get("minReplicas", 0) <= s.get("maxReplicas", 0),
    "!has(self.pushInterval) || self.triggerType == 'external-push'":
        lambda s: "pushInterval" not in s or s.get("triggerType") == "external-push",
    "!has(self.activationAgeSeconds) || has(self.scaleOnAgeSeconds)":
        lambda s: "activationAgeSeconds" not in s or "scaleOnAgeSeconds" in s,
}
# CEL rules of the form "!has(self.A) || has(self.B)": a claim that sets A also sets B.
CEL_IMPLIES = re.compile(r"^!has\(self\.(\w+)\) \|\| has\(self\.(\w+)\)$")
# Root rules get the whole object (a CRD root rule may read apiVersion, kind, metadata.name and
# metadata.generateName). CEL's matches() is an unanchored RE2 search, like re.search.
CEL_ROOT_RULES = {
    "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')":
        lambda o: re.search(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", str(_name(o))) is not None,
    "self.kind != 'AgentExecutor' || size(self.metadata.name) <= 52":
        lambda o: o.get("kind") != "AgentExecutor" or len(str(_name(o))) <= 52,
    "self.metadata.name != 'default'":
        lambda o: _name(o) != "default",
}


def _name(obj):
    return (obj.get("metadata") or {}).get("name", "")

# What the plan fixes (tasks 2.1-2.8, adapted): checked against the XRD and the Composition.
PLAN_SIZES = {
    "small": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1000m", "memory": "2Gi"}},
    "medium": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2000m", "memory": "4Gi"}},
    "large": {"requests": {"cpu": "1000m", "memory": "2Gi"}, "limits": {"cpu": "4000m", "memory": "8Gi"}},
}
PLAN_ENV = ["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
            "DRAGONFLY_HOST", "DRAGONFLY_PORT", "DRAGONFLY_PASSWORD", "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY", "NATS_URL"]
PLAN_XRD_DEFAULTS = {
    "size": "medium", "natsUrl": "nats://nats.nats.svc:4222",
    "postgresConnectionSecret": "postgres-connection", "dragonflyConnectionSecret": "dragonfly-connection",
    "llmKeysSecret": "llm-keys", "lagThreshold": 5, "minReplicas": 1, "maxReplicas": 10,
    "triggerType": "external", "activationLagThreshold": 0,
}
# Claim fields that must not exist: the address KEDA's operator dials is the platform's.
FORBIDDEN_XRD_FIELDS = {"scalerAddress": "tenants must not choose the address KEDA's operator connects to"}
PLAN_XRD_REQUIRED = {"image", "natsStreamName", "natsConsumerGroup"}
PLAN_XRD_FIELDS = set(PLAN_XRD_DEFAULTS) | PLAN_XRD_REQUIRED | {"imagePullSecrets", "pushInterval"}

CLUSTER_SCOPED_KINDS = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
MANIFEST = ["spec", "forProvider", "manifest"]


class Report:
    def __init__(self):
        self.checks = OrderedDict()
        self.skips = []
        self.notes = []

    def add(self, name, errors=()):
        self.checks.setdefault(name, []).extend(errors)

    def fail(self, name, error):
        self.add(name, [error])

    def skip(self, name, why):
        self.skips.append((name, why))

    def note(self, text):
        if text not in self.notes:
            self.notes.append(text)

    def emit(self):
        """Prints the results; returns the number of failed checks."""
        for text in self.notes:
            print(f"NOTE {text}")
        failed = 0
        for name, errors in self.checks.items():
            if errors:
                failed += 1
                print(f"FAIL {name}")
                seen = set()
                for e in errors:
                    if e not in seen:
                        seen.add(e)
                        print(f"       - {e}")
            else:
                print(f"PASS {name}")
        for name, why in self.skips:
            print(f"SKIP {name}: {why}")
        return failed


class Doc:
    def __init__(self, source, index, obj):
        self.source = source  # path relative to the root (or "docs-file#block")
        self.index = index
        self.obj = obj

    @property
    def kind(self):
        return self.obj.get("kind", "?")

    @property
    def api_version(self):
        return self.obj.get("apiVersion", "?")

    @property
    def name(self):
        return (self.obj.get("metadata") or {}).get("name", "?")

    @property
    def label(self):
        return f"{self.source}#{self.index} {self.kind}/{self.name}"


# ---------------------------------------------------------------------------------------------
# Loading


def load_yaml_files(root, report):
    docs = []
    files = sorted(glob.glob(os.path.join(root, "platform", "**", "*.y*ml"), recursive=True))
    for path in files:
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as f:
                loaded = [d for d in yaml.load_all(f, Loader=crdschema.LOADER) if d is not None]
        except yaml.YAMLError as e:
            report.fail(f"parse {rel}", str(e).replace("\n", " "))
            continue
        errors = []
        for i, d in enumerate(loaded):
            if not isinstance(d, dict) or "apiVersion" not in d or "kind" not in d:
                errors.append(f"document {i} is not a Kubernetes object (apiVersion/kind missing)")
                continue
            docs.append(Doc(rel, i, d))
        report.add(f"parse {rel}", errors)
    return docs


# Docs whose yaml blocks are platform manifests (the platform's own docs, not the whole docs/).
DOC_GLOBS = ("platform/**/*.md", "docs/standards/*.md", "docs/platform-runbook.md")


def load_doc_blocks(root):
    """Kubernetes objects shown in fenced yaml blocks of the platform docs."""
    out = []
    md_files = sorted({p for g in DOC_GLOBS for p in glob.glob(os.path.join(root, g), recursive=True)})
    for path in md_files:
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for n, m in enumerate(re.finditer(r"^```ya?ml\n(.*?)^```", text, re.S | re.M)):
            try:
                loaded = [d for d in yaml.load_all(m.group(1), Loader=crdschema.LOADER) if d is not None]
            except yaml.YAMLError:
                out.append(("error", rel, n, m.group(1)))
                continue
            for i, d in enumerate(loaded):
                if isinstance(d, dict) and "apiVersion" in d and "kind" in d:
                    out.append(("doc", rel, n, Doc(f"{rel}[block {n}]", i, d)))
    return out


def load_schemas():
    schemas = {}
    for path in glob.glob(os.path.join(SCHEMAS, "*.yaml")):
        schemas.update(crdschema.load_crd(path))
    return schemas


def gvk(obj):
    api = obj.get("apiVersion", "")
    group, _, version = api.rpartition("/")
    return (group, version, obj.get("kind"))


# ---------------------------------------------------------------------------------------------
# Schema validation


def schema_errors(schema, obj, where=""):
    validator = jsonschema.Draft7Validator(schema)
    out = []
    for e in sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path)):
        path = format_path(list(e.absolute_path)) or "<root>"
        msg = e.message if len(e.message) < 300 else e.message[:300] + "..."
        out.append(f"{where}{path}: {msg}")
    return out


def metadata_errors(obj, need_name=True):
    md = obj.get("metadata")
    if md is None:
        return ["metadata missing"] if need_name else []
    if not isinstance(md, dict):
        return ["metadata is not an object"]
    out = []
    name = md.get("name")
    if need_name and not name:
        out.append("metadata.name missing")
    if name is not None and not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", str(name)):
        out.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    for key in ("labels", "annotations"):
        for k, v in (md.get(key) or {}).items():
            if not isinstance(v, str):
                out.append(f"metadata.{key}[{k}] must be a string, not {type(v).__name__}")
    return out


class Validator:
    """Routes each object to its schema; Kubernetes/Argo CD/KEDA models go to node in one batch."""

    def __init__(self, report, schemas, xrds):
        self.report = report
        self.schemas = schemas
        self.xrds = xrds  # claim and XR (group, version, kind) -> (xrd doc, schema)
        self.node_docs = []
        self.node_partials = []

    def node_kind(self, obj):
        group, _, _ = gvk(obj)
        return group in ("", "apps", "batch", "policy", "autoscaling", "argoproj.io", "keda.sh") \
            or group.endswith(".k8s.io")

    def validate(self, check, obj, where="", need_name=True):
        """Validates a whole object; errors go to `check` (some arrive after run_node())."""
        key = gvk(obj)
        self.report.add(check, [where + e for e in metadata_errors(obj, need_name)])
        found = False
        if key in self.schemas:
            found = True
            self.report.add(check, schema_errors(self.schemas[key], obj, where))
        if key in self.xrds:
            found = True
            self.report.add(check, self.claim_errors(key, obj, where))
        if self.node_kind(obj):
            found = True
            self.node_docs.append((check, where, obj))
        if not found:
            self.report.fail(check, f"{where}no schema known for {obj.get('apiVersion')} {obj.get('kind')}")
        if key == ("kubernetes.crossplane.io", "v1alpha2", "Object"):
            manifest = ((obj.get("spec") or {}).get("forProvider") or {}).get("manifest")
            if isinstance(manifest, dict):
                # Names and namespaces of composed manifests are patched in; see the composition.
                self.validate(check, manifest, where + "spec.forProvider.manifest: ", need_name=False)

    def claim_errors(self, key, obj, where):
        xrd, schema = self.xrds[key]
        errors = schema_errors(schema, obj, where)
        spec = crdschema.apply_defaults(schema["properties"]["spec"], obj.get("spec") or {})
        for rule in schema["properties"]["spec"].get("x-cel", []):
            fn = CEL_RULES.get(rule)
            if fn is None:
                errors.append(f"{where}spec: CEL rule {rule!r} has no offline equivalent in platform_check.py")
            elif not fn(spec):
                errors.append(f"{where}spec: violates CEL rule {rule!r}")
        for rule in schema.get("x-cel", []):
            fn = CEL_ROOT_RULES.get(rule)
            if fn is None:
                errors.append(f"{where}<root>: CEL rule {rule!r} has no offline equivalent in platform_check.py")
            elif not fn(obj):
                errors.append(f"{where}metadata.name {_name(obj)!r}: violates CEL rule {rule!r}")
        return errors

    def partial(self, check, api_version, kind, tokens, value, where):
        """Queues a type check: can `value` sit at `tokens` inside a `kind` object?"""
        self.node_partials.append((check, where, {"apiVersion": api_version, "kind": kind,
                                                  "object": nest(tokens, value)}))


def run_node(validators, node_modules):
    """Runs the queued Kubernetes/Argo CD/KEDA checks of all validators in one node (and tsc) run.

    Identical objects (the negative cases share most of the tree) are validated once and the
    result goes to every check that queued them."""
    entries, owners, seen = {"documents": [], "partials": []}, {}, {}
    for v in validators:
        for bucket, items in (("documents", v.node_docs), ("partials", v.node_partials)):
            for check, where, obj in items:
                key = (bucket, json.dumps(obj, sort_keys=True))
                if key in seen:
                    owners[seen[key]].append((v.report, check, where))
                    continue
                ident = seen[key] = f"n{len(owners)}"
                owners[ident] = [(v.report, check, where)]
                if bucket == "documents":
                    entries[bucket].append({"id": ident, "apiVersion": obj.get("apiVersion"),
                                            "kind": obj.get("kind"), "object": obj})
                else:
                    entries[bucket].append({"id": ident, **obj})
    if not owners:
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(entries, f)
        request = f.name
    env = dict(os.environ, NODE_PATH=node_modules,
               JSS_TSC_WORKDIR=os.path.dirname(os.path.abspath(node_modules)))
    try:
        proc = subprocess.run(["node", os.path.join(HERE, "k8s_models.js"), request],
                              capture_output=True, text=True, env=env, timeout=900)
    finally:
        os.unlink(request)
    if proc.returncode != 0:
        for report, check, _ in (o for group in owners.values() for o in group):
            report.fail(check, f"node validator failed: {proc.stderr.strip()[-800:]}")
        return
    for r in json.loads(proc.stdout)["results"]:
        for report, check, where in owners[r["id"]]:
            report.add(check, [where + e for e in r["errors"]])


def nest(tokens, value):
    if not tokens:
        return value
    head, rest = tokens[0], tokens[1:]
    if isinstance(head, int):
        return [nest(rest, value) for _ in range(head + 1)]
    return {head: nest(rest, value)}


def get_path(obj, tokens):
    cur = obj
    for t in tokens:
        if isinstance(t, int):
            if not isinstance(cur, list) or t >= len(cur):
                return None
        elif not isinstance(cur, dict) or t not in cur:
            return None
        cur = cur[t]
    return cur


# ---------------------------------------------------------------------------------------------
# XRDs


def xrd_schemas(xrd_docs):
    """(group, version, kind) of each XR and claim -> (xrd doc, JSON schema)."""
    out = {}
    for d in xrd_docs:
        spec = d.obj.get("spec") or {}
        group = spec.get("group")
        for v in spec.get("versions") or []:
            raw = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
            base = crdschema.to_json_schema(raw)
            base.setdefault("properties", {})
            base["properties"].setdefault("spec", {"type": "object", "properties": {}})
            xr = json.loads(json.dumps(base))
            xr["properties"]["metadata"] = XR_INJECTED["metadata"]
            xr["properties"]["spec"].setdefault("properties", {}).update(XR_INJECTED["spec"])
            xr["properties"]["apiVersion"] = {"type": "string"}
            xr["properties"]["kind"] = {"type": "string"}
            out[(group, v.get("name"), (spec.get("names") or {}).get("kind"))] = (d, xr)
            if spec.get("claimNames"):
                claim = json.loads(json.dumps(base))
                claim["properties"]["spec"].setdefault("properties", {}).update(CLAIM_INJECTED)
                claim["properties"]["metadata"] = {"type": "object"}
                claim["properties"]["apiVersion"] = {"type": "string"}
                claim["properties"]["kind"] = {"type": "string"}
                claim["properties"].pop("status", None)
                out[(group, v.get("name"), spec["claimNames"].get("kind"))] = (d, claim)
    return out


def check_xrd(d, report):
    name = f"xrd {d.name}: API shape (plan task 2.1)"
    errors = []
    spec = d.obj.get("spec") or {}
    expected_name = f"{(spec.get('names') or {}).get('plural')}.{spec.get('group')}"
    if d.name != expected_name:
        errors.append(f"metadata.name must be <plural>.<group> = {expected_name}")
    if spec.get("scope", "LegacyCluster") != "LegacyCluster" and spec.get("claimNames"):
        errors.append("claims need scope LegacyCluster (the v1 default)")
    if not spec.get("claimNames"):
        errors.append("claimNames missing: the plan's API is used through namespaced claims")
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("referenceable")) != 1:
        errors.append("exactly one version must be referenceable")
    for v in versions:
        raw = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        sp = (raw.get("properties") or {}).get("spec") or {}
        props = sp.get("properties") or {}
        for field in sorted(set(sp.get("required") or []) - set(props)):
            errors.append(f"{v.get('name')}: required field {field} is not defined")

        def walk(node, path):
            if not isinstance(node, dict):
                return
            if "type" not in node and not node.get("x-kubernetes-int-or-string") \
                    and not node.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{v.get('name')}: {path or '<root>'} has no type (not a structural schema)")
            if re.fullmatch(r"spec\.[A-Za-z0-9]+", path) and not node.get("description"):
                errors.append(f"{v.get('name')}: {path} has no description")
            if "default" in node:
                sub = crdschema.to_json_schema({k: x for k, x in node.items() if k != "default"})
                for e in schema_errors(sub, node["default"]):
                    errors.append(f"{v.get('name')}: default of {path}: {e}")
            for k, child in (node.get("properties") or {}).items():
                walk(child, f"{path}.{k}" if path else k)
            if isinstance(node.get("items"), dict):
                walk(node["items"], f"{path}[]")
        walk(raw, "")
        for rule in [r.get("rule") for r in sp.get("x-kubernetes-validations") or []]:
            if rule not in CEL_RULES:
                errors.append(f"{v.get('name')}: CEL rule {rule!r} has no offline equivalent in platform_check.py")
        root_rules = [r.get("rule") for r in raw.get("x-kubernetes-validations") or []]
        for rule in root_rules:
            if rule not in CEL_ROOT_RULES:
                errors.append(f"{v.get('name')}: CEL rule {rule!r} has no offline equivalent in platform_check.py")
        # Claim names become object names (hazard 8): the XRD must validate them.
        for probe, why in (("default", "the namespace's default ServiceAccount"), ("a.b", "a dot"),
                           ("1abc", "a leading digit"), ("a" * 53, "53 characters")):
            claim = {"kind": (spec.get("claimNames") or {}).get("kind"), "metadata": {"name": probe}}
            if all(CEL_ROOT_RULES[r](claim) for r in root_rules if r in CEL_ROOT_RULES):
                errors.append(f"{v.get('name')}: a claim named {probe!r} ({why}) passes the XRD's root CEL "
                              "rules; claim names must be DNS-1035 labels of at most 52 characters, not 'default'")
        for field, why in FORBIDDEN_XRD_FIELDS.items():
            if field in props:
                errors.append(f"{v.get('name')}: spec.{field} must not be part of the claim API: {why}")
        # The plan's fields, defaults and requirements (task 2.1, plus the scaling fields).
        missing = sorted(PLAN_XRD_FIELDS - set(props))
        if missing:
            errors.append(f"{v.get('name')}: plan fields missing: {', '.join(missing)}")
        for field, want in PLAN_XRD_DEFAULTS.items():
            got = (props.get(field) or {}).get("default")
            if field in props and got != want:
                errors.append(f"{v.get('name')}: spec.{field} default is {got!r}, the plan says {want!r}")
        if set((props.get("size") or {}).get("enum") or []) != set(PLAN_SIZES):
            errors.append(f"{v.get('name')}: spec.size enum must be small/medium/large")
        if set((props.get("triggerType") or {}).get("enum") or []) != TRIGGER_TYPES:
            errors.append(f"{v.get('name')}: spec.triggerType enum must be external/external-push")
        missing_req = sorted(PLAN_XRD_REQUIRED - set(sp.get("required") or []))
        if missing_req:
            errors.append(f"{v.get('name')}: must require {', '.join(missing_req)}")
    report.add(name, errors)


# ---------------------------------------------------------------------------------------------
# Compositions

class PatchError(Exception):
    pass


def go_format(fmt, value):
    if not re.search(r"%[sdv]", fmt):
        raise PatchError(f"string format {fmt!r} has no %s/%d/%v verb")
    return re.sub(r"%[sdv]", lambda _: str(value), fmt, count=1)


def apply_transform(value, t):
    kind = t.get("type")
    if kind == "map":
        table = t.get("map") or {}
        if str(value) not in table:
            raise PatchError(f"map transform has no entry for {value!r}")
        return table[str(value)]
    if kind == "convert":
        to = (t.get("convert") or {}).get("toType")
        if to == "string":
            return str(value).lower() if isinstance(value, bool) else str(value)
        if to in ("int", "int64"):
            return int(value)
        if to == "float64":
            return float(value)
        if to == "bool":
            return value in (True, "true", "1", 1)
        raise PatchError(f"convert toType {to!r} is not modelled by the checker")
    if kind == "string":
        st = t.get("string") or {}
        typ = st.get("type", "Format")
        if typ == "Format":
            return go_format(st.get("fmt", ""), value)
        if typ == "Convert":
            conv = {"ToUpper": str.upper, "ToLower": str.lower}.get(st.get("convert"))
            if conv:
                return conv(str(value))
        if typ == "TrimPrefix":
            return str(value).removeprefix(st.get("trim", ""))
        if typ == "TrimSuffix":
            return str(value).removesuffix(st.get("trim", ""))
        raise PatchError(f"string transform {typ}/{st.get('convert')} is not modelled by the checker")
    if kind == "match":
        import render  # transforms.go ResolveMatch, as the renderer reproduces it
        try:
            return render.resolve_match(t.get("match") or {}, value)
        except render.Unsupported as e:
            raise PatchError(str(e)) from None
    if kind == "math":
        m = t.get("math") or {}
        if m.get("type", "Multiply") == "Multiply":
            return value * int(m.get("multiply", 1))
        if m.get("type") == "ClampMin":
            return max(value, int(m.get("clampMin")))
        if m.get("type") == "ClampMax":
            return min(value, int(m.get("clampMax")))
    raise PatchError(f"transform type {kind!r} is not modelled by the checker")


def expand_patches(resource, patch_sets, errors, where):
    out = []
    for i, p in enumerate(resource.get("patches") or []):
        if p.get("type") == "PatchSet":
            name = p.get("patchSetName")
            if name not in patch_sets:
                errors.append(f"{where}patches[{i}]: patchSet {name!r} is not defined")
                continue
            out.extend((f"{where}patches[{i}] (patchSet {name})[{j}]", q)
                       for j, q in enumerate(patch_sets[name]))
        else:
            out.append((f"{where}patches[{i}]", p))
    return out


class CompositionCheck:
    def __init__(self, doc, validator, xrds, scaler_keys, report, functions):
        self.doc = doc
        self.v = validator
        self.report = report
        self.scaler_keys = scaler_keys
        self.functions = functions
        self.name = f"composition {doc.name}"
        spec = doc.obj.get("spec") or {}
        ref = spec.get("compositeTypeRef") or {}
        group, _, version = (ref.get("apiVersion") or "").rpartition("/")
        self.xr_key = (group, version, ref.get("kind"))
        self.xrd, self.xr_schema = xrds.get(self.xr_key, (None, None))
        self.steps = spec.get("pipeline") or []

    def run(self):
        base = f"{self.name}: pipeline, function references, XRD link"
        spec = self.doc.obj.get("spec") or {}
        errors = []
        if spec.get("mode", "Pipeline") != "Pipeline":
            errors.append("mode must be Pipeline (resources mode is gone in Crossplane 2.x)")
        if not self.steps:
            errors.append("an array of pipeline steps is required in Pipeline mode")
        if self.xrd is None:
            errors.append(f"compositeTypeRef {self.xr_key} matches no XRD version in platform/")
        else:
            if (self.doc.obj.get("metadata") or {}).get("labels", {}).get("crossplane.io/xrd") != self.xrd.name:
                errors.append(f"label crossplane.io/xrd must be {self.xrd.name}")
            referenceable = [v.get("name") for v in self.xrd.obj["spec"].get("versions", []) if v.get("referenceable")]
            if self.xr_key[1] not in referenceable:
                errors.append(f"compositeTypeRef version {self.xr_key[1]} is not the referenceable one {referenceable}")
            default_ref = (self.xrd.obj["spec"].get("defaultCompositionRef") or {}).get("name")
            if default_ref and default_ref != self.doc.name:
                errors.append(f"XRD defaultCompositionRef is {default_ref!r}, not this composition")
        for i, step in enumerate(self.steps):
            fn = (step.get("functionRef") or {}).get("name")
            if fn not in self.functions:
                errors.append(f"pipeline[{i}] uses function {fn!r}, which no Function in platform/ installs")
        self.report.add(base, errors)
        for i, step in enumerate(self.steps):
            inp = step.get("input") or {}
            if gvk(inp) == ("pt.fn.crossplane.io", "v1beta1", "Resources"):
                self.check_pt_input(i, inp)
            else:
                self.report.fail(base, f"pipeline[{i}] input {inp.get('apiVersion')} {inp.get('kind')} is not "
                                       "modelled by the checker")

    def check_pt_input(self, step_index, inp):
        where = f"pipeline[{step_index}].input."
        schema_check = f"{self.name}: schemas (pt.fn Resources input, provider-kubernetes Objects, manifests)"
        self.v.validate(schema_check, inp, where, need_name=False)
        for i, r in enumerate(inp.get("resources") or []):
            if isinstance(r.get("base"), dict):
                self.v.validate(schema_check, r["base"], f"{where}resources[{i}].base: ", need_name=False)
        if self.xrd is None:
            return
        patch_sets = {ps.get("name"): ps.get("patches") or [] for ps in inp.get("patchSets") or []}
        from_check = f"{self.name}: every fromFieldPath exists in the XRD {self.xrd.name}"
        to_check = f"{self.name}: every toFieldPath exists in its target kind with the patched value's type"
        map_check = f"{self.name}: map transforms cover exactly the XRD enum values"
        self.report.add(from_check)
        self.report.add(to_check)
        self.report.add(map_check)
        self.resources = []
        for i, r in enumerate(inp.get("resources") or []):
            rwhere = f"resources[{i}] {r.get('name')}: "
            errors = []
            patches = expand_patches(r, patch_sets, errors, rwhere)
            self.report.add(from_check, errors)
            self.resources.append((r, patches))
            for pwhere, p in patches:
                self.check_patch(r, pwhere, p, from_check, to_check, map_check)
        self.check_identity()
        self.check_secrets()
        self.check_trigger()
        self.check_plan()

    # -- per patch ------------------------------------------------------------------------------
    def check_patch(self, resource, where, p, from_check, to_check, map_check):
        ptype = p.get("type", "FromCompositeFieldPath")
        if ptype not in ("FromCompositeFieldPath", "CombineFromComposite"):
            self.report.fail(from_check, f"{where}: patch type {ptype} is not modelled by the checker")
            return
        sources = [p.get("fromFieldPath")] if ptype == "FromCompositeFieldPath" else \
            [v.get("fromFieldPath") for v in ((p.get("combine") or {}).get("variables") or [])]
        src_schemas = []
        for src in sources:
            try:
                sub, why = crdschema.resolve(self.xr_schema, parse_path(src))
            except ValueError as e:
                sub, why = None, str(e)
            if sub is None:
                self.report.fail(from_check, f"{where}: fromFieldPath {src!r}: {why}")
                return
            src_schemas.append(sub)
        for ti, t in enumerate(p.get("transforms") or []):
            if t.get("type") == "map":
                self.check_map(where, ti, t, None, src_schemas[0], p, map_check)
        values = self.written_values(p, src_schemas, lambda ti, e: self.report.fail(
            to_check, f"{where}: transforms[{ti}]: {e}"))
        self.check_target(resource, where, p.get("toFieldPath"), values, to_check)

    def written_values(self, p, src_schemas=None, on_error=None):
        """Values the patch can write: each sample of the source through the transforms. The XR
        reaches the function as a protobuf Struct, so its numbers are float64s there (render.py
        struct_numbers): a combine fmt sees them as Go float64s."""
        import render
        if src_schemas is None:
            sources = [p.get("fromFieldPath")] if p.get("type", "FromCompositeFieldPath") == "FromCompositeFieldPath" \
                else [v.get("fromFieldPath") for v in ((p.get("combine") or {}).get("variables") or [])]
            src_schemas = [crdschema.resolve(self.xr_schema, parse_path(s))[0] or ANY for s in sources]
        if p.get("type", "FromCompositeFieldPath") == "FromCompositeFieldPath":
            samples = crdschema.sample_values(src_schemas[0])
        else:
            fmt = ((p.get("combine") or {}).get("string") or {}).get("fmt", "")
            try:
                samples = [render.go_sprintf_args(fmt, [render.struct_numbers(crdschema.sample_values(s)[0])
                                                        for s in src_schemas])]
            except render.Unsupported as e:
                if on_error:
                    on_error("combine", e)
                return []
        values = []
        for s in samples:
            v = s
            for ti, t in enumerate(p.get("transforms") or []):
                try:
                    v = apply_transform(v, t)
                except (PatchError, ValueError, TypeError) as e:
                    if t.get("type") != "map" and on_error:  # map gaps are reported by the map check
                        on_error(ti, e)
                    v = None
                    break
            if v is not None and v not in values:
                values.append(v)
        return values

    def check_map(self, where, ti, t, samples, src_schema, p, map_check):
        # Values reaching this map transform: the source samples through the earlier transforms.
        entering = []
        for s in (src_schema.get("enum") or []):
            v = s
            try:
                for earlier in (p.get("transforms") or [])[:ti]:
                    v = apply_transform(v, earlier)
            except (PatchError, ValueError, TypeError):
                continue
            entering.append(str(v))
        keys = set((t.get("map") or {}).keys())
        if not src_schema.get("enum"):
            self.report.fail(map_check, f"{where}: map transform on {p.get('fromFieldPath')}, which has no enum: "
                                        "any value outside the map would fail the patch")
            return
        missing = sorted(set(entering) - keys)
        extra = sorted(keys - set(entering))
        if missing:
            self.report.fail(map_check, f"{where}: map transform on {p.get('fromFieldPath')} has no entry for "
                                        f"enum value(s) {', '.join(missing)}")
        if extra:
            self.report.fail(map_check, f"{where}: map transform on {p.get('fromFieldPath')} has key(s) "
                                        f"{', '.join(extra)} that the enum never produces")

    def check_target(self, resource, where, to_path, values, to_check):
        base = resource.get("base") or {}
        try:
            tokens = parse_path(to_path)
        except ValueError as e:
            self.report.fail(to_check, f"{where}: {e}")
            return
        obj_schema = self.v.schemas.get(gvk(base))
        if obj_schema is None:
            self.report.fail(to_check, f"{where}: no schema for composed {base.get('apiVersion')} {base.get('kind')}")
            return
        if tokens[:3] == MANIFEST and len(tokens) > 3 and gvk(base)[0] == "kubernetes.crossplane.io":
            manifest = get_path(base, MANIFEST) or {}
            rest = tokens[3:]
            mschema = self.v.schemas.get(gvk(manifest))
            if mschema is not None:  # CRD kinds with a schema here (KEDA ScaledObject)
                self.check_in_schema(mschema, rest, values, where, to_path, to_check)
            if self.v.node_kind(manifest):
                for value in values:
                    self.v.partial(to_check, manifest.get("apiVersion"), manifest.get("kind"), rest, value,
                                   f"{where}: toFieldPath {to_path} = {json.dumps(value)[:60]}: ")
            elif mschema is None:
                self.report.fail(to_check, f"{where}: no schema for {manifest.get('apiVersion')} {manifest.get('kind')}")
            return
        self.check_in_schema(obj_schema, tokens, values, where, to_path, to_check)

    def check_in_schema(self, schema, tokens, values, where, to_path, to_check):
        sub, why = crdschema.resolve(schema, tokens)
        if sub is None:
            self.report.fail(to_check, f"{where}: toFieldPath {to_path}: {why}")
            return
        if sub is ANY:
            return
        for value in values:
            for e in schema_errors(sub, value):
                self.report.fail(to_check, f"{where}: toFieldPath {to_path} = {json.dumps(value)[:60]}: {e}")

    # -- whole-composition rules --------------------------------------------------------------
    def targets(self, resource_patches, to_tokens):
        """Patches of one resource that write exactly to_tokens (a manifest path)."""
        out = []
        for _, p in resource_patches:
            try:
                if parse_path(p.get("toFieldPath", "")) == MANIFEST + to_tokens:
                    out.append(p)
            except ValueError:
                pass
        return out

    def by_kind(self, kind):
        return [(r, ps) for r, ps in self.resources if (get_path(r.get("base") or {}, MANIFEST) or {}).get("kind") == kind]

    def check_identity(self):
        check = f"{self.name}: names, namespaces, selectors and targets come from the claim"
        errors = []

        def source(ps, tokens):
            found = self.targets(ps, tokens)
            if not found:
                return None
            p = found[-1]
            return (p.get("fromFieldPath"), json.dumps(p.get("transforms") or [], sort_keys=True))

        for r, ps in self.resources:
            manifest = get_path(r.get("base") or {}, MANIFEST) or {}
            kind = manifest.get("kind")
            label = f"{r.get('name')} ({kind})"
            if kind not in CLUSTER_SCOPED_KINDS:
                ns = source(ps, ["metadata", "namespace"])
                if ns != ("spec.claimRef.namespace", "[]"):
                    errors.append(f"{label}: metadata.namespace must be patched from spec.claimRef.namespace")
            name = source(ps, ["metadata", "name"])
            if not name or name[0] != "spec.claimRef.name":
                errors.append(f"{label}: metadata.name must be patched from spec.claimRef.name (the XR's own "
                              "name carries a random suffix)")
            for p in self.targets(ps, ["metadata", "name"]) + self.targets(ps, ["metadata", "namespace"]):
                if (p.get("policy") or {}).get("fromFieldPath") != "Required":
                    errors.append(f"{label}: the {p.get('toFieldPath')} patch must be Required")
        deployments, services = self.by_kind("Deployment"), self.by_kind("Service")
        accounts, scaled = self.by_kind("ServiceAccount"), self.by_kind("ScaledObject")
        for r, ps in deployments:
            m = get_path(r["base"], MANIFEST)
            if "replicas" in (m.get("spec") or {}):
                errors.append(f"{r.get('name')}: spec.replicas must not be set: KEDA's HPA owns it and "
                              "provider-kubernetes would reset it on every reconcile")
            dep_name = source(ps, ["metadata", "name"])
            selector = (get_path(m, ["spec", "selector", "matchLabels"]) or {})
            template = (get_path(m, ["spec", "template", "metadata", "labels"]) or {})
            for key in selector:
                s = source(ps, ["spec", "selector", "matchLabels", key])
                t = source(ps, ["spec", "template", "metadata", "labels", key])
                if key not in template:
                    errors.append(f"{r.get('name')}: selector label {key} is missing from the pod template")
                elif s != t:
                    errors.append(f"{r.get('name')}: selector label {key} and pod label {key} are patched differently")
                for sr, sps in services:
                    sm = get_path(sr["base"], MANIFEST)
                    if key not in ((sm.get("spec") or {}).get("selector") or {}):
                        errors.append(f"{sr.get('name')}: Service selector lacks {key}")
                    elif source(sps, ["spec", "selector", key]) != s:
                        errors.append(f"{sr.get('name')}: Service selector {key} is not patched like the Deployment's")
            sa_src = source(ps, ["spec", "template", "spec", "serviceAccountName"])
            for ar, aps in accounts:
                if sa_src != source(aps, ["metadata", "name"]):
                    errors.append(f"{r.get('name')}: serviceAccountName is not patched like the ServiceAccount's name")
            for sr, sps in scaled:
                if source(sps, ["spec", "scaleTargetRef", "name"]) != dep_name:
                    errors.append(f"{sr.get('name')}: scaleTargetRef.name is not patched like the Deployment's name")
                target = get_path(sr["base"], MANIFEST + ["spec", "scaleTargetRef"]) or {}
                if target.get("kind", "Deployment") != "Deployment" or target.get("apiVersion", "apps/v1") != "apps/v1":
                    errors.append(f"{sr.get('name')}: scaleTargetRef must be an apps/v1 Deployment")
            ports = {pt.get("containerPort") for c in get_path(m, ["spec", "template", "spec", "containers"]) or []
                     for pt in c.get("ports") or []}
            for sr, _ in services:
                for sp in get_path(sr["base"], MANIFEST + ["spec", "ports"]) or []:
                    if sp.get("targetPort", sp.get("port")) not in ports:
                        errors.append(f"{sr.get('name')}: targetPort {sp.get('targetPort')} is no container port {sorted(ports)}")
        if not (deployments and services and accounts and scaled):
            errors.append("the composition must compose a ServiceAccount, a Deployment, a Service and a ScaledObject")
        self.report.add(check, errors)

    def check_secrets(self):
        check = f"{self.name}: every secretKeyRef is patched from the XRD field that names that secret"
        errors = []
        spec_props = self.xr_schema["properties"]["spec"].get("properties", {})
        default_owner = {}
        for field, sub in spec_props.items():
            if field.endswith("Secret") and "default" in sub:
                default_owner[sub["default"]] = field
        for r, ps in self.by_kind("Deployment"):
            m = get_path(r["base"], MANIFEST)
            pod = ["spec", "template", "spec"]
            env_names = {}
            for group in ("initContainers", "containers"):
                for ci, c in enumerate(get_path(m, pod + [group]) or []):
                    env_names[f"{group}[{ci}] {c.get('name')}"] = [e.get("name") for e in c.get("env") or []]
                    for ei, e in enumerate(c.get("env") or []):
                        ref = get_path(e, ["valueFrom", "secretKeyRef"])
                        if not ref:
                            continue
                        tokens = pod + [group, ci, "env", ei, "valueFrom", "secretKeyRef", "name"]
                        patches = self.targets(ps, tokens)
                        owner = default_owner.get(ref.get("name"))
                        where = f"{r.get('name')}: {group}[{ci}].env[{ei}] {e.get('name')}"
                        if owner is None:
                            errors.append(f"{where}: base secret name {ref.get('name')!r} is no XRD secret field's default")
                        elif not patches:
                            errors.append(f"{where}: secret name is never patched (would stay {ref.get('name')!r})")
                        elif patches[-1].get("fromFieldPath") != f"spec.{owner}":
                            errors.append(f"{where}: secret {ref.get('name')!r} is patched from "
                                          f"{patches[-1].get('fromFieldPath')}, expected spec.{owner}")
                    for ei, e in enumerate(c.get("env") or []):
                        if "value" in e and e.get("name") == "NATS_URL":
                            tokens = pod + [group, ci, "env", ei, "value"]
                            if not any(p.get("fromFieldPath") == "spec.natsUrl" for p in self.targets(ps, tokens)):
                                errors.append(f"{r.get('name')}: {group}[{ci}] NATS_URL is not patched from spec.natsUrl")
            lists = {tuple(v) for v in env_names.values()}
            if len(lists) > 1:
                errors.append(f"{r.get('name')}: containers do not share one environment: {env_names}")
        self.report.add(check, errors)

    def check_trigger(self):
        check = f"{self.name}: ScaledObject triggers are the JetStream Scaler's, with keys it accepts"
        errors = []
        notes = []
        accepted = set(self.scaler_keys) | KEDA_EXTERNAL_KEYS
        spec_props = self.xr_schema["properties"]["spec"].get("properties", {})
        for r, ps in self.by_kind("ScaledObject"):
            m = get_path(r["base"], MANIFEST)
            triggers = get_path(m, ["spec", "triggers"]) or []
            if not triggers:
                errors.append(f"{r.get('name')}: no triggers")
            platform_addr = ((triggers[0] if triggers else {}).get("metadata") or {}).get("scalerAddress")
            # Triggers that only patches create (the age trigger, triggers[1]) are checked too.
            patched = set()
            for _, p in ps:
                try:
                    tok = parse_path(p.get("toFieldPath", ""))
                except ValueError:
                    continue
                if tok[:len(MANIFEST) + 2] == MANIFEST + ["spec", "triggers"] and len(tok) > len(MANIFEST) + 2 \
                        and isinstance(tok[len(MANIFEST) + 2], int):
                    patched.add(tok[len(MANIFEST) + 2])
            for ti in range(max([len(triggers)] + [i + 1 for i in patched])):
                trig = triggers[ti] if ti < len(triggers) else {}
                keys = set((trig.get("metadata") or {}).keys())
                types = {trig.get("type")} if "type" in trig else set()
                for _, p in ps:
                    try:
                        tok = parse_path(p.get("toFieldPath", ""))
                    except ValueError:
                        continue
                    prefix = MANIFEST + ["spec", "triggers", ti]
                    if tok[:len(prefix)] != prefix:
                        continue
                    rest = tok[len(prefix):]
                    if rest[:1] == ["metadata"] and len(rest) == 2:
                        keys.add(rest[1])
                        if rest[1] == "scalerAddress" and not self.writes_only(p, platform_addr):
                            errors.append(f"{r.get('name')}: triggers[{ti}].metadata.scalerAddress is patched from "
                                          f"{p.get('fromFieldPath')}: the address KEDA's operator dials must be the "
                                          "platform's value in the base, never a claim's")
                    if rest == ["type"] and p.get("type") == "CombineFromComposite":
                        # Only a fmt that is one variable verbatim ("%[2]s") can be checked:
                        # the type is then one of that variable's enum values.
                        combine = p.get("combine") or {}
                        variables = combine.get("variables") or []
                        m = re.fullmatch(r"%\[(\d+)\]s", ((combine.get("string") or {}).get("fmt") or ""))
                        if m and 1 <= int(m.group(1)) <= len(variables) and not p.get("transforms"):
                            src, _ = crdschema.resolve(
                                self.xr_schema, parse_path(variables[int(m.group(1)) - 1].get("fromFieldPath", "")))
                            types |= set((src or {}).get("enum") or crdschema.sample_values(src or ANY))
                        else:
                            types |= {None}
                    elif rest == ["type"]:
                        src, _ = crdschema.resolve(self.xr_schema, parse_path(p.get("fromFieldPath", "")))
                        if p.get("transforms"):
                            types |= set(self.written_values(p)) or {None}
                        else:
                            types |= set((src or {}).get("enum") or crdschema.sample_values(src or ANY))
                where = f"{r.get('name')}: triggers[{ti}]"
                bad_types = sorted(str(t) for t in types - TRIGGER_TYPES)
                if bad_types:
                    errors.append(f"{where}: type(s) {', '.join(bad_types)}; must be external or external-push")
                for k in sorted(keys - accepted):
                    if k in PENDING_SCALER_KEYS:
                        notes.append(f"{k} is not printed by this scaler build; allowed (PENDING_SCALER_KEYS)")
                    else:
                        errors.append(f"{where}: metadata key {k!r} is not accepted by the scaler "
                                      f"(--print-metadata-keys) nor read by KEDA's external scaler")
                for k in ("scalerAddress", "stream", "consumer"):
                    if k not in keys:
                        errors.append(f"{where}: metadata key {k} is required")
                if ti >= len(triggers):
                    rules = self.xr_schema["properties"]["spec"].get("x-cel") or []
                    implied = {f"spec.{m.group(1)}": f"spec.{m.group(2)}" for m in map(CEL_IMPLIES.match, rules) if m}
                    # Patch-only trigger: every field must come from one optional source, or a
                    # claim without it would get a half trigger (function-patch-and-transform skips
                    # a patch whose source, or any combine variable, is missing).
                    gates = []
                    for _, p in ps:
                        try:
                            tok = parse_path(p.get("toFieldPath", ""))
                        except ValueError:
                            continue
                        if tok[:len(MANIFEST) + 3] == MANIFEST + ["spec", "triggers", ti]:
                            srcs = [p.get("fromFieldPath")] if p.get("type", "FromCompositeFieldPath") == \
                                "FromCompositeFieldPath" else \
                                [v.get("fromFieldPath") for v in (p.get("combine") or {}).get("variables") or []]
                            srcs = set(srcs)
                            srcs |= {implied[x] for x in srcs if x in implied}
                            gates.append((p.get("toFieldPath"), srcs))
                    common = set.intersection(*[g for _, g in gates]) if gates else set()
                    always = {s for s in common if s and self.always_set(s)}
                    if not common - always:
                        errors.append(f"{where}: only patches create this trigger, but no optional claim field "
                                      "feeds every one of them: a claim would get a partial trigger")
                    elif "type" not in [parse_path(t)[-1] for t, _ in gates]:
                        errors.append(f"{where}: only patches create this trigger and none sets its type")
            if "triggerType" not in spec_props:
                errors.append("XRD has no triggerType field to choose external or external-push")
        for n in notes:
            self.report.note(n)
        self.report.add(check, errors)

    def writes_only(self, p, constant):
        """The patch writes `constant` whatever the claim holds: its last transform is a match whose
        every result (and fallback) is that constant, without falling back to the input."""
        ts = p.get("transforms") or []
        if constant is None or not ts or ts[-1].get("type") != "match":
            return False
        m = ts[-1].get("match") or {}
        outs = [pt.get("result") for pt in m.get("patterns") or []]
        if m.get("fallbackTo") == "Input" or not outs or any(o != constant for o in outs):
            return False
        if m.get("fallbackValue") not in (None, constant):
            return False
        return set(self.written_values(p)) == {constant}

    def always_set(self, field_path):
        """Required by the XRD, defaulted, or set by Crossplane (spec.claimRef)."""
        tokens = parse_path(field_path)
        if tokens[:2] == ["spec", "claimRef"]:
            return True
        node, required = self.xr_schema, False
        for i, t in enumerate(tokens):
            props = (node or {}).get("properties") or {}
            if i == 0 and t == "spec":  # the XR always has a spec
                node = props.get(t)
                continue
            required = t in ((node or {}).get("required") or [])
            node = props.get(t)
            if node is None:
                return False
            if not (required or "default" in node):
                return False
        return True

    def check_plan(self):
        check = f"{self.name}: matches the plan (tasks 2.2-2.8: containers, probes, env, sizes, Service, ScaledObject)"
        errors = []
        for r, ps in self.by_kind("Deployment"):
            m = get_path(r["base"], MANIFEST)
            pod = get_path(m, ["spec", "template", "spec"]) or {}
            inits = pod.get("initContainers") or []
            mains = pod.get("containers") or []
            init = next((c for c in inits if c.get("name") == "run-migrations"), None)
            main = next((c for c in mains if c.get("name") == "agent-executor"), None)
            if init is None:
                errors.append("init container run-migrations missing")
            elif init.get("command") != ["/bin/sh", "-c", "scripts/ci/run-migrations.sh"]:
                errors.append(f"run-migrations command is {init.get('command')}")
            if main is None:
                errors.append("container agent-executor missing")
                continue
            if [p.get("containerPort") for p in main.get("ports") or []] != [8080]:
                errors.append("agent-executor must expose port 8080")
            for probe, path_, delay, period in (("livenessProbe", "/health", 30, 10), ("readinessProbe", "/ready", 10, 5)):
                pr = main.get(probe) or {}
                got = (get_path(pr, ["httpGet", "path"]), get_path(pr, ["httpGet", "port"]),
                       pr.get("initialDelaySeconds"), pr.get("periodSeconds"))
                if got != (path_, 8080, delay, period):
                    errors.append(f"{probe} is {got}, the plan says GET {path_} :8080 after {delay}s every {period}s")
            for c in inits + mains:
                names = [e.get("name") for e in c.get("env") or []]
                if sorted(names) != sorted(PLAN_ENV):
                    errors.append(f"{c.get('name')}: env {names} differs from the plan's {PLAN_ENV}")
                idx = ("initContainers" if c in inits else "containers", (inits if c in inits else mains).index(c))
                for p in self.targets(ps, ["spec", "template", "spec", idx[0], idx[1], "image"]):
                    if p.get("fromFieldPath") != "spec.image":
                        errors.append(f"{c.get('name')}: image must come from spec.image")
                if not self.targets(ps, ["spec", "template", "spec", idx[0], idx[1], "image"]):
                    errors.append(f"{c.get('name')}: image is never patched from spec.image")
                sizes = [p for p in self.targets(ps, ["spec", "template", "spec", idx[0], idx[1], "resources"])]
                maps = [t.get("map") for p in sizes for t in p.get("transforms") or [] if t.get("type") == "map"]
                if not maps or any(mp != PLAN_SIZES for mp in maps):
                    errors.append(f"{c.get('name')}: resources must be mapped from spec.size with the plan's table")
            pull_patches = [p for _, p in ps if "imagePullSecrets" in p.get("toFieldPath", "")]
            if not pull_patches:
                errors.append("imagePullSecrets are never patched from spec.imagePullSecrets")
            xrd_max = (self.xr_schema["properties"]["spec"]["properties"].get("imagePullSecrets") or {}).get("maxItems")
            covered = {p.get("fromFieldPath") for p in pull_patches}
            wanted = {f"spec.imagePullSecrets[{i}]" for i in range(xrd_max or 0)}
            if xrd_max is None:
                errors.append("spec.imagePullSecrets needs maxItems: one patch per index is composed")
            elif wanted - covered:
                errors.append(f"imagePullSecrets indexes not patched: {sorted(wanted - covered)}")
        for r, ps in self.by_kind("Service"):
            s = get_path(r["base"], MANIFEST + ["spec"]) or {}
            ports = [(p.get("port"), p.get("targetPort"), p.get("protocol", "TCP")) for p in s.get("ports") or []]
            if s.get("type", "ClusterIP") != "ClusterIP" or ports != [(8080, 8080, "TCP")]:
                errors.append(f"Service must be ClusterIP 8080->8080/TCP, is {s.get('type')} {ports}")
        for r, ps in self.by_kind("ScaledObject"):
            names = self.targets(ps, ["metadata", "name"])
            fmts = [((t.get("string") or {}).get("fmt")) for p in names for t in p.get("transforms") or []]
            if fmts != ["%s-scaler"]:
                errors.append("ScaledObject must be named <claim>-scaler")
            for field, target in (("minReplicas", "minReplicaCount"), ("maxReplicas", "maxReplicaCount")):
                if not any(p.get("fromFieldPath") == f"spec.{field}" for p in self.targets(ps, ["spec", target])):
                    errors.append(f"ScaledObject {target} must come from spec.{field}")
        self.report.add(check, errors)


# ---------------------------------------------------------------------------------------------
# Argo CD Applications, chart values, wiring, examples


def flatten(value, prefix=""):
    if isinstance(value, dict) and value:
        out = []
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            out.append(p)
            out.extend(flatten(v, p))
        return out
    return []


def key_known(path, known):
    if path in known:
        return True
    parts = path.split(".")
    return any(".".join(parts[:i]) + ".*" in known for i in range(1, len(parts)))


def quantity(text):
    """Kubernetes quantity or Go GOMEMLIMIT value -> bytes."""
    m = re.fullmatch(r"([0-9.]+)\s*(Ki|Mi|Gi|Ti|KiB|MiB|GiB|TiB|k|K|M|G|T|B)?", str(text).strip())
    if not m:
        raise ValueError(f"unreadable quantity {text!r}")
    mult = {None: 1, "B": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
    for i, u in enumerate(("Ki", "Mi", "Gi", "Ti")):
        mult[u] = mult[u + "B"] = 1024 ** (i + 1)
    return float(m.group(1)) * mult[m.group(2)]


def sync_wave(doc):
    return ((doc.obj.get("metadata") or {}).get("annotations") or {}).get("argocd.argoproj.io/sync-wave")


def brace_globs(pattern):
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in brace_globs(pattern[:m.start()] + alt + pattern[m.end():])]


def check_applications(root, docs, report):
    apps = {d.source: d for d in docs if d.kind == "Application"}
    nats = apps.get("platform/bootstrap/components/01-nats.yaml")
    scaler = apps.get("platform/bootstrap/components/02-jetstream-scaler.yaml")
    layer = apps.get("platform/04-apis.yaml")
    check = "argo: Applications (sources, namespaces, sync waves, automated prune + selfHeal)"
    errors = []
    for label, d in (("01-nats", nats), ("02-jetstream-scaler", scaler), ("04-apis", layer)):
        if d is None:
            errors.append(f"{label} Application missing")
    for d in apps.values():
        spec = d.obj.get("spec") or {}
        auto = (spec.get("syncPolicy") or {}).get("automated") or {}
        if not (auto.get("prune") is True and auto.get("selfHeal") is True):
            errors.append(f"{d.source}: syncPolicy.automated needs prune and selfHeal")
        if "resources-finalizer.argocd.argoproj.io" not in ((d.obj.get("metadata") or {}).get("finalizers") or []):
            errors.append(f"{d.source}: without the resources finalizer, deleting the Application orphans its resources")
    if nats is not None:
        s = nats.obj["spec"]
        src = s.get("source") or {}
        want = {"repoURL": "https://nats-io.github.io/k8s/helm/charts/", "chart": "nats", "targetRevision": "1.1.5"}
        for k, v in want.items():
            if src.get(k) != v:
                errors.append(f"01-nats: source.{k} is {src.get(k)!r}, expected {v!r}")
        if (s.get("destination") or {}).get("namespace") != "nats":
            errors.append("01-nats: destination namespace must be nats")
        if "CreateNamespace=true" not in ((s.get("syncPolicy") or {}).get("syncOptions") or []):
            errors.append("01-nats: needs CreateNamespace=true")
        if sync_wave(nats) != "0":
            errors.append("01-nats: sync-wave must be \"0\"")
    if scaler is not None:
        s = scaler.obj["spec"]
        src = s.get("source") or {}
        if src.get("path") != "charts/jetstream-scaler":
            errors.append("02-jetstream-scaler: source.path must be charts/jetstream-scaler")
        if (s.get("destination") or {}).get("namespace") != "keda":
            errors.append("02-jetstream-scaler: destination namespace must be keda")
        if "CreateNamespace=true" not in ((s.get("syncPolicy") or {}).get("syncOptions") or []):
            errors.append("02-jetstream-scaler: needs CreateNamespace=true")
        if sync_wave(scaler) != "0":
            errors.append("02-jetstream-scaler: sync-wave must be \"0\"")
    if layer is not None:
        s = layer.obj["spec"]
        src = s.get("source") or {}
        if src.get("path") != "platform/04-apis" or not os.path.isdir(os.path.join(root, "platform/04-apis")):
            errors.append("04-apis: source.path must be the existing platform/04-apis")
        if sync_wave(layer) != "1":
            errors.append("04-apis: sync-wave must be \"1\"")
        if "SkipDryRunOnMissingResource=true" not in ((s.get("syncPolicy") or {}).get("syncOptions") or []):
            errors.append("04-apis: needs SkipDryRunOnMissingResource=true (claims before their XRD)")
        directory = src.get("directory") or {}
        globs = brace_globs(directory.get("include", "*"))
        base = os.path.join(root, "platform/04-apis")
        synced = set()
        for path in glob.glob(os.path.join(base, "**", "*.y*ml"), recursive=True):
            rel = os.path.relpath(path, base)
            if not directory.get("recurse") and os.sep in rel:
                continue
            if any(fnmatch.fnmatch(rel, g) for g in globs) and not any(
                    fnmatch.fnmatch(rel, g) for g in brace_globs(directory.get("exclude", "")) if g):
                synced.add(rel.split(os.sep)[0])
        for needed in ("definitions", "compositions", "functions"):
            if needed not in synced:
                errors.append(f"04-apis: {needed}/ is not synced by source.directory")
        if "examples" in synced:
            errors.append("04-apis: examples/ must not be synced (selfHeal would re-create the deleted test claim)")
    report.add(check, errors)
    return nats, scaler


def check_nats_values(nats, report, validator):
    if nats is None:
        return
    values = ((nats.obj["spec"].get("source") or {}).get("helm") or {}).get("valuesObject") or {}
    keys_file = os.path.join(SCHEMAS, "nats-chart-1.1.5-values-keys.txt")
    with open(keys_file, encoding="utf-8") as f:
        known = {line.strip() for line in f if line.strip() and not line.startswith("#")}
    check = "nats: every Helm value key exists in chart 1.1.5"
    report.add(check, [f"{p}: not a value of the nats chart 1.1.5" for p in flatten(values) if not key_known(p, known)])
    merge = get_path(values, ["container", "merge"])
    if isinstance(merge, dict):
        validator.partial(check, "v1", "Container", [], merge, "container.merge (merged into the nats Container): ")
    check = "nats: JetStream enabled, stores and resources as planned, memory store fits GOMEMLIMIT and the limit"
    errors = []
    js = get_path(values, ["config", "jetstream"]) or {}
    if js.get("enabled") is not True:
        errors.append("config.jetstream.enabled must be true")
    mem = js.get("memoryStore") or {}
    if mem.get("enabled") is not True or mem.get("maxSize") != "2Gi":
        errors.append("memory store must be enabled with maxSize 2Gi (plan)")
    if get_path(js, ["fileStore", "pvc", "size"]) != "10Gi" or get_path(js, ["fileStore", "enabled"]) is False:
        errors.append("file store PVC must be 10Gi (plan)")
    res = get_path(values, ["container", "merge", "resources"]) or {}
    if get_path(res, ["requests", "cpu"]) != "250m" or get_path(res, ["limits", "cpu"]) != "1000m":
        errors.append("CPU must be 250m-1000m (plan)")
    try:
        store = quantity(mem.get("maxSize", "0"))
        limit = quantity(get_path(res, ["limits", "memory"]) or "0")
        request = quantity(get_path(res, ["requests", "memory"]) or "0")
        gomem = get_path(values, ["container", "env", "GOMEMLIMIT"])
        if gomem is None:
            errors.append("container.env.GOMEMLIMIT must be set below the memory limit")
        else:
            g = quantity(gomem)
            if not store < g <= 0.9 * limit:
                errors.append(f"GOMEMLIMIT {gomem} must be above the memory store ({mem.get('maxSize')}) and at most "
                              f"90% of the memory limit ({get_path(res, ['limits', 'memory'])})")
        if request < store:
            errors.append("memory request below the memory store size: a full store makes the pod an eviction candidate")
    except ValueError as e:
        errors.append(str(e))
    report.add(check, errors)


def check_scaler_values(root, scaler, report):
    """Our Application's values against the chart in this repository (keys and values.schema.json)."""
    if scaler is None:
        return
    name = "jetstream-scaler: Helm values exist in charts/jetstream-scaler and pass its values.schema.json"
    chart_dir = os.path.join(root, "charts/jetstream-scaler")
    if not os.path.exists(os.path.join(chart_dir, "values.yaml")):
        report.skip(name, "charts/jetstream-scaler/values.yaml is not in this tree yet")
        return
    with open(os.path.join(chart_dir, "values.yaml"), encoding="utf-8") as f:
        chart = yaml.load(f, Loader=crdschema.LOADER) or {}
    known = set(flatten(chart))

    def free_maps(v, prefix=""):
        for k, x in (v or {}).items() if isinstance(v, dict) else []:
            p = f"{prefix}.{k}" if prefix else k
            if isinstance(x, dict) and not x:
                known.add(p + ".*")
            free_maps(x, p)
    free_maps(chart)
    values = ((scaler.obj["spec"].get("source") or {}).get("helm") or {}).get("valuesObject") or {}
    errors = [f"{p}: not a value of charts/jetstream-scaler" for p in flatten(values) if not key_known(p, known)]
    schema_path = os.path.join(chart_dir, "values.schema.json")
    if os.path.exists(schema_path):
        with open(schema_path, encoding="utf-8") as f:
            schema = json.load(f)
        errors += [f"values.schema.json: {e}" for e in schema_errors(schema, deep_merge(chart, values))]
    report.add(name, errors)
    return chart


def deep_merge(base, override):
    """Helm's merge of user values over the chart's values.yaml (maps merge, the rest replaces)."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = deep_merge(base.get(k), v) if k in base else v
        return out
    return override


def check_wiring(nats, scaler, scaler_chart, xrds, docs, report):
    check = "wiring: XRD defaults, composition and Jobs point at the NATS and scaler that Argo CD deploys"
    errors = []
    xrd_specs = [x[1]["properties"]["spec"]["properties"] for k, x in xrds.items()
                 if k[2] == "XAgentExecutor"]
    if not xrd_specs:
        report.fail(check, "no XAgentExecutor XRD")
        return
    props = xrd_specs[0]
    nats_url = (props.get("natsUrl") or {}).get("default")
    # The scaler address is the platform's: the Composition's base trigger metadata.
    scaler_addr = None
    for d in docs:
        if d.kind == "Composition":
            for r in (get_path(d.obj, ["spec", "pipeline", 0, "input", "resources"]) or []):
                for t in get_path(r.get("base") or {}, MANIFEST + ["spec", "triggers"]) or []:
                    scaler_addr = scaler_addr or (t.get("metadata") or {}).get("scalerAddress")
    if nats is not None:
        rel = ((nats.obj["spec"].get("source") or {}).get("helm") or {}).get("releaseName") or nats.name
        ns = (nats.obj["spec"].get("destination") or {}).get("namespace")
        if nats_url != f"nats://{rel}.{ns}.svc:4222":
            errors.append(f"XRD natsUrl default {nats_url!r} is not the NATS Service nats://{rel}.{ns}.svc:4222")
    if scaler is not None:
        helm = (scaler.obj["spec"].get("source") or {}).get("helm") or {}
        rel = helm.get("releaseName") or scaler.name
        ns = (scaler.obj["spec"].get("destination") or {}).get("namespace")
        port = get_path(deep_merge(scaler_chart or {}, helm.get("valuesObject") or {}), ["grpc", "port"]) or 6000
        if scaler_addr != f"{rel}.{ns}.svc:{port}":
            errors.append(f"Composition trigger scalerAddress {scaler_addr!r} is not the scaler Service {rel}.{ns}.svc:{port}")
        urls = get_path(helm.get("valuesObject") or {}, ["nats", "urls"]) or []
        if nats_url not in urls:
            errors.append(f"XRD natsUrl default {nats_url!r} is not among the scaler's nats.urls {urls}: "
                          "the scaler would reject every default claim with INVALID_ARGUMENT")
    for d in docs:
        if d.kind == "Composition":
            for r in (get_path(d.obj, ["spec", "pipeline", 0, "input", "resources"]) or []):
                m = get_path(r.get("base") or {}, MANIFEST) or {}
                for t in get_path(m, ["spec", "triggers"]) or []:
                    md = t.get("metadata") or {}
                    if md.get("natsUrl", nats_url) != nats_url:
                        errors.append(f"{d.source}: ScaledObject base metadata disagrees with the XRD defaults")
        if d.kind == "Job":
            for c in get_path(d.obj, ["spec", "template", "spec", "containers"]) or []:
                for a in c.get("command") or []:
                    if str(a).startswith("--server=") and a != f"--server={nats_url}":
                        errors.append(f"{d.label}: {a} is not the platform NATS {nats_url}")
    report.add(check, errors)


def check_examples(docs, xrds, report):
    check = "examples: the test claim's namespace, secrets (with every key the composition reads) and NATS Jobs exist"
    errors = []
    examples = [d for d in docs if d.source.startswith("platform/04-apis/examples/")]
    namespaces = {d.name for d in examples if d.kind == "Namespace"}
    secrets = {((d.obj.get("metadata") or {}).get("namespace"), d.name):
               set((d.obj.get("stringData") or {}).keys()) | set((d.obj.get("data") or {}).keys())
               for d in examples if d.kind == "Secret"}
    jobs = [" ".join(map(str, c.get("command") or [])) for d in examples if d.kind == "Job"
            for c in get_path(d.obj, ["spec", "template", "spec", "containers"]) or []]
    # Keys read per XRD secret field, from the composition's base env.
    keys_by_field = {}
    comps = [d for d in docs if d.kind == "Composition"]
    for key, (xrd, schema) in xrds.items():
        props = schema["properties"]["spec"].get("properties", {})
        owner = {sub["default"]: f for f, sub in props.items() if f.endswith("Secret") and "default" in sub}
        for c in comps:
            for r in get_path(c.obj, ["spec", "pipeline", 0, "input", "resources"]) or []:
                m = get_path(r.get("base") or {}, MANIFEST) or {}
                pod = get_path(m, ["spec", "template", "spec"]) or {}
                for cont in (pod.get("initContainers") or []) + (pod.get("containers") or []):
                    for e in cont.get("env") or []:
                        ref = get_path(e, ["valueFrom", "secretKeyRef"])
                        if ref and ref.get("name") in owner:
                            keys_by_field.setdefault(owner[ref["name"]], set()).add(ref.get("key"))
    claims = [d for d in examples if d.kind == "AgentExecutor"]
    test_claims = [d for d in claims if d.name == "test-agent-executor"]
    if not test_claims:
        errors.append("examples/test-claim.yaml with AgentExecutor test-agent-executor missing (plan task 3.7)")
    for d in test_claims:
        ns = (d.obj.get("metadata") or {}).get("namespace")
        if ns not in namespaces:
            errors.append(f"{d.label}: namespace {ns} is not created by the examples")
        schema = next(s for k, (x, s) in xrds.items() if k[2] == d.kind)
        spec = crdschema.apply_defaults(schema["properties"]["spec"], d.obj.get("spec") or {})
        for field, keys in sorted(keys_by_field.items()):
            have = secrets.get((ns, spec.get(field)))
            if have is None:
                errors.append(f"{d.label}: spec.{field}={spec.get(field)!r} names no Secret in {ns}")
            elif keys - have:
                errors.append(f"{d.label}: Secret {spec.get(field)} lacks keys {sorted(keys - have)}")
        stream, consumer = spec.get("natsStreamName"), spec.get("natsConsumerGroup")
        if not any(" stream add " in f" {j} " and f" {stream} " in f" {j} " for j in jobs):
            errors.append(f"{d.label}: no example Job creates stream {stream}")
        if not any(" consumer add " in f" {j} " and f" {stream} {consumer} " in f" {j} " for j in jobs):
            errors.append(f"{d.label}: no example Job creates consumer {consumer} on {stream}")
        # The plan's nginx:1.25-alpine runs as root, which the restricted pods refuse.
        want = {"image": "nginxinc/nginx-unprivileged:1.25-alpine", "size": "small", "natsStreamName": "TEST_AGENT_STREAM",
                "natsConsumerGroup": "test-agent-workers"}
        for k, v in want.items():
            if spec.get(k) != v:
                errors.append(f"{d.label}: spec.{k} is {spec.get(k)!r}, the plan says {v!r}")
    report.add(check, errors)


def check_namespaces(docs, report):
    check = "namespaces follow docs/standards/namespace-naming-convention.md ({layer}-{category}, labels)"
    errors = []
    for d in docs:
        if d.kind != "Namespace":
            continue
        labels = (d.obj.get("metadata") or {}).get("labels") or {}
        layer, category = labels.get("layer"), labels.get("category")
        if not layer or not category:
            errors.append(f"{d.label}: labels layer and category are required")
        elif d.name != f"{layer}-{category}" and not (layer == "testing" and d.name.endswith("-test")):
            errors.append(f"{d.label}: name must be {layer}-{category} (or <subject>-test for layer testing)")
    report.add(check, errors)


# ---------------------------------------------------------------------------------------------


def check_hazards(root, docs, nats, scaler, scaler_chart, report):
    """Issue 12: what it takes for the platform to come up and stay safe in a real cluster."""
    import hazard_checks as hz  # imports this module; loaded late to avoid a cycle
    runbook = os.path.join(root, "docs/platform-runbook.md")
    runbook_text = open(runbook, encoding="utf-8").read() if os.path.exists(runbook) else ""
    apps = [d for d in docs if d.kind == "Application"]
    comps = [d for d in docs if d.kind == "Composition"]
    patch_sets = {ps.get("name"): ps.get("patches") or [] for c in comps
                  for ps in get_path(c.obj, ["spec", "pipeline", 0, "input", "patchSets"]) or []}
    hz.check_repository(docs, runbook_text, report)
    hz.check_waves(apps, report)
    hz.check_layer_waves(docs, report)
    hz.check_delete_protection(docs, report)
    chart_yaml = os.path.join(root, "charts/jetstream-scaler/Chart.yaml")
    app_version = None
    if os.path.exists(chart_yaml):
        with open(chart_yaml, encoding="utf-8") as f:
            app_version = str((yaml.load(f, Loader=crdschema.LOADER) or {}).get("appVersion") or "") or None
    hz.check_scaler_image(scaler, scaler_chart, app_version, report)
    hz.check_scaler_network_policy(scaler, scaler_chart, report)
    hz.check_provider_kubernetes(docs, comps, next((a for a in apps if a.name == "crossplane"), None), report)
    hz.check_tracking_label(comps, patch_sets, report)
    hz.check_restricted(comps, report)
    hz.check_readiness(comps, report)
    hz.check_nats_network_policy(docs, nats, report)
    hz.check_nats_users(nats, scaler, report)


def analyse(root, scaler_keys, validate_goldens=True):
    """Runs every check on the tree at root; returns (report, validator).

    The Kubernetes/Argo CD/KEDA model checks are only queued: run_node() completes them.
    validate_goldens=False skips the schema validation of the rendered goldens (the negative
    cases, which only need the comparison, run much faster without it).
    """
    report = Report()
    schemas = load_schemas()
    docs = load_yaml_files(root, report)
    xrd_docs = [d for d in docs if gvk(d.obj)[:1] == ("apiextensions.crossplane.io",)
                and d.kind == "CompositeResourceDefinition"]
    xrds = xrd_schemas(xrd_docs)
    validator = Validator(report, schemas, xrds)
    functions = {d.name for d in docs if d.kind == "Function" and gvk(d.obj)[0] == "pkg.crossplane.io"}

    for d in docs:
        validator.validate(f"schema {d.label}", d.obj)
    for d in xrd_docs:
        check_xrd(d, report)
    for d in docs:
        if d.kind == "Composition":
            CompositionCheck(d, validator, xrds, scaler_keys, report, functions).run()
    nats, scaler = check_applications(root, docs, report)
    check_nats_values(nats, report, validator)
    scaler_chart = check_scaler_values(root, scaler, report)
    check_wiring(nats, scaler, scaler_chart, xrds, docs, report)
    check_examples(docs, xrds, report)
    check_hazards(root, docs, nats, scaler, scaler_chart, report)
    import render  # imports this module; loaded late to avoid a cycle
    render.check_goldens(root, validator if validate_goldens else None, report)
    blocks = load_doc_blocks(root)
    for entry in blocks:
        if entry[0] == "error":
            report.fail(f"docs {entry[1]}: yaml block {entry[2]} parses", "YAML error")
        else:
            d = entry[3]
            validator.validate(f"docs {d.label}", d.obj)
    check_namespaces(docs + [e[3] for e in blocks if e[0] == "doc"], report)
    return report, validator


def read_keys(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--scaler-keys", required=True, help="file with the scaler's --print-metadata-keys output")
    ap.add_argument("--node-modules", required=True, help="node_modules with the kubernetes-models packages")
    args = ap.parse_args()
    report, validator = analyse(os.path.abspath(args.root), read_keys(args.scaler_keys))
    run_node([validator], args.node_modules)
    return 1 if report.emit() else 0


if __name__ == "__main__":
    sys.exit(main())

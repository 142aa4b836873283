#!/usr/bin/python3
"""Renders example claims through the AgentExecutor Composition, as function-patch-and-transform
v0.10.8 would, and keeps the results as goldens (test/platform/golden/<example>.yaml).

  render.py --root REPO                 compare every golden with a fresh render (exit 1 on drift)
  render.py --root REPO --write         regenerate the goldens after a deliberate change
  render.py --root REPO --claim FILE    print what one claim renders to

Only the features the Composition uses are implemented; anything else raises Unsupported, so a
Composition that starts using a new feature fails here instead of being rendered wrongly. Each
semantic names the upstream code it reproduces, at the tag the Function package pins:

  crossplane-contrib/function-patch-and-transform v0.10.8 (commit 6b35ed851b91bb9d0e59e0bd98cdad06b045d873)
  crossplane/crossplane-runtime v2.1.0 (the function's go.mod), pkg/fieldpath

render_cases.py checks these functions against the upstream Go test tables they reproduce.

The composed resources are the function's desired state: Crossplane then adds its own metadata
(generateName, the crossplane.io/composite and claim labels, the owner reference), which is
not part of the goldens. The claim -> XR step (defaults, spec.claimRef) is Crossplane's.
"""

import argparse
import copy
import decimal
import difflib
import glob
import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdschema  # noqa: E402

FUNCTION_PACKAGE = "xpkg.crossplane.io/crossplane-contrib/function-patch-and-transform:v0.10.8"
PT_INPUT = ("pt.fn.crossplane.io", "v1beta1", "Resources")
EXAMPLES = "platform/04-apis/examples"
GOLDEN_DIR = "test/platform/golden"
# The 4 -> 0 shrink case: rendered a second time without these fields.
SHRINK = {"claim-private-registry": ["imagePullSecrets"]}


class Unsupported(Exception):
    """The Composition uses a feature this renderer does not reproduce."""


class NotFound(Exception):
    """fieldpath's notFoundError (crossplane-runtime pkg/fieldpath/paved.go)."""


# paved.go Pave: DefaultMaxFieldPathIndex; validateSegments rejects a larger index on set.
MAX_FIELD_PATH_INDEX = 1024


# ---------------------------------------------------------------------------------------------
# Field paths: crossplane-runtime v2.1.0 pkg/fieldpath


def parse(path):
    """fieldpath.Parse: a.b[0].c[key.with.dots] -> segments (str field, int index)."""
    if "[*]" in path:
        # patches.go ApplyFromFieldPathPatch -> patchFieldValueToMultiple (wildcard expansion).
        raise Unsupported(f"wildcard field path {path!r}")
    return crdschema.parse_path(path)


def get_value(obj, path):
    """paved.go getValueFromInterface: a missing field, an index past the end or a nil parent
    is notFound; indexing a non-array or a field of a non-object is an error."""
    cur = obj
    for i, seg in enumerate(parse(path)):
        if isinstance(seg, int):
            if not isinstance(cur, list):
                raise ValueError(f"{path}: segment {i}: not an array")
            if seg >= len(cur):
                raise NotFound(f"{path}: no such element")
            cur = cur[seg]
        else:
            if cur is None:
                raise NotFound(f"{path}: expected map, got nil")
            if not isinstance(cur, dict):
                raise ValueError(f"{path}: segment {i}: not an object")
            if seg not in cur:
                raise NotFound(f"{path}: no such field")
            cur = cur[seg]
    return cur


def set_value(obj, path, value):
    """paved.go setValue with prepareField/prepareElement: missing parents are created as maps
    or as arrays just long enough (holes are null), the final segment is replaced."""
    segs = parse(path)
    value = json.loads(json.dumps(value))  # toValidJSON
    for seg in segs:
        if isinstance(seg, int) and seg > MAX_FIELD_PATH_INDEX:
            raise ValueError(f"index {seg} is greater than max allowed index {MAX_FIELD_PATH_INDEX}")
    cur = obj
    for i, seg in enumerate(segs):
        final = i == len(segs) - 1
        nxt = None if final else segs[i + 1]
        if isinstance(seg, int):
            if not isinstance(cur, list):
                raise ValueError(f"{path}: segment {i} is not an array")
            if final:
                cur[seg] = value
                return
            _prepare(cur, seg, nxt, exists=cur[seg] is not None)
        else:
            if not isinstance(cur, dict):
                raise ValueError(f"{path}: segment {i} is not an object")
            if final:
                cur[seg] = value
                return
            _prepare(cur, seg, nxt, exists=seg in cur)
        cur = cur[seg]


def _prepare(container, key, nxt, exists):
    if not exists:
        container[key] = [None] * (nxt + 1) if isinstance(nxt, int) else {}
    elif isinstance(nxt, int) and isinstance(container[key], list) and nxt >= len(container[key]):
        container[key].extend([None] * (nxt - len(container[key]) + 1))


# ---------------------------------------------------------------------------------------------
# Transforms: transforms.go


def go_sprintf(fmt, value):
    """fmt.Sprintf(fmt, input): a string Format transform (transforms.go ResolveString)."""
    return go_sprintf_args(fmt, [value])


# fmt/print.go doPrintf, for the verbs a Composition's fmt uses: %s %v %d, an optional explicit
# argument index ([n]), %%; flags, widths and precisions are refused.
GO_VERB = re.compile(r"%(?:\[(\d*)\])?([svd%])|%")


def go_float_v(f):
    """strconv.FormatFloat(f, 'g', -1, 64), which %v prints: shortest digits; %e when the decimal
    exponent is < -4 or >= 6 (ftoa.go: the shortest form uses eprec 6), e.g. 2.592e+06."""
    if f != f or f in (float("inf"), float("-inf")):
        raise Unsupported(f"%v of {f}")
    d = decimal.Decimal(repr(f)).normalize()
    sign, digits, exp = d.as_tuple()
    x = len(digits) - 1 + exp
    if d == 0:
        return "-0" if sign else "0"
    if x < -4 or x >= 6:
        mant = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
        return f"{'-' if sign else ''}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    return format(d, "f")


def go_arg(value, verb):
    """printArg(value, verb) for the Go types a patch value can have (JSON: string, float64,
    int64, bool, nil); a verb that does not fit the type prints %!verb(type=value)."""
    if value is None:
        return "<nil>" if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(value, bool):
        text, gotype, fits = ("true" if value else "false"), "bool", verb == "v"
    elif isinstance(value, str):
        text, gotype, fits = value, "string", verb in "sv"
    elif isinstance(value, int):
        text, gotype, fits = str(value), "int64", verb in "dv"
    elif isinstance(value, float):
        text, gotype, fits = go_float_v(value), "float64", verb == "v"
    else:
        raise Unsupported(f"Go formatting of a {type(value).__name__}")
    return text if fits else f"%!{verb}({gotype}={text})"


def go_sprintf_args(fmt, args):
    """fmt.Sprintf(fmt, args...) (print.go doPrintf): arguments in order, or from [n] on (which sets
    p.reordered); a missing one prints %!verb(MISSING), a bad index %!verb(BADINDEX); unused
    arguments are reported as %!(EXTRA type=value, ...) only when no index was used."""
    out, pos, arg_num, reordered = [], 0, 0, False
    for m in GO_VERB.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        if m.group(2) is None:
            raise Unsupported(f"format {fmt!r}: only %s, %v, %d, %[n]verb and %% are reproduced")
        verb = m.group(2)
        good = True
        if m.group(1) is not None:
            reordered = True
            n = int(m.group(1)) if m.group(1) else 0
            if 1 <= n <= len(args):
                arg_num = n - 1
            else:
                good = False
        if verb == "%":
            out.append("%")
        elif not good:
            out.append(f"%!{verb}(BADINDEX)")
        elif arg_num >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(go_arg(args[arg_num], verb))
            arg_num += 1
    out.append(fmt[pos:])
    if not reordered and arg_num < len(args):
        extra = []
        for a in args[arg_num:]:
            extra.append("<nil>" if a is None else f"{go_type(a)}={go_arg(a, 'v')}")
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


def go_type(value):
    if isinstance(value, (dict, list)):
        raise Unsupported(f"Go formatting of a {type(value).__name__}")
    return {bool: "bool", str: "string", int: "int64", float: "float64"}[type(value)]


def resolve(t, value):
    kind = t.get("type")
    if kind == "map":
        # ResolveMap: the input must be a string; a missing key is an error; the entry is JSON.
        if not isinstance(value, str):
            raise ValueError(f"map transform: input type {type(value).__name__} is not supported")
        table = t.get("map") or {}
        if value not in table:
            raise ValueError(f"map transform: key {value!r} not found")
        return copy.deepcopy(table[value])
    if kind == "convert":
        # ResolveConvert/getConversion: same type is a no-op (int is int64); int64 -> string is
        # strconv.FormatInt, bool -> string FormatBool, float64 -> string FormatFloat('f', -1).
        conv = t.get("convert") or {}
        if conv.get("format") not in (None, "none"):
            raise Unsupported(f"convert format {conv.get('format')!r}")
        to = conv.get("toType")
        if to == "string":
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int):
                return str(value)
            if isinstance(value, float) and value.is_integer():
                return str(int(value))
        raise Unsupported(f"convert {type(value).__name__} -> {to!r}")
    if kind == "match":
        return resolve_match(t.get("match") or {}, value)
    if kind == "string":
        st = t.get("string") or {}
        if st.get("type", "Format") == "Format":
            # ResolveString, StringTransformTypeFormat: fmt.Sprintf(*t.Format, input).
            return go_sprintf(st.get("fmt", ""), value)
        raise Unsupported(f"string transform {st.get('type')!r}")
    raise Unsupported(f"transform type {kind!r}")


def resolve_match(m, value):
    """transforms.go ResolveMatch (validate.go ValidateMatchTransform: at least one pattern): the
    first matching pattern's result; none: fallbackTo Input returns the input, else the
    fallbackValue (null when unset). A regexp pattern (re.MatchString: unanchored search) or a
    literal needs a string input; anything else is an error."""
    patterns = m.get("patterns") or []
    if not patterns:
        raise ValueError("match transform: at least one pattern must be specified")
    for i, p in enumerate(patterns):
        ptype = p.get("type", "literal")
        if ptype not in ("literal", "regexp"):
            raise ValueError(f"match transform: pattern {i}: unsupported pattern type {ptype!r}")
        if not isinstance(value, str):
            raise ValueError(f"match transform: pattern {i}: unsupported input type "
                             f"{'null' if value is None else type(value).__name__!r}")
        if ptype == "literal":
            hit = value == p.get("literal")
        else:
            if re.search(r"\\[pPz]|\(\?P?<|\(\?[a-zA-Z]", p.get("regexp") or ""):
                raise Unsupported(f"regexp {p.get('regexp')!r}: Go RE2 syntax beyond Python's common subset")
            hit = re.search(p.get("regexp") or "", value) is not None
        if hit:
            return copy.deepcopy(p.get("result"))
    if m.get("fallbackTo") == "Input":
        if m.get("fallbackValue") is not None:
            raise ValueError("match transform: cannot set both a fallback value and the fallback to input flag")
        return value
    return copy.deepcopy(m.get("fallbackValue"))


# ---------------------------------------------------------------------------------------------
# The function: fn.go RunFunction and patches.go


def composed_templates(inp):
    """patches.go ComposedTemplates: PatchSet patches are inlined where they are referenced; a
    PatchSet inside a PatchSet and an undefined PatchSet are errors."""
    sets = {}
    for ps in inp.get("patchSets") or []:
        if any(p.get("type") == "PatchSet" for p in ps.get("patches") or []):
            raise ValueError("a patch in a PatchSet cannot be of type PatchSet")
        sets[ps.get("name")] = ps.get("patches") or []
    out = []
    for r in inp.get("resources") or []:
        patches = []
        for p in r.get("patches") or []:
            if p.get("type") != "PatchSet":
                patches.append(p)
            elif p.get("patchSetName") not in sets:
                raise ValueError(f"cannot find PatchSet by name {p.get('patchSetName')}")
            else:
                patches.extend(sets[p["patchSetName"]])
        out.append(dict(r, patches=patches))
    return out


def apply_patch(p, xr, desired):
    """patches.go ApplyComposedPatch -> ApplyFromFieldPathPatch for FromCompositeFieldPath."""
    ptype = p.get("type", "FromCompositeFieldPath")
    if ptype not in ("FromCompositeFieldPath", "CombineFromComposite"):
        raise Unsupported(f"patch type {ptype!r}")
    policy = p.get("policy") or {}
    if policy.get("toFieldPath", "Replace") != "Replace":
        # toMergeOption: only Replace (SetValue, no merge) is reproduced.
        raise Unsupported(f"policy.toFieldPath {policy.get('toFieldPath')!r}")
    if ptype == "CombineFromComposite":
        value = combine(p.get("combine") or {}, xr)
    else:
        value = get_value(xr, p.get("fromFieldPath", ""))
    for i, t in enumerate(p.get("transforms") or []):  # ResolveTransforms, in order
        try:
            value = resolve(t, value)
        except ValueError as e:
            raise ValueError(f"transform at index {i}: {e}") from None
    # input/v1beta1/resources_patches.go GetToFieldPath: no toFieldPath patches the same path.
    # ApplyFromFieldPathPatch round-trips the value through toValidJSON (integral float64s come
    # back as int64); ApplyCombineFromVariablesPatch writes its string as it is.
    to = p.get("toFieldPath") or (p.get("fromFieldPath") if ptype == "FromCompositeFieldPath" else None)
    if not to:
        raise ValueError("toFieldPath is required by type CombineFromComposite")
    set_value(desired, to, to_valid_json(value) if ptype == "FromCompositeFieldPath" else value)


def combine(c, xr):
    """patches.go ApplyCombineFromVariablesPatch + Combine/CombineString: every variable's
    fromFieldPath is read first and the first missing one fails the whole patch with fieldpath's
    not-found error ("If any source field is not found, we will not apply the patch"), which
    RunFunction treats like any missing source (skipped unless Required); strategy string is
    fmt.Sprintf(format, values...); any other strategy or a missing string config is an error."""
    values = [get_value(xr, v.get("fromFieldPath", "")) for v in c.get("variables") or []]
    if c.get("strategy") != "string":
        raise ValueError(f"combine strategy {c.get('strategy')} is not supported")
    if not isinstance(c.get("string"), dict):
        raise ValueError("given combine strategy string requires configuration")
    return go_sprintf_args(c["string"].get("fmt", ""), values)


def to_valid_json(value):
    """patches.go toValidJSON: json.Marshal, then k8s.io/apimachinery util/json Unmarshal, which
    decodes a number that Go printed without '.' or exponent (an integral float64 below 1e21)
    as int64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, dict):
        return {k: to_valid_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_valid_json(v) for v in value]
    return value


def struct_numbers(value):
    """What the function sees of the XR: function-sdk-go request.GetObservedCompositeResource ->
    resource.AsObject sets the unstructured content from structpb's AsMap(), where every JSON
    number is a float64 (an integer field of the claim included)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: struct_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [struct_numbers(v) for v in value]
    return value


def run_function(inp, xr):
    """fn.go RunFunction for a first render (no observed composed resources yet).

    Returns (desired: list of (resource name, object), warnings, xr_ready_false). Per template:
    the base is the desired resource; patches run in order; a missing source of an Optional
    patch (the default policy, resources_patches.go GetFromFieldPathPolicy) skips the patch; a
    missing source of a Required patch to a resource that does not exist yet drops the resource
    from the desired state with a warning and marks the XR not ready. Any other error is fatal.
    """
    if gvk(inp) != PT_INPUT:
        raise Unsupported(f"function input {inp.get('apiVersion')} {inp.get('kind')}")
    if inp.get("environment"):
        raise Unsupported("environment patches")
    desired, warnings, skipped = [], [], 0
    xr = struct_numbers(xr)
    for t in composed_templates(inp):
        if t.get("base") is None:
            raise Unsupported(f"resource {t.get('name')!r} without a base")
        obj = copy.deepcopy(t["base"])
        skip = False
        for i, p in enumerate(t["patches"]):
            try:
                apply_patch(p, xr, obj)
            except NotFound as e:
                if (p.get("policy") or {}).get("fromFieldPath") == "Required":
                    warnings.append(f"not adding new composed resource {t.get('name')!r} to desired state because "
                                    f"{p.get('type')!r} patch at index {i} has 'policy.fromFieldPath: Required': {e}")
                    skip = True
                    break
            except ValueError as e:
                raise ValueError(f"cannot render composed resource {t.get('name')!r} patch at index {i}: {e}") from None
        if skip:
            skipped += 1
            continue
        desired.append((t.get("name"), obj))
    return desired, warnings, skipped > 0


def gvk(obj):
    group, _, version = (obj.get("apiVersion") or "").rpartition("/")
    return (group, version, obj.get("kind"))


# ---------------------------------------------------------------------------------------------
# Claim -> XR (Crossplane) and the whole Composition


def claim_to_xr(claim, claim_schema, xr_kind):
    """What Crossplane's claim controller gives the function: the claim's spec with the API
    server's defaults, plus spec.claimRef. The XR's name (<claim>-<random>) is not used by any
    patch; a fixed suffix keeps the render deterministic."""
    md = claim.get("metadata") or {}
    spec = crdschema.apply_defaults(claim_schema["properties"]["spec"], copy.deepcopy(claim.get("spec") or {}))
    group_version = claim.get("apiVersion")
    spec["claimRef"] = {"apiVersion": group_version, "kind": claim.get("kind"),
                        "name": md.get("name"), "namespace": md.get("namespace")}
    return {"apiVersion": group_version, "kind": xr_kind,
            "metadata": {"name": f"{md.get('name')}-xxxxx"}, "spec": spec}


def render(composition, xr):
    steps = (composition.get("spec") or {}).get("pipeline") or []
    if (composition.get("spec") or {}).get("mode", "Pipeline") != "Pipeline" or len(steps) != 1:
        raise Unsupported("only a one-step Pipeline (function-patch-and-transform) is reproduced")
    return run_function(steps[0].get("input") or {}, xr)


def dump(resources):
    out = []
    for name, obj in resources:
        out.append(f"---\n# composition resource: {name}\n" + yaml.safe_dump(obj, sort_keys=False, width=100))
    return "".join(out)


def render_example(composition, claim, claim_schema, xr_kind):
    """The golden text of one example claim (two renders for a SHRINK example)."""
    stem = claim["_stem"]
    header = (f"# Rendered by test/platform/lib/render.py from {EXAMPLES}/{stem}.yaml through\n"
              "# platform/04-apis/compositions/agent-executor-composition.yaml with the semantics of\n"
              f"# {FUNCTION_PACKAGE}.\n"
              "# Do not edit: regenerate with  /usr/bin/python3 test/platform/lib/render.py --write\n")
    body = {k: v for k, v in claim.items() if k != "_stem"}
    states = [("the claim as in the example", body)]
    for field in SHRINK.get(stem, []):
        shrunk = copy.deepcopy(body)
        shrunk["spec"].pop(field, None)
        states.append((f"the same claim without spec.{field}; provider-kubernetes applies\n"
                       "# server-side, so the field disappears from the Deployment", shrunk))
    text = header
    results = []
    for i, (what, c) in enumerate(states):
        desired, warnings, not_ready = render(composition, claim_to_xr(c, claim_schema, xr_kind))
        if warnings:
            raise ValueError(f"{stem}: {'; '.join(warnings)}")
        if len(states) > 1:
            text += f"#\n# State {i + 1}: {what}.\n"
        text += dump(desired)
        results.append(desired)
    return text, results


def load_inputs(root):
    """(composition, claims with _stem, claim schema, XR kind) from the tree at root."""
    import platform_check as pc  # the same loading and XRD schema code as the checks
    report = pc.Report()
    docs = pc.load_yaml_files(root, report)
    xrds = pc.xrd_schemas([d for d in docs if d.kind == "CompositeResourceDefinition"])
    comps = [d.obj for d in docs if d.kind == "Composition"]
    if len(comps) != 1:
        raise ValueError(f"expected one Composition in platform/, found {len(comps)}")
    claims = []
    for d in docs:
        if d.source.startswith(EXAMPLES + "/") and d.kind == "AgentExecutor":
            c = copy.deepcopy(d.obj)
            c["_stem"] = os.path.splitext(os.path.basename(d.source))[0]
            claims.append(c)
    claim_key = next(k for k in xrds if k[2] == "AgentExecutor")
    xr_kind = next(k[2] for k, (x, _) in xrds.items() if x is xrds[claim_key][0] and k[2] != "AgentExecutor")
    return comps[0], claims, xrds[claim_key][1], xr_kind


def goldens(root):
    """{stem: (expected text, rendered resources or None, error)} for every example claim."""
    composition, claims, schema, xr_kind = load_inputs(root)
    out = {}
    for c in claims:
        try:
            text, results = render_example(composition, c, schema, xr_kind)
            out[c["_stem"]] = (text, results, None)
        except (Unsupported, ValueError) as e:
            out[c["_stem"]] = (None, None, f"{type(e).__name__}: {e}")
    return out


def check_goldens(root, validator, report):
    """Every example claim renders to its golden; every rendered object is valid and safe."""
    import hazard_checks as hz
    from platform_check import get_path, metadata_errors
    golden_dir = os.path.join(root, GOLDEN_DIR)
    pin = "golden: the renderer mirrors the function version the platform installs"
    report.add(pin)
    for path in glob.glob(os.path.join(root, "platform/**/*.yaml"), recursive=True):
        with open(path, encoding="utf-8") as f:
            for d in yaml.load_all(f, Loader=crdschema.LOADER):
                if isinstance(d, dict) and d.get("kind") == "Function" and \
                        "function-patch-and-transform" in str(get_path(d, ["spec", "package"])):
                    if get_path(d, ["spec", "package"]) != FUNCTION_PACKAGE:
                        report.fail(pin, f"{os.path.relpath(path, root)} installs {get_path(d, ['spec', 'package'])}, "
                                         f"render.py reproduces {FUNCTION_PACKAGE}: re-read that version's fn.go, "
                                         "patches.go and transforms.go, update render.py, then FUNCTION_PACKAGE")
    try:
        result = goldens(root)
    except (Unsupported, ValueError, StopIteration) as e:
        report.fail("golden: render the example claims", f"{type(e).__name__}: {e}")
        return
    for path in sorted(glob.glob(os.path.join(golden_dir, "*.yaml"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        if stem not in result:
            report.fail("golden: every golden belongs to an example claim", f"{GOLDEN_DIR}/{stem}.yaml has no "
                        f"{EXAMPLES}/{stem}.yaml")
    report.add("golden: every golden belongs to an example claim")
    for stem, (text, results, error) in sorted(result.items()):
        check = f"golden {stem}: the render matches {GOLDEN_DIR}/{stem}.yaml and passes the schemas"
        report.add(check)
        if error:
            report.fail(check, f"render failed: {error}")
            continue
        path = os.path.join(golden_dir, f"{stem}.yaml")
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old is None:
            report.fail(check, f"{GOLDEN_DIR}/{stem}.yaml is missing; run render.py --write")
        elif old != text:
            report.add(check, ["golden differs from the render (after a deliberate change: "
                               "/usr/bin/python3 test/platform/lib/render.py --write):"] + diff(old, text, f"{stem}.yaml"))
        for state, desired in enumerate(results, 1):
            kinds = sorted((get_path(o, ["spec", "forProvider", "manifest", "kind"]) or "?") for _, o in desired)
            if kinds != ["Deployment", "ScaledObject", "Service", "ServiceAccount"]:
                report.fail(check, f"state {state}: composes {kinds}, not a ServiceAccount, Deployment, Service "
                                   "and ScaledObject")
            for name, obj in desired:
                where = f"state {state} {name}: "
                if validator is not None:
                    validator.validate(check, obj, where, need_name=False)
                m = get_path(obj, ["spec", "forProvider", "manifest"]) or {}
                report.add(check, [where + e for e in metadata_errors(m)])
                if not (m.get("metadata") or {}).get("namespace"):
                    report.fail(check, f"{where}manifest has no namespace")
                if hz.ARGO_TRACKING_LABEL in ((m.get("metadata") or {}).get("labels") or {}):
                    report.fail(check, f"{where}carries Argo CD's tracking label {hz.ARGO_TRACKING_LABEL}")
                if m.get("kind") == "Deployment":
                    report.add(check, hz.restricted_errors(get_path(m, ["spec", "template", "spec"]) or {}, where))
        for field in SHRINK.get(stem, []):
            report.add(check, shrink_errors(results, field))


def shrink_errors(results, field):
    """The shrink case: the second render differs from the first only by the pod's `field`."""
    if len(results) != 2:
        return [f"expected two renders (with and without spec.{field}), got {len(results)}"]
    pods = []
    for desired in results:
        dep = next((o for _, o in desired
                    if (o["spec"]["forProvider"]["manifest"] or {}).get("kind") == "Deployment"), None)
        pods.append(copy.deepcopy(dep["spec"]["forProvider"]["manifest"]["spec"]["template"]["spec"]) if dep else {})
    errors = []
    if not pods[0].get(field):
        errors.append(f"state 1: the Deployment has no {field}")
    if field in pods[1]:
        errors.append(f"state 2: the Deployment still has {field}={pods[1][field]!r}; it must be absent (not empty, "
                      "not null) so server-side apply removes it")
    pods[0].pop(field, None)
    pods[1].pop(field, None)
    if pods[0] != pods[1]:
        errors.append(f"the two renders differ in more than {field}")
    return errors


def diff(old, new, name):
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"golden/{name}", "rendered", lineterm="", n=1))
    return lines[:40] + ([f"... {len(lines) - 40} more diff lines"] if len(lines) > 40 else [])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    ap.add_argument("--write", action="store_true", help="regenerate test/platform/golden/")
    ap.add_argument("--claim", help="print the render of one claim file")
    args = ap.parse_args()
    root = os.path.abspath(args.root)
    if args.claim:
        composition, _, schema, xr_kind = load_inputs(root)
        with open(args.claim, encoding="utf-8") as f:
            claim = yaml.safe_load(f)
        desired, warnings, _ = render(composition, claim_to_xr(claim, schema, xr_kind))
        for w in warnings:
            print(f"# warning: {w}")
        print(dump(desired), end="")
        return 0
    result = goldens(root)
    golden_dir = os.path.join(root, GOLDEN_DIR)
    failed = 0
    for stem, (text, _, error) in sorted(result.items()):
        path = os.path.join(golden_dir, f"{stem}.yaml")
        if error:
            print(f"FAIL {stem}: {error}")
            failed += 1
        elif args.write:
            os.makedirs(golden_dir, exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            print(f"wrote {os.path.relpath(path, root)}")
        else:
            old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
            if old != text:
                print(f"FAIL {stem}: golden differs from the render")
                print("\n".join(diff(old, text, f"{stem}.yaml")))
                failed += 1
            else:
                print(f"PASS {stem}")
    if args.write:
        for path in glob.glob(os.path.join(golden_dir, "*.yaml")):
            if os.path.splitext(os.path.basename(path))[0] not in result:
                os.remove(path)
                print(f"removed {os.path.relpath(path, root)} (no such example)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

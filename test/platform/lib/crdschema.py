"""Kubernetes structural schemas (CRD openAPIV3Schema) as JSON Schema, plus field paths.

The API server prunes unknown fields silently (or rejects them under strict field validation,
kubectl's default). Offline we want the strict behaviour, so an object schema that lists
`properties` and neither `additionalProperties` nor `x-kubernetes-preserve-unknown-fields` is
closed here: a misspelt field is an error, not a silently dropped value.

CEL rules (`x-kubernetes-validations`) are not evaluated by this module; see platform_check.py
for the few the platform relies on.
"""

import copy
import re

import yaml

ANY = {}  # sentinel returned by resolve() for an open, unchecked subtree; never mutated

_COPY_KEYS = (
    "type", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
    "maxItems", "uniqueItems", "minProperties", "maxProperties", "required", "default",
    "format",
)


def to_json_schema(s):
    """Converts one OpenAPI v3 structural schema node into a (strict) JSON Schema node."""
    if not isinstance(s, dict):
        return {}
    out = {k: copy.deepcopy(s[k]) for k in _COPY_KEYS if k in s}
    # OpenAPI 3.0 boolean exclusive bounds -> JSON Schema numeric ones.
    if s.get("exclusiveMinimum") is True and "minimum" in out:
        out["exclusiveMinimum"] = out.pop("minimum")
    if s.get("exclusiveMaximum") is True and "maximum" in out:
        out["exclusiveMaximum"] = out.pop("maximum")
    if s.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if s.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    for key in ("allOf", "anyOf", "oneOf"):
        if key in s:
            out.setdefault(key, [])
            out[key] = out[key] + [to_json_schema(x) for x in s[key]]
    if "not" in s:
        out["not"] = to_json_schema(s["not"])
    if "items" in s:
        out["items"] = to_json_schema(s["items"])
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    props = {k: to_json_schema(v) for k, v in (s.get("properties") or {}).items()}
    if embedded:
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
        out["required"] = sorted(set(out.get("required", [])) | {"apiVersion", "kind"})
        out["x-embedded-resource"] = True
    if props:
        out["properties"] = props
    if "additionalProperties" in s:
        ap = s["additionalProperties"]
        out["additionalProperties"] = ap if isinstance(ap, bool) else to_json_schema(ap)
    elif props and not preserve and not embedded:
        out["additionalProperties"] = False
    if preserve:
        out["x-open"] = True
    if "x-kubernetes-validations" in s:
        out["x-cel"] = [r.get("rule", "") for r in s["x-kubernetes-validations"]]
    return out


_PARSED = {}  # path -> parsed CRD; the negative cases load the same large files many times
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when python3-yaml has it; safe either way


def load_crd(path):
    """Returns {(group, version, kind): json_schema} for every version of the CRD file."""
    if path not in _PARSED:
        with open(path, encoding="utf-8") as f:
            _PARSED[path] = yaml.load(f, Loader=LOADER)
    crd = _PARSED[path]  # to_json_schema copies what it keeps; crd itself is never mutated
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    out = {}
    for v in crd["spec"]["versions"]:
        out[(group, v["name"], kind)] = to_json_schema(v["schema"]["openAPIV3Schema"])
    return out


_SEGMENT = re.compile(r"""([^.\[\]]+)|\[(\d+)\]|\[("[^"]*"|'[^']*'|[^\]]+)\]|(\.)""")


def parse_path(path):
    """Parses a Crossplane field path (a.b[0].c[key.with.dots]) into str/int tokens."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"empty or non-string field path {path!r}")
    tokens, pos, need_name = [], 0, True
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if not m or m.end() == pos:
            raise ValueError(f"malformed field path {path!r} at offset {pos}")
        name, index, key, dot = m.groups()
        if name is not None:
            tokens.append(name)
            need_name = False
        elif index is not None:
            tokens.append(int(index))
        elif key is not None:
            tokens.append(key.strip("\"'"))
        elif dot is not None:
            if need_name:
                raise ValueError(f"malformed field path {path!r}: empty segment at offset {pos}")
            need_name = True
        pos = m.end()
    if need_name and path.endswith("."):
        raise ValueError(f"malformed field path {path!r}: trailing '.'")
    return tokens


def format_path(tokens):
    out = ""
    for t in tokens:
        if isinstance(t, int):
            out += f"[{t}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", t):
            out += ("." if out else "") + t
        else:
            out += f"[{t}]"
    return out


def is_open(schema):
    return schema is ANY or schema.get("x-open") or (
        schema.get("type") in (None, "object") and "properties" not in schema
        and "additionalProperties" not in schema and "items" not in schema
        and "anyOf" not in schema)


def resolve(schema, tokens):
    """Follows tokens through a JSON schema.

    Returns (subschema, None) when the path exists, (ANY, None) when it enters an open subtree
    that cannot be checked further, and (None, reason) when the schema has no such field.
    """
    cur = schema
    for i, t in enumerate(tokens):
        where = format_path(tokens[:i]) or "<root>"
        if isinstance(t, int):
            if "items" in cur:
                cur = cur["items"]
            elif is_open(cur) and cur.get("type") != "object":
                return ANY, None
            else:
                return None, f"{where} is not a list, cannot index [{t}]"
            continue
        props = cur.get("properties", {})
        if t in props:
            cur = props[t]
        elif isinstance(cur.get("additionalProperties"), dict):
            cur = cur["additionalProperties"]
        elif cur.get("additionalProperties") is False:
            known = ", ".join(sorted(props)) or "none"
            return None, f"{where} has no field {t!r} (known: {known})"
        elif is_open(cur):
            return ANY, None
        else:
            return None, f"{where} has no field {t!r}"
    return cur, None


def apply_defaults(schema, value):
    """Returns a copy of value with schema defaults filled in (objects only), like the API server."""
    if not isinstance(value, dict) or not isinstance(schema, dict):
        return value
    out = dict(value)
    for name, sub in schema.get("properties", {}).items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
        if name in out:
            out[name] = apply_defaults(sub, out[name])
    return out


def sample_values(schema):
    """Representative values a field of this schema can hold (enum members, default, one value)."""
    if schema is ANY or not isinstance(schema, dict):
        return ["sample"]
    if "enum" in schema:
        return list(schema["enum"])
    t = schema.get("type")
    if isinstance(t, list):
        t = t[0]
    if "default" in schema:
        return [schema["default"]]
    if t == "integer":
        return [schema.get("minimum", 1)]
    if t == "number":
        return [float(schema.get("minimum", 1))]
    if t == "boolean":
        return [True]
    if t == "array":
        return [[v] for v in sample_values(schema.get("items", ANY))[:1]]
    if t == "object":
        return [{}]
    return ["sample"]

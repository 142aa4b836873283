#!/usr/bin/python3
"""Keeps the chart's values documentation and the schema's flag ranges generated.

    scripts/chart-values.py          rewrite what is generated (after editing values.yaml,
                                     values.schema.json or the RANGES table below)
    scripts/chart-values.py --check  exit 1 if anything generated is out of date (CI)
    scripts/chart-values.py --self-test  the generated duration patterns against their ranges

It writes two things:
  1. in charts/jetstream-scaler/values.schema.json, the properties of the `config` values that
     become a bounded flag of the scaler (RANGES): a pattern that accepts exactly the durations
     inside the flag's range (a whole number and one unit), or minimum/maximum for integers,
     plus a description saying the range. test/chart/flag_bounds.py starts the real binary
     with every bound, just inside and just outside, and renders the chart with the same
     values, so the table below cannot drift from the scaler's own flag table;
  2. the values table of charts/jetstream-scaler/README.md, between the markers
     <!-- values:start --> and <!-- values:end -->: one row per value, from values.yaml (default
     and the comment above the key) and values.schema.json (type, allowed values, and
     properties only the schema knows, such as the keys of list items).

Uses Debian's python3 (python3-yaml).
"""
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHART = os.path.join(ROOT, "charts", "jetstream-scaler")
SCHEMA = os.path.join(CHART, "values.schema.json")
VALUES = os.path.join(CHART, "values.yaml")
README = os.path.join(CHART, "README.md")
START, END = "<!-- values:start -->", "<!-- values:end -->"

MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}

# Chart value -> (flag, kind, min, max). Durations in milliseconds; kind "duration-or-off" also
# takes 0 (off) below min. The scaler's flag table (scaler/app) is the authority;
# test/chart/flag_bounds.py proves these agree with it.
RANGES = {
    "requestTimeout": ("--request-timeout", "duration", 10, 5 * 60_000),
    "lagCacheTTL": ("--lag-cache-ttl", "duration", 0, 10 * 60_000),
    "reloadInterval": ("--reload-interval", "duration", 1000, 3_600_000),
    "pushInterval": ("--push-interval", "duration", 100, 3_600_000),
    "pushIdleResync": ("--push-idle-resync", "duration", 1000, 3_600_000),
    "pushReadRate": ("--push-read-rate", "integer", 0, 1_000_000),
    "pushMaxWakeupSubjects": ("--push-max-wakeup-subjects", "integer", 1, 100_000),
    "maxInflightRequests": ("--max-inflight-requests", "integer", 1, 1_000_000),
    "grpcMaxConnectionAge": ("--grpc-max-connection-age", "duration-or-off", 1000, 86_400_000),
    "grpcKeepaliveTime": ("--grpc-keepalive-time", "duration-or-off", 10_000, 7_200_000),
    "shutdownTimeout": ("--shutdown-timeout", "duration", 1000, 300_000),
    "grpcGoawayAfterNatsDown": ("--grpc-goaway-after-nats-down", "duration-or-off", 1000,
                                3_600_000),
}


def fmt_ms(ms):
    """Milliseconds as the shortest single-unit duration: 300000 -> 5m, 1500 -> 1500ms."""
    if ms == 0:
        return "0"
    for unit in ("h", "m", "s"):
        if ms % MS[unit] == 0:
            return f"{ms // MS[unit]}{unit}"
    return f"{ms}ms"


# --- integer ranges as regular expressions (decimal, no leading zeros) ----------------------
def _digit(a, b):
    return a if a == b else f"[{a}-{b}]"


def _same_length(a, b):
    """Alternatives matching every number from a to b, both strings of the same length."""
    if a == b:
        return [a]
    if len(a) == 1:
        return [_digit(a, b)]
    n = len(a) - 1
    if a[0] == b[0]:
        return [a[0] + rest for rest in _same_length(a[1:], b[1:])]
    out = []
    lo, hi = int(a[0]), int(b[0])
    if a[1:] == "0" * n:
        first = lo
    else:
        out += [a[0] + rest for rest in _same_length(a[1:], "9" * n)]
        first = lo + 1
    last = hi if b[1:] == "9" * n else hi - 1
    if first <= last:
        out.append(_digit(str(first), str(last)) + ("[0-9]" if n == 1 else f"[0-9]{{{n}}}"))
    if b[1:] != "9" * n:
        out += [b[0] + rest for rest in _same_length("0" * n, b[1:])]
    return out


def int_range_regex(lo, hi):
    alts = []
    for digits in range(len(str(lo)), len(str(hi)) + 1):
        a = max(lo, 0 if digits == 1 else 10 ** (digits - 1))
        b = min(hi, 10 ** digits - 1)
        if a <= b:
            alts += _same_length(str(a), str(b))
    return alts[0] if len(alts) == 1 else "(" + "|".join(alts) + ")"


def duration_pattern(lo, hi, off=False):
    """Every "<number><unit>" from lo to hi ms (and "0" when lo is 0), and nothing else.
    With `off`, also every spelling of 0 (0, 0s, 0ms, ...), whatever lo is."""
    alts = ["0"] if lo == 0 or off else []
    if off and lo > 0:
        alts.append("0(ms|s|m|h)")
    for unit in ("ms", "s", "m", "h"):
        a = -(-lo // MS[unit])  # ceiling
        b = hi // MS[unit]
        if a <= b:
            alts.append(int_range_regex(a, b) + unit)
    return "^(" + "|".join(alts) + ")$"


def range_properties():
    props = {}
    for key, (flag, kind, lo, hi) in RANGES.items():
        if kind == "integer":
            props[key] = {"type": "integer", "minimum": lo, "maximum": hi,
                          "description": f"{lo} to {hi} ({flag})"}
            continue
        off = kind == "duration-or-off"
        zero = lo == 0 or off
        prop = {"type": ["string", "integer"] if zero else "string",
                "pattern": duration_pattern(lo, hi, off)}
        if zero:
            prop.update({"minimum": 0, "maximum": 0})  # a bare 0, as --set writes it
        span = f"{fmt_ms(lo)} to {fmt_ms(hi)}"
        prop["description"] = ((f"0 (off) or a duration from {span}" if off else
                                f"duration from {span}") + f" ({flag}): a whole number "
                               "and one unit, ms, s, m or h (90s, not 1m30s)")
        props[key] = prop
    return props


# --- values.yaml: defaults and the comment above each key ----------------------------------
def yaml_comments(path):
    """{"a.b.c": "comment text"} from the comment lines directly above each key.

    Comment lines indented further than the key's own comment (commented-out examples) and
    comment blocks separated from the key by a blank line are not part of its text.
    """
    out, stack, block = {}, [], []
    for line in open(path):
        stripped = line.strip()
        if not stripped:
            block = []
            continue
        if stripped.startswith("#"):
            body = stripped[1:]
            if body.startswith("   ") or body.strip().startswith("- ") and ":" in body:
                continue  # an example, not prose
            block.append(body.strip())
            continue
        m = re.match(r"^( *)([A-Za-z0-9_]+):", line)
        if m:
            indent = len(m.group(1))
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, m.group(2)))
            if block:
                out[".".join(k for _, k in stack)] = " ".join(block)
        block = []
    return out


def render_default(value):
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, str):
        return "`\"\"`" if value == "" else f"`{value}`"
    if isinstance(value, (dict, list)):
        text = json.dumps(value, separators=(", ", ": "))
        return f"`{text}`" if len(text) <= 60 else "see values.yaml"
    return f"`{value}`"


FRIENDLY_PATTERNS = {
    "^([a-z]([-a-z0-9]*[a-z0-9])?)?$": "a DNS label (lower case, digits, `-`) or empty",
    "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$": "a Kubernetes object name or empty",
    "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "a DNS name (lower case, digits, `-.`)",
    "^([0-9]+(\\.[0-9]+)?(h|m|s))+$": "a Go duration (2160h, 90m)",
    "^[-._a-zA-Z0-9]*$": "a Secret/ConfigMap key (letters, digits, `-._`) or empty",
    "^[-._a-zA-Z0-9]+$": "a ConfigMap key (letters, digits, `-._`)",
    "^(sha256:[a-f0-9]{64})?$": "`sha256:` and 64 hex digits, or empty",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^$": "an image tag or empty",
    "^[^\\s:@]+(:[0-9]+)?(/[^\\s:@]+)*$": "an image repository without tag or digest",
    "^([0-9]+(ms|s|m|h|d|w|y))+$": "a Prometheus duration (30s, 1m)",
    "^\\S*$": "no whitespace",
    "^[A-Za-z0-9_-]+$": "letters, digits, `-`, `_`",
    "^[^\"\\\\]*$": "no `\"` or `\\`",
    "^(U[A-Z2-7]{55})?$": "a public user nkey (`U…`) or empty",
    "^--[a-z]": "flags (`--name=value`)",
}


def allowed(schema, description_is_format=True):
    """What the schema accepts, in words. A "description" next to a pattern or a range says
    the accepted format unless it is the only text there is (then it is the meaning)."""
    parts = []
    if "enum" in schema:
        parts.append(", ".join(f"`{json.dumps(v) if not isinstance(v, str) else v}`"
                               for v in schema["enum"]))
    types = schema.get("type")
    if description_is_format and "description" in schema and (
            "pattern" in schema or "minimum" in schema):
        return schema["description"]
    if "pattern" in schema:
        parts.append(FRIENDLY_PATTERNS.get(schema["pattern"], f"matches `{schema['pattern']}`"))
    if "minimum" in schema and "maximum" in schema:
        parts.append(f"{schema['minimum']} to {schema['maximum']}")
    elif "minimum" in schema:
        parts.append(f"≥ {schema['minimum']}")
    items = schema.get("items")
    if isinstance(items, dict) and not items.get("properties"):
        inner = allowed(items)
        if inner and inner not in ("object", "string"):
            parts.append(f"list of: {inner}")
    if schema.get("minItems"):
        parts.append(f"at least {schema['minItems']} item{'s' if schema['minItems'] > 1 else ''}")
    if not parts and types:
        parts.append(" or ".join(types) if isinstance(types, list) else types)
    return "; ".join(parts)


def rows(schema, values, comments, path=""):
    """One row per documented value, walking the schema (and values.yaml for defaults)."""
    out = []
    props = schema.get("properties", {})
    keys = list(values.keys()) if isinstance(values, dict) else []
    keys += [k for k in props if k not in keys]
    for key in keys:
        sub = props.get(key, {})
        full = f"{path}.{key}" if path else key
        value = values.get(key) if isinstance(values, dict) else None
        has_default = isinstance(values, dict) and key in values
        if sub.get("properties") and (isinstance(value, dict) or not has_default):
            out += rows(sub, value if isinstance(value, dict) else {}, comments, full)
            continue
        meaning = comments.get(full, "")
        commented = bool(meaning)
        item = sub.get("items", {})
        if not meaning and "description" in sub:
            meaning = sub["description"]
        if not meaning:
            # A list item's key documented at the top level: nats.namedConnections[].auth.x
            # is nats.auth.x for one connection.
            general = re.sub(r"\.[A-Za-z]+\[\]", "", full)
            if general != full and general in comments:
                meaning = f"as `{general}`, for this item"
        out.append((full, render_default(value) if has_default else "",
                    allowed(sub, description_is_format=commented or full.startswith("config."))
                    if sub else "", meaning))
        if isinstance(item, dict) and item.get("properties"):
            out += rows(item, {}, comments, full + "[]")
    return out


def readme_table(schema):
    values = yaml.safe_load(open(VALUES))
    comments = yaml_comments(VALUES)
    lines = ["| value | default | allowed | meaning |", "|---|---|---|---|"]
    undocumented = []
    for key, default, allow, meaning in rows(schema, values, comments):
        if not meaning:
            undocumented.append(key)
        cells = [f"`{key}`", default, allow, meaning]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if undocumented:
        sys.exit("values without a meaning (add a comment above the key in values.yaml, or a "
                 "\"description\" in values.schema.json for keys only the schema has): "
                 + ", ".join(undocumented))
    return "\n".join(lines)


def generate():
    """{path: new content} for every file this script owns (parts of)."""
    schema = json.load(open(SCHEMA))
    config = schema["properties"]["config"]["properties"]
    for key, prop in range_properties().items():
        config[key] = prop
    schema_text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

    readme = open(README).read() if os.path.exists(README) else f"{START}\n{END}\n"
    if START not in readme or END not in readme:
        sys.exit(f"{README} lacks the markers {START} ... {END}")
    table = readme_table(schema)  # from the schema as it will be written
    head, rest = readme.split(START, 1)
    tail = rest.split(END, 1)[1]
    note = ("<!-- generated by scripts/chart-values.py from values.yaml and values.schema.json; "
            "do not edit by hand -->")
    readme_text = f"{head}{START}\n{note}\n\n{table}\n\n{END}{tail}"
    return {SCHEMA: schema_text, README: readme_text}


def self_test():
    """The generated patterns accept exactly the in-range single-unit durations."""
    bad = 0
    for key, (flag, kind, lo, hi) in RANGES.items():
        if kind == "integer":
            continue
        off = kind == "duration-or-off"
        pattern = re.compile(duration_pattern(lo, hi, off))
        for unit, scale in MS.items():
            top = hi // scale + 2
            step = max(1, top // 20000)
            numbers = set(range(0, min(top, 2000))) | set(range(0, top, step))
            numbers |= {lo // scale - 1, lo // scale, lo // scale + 1, hi // scale, hi // scale + 1}
            for n in sorted(x for x in numbers if x >= 0):
                value = f"{n}{unit}"
                if bool(pattern.match(value)) != (lo <= n * scale <= hi or (off and n == 0)):
                    print(f"FAIL {key}: pattern {'accepts' if pattern.match(value) else 'refuses'} {value}")
                    bad += 1
        for value in ("1m30s", "01s", "1.5s", " 2s", "2s ", "2", "s", "", "-1s"):
            if pattern.match(value):
                print(f"FAIL {key}: pattern accepts {value!r}")
                bad += 1
        if bool(pattern.match("0")) != (lo == 0 or off):
            print(f"FAIL {key}: pattern and \"0\"")
            bad += 1
    print("PASS duration patterns accept exactly their ranges" if not bad else
          f"FAIL duration patterns: {bad} wrong answers")
    return 1 if bad else 0


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in generate().items():
        current = open(path).read() if os.path.exists(path) else ""
        if current == text:
            continue
        stale.append(os.path.relpath(path, ROOT))
        if not check:
            with open(path, "w") as f:
                f.write(text)
    if check and stale:
        print("out of date (run scripts/chart-values.py): " + ", ".join(stale))
        return 1
    print(("up to date" if not stale else "rewrote " + ", ".join(stale)) if not check
          else "chart values docs and schema ranges are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks that the error messages quoted in a doc still come from the scaler.

    docs_messages.py DOC SOURCE_DIR

Every line of a ```error fenced block in DOC is a message as the scaler writes it, with <...>
standing for the parts that vary and an optional leading gRPC code ("NOT_FOUND: ..."). The
fixed text between the placeholders (cut further at quotes, ": " and "; ", where the C++ code
joins pieces) must occur in a string literal under SOURCE_DIR, so a reworded message makes
the doc fail here instead of silently going stale. Prints PASS/FAIL lines.
"""
import pathlib
import re
import sys

CODES = ("OK|CANCELLED|UNKNOWN|INVALID_ARGUMENT|DEADLINE_EXCEEDED|NOT_FOUND|ALREADY_EXISTS|"
         "PERMISSION_DENIED|RESOURCE_EXHAUSTED|FAILED_PRECONDITION|ABORTED|OUT_OF_RANGE|"
         "UNIMPLEMENTED|INTERNAL|UNAVAILABLE|DATA_LOSS|UNAUTHENTICATED")


def literals(source_dir):
    """All C++ string literals under source_dir, adjacent ones joined, escapes undone."""
    out = []
    for path in sorted(pathlib.Path(source_dir).rglob("*")):
        if path.suffix not in (".cc", ".h"):
            continue
        text = path.read_text(errors="replace")
        # "abc "
        #     "def"  ->  "abc def"
        text = re.sub(r'"\s*\n\s*"', "", text)
        for lit in re.findall(r'"((?:[^"\\\n]|\\.)*)"', text):
            out.append(lit.replace('\\"', '"').replace("\\\\", "\\").replace("\\n", "\n"))
    return "\x00".join(out)


def chunks(message):
    message = re.sub(rf"^({CODES}): ", "", message)
    for part in re.split(r"<[^>]*>", message):
        for chunk in re.split(r"[\"']|: |; ", part):
            chunk = chunk.strip()
            if len(chunk) >= 4:
                yield chunk


def main():
    doc, source_dir = sys.argv[1], sys.argv[2]
    text = open(doc).read()
    blocks = re.findall(r"^```error\n(.*?)^```", text, re.M | re.S)
    source = literals(source_dir)
    print(("PASS" if blocks else "FAIL") + f" {doc}: has ```error blocks ({len(blocks)})")
    for block in blocks:
        for line in filter(None, (l.strip() for l in block.splitlines())):
            missing = [c for c in chunks(line) if c not in source]
            short = line if len(line) < 90 else line[:87] + "..."
            if missing:
                print(f"FAIL {doc}: message not in the scaler's source: {short} (missing: {missing})")
            else:
                print(f"PASS {doc}: message matches the source: {short}")


if __name__ == "__main__":
    main()

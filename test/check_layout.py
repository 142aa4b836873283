#!/usr/bin/env python3
"""The layout rules of scaler/ (docs/architecture.md), checked on the tree.

1. Rooms of the pure core include only down the allowed arrows:
   a file under scaler/core/<room>/ includes "jss/core/<other>/..." only when
   <other> is <room> or one of ALLOWED[<room>]; the core includes no adapter
   header ("jss/nats/...", "jss/grpc/...", ...) and no I/O library.
2. A room's public headers live in <room>/include/jss/core/<room>/ (the
   include path names the room, so an arrow is visible at the #include);
   headers in <room>/src/ are private to the room.
3. Sizes: no source file over MAX_FILE_LINES lines, no concept folder
   (scaler/<layer>/, or each room of a layer in rooms: scaler/core/<room>/,
   scaler/nats/<room>/) over MAX_FOLDER_LINES.

Exit 0 when every rule holds; else 1, one line per violation naming the file
and the rule. `--self-test` builds a small tree with one violation of each
rule in a temporary directory and fails unless each is reported.
"""
import os
import re
import sys
import tempfile

ALLOWED = {
    "base": set(),
    "trigger": {"base"},
    "lag": {"trigger", "base"},
    "push": {"lag", "trigger", "base"},
    "policy": {"trigger", "base"},
}
ADAPTERS = ("nats", "grpc", "metrics", "server", "app", "logging", "tools", "proto")
# Libraries that do I/O (or would drag it in): the core must not see them.
FORBIDDEN_SYSTEM = re.compile(
    r"^(nats/|nats\.h|grpc|grpcpp/|spdlog/|prometheus/|civetweb|CLI/|sys/socket|netinet/|"
    r"arpa/|fstream$|filesystem$)")
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
SOURCE_EXT = (".cc", ".h")
MAX_FILE_LINES = 600
MAX_FOLDER_LINES = 1600


def sources(root):
    for dirpath, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith(SOURCE_EXT):
                yield os.path.join(dirpath, name)


def line_count(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for _ in f)


def check(repo):
    problems = []
    core = os.path.join(repo, "scaler", "core")
    for room in sorted(os.listdir(core)):
        room_dir = os.path.join(core, room)
        if not os.path.isdir(room_dir):
            continue
        if room not in ALLOWED:
            problems.append(f"scaler/core/{room}/: not a known room (add it to ALLOWED in "
                            f"test/check_layout.py and to docs/architecture.md)")
            continue
        include_root = os.path.join(room_dir, "include")
        for path in sources(room_dir):
            rel = os.path.relpath(path, repo)
            # Public headers (under include/) sit under the path that names the
            # room; a header in src/ is private to the room and may stay there.
            if path.endswith(".h") and path.startswith(include_root + os.sep):
                expected = os.path.join(include_root, "jss", "core", room)
                if os.path.dirname(path) != expected:
                    problems.append(f"{rel}: a header of room {room} belongs in "
                                    f"scaler/core/{room}/include/jss/core/{room}/")
            with open(path, encoding="utf-8", errors="replace") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    quote, target = m.groups()
                    where = f"{rel}:{number}"
                    if quote == '"':
                        parts = target.split("/")
                        if parts[0] == "jss" and len(parts) > 2 and parts[1] == "core":
                            other = parts[2]
                            if other != room and other not in ALLOWED[room]:
                                allowed = ", ".join(sorted(ALLOWED[room])) or "none"
                                problems.append(f"{where}: room {room} includes {target}: "
                                                f"{room} may include only {allowed}")
                        elif parts[0] == "jss" and len(parts) > 1 and parts[1] in ADAPTERS:
                            problems.append(f"{where}: the core includes the adapter header "
                                            f"{target}")
                    elif FORBIDDEN_SYSTEM.match(target):
                        problems.append(f"{where}: the core includes <{target}>, an I/O "
                                        f"library; the core does no I/O")
    # A concept folder is a layer (scaler/<layer>/), or, in a layer split into
    # rooms (subfolders with an include/ or src/ of their own), each room.
    scaler = os.path.join(repo, "scaler")
    folders = []
    for layer in sorted(os.listdir(scaler)):
        layer_dir = os.path.join(scaler, layer)
        if not os.path.isdir(layer_dir):
            continue
        rooms = [os.path.join(layer_dir, d) for d in sorted(os.listdir(layer_dir))
                 if d not in ("include", "src") and
                 any(os.path.isdir(os.path.join(layer_dir, d, s)) for s in ("include", "src"))]
        folders += rooms or [layer_dir]
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        total = 0
        for path in sources(folder):
            n = line_count(path)
            total += n
            if n > MAX_FILE_LINES:
                problems.append(f"{os.path.relpath(path, repo)}: {n} lines, over "
                                f"{MAX_FILE_LINES}: split it by job")
        if total > MAX_FOLDER_LINES:
            problems.append(f"{os.path.relpath(folder, repo)}/: {total} lines of sources, over "
                            f"{MAX_FOLDER_LINES}: split the concept into rooms")
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as tmp:
        def write(rel, text):
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        write("scaler/core/trigger/src/a.cc", '#include "jss/core/push/push_hub.h"\n')
        write("scaler/core/lag/src/b.cc", '#include "jss/nats/nats_connection.h"\n')
        write("scaler/core/base/src/c.cc", "#include <nats/nats.h>\n")
        write("scaler/core/policy/include/jss/core/d.h", "#pragma once\n")
        write("scaler/core/push/src/e.cc", "\n" * (MAX_FILE_LINES + 1))
        for name in ("f", "g", "h"):  # each under the file limit, together over the folder's
            write(f"scaler/nats/src/{name}.cc", "\n" * (MAX_FOLDER_LINES // 3 + 1))
        write("scaler/core/push/src/fine.cc", '#include "jss/core/lag/lag.h"\n')
        write("scaler/core/push/src/private.h", "#pragma once\n")  # private: allowed
        got = check(tmp)
        expected = ["trigger/src/a.cc:1: room trigger includes jss/core/push/push_hub.h",
                    "lag/src/b.cc:1: the core includes the adapter header",
                    "base/src/c.cc:1: the core includes <nats/nats.h>",
                    "policy/include/jss/core/d.h: a header of room policy belongs",
                    "push/src/e.cc: 601 lines",
                    f"scaler/nats/: {3 * (MAX_FOLDER_LINES // 3 + 1)} lines of sources"]
        missing = [e for e in expected if not any(e in p for p in got)]
        extra = [p for p in got if not any(e in p for e in expected)]
        for m in missing:
            print(f"self-test: not reported: {m}")
        for x in extra:
            print(f"self-test: reported wrongly: {x}")
        return 1 if missing or extra else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    repo = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    problems = check(repo)
    for p in problems:
        print(p)
    if not problems:
        print("layout: the core's rooms include only down the allowed arrows; no file over "
              f"{MAX_FILE_LINES} lines, no folder over {MAX_FOLDER_LINES}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Runs a real nats-server with the users of platform/bootstrap/components/01-nats.yaml and
checks what each one may do.

  nats_users_check.py --root REPO

The chart's config.merge is turned into server configuration the way the NATS chart 1.1.5 does
(helm/charts/nats/templates/_helpers.tpl, nats.formatConfig: the map as JSON, "<< X >>" strings
unquoted; nats_chart_conf.py derives the whole nats.conf, test/e2e/natscli runs it), the password variables get random values through the environment (as the Secret
does in the cluster), and a small NATS protocol client checks: clients without credentials
(tenants) still use JetStream; the scaler's user reads consumer and stream info but cannot
publish data, manage JetStream or subscribe to $JS; a wrong password is refused. A copy with a
permissive scaler user must fail the same probes (the check can fail).

Prints "PASS nats-users: ..." / "FAIL nats-users: ..."; exits 1 if anything failed.
"""

import argparse
import copy
import glob
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

from nats_chart_conf import format_config

NATS_APP = "platform/bootstrap/components/01-nats.yaml"
SCALER_APP = "platform/bootstrap/components/02-jetstream-scaler.yaml"


def chart_config(merge, store_dir):
    """nats.formatConfig over our merge map, plus what a test server needs (JetStream store)."""
    conf = copy.deepcopy(merge)
    conf["jetstream"] = {"store_dir": store_dir, "max_memory_store": "<< 64MB >>", "max_file_store": "<< 256MB >>"}
    return format_config(conf)


class Client:
    """Just enough of the NATS client protocol: CONNECT, PUB, SUB, request/reply, -ERR."""

    def __init__(self, port, user=None, password=None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.settimeout(2)
        self.buf = b""
        self.line()  # INFO
        connect = {"verbose": False, "pedantic": False, "protocol": 1}
        if user:
            connect.update({"user": user, "pass": password})
        self.sock.sendall(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        self.connected = self.line()  # PONG, or -ERR 'Authorization Violation'

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                return None
            if not data:
                return None
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n", 1)
        return head.decode(errors="replace")

    def until_pong(self, text):
        """Sends text + PING; returns every line up to the PONG (errors come before it)."""
        self.sock.sendall(text.encode() + b"\r\nPING\r\n")
        out = []
        while True:
            line = self.line()
            if line is None or line == "PONG":
                return out
            out.append(line)

    def request(self, subject, payload, inbox):
        self.sock.sendall(f"SUB {inbox} {abs(hash(inbox)) % 100000}\r\n".encode())
        self.sock.sendall(f"PUB {subject} {inbox} {len(payload)}\r\n{payload}\r\n".encode())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = self.line()
            if line is None:
                continue
            if line.startswith("-ERR"):
                return line
            if line.startswith("MSG "):
                return self.line() or ""
        return "no reply"

    def close(self):
        self.sock.close()


def start_server(conf_text, env, workdir):
    conf = os.path.join(workdir, "nats.conf")
    with open(conf, "w", encoding="utf-8") as f:
        f.write(conf_text)
    ports_dir = os.path.join(workdir, "ports")
    os.makedirs(ports_dir)
    log = open(os.path.join(workdir, "server.log"), "w", encoding="utf-8")
    proc = subprocess.Popen(["nats-server", "-c", conf, "-p", "-1", "-m", "-1", "--ports_file_dir", ports_dir],
                            env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        files = glob.glob(os.path.join(ports_dir, "*.ports"))
        if files:
            try:
                with open(files[0], encoding="utf-8") as f:
                    url = json.load(f)["nats"][0]
                return proc, int(url.rsplit(":", 1)[1])
            except (ValueError, KeyError, IndexError):
                pass
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    with open(os.path.join(workdir, "server.log"), encoding="utf-8") as f:
        raise RuntimeError("nats-server did not start:\n" + f.read()[-1500:])


def passwords(merge, first="p"):
    """The password variables with values as the runbook makes them: "p" + hex."""
    # nats-server parses a variable's value like a config value: one that starts with a digit is
    # lexed as a number and the server refuses to start. docs/platform-runbook.md therefore
    # generates passwords as "p" + hex, exactly like this.
    return {n: first + secrets.token_hex(16) for n in re.findall(r"<<\s*\$(\w+)\s*>>", json.dumps(merge))}


def digit_first_refused(values):
    """Why the runbook prefixes passwords: hex can start like a number ("1e5...", an exponent),
    and such a value stops nats-server."""
    merge = values["config"]["merge"]
    workdir = tempfile.mkdtemp(prefix="platform-nats-users-")
    try:
        proc, _ = start_server(chart_config(merge, os.path.join(workdir, "js")), passwords(merge, "1e5"), workdir)
    except RuntimeError:
        return True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    proc.terminate()
    proc.wait(timeout=10)
    return False


def probe(values, scaler_user):
    """[(name, ok, detail)] for the server configured by these chart values."""
    merge = values["config"]["merge"]
    env = passwords(merge)
    users = {u["user"]: u for u in merge.get("authorization", {}).get("users", [])}
    scaler_pw = env.get(re.fullmatch(r"<<\s*\$(\w+)\s*>>", str(users.get(scaler_user, {}).get("password", ""))).group(1)
                        if scaler_user in users else "", "")
    workdir = tempfile.mkdtemp(prefix="platform-nats-users-")
    results = []
    proc = None
    try:
        proc, port = start_server(chart_config(merge, os.path.join(workdir, "js")), env, workdir)
        tenant = Client(port)
        results.append(("a client without credentials connects (no_auth_user)", tenant.connected == "PONG",
                        tenant.connected))
        created = tenant.request("$JS.API.STREAM.CREATE.PLATFORM_CHECK",
                                 json.dumps({"name": "PLATFORM_CHECK", "subjects": ["check.agent.*"]}), "_INBOX.t.1")
        results.append(("it creates a stream", "stream_create_response" in created and '"error"' not in created,
                        created[:160]))
        consumer = tenant.request("$JS.API.CONSUMER.DURABLE.CREATE.PLATFORM_CHECK.check-workers",
                                  json.dumps({"stream_name": "PLATFORM_CHECK", "config": {
                                      "durable_name": "check-workers", "ack_policy": "explicit"}}), "_INBOX.t.2")
        results.append(("it creates a durable consumer", "consumer_create_response" in consumer
                        and '"error"' not in consumer, consumer[:160]))
        errs = tenant.until_pong("PUB check.agent.task 4\r\ntask")
        results.append(("it publishes work", not errs, errs))
        tenant.close()

        scaler = Client(port, scaler_user, scaler_pw)
        results.append((f"user {scaler_user} logs in with the password from the Secret", scaler.connected == "PONG",
                        scaler.connected))
        info = scaler.request("$JS.API.CONSUMER.INFO.PLATFORM_CHECK.check-workers", "", "_INBOX.s.1")
        results.append((f"{scaler_user} reads consumer info (lag)", '"num_pending":1' in info, info[:160]))
        sinfo = scaler.request("$JS.API.STREAM.INFO.PLATFORM_CHECK", "", "_INBOX.s.2")
        results.append((f"{scaler_user} reads stream info", "stream_info_response" in sinfo
                        and '"error"' not in sinfo, sinfo[:160]))
        ainfo = scaler.request("$JS.API.INFO", "", "_INBOX.s.3")
        results.append((f"{scaler_user} reads the JetStream API level ($JS.API.INFO)",
                        "account_info_response" in ainfo and '"error"' not in ainfo, ainfo[:160]))
        for what, text in (("publish data", "PUB check.agent.task 4\r\nfake"),
                           ("delete a stream", "PUB $JS.API.STREAM.DELETE.PLATFORM_CHECK 0\r\n"),
                           ("create a consumer", "PUB $JS.API.CONSUMER.CREATE.PLATFORM_CHECK 2\r\n{}"),
                           ("subscribe to $JS.API.>", "SUB $JS.API.> 90"),
                           ("subscribe to $SYS.>", "SUB $SYS.> 91")):
            errs = scaler.until_pong(text)
            results.append((f"{scaler_user} may not {what}", any("Permissions Violation" in e for e in errs), errs))
        errs = scaler.until_pong("SUB check.agent.* 92")
        results.append((f"{scaler_user} subscribes to tenant subjects (push wake-up)", not errs, errs))
        scaler.close()
        wrong = Client(port, scaler_user, "wrong-" + secrets.token_hex(4))
        results.append(("a wrong password is refused", "Authorization Violation" in (wrong.connected or ""),
                        wrong.connected))
        wrong.close()
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=".")
    args = ap.parse_args()
    if shutil.which("nats-server") is None:
        print("FAIL nats-users: nats-server is not installed (scripts/packages-test.txt)")
        return 1
    with open(os.path.join(args.root, NATS_APP), encoding="utf-8") as f:
        values = yaml.safe_load(f)["spec"]["source"]["helm"]["valuesObject"]
    with open(os.path.join(args.root, SCALER_APP), encoding="utf-8") as f:
        scaler_user = yaml.safe_load(f)["spec"]["source"]["helm"]["valuesObject"]["nats"]["auth"]["user"]
    failed = 0
    try:
        for name, ok, detail in probe(values, scaler_user):
            print(f"{'PASS' if ok else 'FAIL'} nats-users: {name}")
            if not ok:
                failed += 1
                print(f"       - got {detail!r}")
        # The probes can fail: a scaler user allowed to publish anywhere must be caught.
        loose = copy.deepcopy(values)
        for u in loose["config"]["merge"]["authorization"]["users"]:
            if u["user"] == scaler_user:
                u["permissions"]["publish"]["allow"].append(">")
        ok = digit_first_refused(values)
        print(f"{'PASS' if ok else 'FAIL'} nats-users: a hex password that starts like a number (1e5...) stops "
              "nats-server (why the runbook generates p<hex>)")
        failed += 0 if ok else 1
        caught = [n for n, ok, _ in probe(loose, scaler_user) if not ok]
        if caught:
            print(f"PASS negative: nats-users probes reject a scaler user that may publish '>' ({caught[0]})")
        else:
            failed += 1
            print("FAIL negative: nats-users probes passed a scaler user that may publish '>'")
    except (RuntimeError, OSError, KeyError, AttributeError) as e:
        print(f"FAIL nats-users: {type(e).__name__}: {e}")
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

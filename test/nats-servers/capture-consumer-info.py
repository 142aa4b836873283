#!/usr/bin/env python3
"""Captures $JS.API.CONSUMER.INFO replies of one nats-server release, one file per kind of consumer.

    test/nats-servers/capture-consumer-info.py "$(scripts/nats-server.sh v2.15.3)" OUT_DIR PREFIX

Starts the binary on loopback (free port, JetStream in a temporary store), creates stream S
(subjects s.>, 10 messages on s.a and 5 on s.b) and one consumer per kind, then writes each
consumer's raw INFO reply to OUT_DIR/PREFIX-<kind>. The replies seed the consumer_info fuzzer and
test/unit/consumer_info_decoder_test.cc checks the lag the decoder reads from each; the expected
numbers are in the comments below. Plain NATS protocol over a socket: no client library needed.
Needs a 2.12+ server for the `prioritized` policy, 2.11+ for pause and the other priority kinds.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

DEADLINE_S = 10


class Nats:
    """The few protocol verbs needed: SUB, PUB (with headers), MSG/HMSG replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)
        self.buf = b""
        self._line()  # INFO
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true}\r\nPING\r\n')
        while self._line() != b"PONG":
            pass
        self.sid = 0

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise RuntimeError("nats-server closed the connection")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def sub(self, subject):
        self.sid += 1
        self.sock.sendall(f"SUB {subject} {self.sid}\r\n".encode())
        return self.sid

    def pub(self, subject, payload=b"", reply=None, headers=None):
        if isinstance(payload, str):
            payload = payload.encode()
        r = f" {reply}" if reply else ""
        if headers:
            h = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            hb = h.encode()
            self.sock.sendall(f"HPUB {subject}{r} {len(hb)} {len(hb) + len(payload)}\r\n".encode()
                              + hb + payload + b"\r\n")
        else:
            self.sock.sendall(f"PUB {subject}{r} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def next_msg(self, sid):
        """The next MSG/HMSG for `sid` as (headers bytes, payload bytes); others are skipped."""
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            line = self._line()
            if line == b"PING":
                self.sock.sendall(b"PONG\r\n")
                continue
            parts = line.split()
            if not parts or parts[0] not in (b"MSG", b"HMSG"):
                continue
            if parts[0] == b"MSG":
                data = self._bytes(int(parts[-1]))
                hdr, body = b"", data
            else:
                total, hlen = int(parts[-1]), int(parts[-2])
                data = self._bytes(total)
                hdr, body = data[:hlen], data[hlen:]
            if int(parts[2]) == sid:
                return hdr, body
        raise RuntimeError(f"no message for sid {sid} within {DEADLINE_S} s")

    def request(self, subject, payload=b""):
        inbox = f"_INBOX.capture.{self.sid + 1}"
        sid = self.sub(inbox)
        self.pub(subject, payload, reply=inbox)
        _, body = self.next_msg(sid)
        return body


def api(nc, subject, body):
    reply = nc.request(subject, json.dumps(body))
    doc = json.loads(reply)
    if "error" in doc:
        raise RuntimeError(f"{subject}: {doc['error']}")
    return reply


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    binary, out_dir, prefix = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        server = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", f"{work}/store",
             "--ports_file_dir", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            ports = f"{work}/{os.path.basename(binary)}_{server.pid}.ports"
            end = time.monotonic() + DEADLINE_S
            port = None
            while port is None and time.monotonic() < end:
                if os.path.exists(ports):
                    m = re.search(r"nats://127\.0\.0\.1:(\d+)", open(ports).read())
                    port = int(m.group(1)) if m else None
                time.sleep(0.05)
            if port is None:
                raise RuntimeError("nats-server wrote no ports file")
            capture(Nats(port), out_dir, prefix)
        finally:
            server.kill()
            server.wait()


def capture(nc, out_dir, prefix):
    api(nc, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"]})
    for i in range(10):
        nc.request("s.a", f"a{i}")
    for i in range(5):
        nc.request("s.b", f"b{i}")

    def create(name, **config):
        config.update({"durable_name": name, "ack_policy": "explicit"})
        api(nc, f"$JS.API.CONSUMER.CREATE.S.{name}", {"stream_name": "S", "config": config})

    def fetch(name, batch, group=None):
        """Pulls `batch` messages and leaves them unacknowledged (they count as ack pending)."""
        inbox = f"_INBOX.fetch.{name}"
        sid = nc.sub(inbox)
        req = {"batch": batch, "expires": 2_000_000_000}
        if group:
            req["group"] = group
        nc.pub(f"$JS.API.CONSUMER.MSG.NEXT.S.{name}", json.dumps(req), reply=inbox)
        got = 0
        while got < batch:
            hdr, _ = nc.next_msg(sid)
            if not hdr.startswith(b"NATS/1.0 4"):  # a status (404, 408) is not a message
                got += 1

    # pull: filter s.a, 3 fetched and unacked -> num_pending 7, num_ack_pending 3, lag 10.
    create("pull", filter_subject="s.a")
    fetch("pull", 3)
    # push: deliver subject nobody listens on (push_bound absent); lag = all 15 pending.
    create("push", deliver_subject="deliver.push")
    # filter_subjects: both subjects, 2 fetched -> num_pending 13, num_ack_pending 2, lag 15.
    create("filters", filter_subjects=["s.a", "s.b"])
    fetch("filters", 2)
    # paused until 2100: paused true, pause_remaining; nothing delivered -> lag 15.
    create("paused", pause_until="2100-01-01T00:00:00Z")
    # pinned_client: a pull of group "jobs" pins this client; 1 fetched -> 14 + 1, lag 15.
    create("pinned", priority_groups=["jobs"], priority_policy="pinned_client",
           priority_timeout=60_000_000_000)
    fetch("pinned", 1, group="jobs")
    # overflow: priority group without a pin; 4 fetched -> 11 + 4, lag 15.
    create("overflow", priority_groups=["jobs"], priority_policy="overflow")
    fetch("overflow", 4, group="jobs")
    # prioritized (2.12+): like overflow for the counts; nothing fetched -> lag 15.
    create("prioritized", priority_groups=["jobs"], priority_policy="prioritized")

    for name in ["pull", "push", "filters", "paused", "pinned", "overflow", "prioritized"]:
        reply = nc.request(f"$JS.API.CONSUMER.INFO.S.{name}")
        with open(os.path.join(out_dir, f"{prefix}-{name}"), "wb") as f:
            f.write(reply)
        doc = json.loads(reply)
        print(f"{name}: num_pending {doc.get('num_pending')} num_ack_pending "
              f"{doc.get('num_ack_pending')} paused {doc.get('paused', False)} "
              f"priority_groups {doc.get('priority_groups')}")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Runs the real scaler the way the chart's Deployment would, against real nats-servers.

  live.py SCENARIO RENDERED.yaml WORKDIR [--observe DASHBOARD ALERTS]

The container args and env of the rendered Deployment are taken as they are, with
only what a laptop cannot have rewritten: listen addresses become 127.0.0.1:0, NATS
URLs point at local nats-servers started for the scenario, secret-mount paths
(/etc/jetstream-scaler/<volume>/<key>) point at files written here (tokens,
passwords, a creds file, certificates from openssl), and secretKeyRef env values are
filled in. Each scenario's nats-server requires what the chart configured (token,
user/password, TLS with client certificates), so "ready" proves the wiring.

With --observe (the default scenario) it also drives KEDA-like traffic with
jss-keda-query, checks the JSON log fields, saves the /metrics scrape as
WORKDIR/metrics.txt for promtool, and runs every dashboard query and alert rule on a
real Prometheus scraping the scaler.

Prints "PASS name" / "FAIL name: why" lines; exit status 1 if anything failed.
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import yaml

BIN = os.environ.get("JETSTREAM_SCALER_BIN", "")
NATS = os.environ.get("NATS_SERVER_BIN", "nats-server")
MOUNT_RE = re.compile(r"^/etc/jetstream-scaler/([a-z0-9-]+)/(.+)$")
TOKEN = "tok-S3cret-7f1c9e"
TENANT_TOKEN = "tok-Tenant-5d2e80"
PASSWORD = "pw-S3cret-a91b"
USER = "scaler-user"

failures = 0
procs = []


def report(ok, name, why=""):
    global failures
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {why}", flush=True)
    return ok


def cleanup():
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_for(fn, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return None


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError:
        return None, ""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
            "-subj", f"/CN={name}", cwd=d)


def make_leaf(d, name, ca, dns=()):
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        sans = ",".join(["IP:127.0.0.1", "DNS:localhost"] + [f"DNS:{n}" for n in dns])
        f.write(f"subjectAltName={sans}\n"
                "extendedKeyUsage=serverAuth,clientAuth\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=d)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext",
            cwd=d)


def fake_creds():
    """A well-formed .creds file (user JWT + nkey seed); a server without auth accepts it."""
    def crc16(data):
        crc = 0
        for b in data:
            crc ^= b << 8
            for _ in range(8):
                crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
                crc &= 0xFFFF
        return crc
    prefix = 20 << 3  # user
    raw = bytes([(18 << 3) | (prefix >> 5), (prefix & 31) << 3]) + os.urandom(32)
    raw += struct.pack("<H", crc16(raw))
    seed = base64.b32encode(raw).decode().rstrip("=")
    jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJ0ZXN0In0.c2ln"
    return (f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
            f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n")


def start_nats(workdir, name, extra):
    d = os.path.join(workdir, name)
    os.makedirs(d, exist_ok=True)
    log = open(os.path.join(d, "server.log"), "w")
    p = subprocess.Popen([NATS, "-a", "127.0.0.1", "-p", "-1", "-m", "-1",
                          "--ports_file_dir", d, *extra],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d)
    procs.append(p)

    def ports():
        for f in os.listdir(d):
            if f.endswith(".ports"):
                try:
                    return json.load(open(os.path.join(d, f)))
                except ValueError:
                    return None
        return None
    info = wait_for(ports, 10)
    if not info:
        raise RuntimeError(f"nats-server {name} did not start: {open(log.name).read()[-400:]}")
    port = int(info["nats"][0].rsplit(":", 1)[1])
    return port


def write_volume(vol_dir, files):
    """Writes files the way the kubelet fills a Secret/ConfigMap volume: a timestamped
    directory, a `..data` symlink to it swapped atomically on update, and each key a
    symlink through `..data`. Calling it again is an update."""
    os.makedirs(vol_dir, exist_ok=True)
    stamp = f"..{time.time_ns()}"
    os.mkdir(os.path.join(vol_dir, stamp))
    for key, content in files.items():
        path = os.path.join(vol_dir, stamp, key)
        with open(path, "w") as f:
            f.write(content)
        os.chmod(path, 0o440)
    tmp = os.path.join(vol_dir, "..data_tmp")
    os.symlink(stamp, tmp)
    old = os.path.realpath(os.path.join(vol_dir, "..data")) if os.path.lexists(
        os.path.join(vol_dir, "..data")) else None
    os.replace(tmp, os.path.join(vol_dir, "..data"))
    for key in files:
        link = os.path.join(vol_dir, key)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", key), link)
    if old:
        shutil.rmtree(old)


def deployment(rendered):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    dep = next(d for d in docs if d["kind"] == "Deployment")
    c = dep["spec"]["template"]["spec"]["containers"][0]
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    return c.get("args", []), c.get("env", []), configmaps


def map_args(args, env, mounts_dir, nats_urls):
    """nats_urls: connection name -> local URL ("default" for the unnamed one)."""
    named = {a.split("=", 2)[1] for a in args
             if a.startswith("--nats-url=") and a.count("=") >= 2 and "://" not in a.split("=", 2)[1]}
    out, files = [], {}
    for a in args:
        flag, _, val = a.partition("=")
        prefix = ""
        head, eq, rest = val.partition("=")
        if eq and head in named:  # NAME=VALUE: a named connection's own setting
            prefix, val = f"{head}=", rest
        if flag in ("--grpc-address", "--metrics-address", "--probe-address"):
            out.append(f"{flag}=127.0.0.1:0")
        elif flag == "--reload-interval":
            out.append(f"{flag}=1s")  # the test waits seconds, not the chart's default
        elif flag == "--nats-url":
            out.append(f"--nats-url={prefix}{nats_urls.get(prefix[:-1] or 'default', nats_urls['default'])}")
        elif MOUNT_RE.match(val):
            vol, key = MOUNT_RE.match(val).groups()
            local = os.path.join(mounts_dir, vol, key)
            files[(vol, key)] = local
            out.append(f"{flag}={prefix}{local}")
        else:
            out.append(a)
    envmap = {}
    for e in env:
        if "value" in e:
            envmap[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            envmap[e["name"]] = {"user": USER}.get(ref["key"], "")
    return out, files, envmap


class Scaler:
    def __init__(self, args, env, workdir):
        self.log_path = os.path.join(workdir, "scaler.log")
        self.log = open(self.log_path, "w")
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        base.update(env)
        self.p = subprocess.Popen([BIN, *args], stdout=self.log, stderr=subprocess.STDOUT,
                                  env=base)
        procs.append(self.p)
        self.grpc_port = self.metrics_port = None

    def text(self):
        return open(self.log_path).read()

    def wait_started(self):
        def started():
            for line in self.text().splitlines():
                if "jetstream-scaler started" in line:
                    m = re.search(r'"grpc_port":"(\d+)".*"metrics_port":"(\d+)"', line) or \
                        re.search(r"grpc_port=(\d+).*metrics_port=(\d+)", line)
                    if m:
                        return m.groups()
            if self.p.poll() is not None:
                return ("exited",)
            return None
        r = wait_for(started, 10)
        if not r or r[0] == "exited":
            return False
        self.grpc_port, self.metrics_port = int(r[0]), int(r[1])
        return True

    def url(self, path):
        return f"http://127.0.0.1:{self.metrics_port}{path}"

    def wait_ready(self, timeout=10):
        return wait_for(lambda: http_get(self.url("/readyz"))[0] == 200, timeout, 0.1)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            return self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            return None


def grpc_health(port, tls=None):
    """grpc.health.v1.Health/Check over HTTP/2 with curl; True if SERVING."""
    body = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"health-req-{os.getpid()}")
    with open(body, "wb") as f:
        f.write(b"\x00\x00\x00\x00\x00")  # uncompressed, empty HealthCheckRequest
    cmd = ["curl", "-sS", "--max-time", "5", "-o", "-", "-X", "POST",
           "-H", "content-type: application/grpc", "-H", "te: trailers",
           "--data-binary", f"@{body}"]
    if tls:
        cmd += ["--http2", "--cacert", tls["ca"]]
        if tls.get("cert"):
            cmd += ["--cert", tls["cert"], "--key", tls["key"]]
        cmd.append(f"https://localhost:{port}/grpc.health.v1.Health/Check")
    else:
        cmd += ["--http2-prior-knowledge", f"http://127.0.0.1:{port}/grpc.health.v1.Health/Check"]
    r = subprocess.run(cmd, capture_output=True)
    os.unlink(body)
    # Response frame: flag 0, length 2, field 1 (status) = 1 (SERVING).
    return r.returncode == 0 and r.stdout.endswith(b"\x08\x01"), r


def scenario_fixture(name, workdir, mounts):
    """Starts the nats-server(s) a scenario needs; returns the URL and secret files."""
    certs = os.path.join(workdir, "certs")
    os.makedirs(certs, exist_ok=True)
    files = {}
    if name == "tls":
        make_ca(certs, "nats-ca")
        make_leaf(certs, "nats-server", "nats-ca")
        make_leaf(certs, "nats-client", "nats-ca")
        make_ca(certs, "grpc-ca")
        make_leaf(certs, "grpc-server", "grpc-ca")
        make_ca(certs, "keda-ca")
        # ci/tls-values.yaml allows only this client name (clientCA.allowedNames).
        make_leaf(certs, "keda-client", "keda-ca", dns=["keda-operator.keda.svc"])
        make_leaf(certs, "other-client", "keda-ca")
        c = lambda n: open(os.path.join(certs, n)).read()
        files = {("nats-tls", "ca.crt"): c("nats-ca.crt"),
                 ("nats-tls", "tls.crt"): c("nats-client.crt"),
                 ("nats-tls", "tls.key"): c("nats-client.key"),
                 ("grpc-tls", "tls.crt"): c("grpc-server.crt"),
                 ("grpc-tls", "tls.key"): c("grpc-server.key"),
                 ("grpc-client-ca", "ca.crt"): c("keda-ca.crt"),
                 ("nats-auth", "password"): PASSWORD}
        port = start_nats(workdir, "nats", [
            "--tls", "--tlscert", os.path.join(certs, "nats-server.crt"),
            "--tlskey", os.path.join(certs, "nats-server.key"),
            "--tlscacert", os.path.join(certs, "nats-ca.crt"), "--tlsverify",
            "--user", USER, "--pass", PASSWORD])
        return f"tls://127.0.0.1:{port}", files, certs
    if name == "policy":
        files = {("nats-auth", "token"): TOKEN}
        port = start_nats(workdir, "nats", ["--auth", TOKEN])
        return f"nats://127.0.0.1:{port}", files, certs
    urls = {}
    if name == "servicemonitor":
        # default: a creds file (server without auth); tenant-a: its own token.
        files = {("nats-auth", "scaler.creds"): fake_creds(),
                 ("connections", "tenant-a/auth/token"): TENANT_TOKEN}
        urls["tenant-a"] = f"nats://127.0.0.1:{start_nats(workdir, 'tenant-a', ['--auth', TENANT_TOKEN])}"
    port = start_nats(workdir, "nats", ["-js", "-sd", os.path.join(workdir, "nats", "js")])
    urls["default"] = f"nats://127.0.0.1:{port}"
    return urls, files, certs


def run(scenario, rendered, workdir, observe):
    os.makedirs(workdir, exist_ok=True)
    mounts = os.path.join(workdir, "mounts")
    url, contents, certs = scenario_fixture(scenario, workdir, mounts)
    args, env, configmaps = deployment(rendered)
    # The policy file is the rendered ConfigMap itself.
    for data in configmaps.values():
        if "policy.json" in data:
            contents[("policy", "policy.json")] = data["policy.json"]
    urls = url if isinstance(url, dict) else {"default": url}
    url = urls["default"]
    mapped, files, envmap = map_args(args, env, mounts, urls)
    missing = [k for k in files if k not in contents]
    if not report(not missing, f"{scenario}: every mounted file has test content",
                  f"no fixture for {missing}"):
        return
    volumes = {}  # one kubelet-style volume per mounted directory
    for k, local in files.items():
        volumes.setdefault(os.path.dirname(local), {})[os.path.basename(local)] = contents[k]
    for vdir, vfiles in volumes.items():
        write_volume(vdir, vfiles)
    extra = []
    plain_url = None
    if observe:
        # A second, JetStream-less server as a named connection: reads through it fail
        # with no_responders, so the error families appear in the scrape.
        plain_url = f"nats://127.0.0.1:{start_nats(workdir, 'plain', [])}"
        extra = [f"--nats-url=plain={plain_url}"]
    s = Scaler(mapped + extra, envmap, workdir)
    if not report(s.wait_started(), f"{scenario}: the scaler accepts the chart's args and starts",
                  s.text()[-800:]):
        return
    report(s.wait_ready(), f"{scenario}: /readyz 200 (NATS connected with the chart's auth/TLS)",
           s.text()[-800:])
    status, body = http_get(s.url("/healthz"))
    report(status == 200, f"{scenario}: /healthz 200", f"{status} {body!r}")

    if scenario == "tls":
        ok, r = grpc_health(s.grpc_port, {"ca": os.path.join(certs, "grpc-ca.crt"),
                                          "cert": os.path.join(certs, "keda-client.crt"),
                                          "key": os.path.join(certs, "keda-client.key")})
        report(ok, "tls: gRPC health SERVING over TLS with a client certificate",
               f"curl rc={r.returncode} {r.stderr.decode()[-300:]}")
        ok, r = grpc_health(s.grpc_port, {"ca": os.path.join(certs, "grpc-ca.crt")})
        report(not ok, "tls: gRPC without a client certificate is refused (mTLS)",
               "the call succeeded")
        ok, r = grpc_health(s.grpc_port, {"ca": os.path.join(certs, "grpc-ca.crt"),
                                          "cert": os.path.join(certs, "other-client.crt"),
                                          "key": os.path.join(certs, "other-client.key")})
        report(not ok, "tls: a certificate of the client CA with a name not in "
               "clientCA.allowedNames is refused", "the call succeeded")
        ok, r = grpc_health(s.grpc_port)
        report(not ok, "tls: plaintext gRPC is refused", "the call succeeded")
    else:
        ok, r = grpc_health(s.grpc_port)
        report(ok, f"{scenario}: gRPC health SERVING", f"curl rc={r.returncode} "
               f"{r.stderr.decode()[-300:]}")

    if observe:
        observe_run(s, url, plain_url, workdir, *observe)
    if scenario == "policy":
        policy_run(s, os.path.join(mounts, "policy"))

    # Secret hygiene: nothing secret on the command line, in logs or in /metrics.
    _, metrics = http_get(s.url("/metrics"))
    cmdline = open(f"/proc/{s.p.pid}/cmdline", "rb").read().decode(errors="replace")
    leaks = [w for w in (TOKEN, TENANT_TOKEN, PASSWORD) if w in s.text() or w in metrics or w in cmdline]
    report(not leaks, f"{scenario}: no secret in argv, logs or /metrics", f"found {leaks}")

    rc = s.stop()
    report(rc == 0, f"{scenario}: SIGTERM -> exit 0", f"exit status {rc}")


def tools_dir():
    cands = [os.environ.get("JSS_TOOLS_DIR", ""),
             os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(BIN))), "tools")]
    for d in cands:
        if d and os.access(os.path.join(d, "jss-keda-query"), os.X_OK) and \
                os.access(os.path.join(d, "jss-jsadmin"), os.X_OK):
            return d
    return None


def observe_run(s, url, plain_url, workdir, dashboard, alerts):
    tools = tools_dir()
    if not report(tools is not None, "observe: jss-jsadmin and jss-keda-query found next to the binary",
                  "set JSS_TOOLS_DIR"):
        return
    adm = os.path.join(tools, "jss-jsadmin")
    q = os.path.join(tools, "jss-keda-query")
    addr = f"127.0.0.1:{s.grpc_port}"
    for cmd in (["add-stream", "ORDERS", "orders.>"], ["add-consumer", "ORDERS", "workers"],
                ["publish", "orders.new", "12"], ["fetch", "ORDERS", "workers", "4", "noack"]):
        subprocess.run([adm, url, *cmd], check=True, capture_output=True)

    def keda(*kv):
        return subprocess.run([q, addr, *kv], capture_output=True, text=True).stdout

    out = keda("stream=ORDERS", "consumer=workers", "lagThreshold=5")
    report("metricValue=12" in out, "observe: GetMetrics through the chart's config = 12", out)
    keda("stream=ORDERS", "consumer=typo")
    keda("stream=ORDERS", "consumer=workers", "account=plain")
    keda("stream=ORDERS", "consumer=workers", "lagThreshold=abc")

    # JSON logs: the failed RPC names the request, the ScaledObject and the consumer.
    lines = []
    for line in s.text().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            pass
    failed = [l for l in lines if l.get("consumer") == "typo"]
    want = {"request_id", "namespace", "scaledobject", "stream", "consumer", "method", "code"}
    report(failed and want <= set(failed[0]),
           "observe: JSON log of a failed RPC has request_id, namespace, scaledobject, stream, consumer",
           f"{failed[:1]}")

    status, metrics = http_get(s.url("/metrics"))
    with open(os.path.join(workdir, "metrics.txt"), "w") as f:
        f.write(metrics)
    report(status == 200 and "jetstream_scaler_nats_request_errors_total" in metrics,
           "observe: /metrics scraped (with error families)", f"status {status}")
    prometheus_run(s, q, addr, workdir, metrics, dashboard, alerts)


def policy_run(s, policy_dir):
    """The tenant policy from the chart's ConfigMap: a namespace it does not list is
    refused before any NATS traffic; a ConfigMap update (kubelet-style symlink swap)
    applies without a restart; a broken update keeps the previous policy."""
    tools = tools_dir()
    if not report(tools is not None, "policy: jss-keda-query found next to the binary", "set JSS_TOOLS_DIR"):
        return
    q = os.path.join(tools, "jss-keda-query")
    addr = f"127.0.0.1:{s.grpc_port}"

    def ask():  # jss-keda-query asks as ScaledObject default/demo
        return subprocess.run([q, addr, "stream=ORDERS", "consumer=workers"],
                              capture_output=True, text=True).stdout

    def metric(name):
        _, text = http_get(s.url("/metrics"))
        m = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    # The connection's own $JS.API.INFO probe (the API level) is a NATS request too: the
    # denied query is judged against the count once that probe has been answered.
    wait_for(lambda: metric('jetstream_scaler_nats_api_level{connection="default"}') is not None, 10, 0.2)
    requests_before = metric('jetstream_scaler_nats_requests_total{connection="default"}') or 0
    out = ask()
    report("GetMetrics:    error PERMISSION_DENIED" in out,
           "policy: namespace default, not in the chart's rules, gets PERMISSION_DENIED", out)
    report((metric('jetstream_scaler_policy_denials_total{scaledobject_namespace="default"}') or 0) >= 1,
           "policy: the denial is counted",
           "no jetstream_scaler_policy_denials_total{scaledobject_namespace=\"default\"}")
    requests_after = metric('jetstream_scaler_nats_requests_total{connection="default"}') or 0
    report(requests_after == requests_before,
           "policy: a denied query sends nothing to NATS",
           f"nats_requests_total {requests_before} -> {requests_after}")

    write_volume(policy_dir, {"policy.json": json.dumps(
        {"rules": [{"namespaces": ["default"], "streams": ["ORDERS"]}]})})
    allowed = wait_for(lambda: "PERMISSION_DENIED" not in ask(), 6, 0.5)
    report(allowed, "policy: a ConfigMap update applies without a restart", ask())
    report((metric('jetstream_scaler_policy_reloads_total{result="ok"}') or 0) >= 1,
           "policy: the reload is counted (result=ok)", "")
    write_volume(policy_dir, {"policy.json": '{"rules": [ {"namespaces": '})
    rejected = wait_for(lambda: (metric('jetstream_scaler_policy_reloads_total{result="error"}') or 0) >= 1, 6, 0.5)
    report(rejected and "PERMISSION_DENIED" not in ask(),
           "policy: a broken update is rejected and the previous policy stays", s.text()[-400:])


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def prometheus_run(s, q, addr, workdir, scrape, dashboard, alerts):
    prom = shutil.which("prometheus")
    if not report(prom is not None, "observe: prometheus server available", "not installed"):
        return
    d = os.path.join(workdir, "prometheus")
    os.makedirs(d, exist_ok=True)
    shutil.copy(alerts, os.path.join(d, "alerts.yaml"))
    cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
           "rule_files": ["alerts.yaml"],
           "scrape_configs": [{"job_name": "jetstream-scaler",
                               "static_configs": [{"targets": [f"127.0.0.1:{s.metrics_port}"],
                                                   "labels": {"namespace": "keda"}}]}]}
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        yaml.safe_dump(cfg, f)
    port = free_port()
    log = open(os.path.join(d, "prometheus.log"), "w")
    p = subprocess.Popen([prom, f"--config.file={d}/prometheus.yml",
                          f"--storage.tsdb.path={d}/data", f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=log, stderr=subprocess.STDOUT, cwd=d)
    procs.append(p)
    api = f"http://127.0.0.1:{port}/api/v1"

    def query(expr):
        st, body = http_get(f"{api}/query?" + urllib.parse.urlencode({"query": expr}))
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {st}: {body[:200]}"}

    up = wait_for(lambda: (query('up{job="jetstream-scaler"} == 1').get("data") or {}).get("result"),
                  20, 0.2)
    if not report(bool(up), "observe: Prometheus scrapes the scaler", open(log.name).read()[-500:]):
        return
    # Keep KEDA-like traffic going across several scrapes so rate() has data.
    end = time.monotonic() + 6
    while time.monotonic() < end:
        subprocess.run([q, addr, "stream=ORDERS", "consumer=workers"], capture_output=True)
        subprocess.run([q, addr, "stream=ORDERS", "consumer=typo"], capture_output=True)
        subprocess.run([q, addr, "stream=ORDERS", "consumer=workers", "account=plain"],
                       capture_output=True)
        time.sleep(0.3)

    present = set(re.findall(r"^# TYPE (\S+) ", scrape, re.M))
    dash = json.load(open(dashboard))
    subst = {"$__rate_interval": "10s", "${datasource}": "", "$job": "jetstream-scaler",
             "$namespace": ".*", "$stream": ".*"}
    bad = []
    checked = 0
    for panel in dash["panels"]:
        for t in panel.get("targets", []):
            expr = t["expr"]
            for k, v in subst.items():
                expr = expr.replace(k, v)
            r = query(expr)
            checked += 1
            if r.get("status") != "success":
                bad.append(f'{panel["title"]}: {r.get("error")}')
                continue
            families = {m for m in re.findall(r"jetstream_scaler_[a-z_]+", expr)}
            families = {re.sub(r"_(bucket|sum|count)$", "", m) for m in families}
            if families <= present and not r["data"]["result"]:
                bad.append(f'{panel["title"]}: no data for {expr}')
    report(not bad, f"observe: all {checked} dashboard queries run on real data", "; ".join(bad))

    st, body = http_get(f"{api}/rules")
    rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]] if st == 200 else []
    unhealthy = [r["name"] for r in rules if r.get("health") not in ("ok", "unknown")]
    report(len(rules) >= 5 and not unhealthy,
           f"observe: Prometheus loaded {len(rules)} alert rules, all evaluating",
           f"unhealthy: {unhealthy}, {[r.get('lastError') for r in rules]}")
    firing = query('ALERTS{alertname="JetStreamScalerDown"}')["data"]["result"]
    report(not firing, "observe: JetStreamScalerDown quiet while the scaler is up", f"{firing}")
    # The lag-read-failure alert's expression already matches the typo consumer's
    # not_found reads (it fires after 15m).
    expr = next(r["query"] for r in rules if r["name"] == "JetStreamScalerLagReadsFailing")
    res = query(expr)["data"]["result"]
    report(any(x["metric"].get("reason") == "not_found" for x in res),
           "observe: JetStreamScalerLagReadsFailing matches the typo'd consumer's not_found reads",
           f"{res}")


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    scenario, rendered, workdir = sys.argv[1:4]
    observe = None
    if len(sys.argv) > 4 and sys.argv[4] == "--observe":
        observe = sys.argv[5:7]
    if not BIN or not os.access(BIN, os.X_OK):
        report(False, f"{scenario}: JETSTREAM_SCALER_BIN", f"not executable: {BIN!r}")
        return 1
    try:
        run(scenario, rendered, workdir, observe)
    except Exception as e:  # a broken fixture is a failure, not a crash
        report(False, f"{scenario}: live run", repr(e))
    finally:
        cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

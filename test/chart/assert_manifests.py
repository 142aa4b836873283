#!/usr/bin/python3
"""Checks one `helm template` rendering of charts/jetstream-scaler.

  assert_manifests.py SCENARIO RENDERED.yaml RELEASE NAMESPACE ALERTS.yaml DASHBOARD.json

SCENARIO is the ci values file's stem (default, tls, servicemonitor, policy);
common checks run for all, then the scenario's own. Prints PASS/FAIL lines.
"""
import json
import re
import sys

import yaml

scenario, rendered, release, namespace, alerts_path, dashboard_path = sys.argv[1:7]
docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
failures = 0


def check(ok, name, why=""):
    global failures
    if ok:
        print(f"PASS {scenario}: {name}")
    else:
        failures += 1
        print(f"FAIL {scenario}: {name}: {why}")
    return ok


def one(kind):
    found = [d for d in docs if d["kind"] == kind]
    return found[0] if len(found) == 1 else None


def matches(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


kinds = sorted(d["kind"] for d in docs)
expected_kinds = {
    "default": ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"],
    "tls": ["Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"],
    "servicemonitor": ["ConfigMap", "Deployment", "PodDisruptionBudget", "PrometheusRule",
                       "Service", "ServiceAccount", "ServiceMonitor"],
    "policy": ["ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget", "Service",
               "ServiceAccount"],
    "keda": ["Deployment", "PodDisruptionBudget", "Service", "Service", "ServiceAccount"],
}[scenario]
check(kinds == expected_kinds, "rendered kinds", f"{kinds} != {expected_kinds}")

for d in docs:
    ns = d["metadata"].get("namespace")
    dashboard_cm = d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-dashboard")
    want = "monitoring" if dashboard_cm else namespace
    check(ns == want, f"{d['kind']} namespace is {want}", f"got {ns}")
    check(d["metadata"]["labels"].get("app.kubernetes.io/instance") == release,
          f"{d['kind']} has the standard labels", d["metadata"].get("labels"))

dep = one("Deployment")
svc = next((d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == release), None)
sa = one("ServiceAccount")
pdb = one("PodDisruptionBudget")
pod = dep["spec"]["template"]["spec"]
pod_labels = dep["spec"]["template"]["metadata"]["labels"]
c = pod["containers"][0]
args = c.get("args", [])
flags = {}
for a in args:
    k, _, v = a.partition("=")
    flags.setdefault(k, []).append(v)

# --- names: KEDA's scalerAddress is <release>.<namespace>.svc:6000
check(dep["metadata"]["name"] == release and svc["metadata"]["name"] == release,
      "Deployment and Service are named after the release",
      f"{dep['metadata']['name']}, {svc['metadata']['name']}")
ports = {p["name"]: p for p in svc["spec"]["ports"]}
check(ports.get("grpc", {}).get("port") == 6000 and ports["grpc"].get("targetPort") == "grpc",
      "Service port grpc 6000 -> container port grpc", ports)
check(ports.get("metrics", {}).get("port") == 8080 and ports["metrics"].get("targetPort") == "metrics",
      "Service port metrics 8080 -> container port metrics", ports)
check(matches(svc["spec"]["selector"], pod_labels), "Service selects the pods", svc["spec"]["selector"])
cports = {p["name"]: p["containerPort"] for p in c["ports"]}
check(cports == {"grpc": 6000, "metrics": 8080, "probes": 8081},
      "container ports grpc 6000, metrics 8080, probes 8081", cports)
check(flags.get("--grpc-address") == ["0.0.0.0:6000"] and flags.get("--metrics-address") == ["0.0.0.0:8080"],
      "the binary listens on the container ports", flags)

# --- replicas, spread, disruption budget
want_replicas = 3 if scenario == "policy" else 2
check(dep["spec"]["replicas"] == want_replicas, f"{want_replicas} replicas", dep["spec"]["replicas"])
tsc = pod.get("topologySpreadConstraints", [])
keys = {t["topologyKey"] for t in tsc}
check({"kubernetes.io/hostname", "topology.kubernetes.io/zone"} <= keys and
      all(matches(t["labelSelector"]["matchLabels"], pod_labels) for t in tsc),
      "topology spread over nodes and zones, selecting these pods", tsc)
check(dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0,
      "rolling update keeps ready replicas (maxUnavailable 0)", dep["spec"]["strategy"])
check(matches(pdb["spec"]["selector"]["matchLabels"], pod_labels), "PDB selects the pods",
      pdb["spec"]["selector"])
if scenario == "policy":
    check(pdb["spec"].get("minAvailable") == 2 and "maxUnavailable" not in pdb["spec"],
          "PDB minAvailable 2", pdb["spec"])
else:
    check(pdb["spec"].get("maxUnavailable") == 1 and "minAvailable" not in pdb["spec"],
          "PDB maxUnavailable 1", pdb["spec"])
check(pdb["spec"].get("unhealthyPodEvictionPolicy") == "AlwaysAllow",
      "unready pods do not block drains", pdb["spec"])

# --- probes
def http_probe(p, path):
    # Probes have a listener of their own (--probe-address): scrapers cannot starve them.
    return p and p.get("httpGet", {}).get("path") == path and p["httpGet"].get("port") == "probes"
def grpc_probe(p, service):
    return p and p.get("grpc") == {"port": 6000, "service": service} and "httpGet" not in p
if scenario == "keda":  # grpcProbes: grpc.health.v1 on the gRPC port
    check(grpc_probe(c.get("livenessProbe"), ""), "liveness gRPC probe of service \"\"",
          c.get("livenessProbe"))
    check(grpc_probe(c.get("readinessProbe"), "externalscaler.ExternalScaler"),
          "readiness gRPC probe of externalscaler.ExternalScaler (NATS usable)",
          c.get("readinessProbe"))
    check(grpc_probe(c.get("startupProbe"), ""), "startup gRPC probe of service \"\"",
          c.get("startupProbe"))
    check(c["readinessProbe"].get("periodSeconds") == 5, "probe timing kept", c["readinessProbe"])
else:
    check(http_probe(c.get("livenessProbe"), "/healthz"), "liveness probe GET /healthz on probes",
          c.get("livenessProbe"))
    check(http_probe(c.get("readinessProbe"), "/readyz"), "readiness probe GET /readyz on probes",
          c.get("readinessProbe"))
    check(http_probe(c.get("startupProbe"), "/healthz"), "startup probe GET /healthz on probes",
          c.get("startupProbe"))
check(flags.get("--grpc-max-connection-age") == ["2m" if scenario == "keda" else "5m"],
      "config.grpcMaxConnectionAge -> --grpc-max-connection-age", flags.get("--grpc-max-connection-age"))
check(flags.get("--grpc-keepalive-time") == ["30s" if scenario == "keda" else "60s"],
      "config.grpcKeepaliveTime -> --grpc-keepalive-time", flags.get("--grpc-keepalive-time"))
check(flags.get("--grpc-goaway-after-nats-down") == ["30s"],
      "config.grpcGoawayAfterNatsDown -> --grpc-goaway-after-nats-down",
      flags.get("--grpc-goaway-after-nats-down"))

# --- restricted security context
psc = pod.get("securityContext", {})
csc = c.get("securityContext", {})
check(psc.get("runAsNonRoot") is True and isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0,
      "pod runs as a non-root uid", psc)
check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault" and
      csc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault", (psc, csc))
check(csc.get("readOnlyRootFilesystem") is True, "read-only root filesystem", csc)
check(csc.get("allowPrivilegeEscalation") is False and csc.get("privileged") is False,
      "no privilege escalation", csc)
check(csc.get("capabilities", {}).get("drop") == ["ALL"] and not csc["capabilities"].get("add"),
      "all capabilities dropped", csc)
check(pod.get("automountServiceAccountToken") is False and sa.get("automountServiceAccountToken") is False,
      "no Kubernetes API token mounted", pod.get("automountServiceAccountToken"))
check(pod.get("serviceAccountName") == sa["metadata"]["name"], "uses its ServiceAccount",
      pod.get("serviceAccountName"))
check(pod.get("enableServiceLinks") is False, "no service-link environment variables",
      pod.get("enableServiceLinks"))
res = c.get("resources", {})
check(res.get("requests", {}).get("cpu") and res.get("requests", {}).get("memory") and
      res.get("limits", {}).get("memory"), "CPU/memory requests and a memory limit", res)

# --- secrets: files only, mounted from Secrets, never values on the command line
check(not any(re.match(r"^--nats-(token|password)(=|$)", a) for a in args),
      "no --nats-token/--nats-password on the command line", args)
for e in c.get("env", []):
    if re.search(r"TOKEN|PASSWORD|SECRET|KEY", e["name"]):
        check("value" not in e, f"env {e['name']} comes from a Secret", e)
mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
volumes = {v["name"]: v for v in pod.get("volumes", [])}
check(all(m["name"] in volumes for m in mounts.values()), "every volumeMount has a volume",
      (mounts, volumes))
file_flags = [f for f in ("--nats-creds", "--nats-token-file", "--nats-password-file", "--nats-tls-ca",
                          "--nats-tls-cert", "--nats-tls-key", "--grpc-tls-cert", "--grpc-tls-key",
                          "--grpc-tls-client-ca") if f in flags]
named = {v.split("=", 1)[0] for v in flags.get("--nats-url", []) if "=" in v.split("://", 1)[0]}
for f in file_flags:
    for value in flags[f]:
        head, eq, rest = value.partition("=")
        path = rest if eq and head in named else value
        mdir, _, key = path.rpartition("/")
        m = mounts.get(mdir)
        vol = volumes.get(m["name"]) if m else None
        sec = (vol or {}).get("secret")
        ok = bool(m and m.get("readOnly") and sec and sec.get("secretName"))
        if ok and "items" in sec:
            ok = any(i["key"] == key and i["path"] == key for i in sec["items"])
        check(ok, f"{f}={value} reads from a read-only Secret mount", (m, vol))
if "tmp" in volumes:
    check(mounts.get("/tmp", {}).get("name") == "tmp", "writable /tmp is an emptyDir", mounts)

# --- per scenario
nats_urls = flags.get("--nats-url", [])
if scenario == "default":
    check(nats_urls == ["nats://nats.nats.svc:4222"], "nats.urls -> --nats-url", nats_urls)
    check(not file_flags and not c.get("env"), "no credentials configured by default", file_flags)
    check(c["image"] == "ghcr.io/jetstream-scaler/jetstream-scaler:0.1.0", "image tag defaults to appVersion", c["image"])
if scenario == "tls":
    check(nats_urls == ["tls://nats-0.nats.nats.svc:4222,tls://nats-1.nats.nats.svc:4222"],
          "several nats.urls form one seed list", nats_urls)
    for f in ("--grpc-tls-cert", "--grpc-tls-key", "--grpc-tls-client-ca", "--nats-tls-ca",
              "--nats-tls-cert", "--nats-tls-key", "--nats-password-file"):
        check(f in flags, f"{f} set", args)
    user = [e for e in c.get("env", []) if e["name"] == "JETSTREAM_SCALER_NATS_USER"]
    check(user and user[0]["valueFrom"]["secretKeyRef"] == {"name": "jetstream-scaler-nats", "key": "user"},
          "NATS user from the Secret", user)
    check(volumes["grpc-client-ca"]["secret"]["secretName"] == "keda-client-ca",
          "client CA from its own Secret", volumes.get("grpc-client-ca"))
if scenario == "keda":
    headless = [d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == release + "-headless"]
    h = headless[0] if headless else {"spec": {}}
    check(h["spec"].get("clusterIP") == "None" and h["spec"].get("publishNotReadyAddresses") is False,
          "headless Service <release>-headless lists only ready replicas", h)
    check([p["name"] for p in h["spec"].get("ports", [])] == ["grpc"] and
          matches(h["spec"].get("selector", {}), pod_labels), "headless Service: grpc port, selects the pods", h)
    check(flags.get("--nats-js-domain") == ["hub", "site-b=site-b-hub"],
          "nats.jsDomain and namedConnections[].jsDomain -> --nats-js-domain [NAME=]", flags.get("--nats-js-domain"))
    check(flags.get("--nats-account") == ["default=SHARED", "site-b=SITE_B,LEGACY"],
          "nats.accounts and namedConnections[].accounts -> --nats-account CONNECTION=A,B",
          flags.get("--nats-account"))
else:
    check("--nats-js-domain" not in flags, "no --nats-js-domain by default", flags.get("--nats-js-domain"))
    check("--nats-account" not in flags, "no --nats-account by default", flags.get("--nats-account"))
if scenario == "servicemonitor":
    check(nats_urls == ["nats://nats.nats.svc:4222", "tenant-a=nats://nats.tenant-a.svc:4222"],
          "named connection rendered as NAME=URL", nats_urls)
    check(flags.get("--nats-creds") == ["/etc/jetstream-scaler/nats-auth/scaler.creds"],
          "--nats-creds for the default connection (and, unless overridden, the named ones)", args)
    check(flags.get("--nats-token-file") ==
          ["tenant-a=/etc/jetstream-scaler/connections/tenant-a/auth/token"],
          "the named connection's own token as --nats-token-file=tenant-a=FILE", args)
    check(volumes.get("nats-auth-0", {}).get("secret", {}).get("secretName") == "tenant-a-nats",
          "the named connection's Secret mounted separately", volumes.get("nats-auth-0"))
    sm = one("ServiceMonitor")
    ep = sm["spec"]["endpoints"][0]
    check(sm["spec"].get("jobLabel") == "app.kubernetes.io/name" and
          svc["metadata"]["labels"].get("app.kubernetes.io/name") == "jetstream-scaler",
          "ServiceMonitor makes job=\"jetstream-scaler\" (the alerts' selector)", sm["spec"])
    check(ep["port"] == "metrics" and ep.get("path") == "/metrics" and ep.get("interval") == "15s",
          "ServiceMonitor scrapes port metrics /metrics", ep)
    check(matches(sm["spec"]["selector"]["matchLabels"], svc["metadata"]["labels"]) and
          sm["spec"]["namespaceSelector"]["matchNames"] == [namespace],
          "ServiceMonitor selects the Service", sm["spec"]["selector"])
    check(sm["metadata"]["labels"].get("release") == "kube-prometheus-stack",
          "ServiceMonitor carries the extra labels", sm["metadata"]["labels"])
    pr = one("PrometheusRule")
    source = yaml.safe_load(open(alerts_path))
    check(pr["spec"] == source, "PrometheusRule spec == deploy/prometheus/alerts.yaml",
          "they differ")
    names = [r["alert"] for g in pr["spec"]["groups"] for r in g["rules"]]
    for want in ("JetStreamScalerDown", "JetStreamScalerNatsUnreachable",
                 "JetStreamScalerHighErrorRatio", "JetStreamScalerLagReadsFailing"):
        check(want in names, f"alert {want} present", names)
    cm = one("ConfigMap")
    check(cm["metadata"]["labels"].get("grafana_dashboard") == "1" and
          cm["metadata"].get("annotations", {}).get("grafana_folder") == "KEDA",
          "dashboard ConfigMap labelled for the Grafana sidecar", cm["metadata"])
    data = cm["data"].get("jetstream-scaler.json", "")
    check(json.loads(data) == json.load(open(dashboard_path)),
          "dashboard ConfigMap == files/dashboards/jetstream-scaler.json", "they differ")
check(flags.get("--reload-interval") == ["10s"], "--reload-interval from config.reloadInterval", flags)
if scenario != "policy":
    check("--policy-file" not in flags and "policy" not in volumes, "no access policy unless enabled", flags)
if scenario == "policy":
    check("--nats-token-file" in flags, "--nats-token-file set", args)
    pcm = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == f"{release}-policy"]
    policy = json.loads(pcm[0]["data"]["policy.json"]) if pcm else {}
    check(policy.get("rules", [{}])[0].get("namespaces") == ["shop", "team-*"] and len(policy["rules"]) == 2,
          "policy ConfigMap holds the rules as JSON", policy)
    path = flags.get("--policy-file", [""])[0]
    m = mounts.get("/etc/jetstream-scaler/policy", {})
    vol = volumes.get(m.get("name"), {})
    check(path == "/etc/jetstream-scaler/policy/policy.json" and m.get("readOnly") and "subPath" not in m
          and vol.get("configMap", {}).get("name") == f"{release}-policy",
          "--policy-file reads the ConfigMap through a directory mount (updates reach the pod)", (path, m, vol))
    check(pod.get("priorityClassName") == "system-cluster-critical", "priorityClassName", pod)
    np = one("NetworkPolicy")
    spec = np["spec"]
    check(matches(spec["podSelector"]["matchLabels"], pod_labels), "NetworkPolicy selects the pods",
          spec["podSelector"])
    check(sorted(spec["policyTypes"]) == ["Egress", "Ingress"], "ingress and egress restricted",
          spec["policyTypes"])
    ing = {r["ports"][0]["port"]: r for r in spec["ingress"]}
    keda = ing.get("grpc", {}).get("from", [{}])[0]
    check(keda.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "keda"}
          and keda.get("podSelector", {}).get("matchLabels") == {"app.kubernetes.io/name": "keda-operator"},
          "gRPC only from the KEDA operator", ing.get("grpc"))
    mon = ing.get("metrics", {}).get("from", [{}])[0]
    check(mon.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": "monitoring"},
          "metrics only from the monitoring namespace", ing.get("metrics"))
    egress_ports = sorted((p["port"], p["protocol"]) for r in spec["egress"] for p in r["ports"])
    check(egress_ports == [(53, "TCP"), (53, "UDP"), (4222, "TCP")], "egress: NATS 4222 and DNS only",
          egress_ports)
    nats_rule = [r for r in spec["egress"] if r["ports"][0]["port"] == 4222][0]
    check(nats_rule.get("to", [{}])[0].get("namespaceSelector", {}).get("matchLabels") ==
          {"kubernetes.io/metadata.name": "nats"}, "NATS egress only to namespace nats", nats_rule)

sys.exit(1 if failures else 0)

"""Checks that the platform comes up in a real cluster and stays safe there (issue 12).

Called by platform_check.analyse(); each function adds one or more named checks to the report.
They look at the whole platform/ tree: Argo CD Applications, provider-kubernetes, the XRD and the
Composition, NetworkPolicies and the NATS users.
"""

import re

from platform_check import MANIFEST, deep_merge, get_path, gvk, sync_wave

# Argo CD's default tracking label before 3.0 (application.instanceLabelKey).
ARGO_TRACKING_LABEL = "app.kubernetes.io/instance"
PROTECT = "Prune=false,Delete=false"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
# Verbs provider-kubernetes' Object controller uses with watches off (internal/controller/cluster/
# object: Get to observe, Patch for server-side apply, Create/Update on the client-side path,
# Delete).
PROVIDER_VERBS = {"get", "create", "update", "patch", "delete"}
SSA_FLAG = "--enable-server-side-apply=true"
# Publish rights the scaler's NATS user may have: the JetStream API info requests it reads lag
# with (docs/security.md, "What the scaler's NATS user needs").
SCALER_PUBLISH = {"$JS.API.CONSUMER.INFO.*.*", "$JS.API.STREAM.INFO.*",
                  "$JS.API.CONSUMER.INFO.>", "$JS.API.STREAM.INFO.>", "$JS.API.INFO"}
SYSTEM_PREFIXES = ("$JS.>", "$KV.>", "$O.>", "$SYS.>")
PLACEHOLDER_HOSTS = ("example-org", "example.com", "example.org", "your-org", "changeme")


def annotations(obj):
    return (obj.get("metadata") or {}).get("annotations") or {}


def protected(obj):
    opts = {o.strip() for o in str(annotations(obj).get(SYNC_OPTIONS, "")).split(",")}
    return {"Prune=false", "Delete=false"} <= opts


def wave(doc):
    try:
        return int(sync_wave(doc) or 0)
    except ValueError:
        return None


def app_values(app):
    return ((app.obj["spec"].get("source") or {}).get("helm") or {}).get("valuesObject") or {}


def composed(comps):
    """(composition doc, resource template, manifest) for every wrapped object."""
    for c in comps:
        for step in get_path(c.obj, ["spec", "pipeline"]) or []:
            for r in get_path(step, ["input", "resources"]) or []:
                yield c, r, get_path(r.get("base") or {}, MANIFEST) or {}


# ---------------------------------------------------------------------------------------------
# Argo CD: repository URL, waves, delete protection


def check_repository(root_docs, runbook_text, report):
    """Every Application that syncs a path of this repository uses one repoURL/targetRevision."""
    check = "argo: one repository URL for every Application syncing this repository, documented in the runbook"
    errors = []
    git_apps = [d for d in root_docs if d.kind == "Application" and (d.obj["spec"].get("source") or {}).get("path")]
    urls = {((d.obj["spec"]["source"]).get("repoURL"), (d.obj["spec"]["source"]).get("targetRevision")) for d in git_apps}
    if len(urls) > 1:
        for d in git_apps:
            src = d.obj["spec"]["source"]
            errors.append(f"{d.source}: repoURL/targetRevision {src.get('repoURL')!r} {src.get('targetRevision')!r}")
        errors.insert(0, f"Applications of this repository disagree on the source: {sorted(map(str, urls))}")
    for url, _ in urls:
        if not url or any(p in url for p in PLACEHOLDER_HOSTS):
            errors.append(f"repoURL {url!r} is a placeholder: set the URL Argo CD clones this repository from")
        elif url not in runbook_text:
            errors.append(f"repoURL {url} is not named in docs/platform-runbook.md (where to set it)")
    if len(git_apps) < 2:
        errors.append("expected the scaler, provider-kubernetes, network-policies and apis Applications to sync this repository")
    report.add(check, errors)


def check_waves(apps, report):
    """Prerequisites come up in earlier sync waves than what depends on them."""
    check = "argo: sync waves order Crossplane, KEDA and provider-kubernetes before the APIs layer"
    errors = []
    by_name = {d.name: d for d in apps}
    order = [("crossplane", "provider-kubernetes"), ("crossplane", "apis"), ("keda", "apis"),
             ("provider-kubernetes", "apis"), ("nats", "network-policies"), ("nats", "apis"),
             ("jetstream-scaler", "apis")]
    for first, then in order:
        a, b = by_name.get(first), by_name.get(then)
        if a is None or b is None:
            errors.append(f"Application {first if a is None else then!r} missing")
            continue
        if wave(a) is None or wave(b) is None or not wave(a) < wave(b):
            errors.append(f"{first} (wave {sync_wave(a)!r}) must sync in an earlier wave than {then} (wave {sync_wave(b)!r})")
    for d in apps:
        src = d.obj["spec"].get("source") or {}
        if src.get("chart") and not re.fullmatch(r"\d+\.\d+\.\d+", str(src.get("targetRevision", ""))):
            errors.append(f"{d.source}: chart {src.get('chart')} must be pinned to an exact version, not {src.get('targetRevision')!r}")
    keda = by_name.get("keda")
    if keda is not None:
        ann = get_path(app_values(keda), ["crds", "additionalAnnotations"]) or {}
        if not protected({"metadata": {"annotations": ann}}):
            errors.append(f"{keda.source}: KEDA's CRDs (chart templates) need crds.additionalAnnotations "
                          f"{SYNC_OPTIONS}: {PROTECT}, or deleting the Application deletes every ScaledObject")
    report.add(check, errors)


def check_layer_waves(docs, report):
    """Inside the APIs layer: the Function and the XRD are applied before the Composition."""
    check = "argo: inside the APIs layer the Function and the XRD come before the Composition"
    errors = []
    layer = [d for d in docs if d.source.startswith("platform/04-apis/") and "/examples/" not in d.source]
    comps = [d for d in layer if d.kind == "Composition"]
    for d in layer:
        if d.kind in ("Function", "CompositeResourceDefinition"):
            for c in comps:
                if wave(d) is None or wave(c) is None or not wave(d) < wave(c):
                    errors.append(f"{d.label} (wave {sync_wave(d)!r}) must come before {c.label} "
                                  f"(wave {sync_wave(c)!r})")
    report.add(check, errors)


def check_delete_protection(docs, report):
    check = f"argo: the XRD, the Composition, the Provider and its ProviderConfig carry {PROTECT}"
    errors = []
    for d in docs:
        if d.kind in ("CompositeResourceDefinition", "Composition", "Provider") or \
                (d.kind == "ProviderConfig" and gvk(d.obj)[0] == "kubernetes.crossplane.io"):
            if not protected(d.obj):
                errors.append(f"{d.label}: needs annotation {SYNC_OPTIONS}: {PROTECT}; deleting it from Git or "
                              "deleting its Application would delete every claim's workloads")
    report.add(check, errors)


# ---------------------------------------------------------------------------------------------
# The scaler Application: image, NetworkPolicy


def registry_host(repository):
    first = str(repository).split("/", 1)[0]
    if "/" in str(repository) and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def check_scaler_image(scaler, chart, app_version, report):
    check = "jetstream-scaler: image is a registry path with a pinned tag (the chart's appVersion) or digest"
    if scaler is None:
        return
    errors = []
    values = deep_merge(chart or {}, app_values(scaler))
    image = values.get("image") or {}
    own = app_values(scaler).get("image") or {}
    repo = image.get("repository", "")
    if not own.get("repository"):
        errors.append("image.repository is not set in the Application: the chart default would be pulled")
    if registry_host(repo) is None:
        errors.append(f"image.repository {repo!r} names no registry (host/path): pods would sit in ImagePullBackOff")
    tag, digest = str(own.get("tag") or ""), str(own.get("digest") or "")
    if not digest and (not tag or tag == "latest"):
        errors.append(f"image.tag {tag!r} / image.digest {digest!r}: set a released tag (not latest) or a sha256 digest")
    elif not digest and app_version and tag != app_version:
        errors.append(f"image.tag {tag!r} is not the chart's appVersion {app_version!r}: the Application syncs the "
                      "chart from this revision, whose flags belong to that version (or pin image.digest)")
    report.add(check, errors)


def check_scaler_network_policy(scaler, chart, report):
    check = "jetstream-scaler: chart NetworkPolicy on, gRPC only from KEDA's operator, egress only to NATS"
    if scaler is None:
        return
    errors = []
    np = deep_merge(chart or {}, app_values(scaler)).get("networkPolicy") or {}
    if np.get("enabled") is not True:
        errors.append("networkPolicy.enabled must be true in the Application")
    grpc_from = np.get("grpcFrom") or []
    if not grpc_from:
        errors.append("networkPolicy.grpcFrom is empty: every pod could call the gRPC port")
    for peer in grpc_from:
        ns = get_path(peer, ["namespaceSelector", "matchLabels", "kubernetes.io/metadata.name"])
        pod = get_path(peer, ["podSelector", "matchLabels", "app.kubernetes.io/name"])
        if (ns, pod) != ("keda", "keda-operator"):
            errors.append(f"networkPolicy.grpcFrom peer {peer} is not KEDA's operator (namespace keda, keda-operator)")
    egress = np.get("egress") or {}
    if egress.get("enabled") is not True or not egress.get("natsTo"):
        errors.append("networkPolicy.egress must be enabled with natsTo limited to the NATS namespace")
    report.add(check, errors)


# ---------------------------------------------------------------------------------------------
# provider-kubernetes


def resource_of(kind):
    return kind.lower() + "s"


def check_provider_kubernetes(docs, comps, crossplane_app, report):
    check = ("provider-kubernetes: pinned Provider, fixed ServiceAccount, SSA on, RBAC exactly the composed "
             "kinds, ProviderConfig InjectedIdentity")
    errors = []
    providers = [d for d in docs if d.kind == "Provider" and gvk(d.obj)[0] == "pkg.crossplane.io"]
    drcs = {d.name: d for d in docs if d.kind == "DeploymentRuntimeConfig"}
    pcs = {d.name: d for d in docs if d.kind == "ProviderConfig" and gvk(d.obj)[0] == "kubernetes.crossplane.io"}
    roles = {d.name: d for d in docs if d.kind == "ClusterRole"}
    bindings = [d for d in docs if d.kind == "ClusterRoleBinding"]
    pk = [p for p in providers if "provider-kubernetes" in str(get_path(p.obj, ["spec", "package"]))]
    if not pk:
        errors.append("no Provider installs provider-kubernetes")
    sa_names = set()
    for p in pk:
        pkg = str(get_path(p.obj, ["spec", "package"]) or "")
        if not re.search(r"(:v\d+\.\d+\.\d+|@sha256:[a-f0-9]{64})$", pkg):
            errors.append(f"{p.label}: package {pkg!r} must be pinned to a version (:vX.Y.Z) or digest")
        ref = get_path(p.obj, ["spec", "runtimeConfigRef", "name"])
        drc = drcs.get(ref)
        if drc is None:
            errors.append(f"{p.label}: runtimeConfigRef {ref!r} names no DeploymentRuntimeConfig in platform/")
            continue
        sa = get_path(drc.obj, ["spec", "serviceAccountTemplate", "metadata", "name"])
        if not sa:
            errors.append(f"{drc.label}: serviceAccountTemplate.metadata.name must fix the ServiceAccount name")
        else:
            sa_names.add(sa)
        containers = get_path(drc.obj, ["spec", "deploymentTemplate", "spec", "template", "spec", "containers"]) or []
        args = [a for c in containers if c.get("name") == "package-runtime" for a in c.get("args") or []]
        if SSA_FLAG not in args:
            errors.append(f"{drc.label}: the package-runtime container needs {SSA_FLAG}: without server-side "
                          "apply removed keys (imagePullSecrets, labels) are never removed")
    # RBAC: exactly the composed kinds, exactly the verbs.
    needed = {}
    for _, r, m in composed(comps):
        if m.get("kind"):
            group = gvk(m)[0]
            needed.setdefault(group, set()).add(resource_of(m["kind"]))
    ns = (crossplane_app.obj["spec"].get("destination") or {}).get("namespace") if crossplane_app else None
    bound_roles = set()
    for b in bindings:
        subjects = b.obj.get("subjects") or []
        if any(s.get("kind") == "ServiceAccount" and s.get("name") in sa_names and s.get("namespace") == ns
               for s in subjects):
            bound_roles.add(get_path(b.obj, ["roleRef", "name"]))
    if not bound_roles:
        errors.append(f"no ClusterRoleBinding binds a ClusterRole to ServiceAccount(s) {sorted(sa_names)} in "
                      f"{ns!r} (Crossplane's namespace)")
    granted = {}
    for name in bound_roles:
        role = roles.get(name)
        if role is None:
            errors.append(f"ClusterRoleBinding refers to ClusterRole {name!r}, which platform/ does not define")
            continue
        for rule in role.obj.get("rules") or []:
            verbs = set(rule.get("verbs") or [])
            if verbs != PROVIDER_VERBS:
                errors.append(f"{role.label}: verbs {sorted(verbs)} on {rule.get('resources')}; exactly "
                              f"{sorted(PROVIDER_VERBS)} are needed")
            for g in rule.get("apiGroups") or []:
                for res in rule.get("resources") or []:
                    granted.setdefault(g, set()).add(res)
    for g in sorted(set(needed) | set(granted)):
        missing = needed.get(g, set()) - granted.get(g, set())
        extra = granted.get(g, set()) - needed.get(g, set())
        if missing:
            errors.append(f"provider-kubernetes may not manage {sorted(missing)} in API group {g!r}, "
                          "which the Composition composes")
        if extra:
            errors.append(f"provider-kubernetes is granted {sorted(extra)} in API group {g!r}, which the "
                          "Composition never composes (grant exactly what it needs)")
    # ProviderConfig: the one every Object names, InjectedIdentity.
    for c, r, _ in composed(comps):
        ref = get_path(r.get("base") or {}, ["spec", "providerConfigRef", "name"]) or "default"
        pc = pcs.get(ref)
        if pc is None:
            errors.append(f"{r.get('name')}: ProviderConfig {ref!r} is not shipped in platform/")
        elif get_path(pc.obj, ["spec", "credentials", "source"]) != "InjectedIdentity":
            errors.append(f"{pc.label}: credentials.source must be InjectedIdentity (the provider's own "
                          "ServiceAccount, whose rights are the ClusterRole above)")
    for f in (d for d in docs if d.kind == "Function"):
        pkg = str(get_path(f.obj, ["spec", "package"]) or "")
        if not re.search(r"(:v\d+\.\d+\.\d+|@sha256:[a-f0-9]{64})$", pkg):
            errors.append(f"{f.label}: package {pkg!r} must be pinned")
    report.add(check, errors)


# ---------------------------------------------------------------------------------------------
# The Composition: tracking label, restricted pods, readiness


def labels_written(r, m):
    """Label keys a composed object ends up with: base labels plus patched ones."""
    keys = set(((m.get("metadata") or {}).get("labels") or {}).keys())
    keys |= set((get_path(m, ["spec", "template", "metadata", "labels"]) or {}).keys())
    for p in r.get("patches") or []:
        found = re.search(r"labels\[([^\]]+)\]$", str(p.get("toFieldPath", "")))
        if found:
            keys.add(found.group(1))
    return keys


def check_tracking_label(comps, patch_sets, report):
    check = f"composition: composed objects do not carry Argo CD's tracking label {ARGO_TRACKING_LABEL}"
    errors = []
    for c, r, m in composed(comps):
        expanded = dict(r)
        expanded["patches"] = [q for p in r.get("patches") or []
                               for q in (patch_sets.get(p.get("patchSetName"), []) if p.get("type") == "PatchSet" else [p])]
        if ARGO_TRACKING_LABEL in labels_written(expanded, m):
            errors.append(f"{r.get('name')} ({m.get('kind')}): label {ARGO_TRACKING_LABEL}: an Argo CD Application "
                          "named like the claim would prune it and provider-kubernetes re-create it, forever")
    report.add(check, errors)


def restricted_errors(pod, where):
    """Pod Security Standard "restricted" (v1.25+) rules that a pod template can violate."""
    errors = []
    psc = pod.get("securityContext") or {}
    if pod.get("automountServiceAccountToken") is not False:
        errors.append(f"{where}: automountServiceAccountToken must be false (the executor does not call the API)")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            errors.append(f"{where}: {key} is not allowed")
    for group in ("initContainers", "containers"):
        for c in pod.get(group) or []:
            csc = c.get("securityContext") or {}
            cw = f"{where}: {group} {c.get('name')}"
            if csc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{cw}: securityContext.allowPrivilegeEscalation must be false")
            if "ALL" not in (get_path(csc, ["capabilities", "drop"]) or []):
                errors.append(f"{cw}: securityContext.capabilities.drop must contain ALL")
            if set(get_path(csc, ["capabilities", "add"]) or []) - {"NET_BIND_SERVICE"}:
                errors.append(f"{cw}: only NET_BIND_SERVICE may be added")
            if csc.get("privileged"):
                errors.append(f"{cw}: privileged is not allowed")
            if not (csc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True):
                errors.append(f"{cw}: runAsNonRoot must be true (pod or container)")
            if 0 in (csc.get("runAsUser"), psc.get("runAsUser")):
                errors.append(f"{cw}: runAsUser 0 is not allowed")
            seccomp = get_path(csc, ["seccompProfile", "type"]) or get_path(psc, ["seccompProfile", "type"])
            if seccomp not in ("RuntimeDefault", "Localhost"):
                errors.append(f"{cw}: seccompProfile.type must be RuntimeDefault (pod or container), is {seccomp!r}")
    return errors


def check_restricted(comps, report):
    check = "composition: composed Deployments pass Pod Security \"restricted\""
    errors = []
    for c, r, m in composed(comps):
        if m.get("kind") == "Deployment":
            errors += restricted_errors(get_path(m, ["spec", "template", "spec"]) or {}, r.get("name"))
        if m.get("kind") == "ServiceAccount" and m.get("automountServiceAccountToken") is not False:
            errors.append(f"{r.get('name')}: ServiceAccount automountServiceAccountToken must be false")
    report.add(check, errors)


def check_readiness(comps, report):
    check = "composition: the Deployment's Object is ready on Available=True (not AllTrue)"
    errors = []
    for c, r, m in composed(comps):
        if m.get("kind") != "Deployment":
            continue
        ready = get_path(r.get("base") or {}, ["spec", "readiness"]) or {}
        query = re.sub(r"\s+", "", str(ready.get("celQuery", "")))
        if ready.get("policy") != "DeriveFromCelQuery" or "c.type=='Available'" not in query \
                or "c.status=='True'" not in query:
            errors.append(f"{r.get('name')}: readiness {ready} must be DeriveFromCelQuery on the Available condition "
                          "being True; AllTrue counts ReplicaFailure=True as ready")
    report.add(check, errors)


# ---------------------------------------------------------------------------------------------
# NATS: NetworkPolicy and users


def check_nats_network_policy(docs, nats, report):
    check = "network: tenants reach NATS on 4222 only"
    errors = []
    ns = (nats.obj["spec"].get("destination") or {}).get("namespace") if nats else "nats"
    pols = [d for d in docs if d.kind == "NetworkPolicy" and (d.obj.get("metadata") or {}).get("namespace") == ns]
    selecting = [p for p in pols if get_path(p.obj, ["spec", "podSelector", "matchLabels", "app.kubernetes.io/name"]) == "nats"]
    if not selecting:
        errors.append(f"no NetworkPolicy in namespace {ns} selects the NATS server pods")
    for p in selecting:
        if "Ingress" not in (get_path(p.obj, ["spec", "policyTypes"]) or []):
            errors.append(f"{p.label}: policyTypes must include Ingress")
        for i, rule in enumerate(get_path(p.obj, ["spec", "ingress"]) or []):
            peers = rule.get("from")
            outside = peers is None or any("namespaceSelector" in x or "ipBlock" in x for x in peers)
            ports = sorted(x.get("port") for x in rule.get("ports") or [{"port": "any"}])
            if outside and ports != [4222]:
                errors.append(f"{p.label}: ingress[{i}] lets other namespaces reach ports {ports}; only 4222")
    report.add(check, errors)


def check_nats_users(nats, scaler, report):
    check = "nats: the scaler has its own least-privilege NATS user; tenants stay on no_auth_user"
    if nats is None or scaler is None:
        return
    errors = []
    values = app_values(nats)
    merge = get_path(values, ["config", "merge"]) or {}
    users = {u.get("user"): u for u in get_path(merge, ["authorization", "users"]) or []}
    auth = get_path(app_values(scaler), ["nats", "auth"]) or {}
    scaler_user = auth.get("user")
    if not (auth.get("existingSecret") and (auth.get("passwordKey") or auth.get("credsKey") or auth.get("nkeySeedKey"))):
        errors.append("02-jetstream-scaler: nats.auth needs existingSecret and a password/creds/nkey key (credentials from a Secret)")
    user = users.get(scaler_user)
    if user is None:
        errors.append(f"01-nats: no user {scaler_user!r} (the scaler's nats.auth.user) in config.merge.authorization.users")
    else:
        publish = set(get_path(user, ["permissions", "publish", "allow"]) or [])
        sub = set(get_path(user, ["permissions", "subscribe", "allow"]) or [])
        deny = set(get_path(user, ["permissions", "subscribe", "deny"]) or [])
        if not publish or publish - SCALER_PUBLISH:
            errors.append(f"01-nats: user {scaler_user} may publish to {sorted(publish)}; only the JetStream API info "
                          f"subjects {sorted(SCALER_PUBLISH)}")
        if "_INBOX.>" not in sub:
            errors.append(f"01-nats: user {scaler_user} needs subscribe on _INBOX.> (request replies)")
        if ">" in sub or (sub - {"_INBOX.>"} and not set(SYSTEM_PREFIXES) <= deny):
            errors.append(f"01-nats: user {scaler_user} subscribes to {sorted(sub)}; a wildcard for the wake-up "
                          f"must deny {', '.join(SYSTEM_PREFIXES)}")
    env = get_path(values, ["container", "env"]) or {}
    for name, u in users.items():
        pw = str(u.get("password", ""))
        m = re.fullmatch(r"<<\s*\$(\w+)\s*>>", pw)
        if not m:
            errors.append(f"01-nats: user {name}'s password must be '<< $VAR >>' from a Secret, not a literal")
        elif get_path(env, [m.group(1), "valueFrom", "secretKeyRef", "name"]) is None:
            errors.append(f"01-nats: {m.group(1)} (password of {name}) is not set from a Secret in container.env")
    no_auth = merge.get("no_auth_user")
    if not no_auth or no_auth not in users or no_auth == scaler_user:
        errors.append(f"01-nats: no_auth_user {no_auth!r} must name a tenant user, so unauthenticated tenant clients "
                      "keep working once users exist")
    report.add(check, errors)

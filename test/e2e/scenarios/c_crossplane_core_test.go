package scenarios

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// Read at v2: every read at v1 draws the API server's deprecation warning (the platform's
	// file is v1 on purpose; applying it is where that warning is checked).
	xrdGVR   = schema.GroupVersionResource{Group: "apiextensions.crossplane.io", Version: "v2", Resource: "compositeresourcedefinitions"}
	claimGVR = schema.GroupVersionResource{Group: "platform.bizmatters.io", Version: "v1alpha1", Resource: "agentexecutors"}
	xrGVR    = schema.GroupVersionResource{Group: "platform.bizmatters.io", Version: "v1alpha1", Resource: "xagentexecutors"}
)

const (
	xrdName        = "xagentexecutors.platform.bizmatters.io"
	claimCRDName   = "agentexecutors.platform.bizmatters.io"
	testClaimName  = "test-agent-executor"
	testClaimNS    = "agent-executor-test"
	pipelineStep   = "patch-and-transform"
	pipelineFnName = "function-patch-and-transform"
)

// TestCrossplaneCore: the real Crossplane core (v2.3.4, out of cluster) reconciles the platform's
// XRD, Composition and test claim on the e2e control plane. No function runs (none is served by
// the module proxy), so nothing composes: the subject is what core itself decides and writes.
func TestCrossplaneCore(t *testing.T) {
	installCRDs(t)
	ensureNamespace(t, "crossplane-system")
	applyFile(t, filepath.Join(e.repo, "platform/04-apis/examples/test-namespace.yaml"))
	core := startCrossplaneCore(t)
	steps := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"EstablishesXRD", func(t *testing.T) { xpEstablishesXRD(t, core) }},
		{"ClaimCRDValidates", xpClaimCRDValidates},
		{"ClaimSyncerXR", func(t *testing.T) { xpClaimSyncerXR(t, core) }},
		{"XRCannotCompose", func(t *testing.T) { xpXRCannotCompose(t, core) }},
		{"DeleteClaimDeletesXR", func(t *testing.T) { xpDeleteClaim(t, core) }},
	}
	// Each step builds on the objects of the one before.
	for _, s := range steps {
		if !t.Run(s.name, s.run) {
			t.Logf("crossplane-core log (tail):\n%s", core.logTail(40))
			return
		}
	}
}

// startCrossplaneCore runs `crossplane core start` in a network namespace with only loopback:
// it binds its metrics and health ports to every interface and its package manager would pull
// images for the platform's Function and Provider (scenario A applies them); in the namespace
// both reach nothing. The API server's port is forwarded into it, so its kubeconfig is the test's.
// Webhooks are off (nothing could call them); the function client certificates it insists on
// loading are a self-signed pair it never uses (no function runs).
func startCrossplaneCore(t *testing.T) *proc {
	t.Helper()
	bin := os.Getenv("E2E_CROSSPLANE")
	if bin == "" {
		t.Fatal("E2E_CROSSPLANE is not set (scripts/e2e.sh sets it)")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatalf("needs nsenter (util-linux) to run Crossplane core in its network namespace: %v", err)
	}
	for _, f := range []string{
		"platform/04-apis/definitions/xagentexecutors.yaml",
		"platform/04-apis/compositions/agent-executor-composition.yaml",
	} {
		applyFile(t, filepath.Join(e.repo, f))
	}
	// The API server's port, forwarded into the namespace at the same address: core's
	// kubeconfig is the test's own.
	ns := newTestNetns(t)
	_, apiPort, err := net.SplitHostPort(strings.TrimPrefix(config.Host, "https://"))
	if err != nil {
		t.Fatalf("API server address %q: %v", config.Host, err)
	}
	port, _ := strconv.Atoi(apiPort)
	l, err := ns.forward(port, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if coreNetns, err = os.Readlink(fmt.Sprintf("/proc/self/fd/%d", ns.fd.Fd())); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(e.tmp, "crossplane-core")
	certs := filepath.Join(dir, "tls-client")
	if err := os.MkdirAll(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	writeSelfSignedPair(t, certs)
	p := &proc{name: "crossplane-core", args: ns.nsenterArgs(bin, "core", "start", "--debug",
		"--namespace", "crossplane-system", "--xpkg-cache-dir", filepath.Join(dir, "xpkg"),
		"--tls-client-certs-dir", certs, "--poll-interval", "10s"),
		env: []string{"KUBECONFIG=" + e.kubeconfig, "ENABLE_WEBHOOKS=false"}}
	p.start(t)
	t.Cleanup(p.stop)
	return p
}

// coreNetns names the namespace core runs in ("net:[inode]").
var coreNetns string

// xpAwait is await that fails at once, with core's log, if core exited.
func xpAwait(t *testing.T, core *proc, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	await(t, what, timeout, func() (bool, error) {
		if !core.running() {
			t.Fatalf("crossplane core exited while waiting for %s:\n%s", what, core.logTail(40))
		}
		return cond()
	})
}

// 1. The XRD is Established and Offered, and the CRDs core generated from it are a cluster
// scoped XR with Crossplane's legacy machinery (spec.claimRef, spec.compositionRef) and a
// namespaced claim: an apiextensions.crossplane.io/v1 XRD is a LegacyCluster XR with claims.
func xpEstablishesXRD(t *testing.T, core *proc) {
	ctx := context.Background()
	xpAwait(t, core, "XRD "+xrdName+" Established and Offered", 120*time.Second, func() (bool, error) {
		xrd, err := dyn.Resource(xrdGVR).Get(ctx, xrdName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		est, _, _, _ := condition(xrd, "Established")
		off, _, _, _ := condition(xrd, "Offered")
		return est == "True" && off == "True", fmt.Errorf("Established=%q Offered=%q", est, off)
	})
	xrd, err := dyn.Resource(xrdGVR).Get(ctx, xrdName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", core.cmd.Process.Pid))
	if err != nil || ns != coreNetns {
		t.Errorf("crossplane core runs in network namespace %q (%v), want the test's %q", ns, err, coreNetns)
	}
	if scope, _, _ := unstructured.NestedString(xrd.Object, "spec", "scope"); scope != "LegacyCluster" {
		t.Errorf("XRD spec.scope = %q, want LegacyCluster (the default of a v1 XRD)", scope)
	}
	for _, c := range []struct{ crd, scope, kind string }{
		{xrdName, "Cluster", "XAgentExecutor"}, {claimCRDName, "Namespaced", "AgentExecutor"},
	} {
		awaitEstablished(t, c.crd)
		crd, err := dyn.Resource(crdGVR).Get(ctx, c.crd, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		if scope != c.scope || kind != c.kind {
			t.Errorf("CRD %s: scope %q kind %q, want %q %q", c.crd, scope, kind, c.scope, c.kind)
		}
		owners := crd.GetOwnerReferences()
		if len(owners) != 1 || owners[0].Kind != "CompositeResourceDefinition" || owners[0].Name != xrdName {
			t.Errorf("CRD %s: owner references %v, want the XRD %s (Crossplane generated it)", c.crd, owners, xrdName)
		}
		vs, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		if len(vs) != 1 {
			t.Fatalf("CRD %s: %d versions, want 1 (v1alpha1)", c.crd, len(vs))
		}
		props, _, _ := unstructured.NestedMap(vs[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec", "properties")
		want := []string{"image", "natsStreamName", "compositionRef"}
		if c.kind == "XAgentExecutor" {
			want = append(want, "claimRef", "resourceRefs")
		} else {
			want = append(want, "resourceRef", "compositeDeletePolicy")
		}
		for _, f := range want {
			if _, ok := props[f]; !ok {
				t.Errorf("CRD %s has no spec.%s (the legacy XR/claim machinery)", c.crd, f)
			}
		}
		t.Logf("generated CRD %s: %s, kind %s, %d spec properties", c.crd, scope, kind, len(props))
	}
}

// 2. The example test claim is accepted by the generated claim CRD, and a claim breaking one of
// the XRD's CEL rules is refused by the API server with that rule's message.
func xpClaimCRDValidates(t *testing.T) {
	claim := applyFile(t, filepath.Join(e.repo, "platform/04-apis/examples/test-claim.yaml"))
	if len(claim) != 1 || claim[0].GetKind() != "AgentExecutor" || claim[0].GetNamespace() != testClaimNS {
		t.Fatalf("test-claim.yaml: want one AgentExecutor in %s, got %v", testClaimNS, claim)
	}
	// One rule of the spec, one of the root (Crossplane copies the XRD's root rules to the claim CRD).
	for _, c := range []struct {
		name, rule string
		edit       func(*unstructured.Unstructured)
	}{
		{"cel-refused", "minReplicas must not be greater than maxReplicas", func(u *unstructured.Unstructured) {
			unstructured.SetNestedField(u.Object, int64(5), "spec", "minReplicas")
			unstructured.SetNestedField(u.Object, int64(2), "spec", "maxReplicas")
		}},
		{"default", `the name must not be "default"`, func(*unstructured.Unstructured) {}},
	} {
		bad := decodeDocs(t, readFile(t, filepath.Join(e.repo, "platform/04-apis/examples/test-claim.yaml")))[0]
		bad.SetName(c.name)
		c.edit(bad)
		_, err := dyn.Resource(claimGVR).Namespace(testClaimNS).Create(context.Background(), bad,
			metav1.CreateOptions{FieldManager: fieldManager})
		if err == nil {
			t.Errorf("claim %s was accepted; the XRD's rule %q refuses it", c.name, c.rule)
			continue
		}
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), c.rule) {
			t.Errorf("claim %s: got %v, want Invalid naming %q", c.name, err, c.rule)
			continue
		}
		t.Logf("refused as expected: %v", err)
	}
	noWarnings(t, "creating the refused claims")
}

// xpTestXR is the XR the claim syncer made for the test claim, named by the claim's
// spec.resourceRef.
func xpTestXR(t *testing.T, core *proc) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	var xr *unstructured.Unstructured
	xpAwait(t, core, "the test claim's XR", 120*time.Second, func() (bool, error) {
		claim, err := dyn.Resource(claimGVR).Namespace(testClaimNS).Get(ctx, testClaimName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		name, _, _ := unstructured.NestedString(claim.Object, "spec", "resourceRef", "name")
		if name == "" {
			return false, fmt.Errorf("claim has no spec.resourceRef yet")
		}
		xr, err = dyn.Resource(xrGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		// Once the XR reconciler has had its turn the spec is complete (composition selected).
		_, _, _, synced := condition(xr, "Synced")
		return synced, fmt.Errorf("XR %s has no Synced condition yet", name)
	})
	return xr
}

// imitationXR is what test/platform/lib/render.py's claim_to_xr (the goldens' imitation of the
// claim syncer) builds from the same example claim.
func imitationXR(t *testing.T) map[string]any {
	t.Helper()
	script := `import json, sys
sys.path.insert(0, "test/platform/lib")
import render
composition, claims, schema, xr_kind = render.load_inputs(".")
claim = next(c for c in claims if c["_stem"] == "test-claim")
claim = {k: v for k, v in claim.items() if k != "_stem"}
print(json.dumps(render.claim_to_xr(claim, schema, xr_kind)))`
	cmd := exec.Command("python3", "-c", script)
	cmd.Dir = e.repo
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("render.py claim_to_xr: %v\n%s", err, stderr)
	}
	var xr map[string]any
	if err := json.Unmarshal(out, &xr); err != nil {
		t.Fatalf("render.py claim_to_xr output: %v\n%s", err, out)
	}
	return xr
}

// crossplaneOwnedSpec are the XR spec fields Crossplane itself writes (composition selection and
// the composed resources' list), which the imitation leaves out on purpose: no patch reads them.
var crossplaneOwnedSpec = map[string]bool{
	"compositionRef": true, "compositionRevisionRef": true, "compositionUpdatePolicy": true,
	"compositionRevisionSelector": true, "compositionSelector": true, "resourceRefs": true,
}

// 3. The claim syncer's XR: its spec equals claim_to_xr's for every field the imitation writes
// (the claim's spec with the API server's defaults, and spec.claimRef); the fields only the real
// XR has must be Crossplane's own. Every difference is logged.
func xpClaimSyncerXR(t *testing.T, core *proc) {
	xr := xpTestXR(t, core)
	im := imitationXR(t)
	if !strings.HasPrefix(xr.GetName(), testClaimName+"-") || len(xr.GetName()) != len(testClaimName)+6 {
		t.Errorf("XR name %q, want %s-<5 characters>", xr.GetName(), testClaimName)
	}
	t.Logf("XR %s (imitation: %v); labels %v; annotations %v (the imitation has neither)", xr.GetName(),
		im["metadata"].(map[string]any)["name"], xr.GetLabels(), xr.GetAnnotations())
	if xr.GetAPIVersion() != im["apiVersion"] || xr.GetKind() != im["kind"] {
		t.Errorf("XR %s/%s, imitation %v/%v", xr.GetAPIVersion(), xr.GetKind(), im["apiVersion"], im["kind"])
	}
	got, _, _ := unstructured.NestedMap(xr.Object, "spec")
	imSpec, _ := im["spec"].(map[string]any)
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range imSpec {
		keys[k] = true
	}
	var sorted []string
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		r, inReal := got[k]
		i, inIm := imSpec[k]
		switch {
		case inReal && inIm && jsonEqual(r, i):
			continue
		case inReal && inIm:
			t.Errorf("spec.%s: Crossplane %s, claim_to_xr %s", k, jsonString(r), jsonString(i))
		case inIm:
			t.Errorf("spec.%s: only claim_to_xr writes it (%s)", k, jsonString(i))
		case crossplaneOwnedSpec[k]:
			t.Logf("difference (Crossplane's own field, not in claim_to_xr): spec.%s = %s", k, jsonString(r))
		default:
			t.Errorf("spec.%s: only Crossplane writes it (%s), and it is no Crossplane machinery field", k, jsonString(r))
		}
	}
	ref, _, _ := unstructured.NestedStringMap(xr.Object, "spec", "claimRef")
	want := map[string]string{"apiVersion": "platform.bizmatters.io/v1alpha1", "kind": "AgentExecutor",
		"name": testClaimName, "namespace": testClaimNS}
	if !reflect.DeepEqual(ref, want) {
		t.Errorf("XR spec.claimRef = %v, want %v", ref, want)
	}
}

func jsonEqual(a, b any) bool {
	// Through JSON: the API server's integers are int64, the imitation's float64.
	var x, y any
	json.Unmarshal([]byte(jsonString(a)), &x)
	json.Unmarshal([]byte(jsonString(b)), &y)
	return reflect.DeepEqual(x, y)
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// 4. Nothing can compose without the function: Crossplane says so on the XR (Synced=False, the
// message naming the pipeline step and the function), it does not stay silent.
func xpXRCannotCompose(t *testing.T, core *proc) {
	ctx := context.Background()
	name := xpTestXR(t, core).GetName()
	var msg string
	xpAwait(t, core, "XR "+name+" Synced=False naming the pipeline step", 120*time.Second, func() (bool, error) {
		xr, err := dyn.Resource(xrGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		status, reason, m, _ := condition(xr, "Synced")
		msg = m
		return status == "False" && strings.Contains(m, fmt.Sprintf("%q", pipelineStep)),
			fmt.Errorf("Synced=%q reason %q: %s", status, reason, m)
	})
	t.Logf("XR %s Synced=False: %s", name, msg)
	if !strings.Contains(msg, pipelineFnName) {
		t.Errorf("XR %s: the Synced message does not name the function %s: %s", name, pipelineFnName, msg)
	}
	if refs, _, _ := unstructured.NestedSlice(xpTestXR(t, core).Object, "spec", "resourceRefs"); len(refs) != 0 {
		t.Errorf("XR %s composed %d resources without a function", name, len(refs))
	}
	claim, err := dyn.Resource(claimGVR).Namespace(testClaimNS).Get(ctx, testClaimName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ready, _, _, _ := condition(claim, "Ready"); ready == "True" {
		t.Errorf("claim %s is Ready although nothing composed", testClaimName)
	}
}

// 5. Deleting the claim (plan 3.14) deletes its XR: the claim's finalizer waits for Crossplane to
// delete the XR (compositeDeletePolicy Background, the default), then the claim goes.
func xpDeleteClaim(t *testing.T, core *proc) {
	ctx := context.Background()
	name := xpTestXR(t, core).GetName()
	if err := dyn.Resource(claimGVR).Namespace(testClaimNS).Delete(ctx, testClaimName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the claim: %v", err)
	}
	xpAwait(t, core, "the claim and XR "+name+" deleted", 120*time.Second, func() (bool, error) {
		_, errXR := dyn.Resource(xrGVR).Get(ctx, name, metav1.GetOptions{})
		_, errClaim := dyn.Resource(claimGVR).Namespace(testClaimNS).Get(ctx, testClaimName, metav1.GetOptions{})
		for _, err := range []error{errXR, errClaim} {
			if err != nil && !apierrors.IsNotFound(err) {
				return false, err
			}
		}
		return apierrors.IsNotFound(errXR) && apierrors.IsNotFound(errClaim),
			fmt.Errorf("XR gone: %v, claim gone: %v", apierrors.IsNotFound(errXR), apierrors.IsNotFound(errClaim))
	})
}

// writeSelfSignedPair writes ca.crt, tls.crt and tls.key (one self-signed ECDSA certificate)
// where Crossplane core loads its function client certificates from.
func writeSelfSignedPair(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "crossplane-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, data := range map[string][]byte{"ca.crt": cert, "tls.crt": cert,
		"tls.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

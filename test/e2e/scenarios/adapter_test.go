package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KEDA's metrics adapter (cmd/adapter, the same module version as the operator) behind the real
// kube-apiserver's aggregator as v1beta1.external.metrics.k8s.io, out of cluster:
//   - the APIService names a Service of type ExternalName "localhost": the aggregator (without
//     --enable-aggregator-routing) resolves it with k8s.io/apiserver's proxy.ResolveCluster to
//     https://localhost:<APIService port>, so it dials loopback, not a ClusterIP;
//   - the adapter runs in a network namespace of its own (netns_test.go: it serves /metrics on
//     every interface), reached through forwards of three loopback ports: the API server's and
//     the operator's gRPC metrics service (adapter -> machine) and its secure port (machine ->
//     adapter);
//   - it authenticates the aggregator's front-proxy requests and delegates authorization with
//     the admin kubeconfig (scripts/e2e.sh gives kube-apiserver the --requestheader-* and
//     --proxy-client-* flags), and reaches the operator with the operator's certificates
//     (E2E_KEDA_CERTS: its --cert-dir holds the ca.crt/tls.crt/tls.key the gRPC client uses).
const (
	externalMetricsAPIService = "v1beta1.external.metrics.k8s.io"
	adapterService            = "keda-metrics-apiserver" // the name KEDA's config/metrics-server uses
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// metricsAdapter starts the adapter and registers it with the aggregator; the test's cleanup
// unregisters and stops it, so tests after it see the cluster without an external metrics API,
// as before (their HPAs then do not scale on the lag beside KEDA, which they do not expect).
func metricsAdapter(t *testing.T) {
	t.Helper()
	bin := os.Getenv("E2E_KEDA_ADAPTER")
	if bin == "" {
		t.Fatal("E2E_KEDA_ADAPTER is not set (scripts/e2e.sh sets it)")
	}
	u, err := url.Parse(config.Host)
	if err != nil {
		t.Fatalf("API server address %q: %v", config.Host, err)
	}
	apiPort, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("API server address %q: no port", config.Host)
	}
	_, msPort, err := net.SplitHostPort(kedaMetricsServiceAddr)
	if err != nil {
		t.Fatalf("operator metrics service address %q: %v", kedaMetricsServiceAddr, err)
	}
	grpcPort, _ := strconv.Atoi(msPort)

	ns, err := newNetns()
	if err != nil {
		t.Fatalf("network namespace for the adapter: %v", err)
	}
	t.Cleanup(func() { ns.fd.Close(); ns.root.Close() })
	securePort := freePort(t)
	for _, f := range []struct {
		port int
		into bool
	}{{apiPort, false}, {grpcPort, false}, {securePort, true}} {
		l, err := ns.forward(f.port, f.into)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
	}

	certs := e.kedaCerts
	adapter := &proc{name: "keda-adapter", args: []string{"nsenter", "--net=" + ns.path(), "--", bin,
		"--secure-port", strconv.Itoa(securePort), "--bind-address", "127.0.0.1",
		"--cert-dir", certs, "--tls-cert-file", filepath.Join(certs, "tls.crt"),
		"--tls-private-key-file", filepath.Join(certs, "tls.key"),
		"--lister-kubeconfig", e.kubeconfig, "--authentication-kubeconfig", e.kubeconfig,
		"--authorization-kubeconfig", e.kubeconfig, "--profiling=false",
		"--metrics-service-address", kedaMetricsServiceAddr,
		// Its Prometheus endpoint listens on ":<port>", inside the namespace: any free number.
		"--port", strconv.Itoa(freePort(t))},
		env: []string{"KUBECONFIG=" + e.kubeconfig, "WATCH_NAMESPACE=", "POD_NAMESPACE=keda"}}
	adapter.start(t)
	t.Cleanup(adapter.stop)
	// (Not awaitListening: the forward listens on the secure port before the adapter does.)

	ensureNamespace(t, "keda")
	apply(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service",
		"metadata": map[string]any{"name": adapterService, "namespace": "keda"},
		"spec":     map[string]any{"type": "ExternalName", "externalName": "localhost"}}})
	// insecureSkipTLSVerify: the adapter serves the operator's certificate (SAN 127.0.0.1 and
	// localhost), not one for keda-metrics-apiserver.keda.svc, which the aggregator would verify.
	apply(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": externalMetricsAPIService},
		"spec": map[string]any{"group": "external.metrics.k8s.io", "version": "v1beta1",
			"service":               map[string]any{"name": adapterService, "namespace": "keda", "port": int64(securePort)},
			"insecureSkipTLSVerify": true, "groupPriorityMinimum": int64(100), "versionPriority": int64(100)}}})
	noWarnings(t, "registering the metrics adapter")
	t.Cleanup(func() {
		ctx := context.Background()
		if err := dyn.Resource(apiServiceGVR).Delete(ctx, externalMetricsAPIService, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting APIService %s: %v", externalMetricsAPIService, err)
		}
		if err := kube.CoreV1().Services("keda").Delete(ctx, adapterService, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting Service keda/%s: %v", adapterService, err)
		}
	})

	await(t, "APIService "+externalMetricsAPIService+" Available", 90*time.Second, func() (bool, error) {
		if !adapter.running() {
			t.Fatalf("keda-adapter exited:\n%s", adapter.logTail(40))
		}
		as, err := dyn.Resource(apiServiceGVR).Get(context.Background(), externalMetricsAPIService, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		status, reason, message, ok := condition(as, "Available")
		if !ok {
			return false, fmt.Errorf("no Available condition")
		}
		return status == "True", fmt.Errorf("Available=%v %v: %v", status, reason, message)
	})
}

// externalMetricValue reads one metric of a ScaledObject through the kube-apiserver, as the HPA
// controller does: GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>
// ?labelSelector=scaledobject.keda.sh/name=<so>. An answer that is not exactly one item is an error.
func externalMetricValue(ns, metric, scaledObject string) (resource.Quantity, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := kube.CoreV1().RESTClient().Get().
		AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, metric).
		Param("labelSelector", "scaledobject.keda.sh/name="+scaledObject).DoRaw(ctx)
	if err != nil {
		return resource.Quantity{}, fmt.Errorf("%v: %s", err, raw)
	}
	var list struct {
		Items []struct {
			MetricName string            `json:"metricName"`
			Value      resource.Quantity `json:"value"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &list); err != nil {
		return resource.Quantity{}, fmt.Errorf("decoding %s: %v", raw, err)
	}
	if len(list.Items) != 1 || list.Items[0].MetricName != metric {
		return resource.Quantity{}, fmt.Errorf("want one item %s, got %s", metric, raw)
	}
	return list.Items[0].Value, nil
}

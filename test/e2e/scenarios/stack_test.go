package scenarios

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The processes behind the Composition's addresses: nats-server on E2E_HOST_IP:4222
// (nats.nats.svc), the scaler on E2E_HOST_IP:6000 (jetstream-scaler.keda.svc), and the KEDA
// operator, which reaches the scaler by that name through the private /etc/hosts.
var (
	stackOnce                      sync.Once
	stackErr                       string
	natsProc, scalerProc, kedaProc *proc
	kedaMetricsURL                 string
	kedaMetricsServiceAddr         string // the operator's gRPC metrics service (the adapter's upstream)
	scalerMetricsURL               string
	js                             jetstream.JetStream
	natsConn                       *nats.Conn
)

const natsURL = "nats://nats.nats.svc:4222"

func natsAddr() string   { return e.hostIP + ":4222" }
func scalerAddr() string { return e.hostIP + ":6000" }

// stack starts nats-server, the scaler and KEDA once; a test that needs them calls it first.
func stack(t *testing.T) {
	t.Helper()
	installCRDs(t)
	stackOnce.Do(func() {
		ok := t.Run("start", func(t *testing.T) {
			for name, v := range map[string]string{"E2E_KEDA_OPERATOR": e.kedaOperator, "E2E_KEDA_CERTS": e.kedaCerts,
				"E2E_SCALER": e.scaler, "E2E_NATS_SERVER": e.natsServer} {
				if v == "" {
					t.Fatalf("%s is not set (scripts/e2e.sh sets it)", name)
				}
			}
			natsProc = &proc{name: "nats-server", args: []string{e.natsServer, "-a", e.hostIP, "-p", "4222",
				"-js", "-sd", filepath.Join(e.tmp, "jetstream")}}
			natsProc.start(t)
			awaitListening(t, natsProc, natsAddr(), 30*time.Second)

			scalerMetrics := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			scalerMetricsURL = "http://" + scalerMetrics + "/metrics"
			scalerProc = &proc{name: "jetstream-scaler", args: []string{e.scaler,
				"--grpc-address", scalerAddr(), "--metrics-address", scalerMetrics,
				"--nats-url", natsURL}}
			scalerProc.start(t)
			awaitListening(t, scalerProc, scalerAddr(), 30*time.Second)

			nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
			if err != nil {
				t.Fatalf("NATS client: %v", err)
			}
			natsConn = nc
			js, err = jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}

			ensureNamespace(t, "keda")
			metricsPort := freePort(t)
			probePort := freePort(t)
			kedaMetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
			kedaMetricsServiceAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
			kedaProc = &proc{name: "keda-operator", args: []string{e.kedaOperator,
				"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
				"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", probePort),
				"--metrics-service-bind-address", kedaMetricsServiceAddr,
				"--cert-dir", e.kedaCerts, "--ca-dir", e.kedaCerts, "--leader-elect=false"},
				env: []string{"KUBECONFIG=" + e.kubeconfig, "WATCH_NAMESPACE=",
					"KEDA_CLUSTER_OBJECT_NAMESPACE=keda", "POD_NAMESPACE=keda"}}
			kedaProc.start(t)
			await(t, "KEDA operator /readyz", 90*time.Second, func() (bool, error) {
				if !kedaProc.running() {
					t.Fatalf("KEDA operator exited:\n%s", kedaProc.logTail(40))
				}
				resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probePort))
				if err != nil {
					return false, err
				}
				resp.Body.Close()
				return resp.StatusCode == 200, nil
			})
		})
		if !ok {
			stackErr = "starting nats-server, the scaler or KEDA failed"
		}
	})
	if stackErr != "" {
		t.Fatal(stackErr)
	}
}

// ensureStream creates a stream and a durable pull consumer on it (idempotent).
func ensureStream(t *testing.T, stream, subject, consumer string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}})
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: consumer,
		AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("consumer %s: %v", consumer, err)
	}
}

func publish(t *testing.T, subject string, n int) {
	t.Helper()
	// After a nats-server restart the test's own client reconnects first.
	await(t, "the test's NATS client connected", 30*time.Second, func() (bool, error) {
		return natsConn.IsConnected(), nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < n; i++ {
		if _, err := js.Publish(ctx, subject, []byte(fmt.Sprintf("task %d", i))); err != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
	}
}

// drain fetches and acks n messages of a consumer (its lag goes to 0).
func drain(t *testing.T, stream, consumer string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < n && ctx.Err() == nil {
		batch, err := c.Fetch(n-got, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			if err := m.DoubleAck(ctx); err != nil {
				t.Fatal(err)
			}
			got++
		}
	}
	if got != n {
		t.Fatalf("drained %d of %d messages of %s/%s", got, n, stream, consumer)
	}
}

// kedaMetric reads one series of KEDA's own Prometheus endpoint: the sample of family whose
// labels include every label given; ok is false if there is none.
func kedaMetric(family string, labels map[string]string) (value float64, ok bool, err error) {
	return scrape(kedaMetricsURL, family, labels)
}

func scrape(url, family string, labels map[string]string) (value float64, ok bool, err error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	return findSample(resp.Body, family, labels)
}

func findSample(r io.Reader, family string, labels map[string]string) (float64, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
lines:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, family+"{") && !(len(labels) == 0 && strings.HasPrefix(line, family+" ")) {
			continue
		}
		for k, v := range labels {
			if !strings.Contains(line, fmt.Sprintf("%s=%q", k, v)) {
				continue lines
			}
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		return v, err == nil, err
	}
	return 0, false, sc.Err()
}

package scenarios

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// readyEverywhere: every ScaledObject the scenarios made, except the one whose trigger names a
// missing consumer, is Ready again.
func readyEverywhere(t *testing.T, after string) {
	t.Helper()
	for _, so := range [][2]string{
		{"agent-executor-test", "test-agent-executor-scaler"},
		{"e2e-zero", "test-agent-executor-scaler"},
		{"intelligence-deepagents", "alert-triage-scaler"},
	} {
		awaitReady(t, so[0], so[1], 90*time.Second)
	}
	t.Logf("every ScaledObject Ready again after %s", after)
}

// lagTracked: KEDA reads the zero-scaler's lag again after a fault (publish 3, see 3, drain, see 0).
func lagTracked(t *testing.T) {
	t.Helper()
	labels := map[string]string{"namespace": "e2e-zero", "scaledObject": "test-agent-executor-scaler",
		"metric": "s0-nats-jetstream-ZERO_STREAM"}
	for _, want := range []int{3, 0} {
		if want == 3 {
			publish(t, "zero.tasks", 3)
		} else {
			drain(t, "ZERO_STREAM", "zero-workers", 3)
		}
		await(t, fmt.Sprintf("keda_scaler_metrics_value = %d after the fault", want), 90*time.Second, func() (bool, error) {
			v, ok, err := kedaMetric("keda_scaler_metrics_value", labels)
			if !ok {
				return false, fmt.Errorf("no series (%v)", err)
			}
			return v == float64(want), fmt.Errorf("value %v", v)
		})
	}
}

// pushErrors counts KEDA's failed push-stream runs so far: each one doubles its retry delay
// (2 s up to 1 min; only a stream that ends OK resets it).
func pushErrors() int { return strings.Count(kedaProc.logText(), "error running internalRun") }

func awaitPushStreams(t *testing.T, after string) time.Duration {
	t.Helper()
	start := time.Now()
	await(t, "the scaler serves KEDA's external-push stream again after "+after, 120*time.Second, func() (bool, error) {
		v, ok, err := scrape(scalerMetricsURL, "jetstream_scaler_push_streams", nil)
		if !ok {
			return false, fmt.Errorf("no series (%v)", err)
		}
		return v >= 1, fmt.Errorf("push streams %v", v)
	})
	return time.Since(start)
}

// TestKEDA_Faults: nats-server restarted, then the scaler restarted (as a rollout would): the
// real KEDA reconnects, no ScaledObject stays in error, the lag is read again and the push
// stream is reopened. KEDA's push back-off steps are counted from its log and printed.
func TestKEDA_Faults(t *testing.T) {
	stack(t)
	for _, name := range []string{"TestKEDA_GoldenScaledObject", "TestKEDA_LagAndScaleFromZero", "TestKEDA_ExternalPush"} {
		if !ranOK[name] {
			t.Skipf("needs %s to have passed first (it creates the ScaledObjects this test disturbs)", name)
		}
	}
	awaitPushStreams(t, "setup")

	before := pushErrors()
	natsProc.stop()
	natsProc.start(t)
	awaitListening(t, natsProc, natsAddr(), 30*time.Second)
	readyEverywhere(t, "the nats-server restart")
	lagTracked(t)
	took := awaitPushStreams(t, "the nats-server restart")
	t.Logf("nats-server restart: KEDA push-stream errors (back-off steps) %d; push stream open %d ms after the checks",
		pushErrors()-before, took.Milliseconds())

	before = pushErrors()
	scalerProc.stop()
	restarted := time.Now()
	scalerProc.start(t)
	awaitListening(t, scalerProc, scalerAddr(), 30*time.Second)
	awaitPushStreams(t, "the scaler restart")
	t.Logf("scaler restart: push stream reopened %d ms after the restart; KEDA push-stream errors (back-off steps) %d",
		time.Since(restarted).Milliseconds(), pushErrors()-before)
	readyEverywhere(t, "the scaler restart")
	lagTracked(t)
}

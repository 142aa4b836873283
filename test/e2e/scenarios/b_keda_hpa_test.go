package scenarios

import (
	"context"
	"fmt"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// hpaScaledObject is the test claim's ScaledObject (min 1, max 10, lagThreshold 5) moved to
// its own namespace, stream and consumer, polled every second, with an HPA behaviour whose
// scale-down stabilisation is 5 s instead of the HPA's default 300 s.
func hpaScaledObject(ns, stream, consumer string) func(so *unstructured.Unstructured) {
	return func(so *unstructured.Unstructured) {
		so.SetNamespace(ns)
		unstructured.SetNestedField(so.Object, int64(1), "spec", "pollingInterval")
		unstructured.SetNestedField(so.Object, map[string]any{
			"scaleDown": map[string]any{"stabilizationWindowSeconds": int64(5)},
			"scaleUp":   map[string]any{"stabilizationWindowSeconds": int64(0)},
		}, "spec", "advanced", "horizontalPodAutoscalerConfig", "behavior")
		md, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
		m := md[0].(map[string]any)["metadata"].(map[string]any)
		m["stream"], m["consumer"] = stream, consumer
		setTrigger(so, m)
	}
}

// hpaExternalAverage is the HPA's status.currentMetrics average of the external metric and the
// replica count it was computed over; ok is false while the HPA has not reported it.
func hpaExternalAverage(hpa *autoscalingv2.HorizontalPodAutoscaler, metric string) (milli int64, replicas int32, ok bool) {
	for _, m := range hpa.Status.CurrentMetrics {
		if m.External != nil && m.External.Metric.Name == metric && m.External.Current.AverageValue != nil {
			return m.External.Current.AverageValue.MilliValue(), hpa.Status.CurrentReplicas, true
		}
	}
	return 0, 0, false
}

// TestKEDA_HPAScalesOnLagThroughTheAggregator: with KEDA's metrics adapter registered with the
// real kube-apiserver's aggregator, the external metrics API answers the scaler's lag for the
// ScaledObject's metric (0, then N unacked messages: N, then 0 after the drain), and the real
// HPA controller scales the Deployment on it: 1 -> ceil(N / lagThreshold) and back to 1 (min),
// its status.currentMetrics carrying the lag averaged over the replicas it counted.
func TestKEDA_HPAScalesOnLagThroughTheAggregator(t *testing.T) {
	passed(t)
	stack(t)
	metricsAdapter(t)
	const ns, stream, consumer, subject = "e2e-hpa", "HPA_STREAM", "hpa-workers", "hpa.tasks"
	ensureStream(t, stream, subject, consumer)
	so := retarget(t, "test-claim", ns, hpaScaledObject(ns, stream, consumer))
	const deployment = "test-agent-executor"
	md := trigger(t, so)
	if md["lagThreshold"] != "5" || intField(so, "spec", "minReplicaCount") != 1 || intField(so, "spec", "maxReplicaCount") != 10 {
		t.Fatalf("golden test claim changed (lagThreshold %v, min/max %d/%d): this test assumes 5, 1/10",
			md["lagThreshold"], intField(so, "spec", "minReplicaCount"), intField(so, "spec", "maxReplicaCount"))
	}
	awaitReady(t, ns, so.GetName(), 90*time.Second)
	metric := "s0-nats-jetstream-" + stream
	hpaName := "keda-hpa-" + so.GetName()

	// The value the API server serves, and what the HPA controller read from it.
	awaitExternal := func(want int64) {
		t.Helper()
		await(t, fmt.Sprintf("external metrics API: %s = %d", metric, want), 60*time.Second, func() (bool, error) {
			q, err := externalMetricValue(ns, metric, so.GetName())
			if err != nil {
				return false, err
			}
			return q.MilliValue() == want*1000, fmt.Errorf("value %s", q.String())
		})
	}
	awaitHPA := func(lag int64, wantReplicas int32) {
		t.Helper()
		awaitReplicas(t, ns, deployment, wantReplicas, 90*time.Second)
		var last *autoscalingv2.HorizontalPodAutoscaler
		await(t, fmt.Sprintf("HPA %s: %d replicas on %s = %d", hpaName, wantReplicas, metric, lag), 90*time.Second, func() (bool, error) {
			hpa, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), hpaName, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			last = hpa
			milli, cur, ok := hpaExternalAverage(hpa, metric)
			if !ok || cur == 0 {
				return false, fmt.Errorf("no current value of %s yet (conditions %s)", metric, yamlString(hpa.Status.Conditions))
			}
			// The controller reports the lag divided by the Deployment's status.replicas, rounded
			// up to a milli, and status.currentReplicas is its spec.replicas: the two agree once
			// the ReplicaSet has created the (Pending) pods, which is what this awaits.
			wantMilli := (lag*1000 + int64(cur) - 1) / int64(cur)
			return milli == wantMilli && cur == wantReplicas && hpa.Status.DesiredReplicas == wantReplicas,
				fmt.Errorf("average %dm over %d replicas (want %dm over %d), desired %d", milli, cur, wantMilli, wantReplicas, hpa.Status.DesiredReplicas)
		})
		t.Logf("HPA status: %s", yamlString(last.Status.CurrentMetrics))
	}

	awaitExternal(0)
	awaitHPA(0, 1)

	const n = 23 // ceil(23 / 5) = 5 replicas, inside max 10
	start := time.Now()
	publish(t, subject, n)
	awaitExternal(n)
	awaitHPA(n, 5)
	up := time.Since(start)

	start = time.Now()
	drain(t, stream, consumer, n)
	awaitExternal(0)
	awaitHPA(0, 1)
	t.Logf("publish %d -> HPA at 5 replicas in %d ms; drain -> back at 1 in %d ms (HPA sync 5 s, scale-down window 5 s; measured, not asserted)",
		n, up.Milliseconds(), time.Since(start).Milliseconds())
}

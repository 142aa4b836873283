package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// triggerMetadata is the metadata of a ScaledObject's trigger i (fails if there is none).
func triggerMetadata(t *testing.T, so *unstructured.Unstructured, i int) map[string]any {
	t.Helper()
	trs, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	if i >= len(trs) {
		t.Fatalf("ScaledObject %s: %d triggers, want at least %d", so.GetName(), len(trs), i+1)
	}
	md, _, _ := unstructured.NestedMap(trs[i].(map[string]any), "metadata")
	return md
}

// externalMetric is the HPA's External metric of that name (nil if it has none).
func externalMetric(hpa *autoscalingv2.HorizontalPodAutoscaler, name string) *autoscalingv2.ExternalMetricSource {
	for _, m := range hpa.Spec.Metrics {
		if m.External != nil && m.External.Metric.Name == name {
			return m.External
		}
	}
	return nil
}

// TestKEDA_AgeTrigger: the age claim's ScaledObject as rendered (a lag trigger and, from
// scaleOnAgeSeconds, an age trigger; only polled every second instead of every 30 s) is Ready
// in KEDA v2.20.2, and the HPA it writes carries both external metrics: the lag with target
// lagThreshold and the age with target ageThreshold in seconds. The value KEDA reads for the
// age metric (its keda_scaler_metrics_value series) is above 0 while published messages wait
// unacknowledged, grows while they keep waiting, and is 0 again once they are acked.
func TestKEDA_AgeTrigger(t *testing.T) {
	passed(t)
	stack(t)
	golden := goldenManifest(t, "claim-age", "scaled-object")
	lag, age := triggerMetadata(t, golden, 0), triggerMetadata(t, golden, 1)
	stream, consumer := age["stream"].(string), age["consumer"].(string)
	if lag["stream"] != stream || lag["consumer"] != consumer {
		t.Fatalf("the golden's triggers read different consumers: %v / %v", lag, age)
	}
	ageThreshold, err := time.ParseDuration(age["ageThreshold"].(string))
	if err != nil {
		t.Fatalf("golden ageThreshold %q: %v", age["ageThreshold"], err)
	}
	subject := strings.ToLower(stream) + ".new"
	ensureStream(t, stream, subject, consumer)
	so := workload(t, "claim-age", func(so *unstructured.Unstructured) {
		unstructured.SetNestedField(so.Object, int64(1), "spec", "pollingInterval")
	})
	ns := so.GetNamespace()
	awaitReady(t, ns, so.GetName(), 90*time.Second)

	hpaName := "keda-hpa-" + so.GetName()
	var hpa *autoscalingv2.HorizontalPodAutoscaler
	await(t, "HPA "+hpaName+" with two metrics", 60*time.Second, func() (bool, error) {
		h, err := kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(context.Background(), hpaName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		hpa = h
		return len(h.Spec.Metrics) == 2, fmt.Errorf("%d metrics", len(h.Spec.Metrics))
	})
	t.Logf("HPA written by KEDA:\n%s", yamlString(hpa.Spec))
	wantLag, _ := strconv.ParseFloat(lag["lagThreshold"].(string), 64)
	for _, m := range []struct {
		name   string
		target float64
	}{{"s0-nats-jetstream-" + stream, wantLag}, {"s1-nats-jetstream-age-" + stream, ageThreshold.Seconds()}} {
		ext := externalMetric(hpa, m.name)
		if ext == nil {
			t.Errorf("HPA has no external metric %q: %s", m.name, yamlString(hpa.Spec.Metrics))
			continue
		}
		if ext.Target.Type != autoscalingv2.AverageValueMetricType || ext.Target.AverageValue == nil ||
			ext.Target.AverageValue.AsApproximateFloat64() != m.target {
			t.Errorf("HPA metric %s target %s, want AverageValue %v", m.name, yamlString(ext.Target), m.target)
		}
	}

	labels := map[string]string{"namespace": ns, "scaledObject": so.GetName(), "metric": "s1-nats-jetstream-age-" + stream}
	ageValue := func() (float64, error) {
		v, ok, err := kedaMetric("keda_scaler_metrics_value", labels)
		if !ok {
			return 0, fmt.Errorf("no series (%v)", err)
		}
		return v, nil
	}
	await(t, "keda_scaler_metrics_value of the age = 0 before any publish", 60*time.Second, func() (bool, error) {
		v, err := ageValue()
		return err == nil && v == 0, fmt.Errorf("value %v (%v)", v, err)
	})

	const n = 3
	publish(t, subject, n) // nobody fetches them: they wait, unacknowledged
	var first float64
	await(t, "keda_scaler_metrics_value of the age > 0 while messages wait", 60*time.Second, func() (bool, error) {
		v, err := ageValue()
		first = v
		return err == nil && v > 0, fmt.Errorf("value %v (%v)", v, err)
	})
	var later float64
	await(t, fmt.Sprintf("keda_scaler_metrics_value of the age grows past %v s", first), 60*time.Second, func() (bool, error) {
		v, err := ageValue()
		later = v
		return err == nil && v > first, fmt.Errorf("value %v (%v)", v, err)
	})
	t.Logf("age KEDA read while %d messages waited: %v s, then %v s", n, first, later)
	lagLabels := map[string]string{"namespace": ns, "scaledObject": so.GetName(), "metric": "s0-nats-jetstream-" + stream}
	await(t, fmt.Sprintf("keda_scaler_metrics_value of the lag beside it = %d", n), 60*time.Second, func() (bool, error) {
		v, ok, err := kedaMetric("keda_scaler_metrics_value", lagLabels)
		return ok && v == n, fmt.Errorf("value %v (%v)", v, err)
	})

	drain(t, stream, consumer, n)
	await(t, "keda_scaler_metrics_value of the age = 0 after the drain", 60*time.Second, func() (bool, error) {
		v, err := ageValue()
		return err == nil && v == 0, fmt.Errorf("value %v (%v)", v, err)
	})
	if s, msg, err := soCondition(ns, so.GetName(), "Ready"); err != nil || s != "True" {
		t.Errorf("ScaledObject Ready = %q (%v) after the drain: %s", s, err, msg)
	}
}

package scenarios

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var scaledObjectGVR = schema.GroupVersionResource{Group: "keda.sh", Version: "v1alpha1", Resource: "scaledobjects"}

// soCondition is the status of a ScaledObject condition ("" when absent) and its message.
func soCondition(ns, name, condType string) (status, message string, err error) {
	so, err := dyn.Resource(scaledObjectGVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", "", err
	}
	status, _, message, _ = condition(so, condType)
	return status, message, nil
}

func awaitReady(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	await(t, fmt.Sprintf("ScaledObject %s/%s Ready", ns, name), timeout, func() (bool, error) {
		s, msg, err := soCondition(ns, name, "Ready")
		if err != nil {
			return false, err
		}
		if s != "True" && msg != "" {
			return false, fmt.Errorf("Ready=%s: %s", s, msg)
		}
		return s == "True", nil
	})
}

func replicas(t *testing.T, ns, deployment string) (int32, error) {
	d, err := kube.AppsV1().Deployments(ns).Get(context.Background(), deployment, metav1.GetOptions{})
	if err != nil {
		return -1, err
	}
	if d.Spec.Replicas == nil {
		return 1, nil
	}
	return *d.Spec.Replicas, nil
}

func awaitReplicas(t *testing.T, ns, deployment string, want int32, timeout time.Duration) {
	t.Helper()
	await(t, fmt.Sprintf("Deployment %s/%s at %d replicas", ns, deployment, want), timeout, func() (bool, error) {
		r, err := replicas(t, ns, deployment)
		if err != nil {
			return false, err
		}
		return r == want, fmt.Errorf("replicas %d", r)
	})
}

// secretsFor creates every Secret key the Deployment's containers read through secretKeyRef
// (placeholder values): KEDA v2.20.2 resolves a scale target's env before it writes the HPA,
// and a missing Secret leaves the ScaledObject Ready=False ("error resolving secrets for
// ScaleTarget"), as the runbook's order (test-secrets.yaml before the claim) implies.
func secretsFor(t *testing.T, deployment *unstructured.Unstructured) {
	t.Helper()
	keys := map[string]map[string]any{}
	for _, kind := range []string{"initContainers", "containers"} {
		cs, _, _ := unstructured.NestedSlice(deployment.Object, "spec", "template", "spec", kind)
		for _, c := range cs {
			envs, _, _ := unstructured.NestedSlice(c.(map[string]any), "env")
			for _, ev := range envs {
				ref, ok, _ := unstructured.NestedMap(ev.(map[string]any), "valueFrom", "secretKeyRef")
				if !ok {
					continue
				}
				name, key := ref["name"].(string), ref["key"].(string)
				if keys[name] == nil {
					keys[name] = map[string]any{}
				}
				keys[name][key] = "e2e-placeholder"
			}
		}
	}
	for name, data := range keys {
		apply(t, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": name, "namespace": deployment.GetNamespace()},
			"stringData": data}})
	}
}

// workload applies a claim's rendered ServiceAccount and Deployment, then its ScaledObject
// after edit (nil: the golden one as rendered) and returns the ScaledObject.
func workload(t *testing.T, claim string, edit func(so *unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	sa := goldenManifest(t, claim, "service-account")
	ensureNamespace(t, sa.GetNamespace())
	apply(t, sa)
	d := goldenManifest(t, claim, "deployment")
	secretsFor(t, d)
	apply(t, d)
	so := goldenManifest(t, claim, "scaled-object")
	if edit != nil {
		edit(so)
	}
	apply(t, so)
	noWarnings(t, "applying "+claim+"'s workload")
	return so
}

// trigger is the golden ScaledObject's one trigger's metadata.
func trigger(t *testing.T, so *unstructured.Unstructured) map[string]any {
	t.Helper()
	trs, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	if len(trs) != 1 {
		t.Fatalf("ScaledObject %s: %d triggers, want 1", so.GetName(), len(trs))
	}
	md, _, _ := unstructured.NestedMap(trs[0].(map[string]any), "metadata")
	return md
}

func setTrigger(so *unstructured.Unstructured, md map[string]any) {
	trs, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
	trs[0].(map[string]any)["metadata"] = md
	unstructured.SetNestedSlice(so.Object, trs, "spec", "triggers")
}

// TestKEDA_GoldenScaledObject: KEDA v2.20.2 reconciles the test claim's ScaledObject, exactly as
// rendered, to Ready through the scaler, and the HPA it writes carries the scaler's metric
// name, the lagThreshold as target and the claim's min/max.
func TestKEDA_GoldenScaledObject(t *testing.T) {
	passed(t)
	stack(t)
	ensureStream(t, "TEST_AGENT_STREAM", "test.agent.*", "test-agent-workers")
	so := workload(t, "test-claim", nil)
	awaitReady(t, so.GetNamespace(), so.GetName(), 90*time.Second)

	hpaName := "keda-hpa-" + so.GetName()
	await(t, "HPA "+hpaName, 60*time.Second, func() (bool, error) {
		_, err := kube.AutoscalingV2().HorizontalPodAutoscalers(so.GetNamespace()).Get(context.Background(), hpaName, metav1.GetOptions{})
		return err == nil, err
	})
	hpa, err := kube.AutoscalingV2().HorizontalPodAutoscalers(so.GetNamespace()).Get(context.Background(), hpaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HPA written by KEDA:\n%s", yamlString(hpa.Spec))
	min, max := intField(so, "spec", "minReplicaCount"), intField(so, "spec", "maxReplicaCount")
	if hpa.Spec.MinReplicas == nil || int64(*hpa.Spec.MinReplicas) != min || int64(hpa.Spec.MaxReplicas) != max {
		t.Errorf("HPA min/max = %s/%d, want %d/%d (the claim's)", yamlString(hpa.Spec.MinReplicas), hpa.Spec.MaxReplicas, min, max)
	}
	if min != 1 || max != 10 {
		t.Errorf("golden test claim min/max = %d/%d, plan says 1/10", min, max)
	}
	if len(hpa.Spec.Metrics) != 1 || hpa.Spec.Metrics[0].External == nil {
		t.Fatalf("HPA metrics = %s, want one External metric", yamlString(hpa.Spec.Metrics))
	}
	ext := hpa.Spec.Metrics[0].External
	md := trigger(t, so)
	if want := "s0-nats-jetstream-" + md["stream"].(string); ext.Metric.Name != want {
		t.Errorf("HPA metric name %q, want %q", ext.Metric.Name, want)
	}
	if ext.Target.AverageValue == nil || ext.Target.AverageValue.String() != md["lagThreshold"] {
		t.Errorf("HPA target %s, want AverageValue %v (lagThreshold)", yamlString(ext.Target), md["lagThreshold"])
	}
}

// intField reads an integer of an object decoded from YAML (a float64 there) or from the API
// server (an int64); -1 when absent.
func intField(obj *unstructured.Unstructured, path ...string) int64 {
	v, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, path...)
	if !ok {
		return -1
	}
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return -1
}

// zeroScaledObject is the test claim's ScaledObject moved to its own namespace, stream and
// consumer, scaling from 0, polled every second with a 5 s cooldown (the golden's 30 s / 300 s
// defaults would only make the test slower).
func zeroScaledObject(ns, stream, consumer string) func(so *unstructured.Unstructured) {
	return func(so *unstructured.Unstructured) {
		so.SetNamespace(ns)
		unstructured.SetNestedField(so.Object, int64(0), "spec", "minReplicaCount")
		unstructured.SetNestedField(so.Object, int64(1), "spec", "pollingInterval")
		unstructured.SetNestedField(so.Object, int64(5), "spec", "cooldownPeriod")
		trs, _, _ := unstructured.NestedSlice(so.Object, "spec", "triggers")
		md := trs[0].(map[string]any)["metadata"].(map[string]any)
		md["stream"], md["consumer"] = stream, consumer
		setTrigger(so, md)
	}
}

// retarget moves the golden workload objects of a claim into namespace ns (same names).
func retarget(t *testing.T, claim, ns string, edit func(so *unstructured.Unstructured)) *unstructured.Unstructured {
	t.Helper()
	ensureNamespace(t, ns)
	for _, r := range []string{"service-account", "deployment"} {
		m := goldenManifest(t, claim, r)
		m.SetNamespace(ns)
		if r == "deployment" {
			secretsFor(t, m)
		}
		apply(t, m)
	}
	so := goldenManifest(t, claim, "scaled-object")
	edit(so)
	so.SetNamespace(ns)
	apply(t, so)
	noWarnings(t, "applying the workload in "+ns)
	return so
}

// TestKEDA_LagAndScaleFromZero: the value KEDA reads for the metric equals the consumer's lag
// (KEDA's own Prometheus series keda_scaler_metrics_value; the external metrics API through
// the aggregator is TestKEDA_HPAScalesOnLagThroughTheAggregator's); with
// minReplicaCount 0 KEDA scales the Deployment 0 -> 1 on the first publish and back to 0 once
// the consumer is drained.
func TestKEDA_LagAndScaleFromZero(t *testing.T) {
	passed(t)
	stack(t)
	const ns, stream, consumer, subject = "e2e-zero", "ZERO_STREAM", "zero-workers", "zero.tasks"
	ensureStream(t, stream, subject, consumer)
	so := retarget(t, "test-claim", ns, zeroScaledObject(ns, stream, consumer))
	deployment := "test-agent-executor"
	awaitReady(t, ns, so.GetName(), 90*time.Second)
	awaitReplicas(t, ns, deployment, 0, 60*time.Second)

	labels := map[string]string{"namespace": ns, "scaledObject": so.GetName(), "metric": "s0-nats-jetstream-" + stream}
	const n = 7
	publish(t, subject, n)
	awaitReplicas(t, ns, deployment, 1, 60*time.Second)
	await(t, fmt.Sprintf("keda_scaler_metrics_value = %d (the lag)", n), 60*time.Second, func() (bool, error) {
		v, ok, err := kedaMetric("keda_scaler_metrics_value", labels)
		if !ok {
			return false, fmt.Errorf("no series (%v)", err)
		}
		return v == n, fmt.Errorf("value %v", v)
	})

	drain(t, stream, consumer, n)
	await(t, "keda_scaler_metrics_value = 0 after the drain", 60*time.Second, func() (bool, error) {
		v, ok, err := kedaMetric("keda_scaler_metrics_value", labels)
		if !ok {
			return false, fmt.Errorf("no series (%v)", err)
		}
		return v == 0, fmt.Errorf("value %v", v)
	})
	awaitReplicas(t, ns, deployment, 0, 60*time.Second)
}

// TestKEDA_MissingConsumer: a trigger naming a consumer that does not exist: KEDA records the
// scaler's NOT_FOUND and does not scale the Deployment to 0 on it (an error is not "idle").
func TestKEDA_MissingConsumer(t *testing.T) {
	stack(t)
	const ns, stream = "e2e-missing", "MISSING_STREAM"
	ensureStream(t, stream, "missing.tasks", "present-workers")
	so := retarget(t, "test-claim", ns, zeroScaledObject(ns, stream, "no-such-consumer"))

	await(t, "KEDA records the scaler's NOT_FOUND", 90*time.Second, func() (bool, error) {
		evs, err := kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, ev := range evs.Items {
			if ev.InvolvedObject.Name == so.GetName() &&
				(strings.Contains(ev.Message, "NotFound") || strings.Contains(ev.Message, "NOT_FOUND")) {
				t.Logf("event %s: %s", ev.Reason, ev.Message)
				return true, nil
			}
		}
		return false, nil
	})
	// Several failed polls later (KEDA's event counted 3 times; it reports fewer failures than
	// it polls: one run stopped at 4 in 90 s with a 1 s pollingInterval), the Deployment still
	// has its replica.
	await(t, "KEDA has reported the failing trigger 3 times", 90*time.Second, func() (bool, error) {
		evs, err := kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		var n int32
		for _, ev := range evs.Items {
			if ev.InvolvedObject.Name == so.GetName() && ev.Reason == "KEDAScalerFailed" {
				n += max(ev.Count, 1)
			}
		}
		return n >= 3, fmt.Errorf("%d KEDAScalerFailed events", n)
	})
	if r, err := replicas(t, ns, "test-agent-executor"); err != nil || r != 1 {
		t.Errorf("Deployment replicas = %d (%v), want 1: a NOT_FOUND must not scale to 0", r, err)
	}
	if s, msg, err := soCondition(ns, so.GetName(), "Ready"); err != nil || s == "True" {
		t.Errorf("ScaledObject Ready = %q (%v) with a missing consumer: %s", s, err, msg)
	}
}

// TestKEDA_ExternalPush: the push claim's ScaledObject as rendered (external-push, min 0):
// once idle at 0 replicas, a publish brings the Deployment to 1 (the latency is printed,
// not asserted).
func TestKEDA_ExternalPush(t *testing.T) {
	passed(t)
	stack(t)
	so := goldenManifest(t, "claim-push", "scaled-object")
	md := trigger(t, so)
	stream, consumer := md["stream"].(string), md["consumer"].(string)
	subject := strings.ToLower(stream) + ".new"
	ensureStream(t, stream, subject, consumer)
	so = workload(t, "claim-push", nil)
	ns, deployment := so.GetNamespace(), goldenManifest(t, "claim-push", "deployment").GetName()
	awaitReady(t, ns, so.GetName(), 90*time.Second)
	awaitReplicas(t, ns, deployment, 0, 90*time.Second)

	start := time.Now()
	publish(t, subject, 1)
	deadline := start.Add(60 * time.Second)
	for {
		r, err := replicas(t, ns, deployment)
		if err == nil && r == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("external-push: replicas %d (%v) 60 s after the publish", r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("external-push: publish -> Deployment replicas 1 in %d ms (measured, not asserted)", time.Since(start).Milliseconds())
}

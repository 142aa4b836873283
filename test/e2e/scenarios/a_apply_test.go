package scenarios

import (
	"fmt"
	"path/filepath"
	"testing"
)

// TestScenarioA_PlatformManifests: the platform's XRD, Composition and Function, and
// provider-kubernetes' Provider, DeploymentRuntimeConfig, ProviderConfig and RBAC, are accepted
// by the real API server with the real Crossplane v2.3.4 / provider-kubernetes v1.2.1 CRDs,
// server-side apply, no warning. (No Crossplane core runs: the XRD is stored, not reconciled,
// so no claim CRD appears; the claim itself is covered through its rendered objects below.)
func TestScenarioA_PlatformManifests(t *testing.T) {
	installCRDs(t)
	ensureNamespace(t, "crossplane-system")
	for _, f := range []string{
		"platform/04-apis/definitions/xagentexecutors.yaml",
		"platform/04-apis/compositions/agent-executor-composition.yaml",
		"platform/04-apis/functions/function-patch-and-transform.yaml",
		"platform/bootstrap/provider-kubernetes/provider.yaml",
		"platform/bootstrap/provider-kubernetes/rbac.yaml",
		"platform/bootstrap/provider-kubernetes/providerconfig.yaml",
	} {
		objs := applyFile(t, filepath.Join(e.repo, f))
		if len(objs) == 0 {
			t.Errorf("%s: no objects", f)
		}
		for _, o := range objs {
			t.Logf("accepted %s %s (%s)", o.GetKind(), o.GetName(), f)
		}
	}
}

// TestScenarioA_TestClaimObjects (plan 3.9-3.12): the rendered test claim (golden) is accepted
// twice over: each composed provider-kubernetes Object as Crossplane would create it (named
// <XR>-<resource> here; Crossplane generates the suffix), and each manifest inside it as
// provider-kubernetes then applies it, into the namespace and Secrets of the examples.
func TestScenarioA_TestClaimObjects(t *testing.T) {
	installCRDs(t)
	for _, f := range []string{"test-namespace.yaml", "test-secrets.yaml"} {
		applyFile(t, filepath.Join(e.repo, "platform/04-apis/examples", f))
	}
	kinds := map[string]bool{}
	for _, g := range golden(t, "test-claim") {
		wrapper := g.object.DeepCopy()
		wrapper.SetName(fmt.Sprintf("test-agent-executor-x0000-%s", g.name))
		apply(t, wrapper)
		noWarnings(t, "applying the provider-kubernetes Object of "+g.name)
		m := g.manifest()
		stored := apply(t, m)
		noWarnings(t, fmt.Sprintf("applying %s %s/%s", m.GetKind(), m.GetNamespace(), m.GetName()))
		if !exists(t, stored) {
			t.Errorf("%s %s not found after apply", m.GetKind(), m.GetName())
		}
		kinds[m.GetKind()] = true
	}
	for _, k := range []string{"ServiceAccount", "Deployment", "Service", "ScaledObject"} {
		if !kinds[k] {
			t.Errorf("the rendered test claim has no %s (plan 3.9-3.12 expects one)", k)
		}
	}
}

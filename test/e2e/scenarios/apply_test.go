package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

const fieldManager = "jss-e2e"

var (
	mapperOnce sync.Once
	mapper     *restmapper.DeferredDiscoveryRESTMapper
)

func restMapper() *restmapper.DeferredDiscoveryRESTMapper {
	mapperOnce.Do(func() { mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)) })
	return mapper
}

// resourceFor maps an object to its REST resource; a kind just added by a CRD is found after
// the discovery cache is reset.
func resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m := restMapper()
	mapping, err := m.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		m.Reset()
		mapping, err = m.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", gvk, err)
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			return nil, fmt.Errorf("%s %s: namespaced kind without metadata.namespace", gvk.Kind, obj.GetName())
		}
		return dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return dyn.Resource(mapping.Resource), nil
}

// apply server-side applies obj (force: the tests own these objects) and returns what the API
// server stored.
func apply(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri, err := resourceFor(obj)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	body, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	force := true
	out, err := ri.Patch(context.Background(), obj.GetName(), types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force})
	if err != nil {
		t.Fatalf("server-side apply of %s %s/%s refused: %v", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return out
}

// decodeDocs splits a multi-document YAML file into objects (empty documents skipped).
func decodeDocs(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("yaml: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// applyFile applies every object of a YAML file, warnings failing the test.
func applyFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, obj := range decodeDocs(t, readFile(t, path)) {
		out = append(out, apply(t, obj))
		noWarnings(t, fmt.Sprintf("applying %s %s from %s", obj.GetKind(), obj.GetName(), path))
	}
	return out
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// awaitEstablished waits for a CRD's Established condition.
func awaitEstablished(t *testing.T, name string) {
	t.Helper()
	await(t, "CRD "+name+" Established", 60*time.Second, func() (bool, error) {
		crd, err := dyn.Resource(crdGVR).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		status, _, _, _ := condition(crd, "Established")
		return status == "True", nil
	})
}

// condition reads the condition of type typ from obj's status.conditions (ok false: none).
func condition(obj *unstructured.Unstructured, typ string) (status, reason, message string, ok bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == typ {
			s, _ := m["status"].(string)
			r, _ := m["reason"].(string)
			msg, _ := m["message"].(string)
			return s, r, msg, true
		}
	}
	return "", "", "", false
}

var (
	crdsOnce sync.Once
	crdsErr  string
)

// installCRDs applies the real CRDs once (KEDA's, Crossplane's, provider-kubernetes'): the
// first test that needs them does it, and reports a failure; later ones skip on that failure.
func installCRDs(t *testing.T) {
	t.Helper()
	crdsOnce.Do(func() {
		ok := t.Run("install", func(t *testing.T) {
			for _, dir := range []string{e.kedaCRDs, e.crossplaneCRDs, e.providerKubernetesCRDs} {
				files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
				if err != nil || len(files) == 0 {
					t.Fatalf("no CRDs in %s (%v)", dir, err)
				}
				for _, f := range files {
					for _, crd := range decodeDocs(t, readFile(t, f)) {
						withoutConversionWebhook(t, crd)
						apply(t, crd)
						noWarnings(t, "applying CRD "+crd.GetName())
						awaitEstablished(t, crd.GetName())
					}
				}
			}
		})
		if !ok {
			crdsErr = "installing the CRDs failed"
		}
	})
	if crdsErr != "" {
		t.Fatal(crdsErr)
	}
}

// withoutConversionWebhook: a provider package's CRDs (provider-kubernetes v1.2.1's Object,
// ProviderConfig, ...) declare `conversion: Webhook` with no service; Crossplane's package
// manager fills in the provider's webhook Service when it installs them, and the API server
// refuses them as shipped. No provider runs here and every object is written at the version it
// is stored in, so the conversion is set to None (logged).
func withoutConversionWebhook(t *testing.T, crd *unstructured.Unstructured) {
	strategy, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "strategy")
	if strategy != "Webhook" {
		return
	}
	if svc, _, _ := unstructured.NestedString(crd.Object, "spec", "conversion", "webhook", "clientConfig", "service", "name"); svc != "" {
		return
	}
	unstructured.SetNestedMap(crd.Object, map[string]any{"strategy": "None"}, "spec", "conversion")
	t.Logf("CRD %s: conversion webhook without a service (Crossplane's package manager sets it): installed with conversion None", crd.GetName())
}

// ensureNamespace creates a namespace (no-op when it exists).
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	apply(t, ns)
}

// goldenResource is one composed resource of a rendered claim (test/platform/golden/).
type goldenResource struct {
	name   string // the composition resource name ("deployment", "scaled-object", ...)
	object *unstructured.Unstructured
}

func (g goldenResource) manifest() *unstructured.Unstructured {
	m, _, _ := unstructured.NestedMap(g.object.Object, "spec", "forProvider", "manifest")
	return &unstructured.Unstructured{Object: m}
}

// golden reads test/platform/golden/<claim>.yaml; each document names its composition
// resource in a "# composition resource: NAME" comment.
func golden(t *testing.T, claim string) []goldenResource {
	t.Helper()
	data := readFile(t, filepath.Join(e.repo, "test/platform/golden", claim+".yaml"))
	re := regexp.MustCompile(`(?m)^# composition resource: (\S+)$`)
	var out []goldenResource
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		match := re.FindStringSubmatch(doc)
		if match == nil {
			continue
		}
		objs := decodeDocs(t, []byte(doc))
		if len(objs) != 1 {
			t.Fatalf("golden %s: resource %s: %d objects", claim, match[1], len(objs))
		}
		out = append(out, goldenResource{name: match[1], object: objs[0]})
	}
	if len(out) == 0 {
		t.Fatalf("golden %s: no composition resources", claim)
	}
	return out
}

// goldenManifest is the manifest of one composition resource of a claim.
func goldenManifest(t *testing.T, claim, resource string) *unstructured.Unstructured {
	t.Helper()
	for _, g := range golden(t, claim) {
		if g.name == resource {
			return g.manifest()
		}
	}
	t.Fatalf("golden %s has no resource %q", claim, resource)
	return nil
}

func exists(t *testing.T, obj *unstructured.Unstructured) bool {
	t.Helper()
	ri, err := resourceFor(obj)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ri.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func yamlString(obj any) string {
	b, _ := yaml.Marshal(obj)
	return string(bytes.TrimSpace(b))
}

var _ = strings.TrimSpace

#!/usr/bin/python3
"""render.py against the upstream test cases of the semantics it reproduces.

  render_cases.py

Each case is a table entry of an upstream Go test, restated (inputs and expected results, not
code): crossplane-runtime v2.1.0 pkg/fieldpath/paved_test.go TestGetValue/TestSetValue and
function-patch-and-transform v0.10.8 transforms_test.go TestMapResolve/TestStringResolve/
TestConvertResolve/TestMatchResolve, patches_test.go TestApplyCombineFromVariablesPatch and
fn_test.go TestRunFunction, plus what Go's fmt.Sprintf prints for the verbs a fmt can use
(results checked with go run, Go 1.26). Only cases of features render.py implements are here; a
feature it refuses must raise Unsupported. Prints "PASS render: <case>" or "FAIL ...".
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render  # noqa: E402
from render import NotFound, Unsupported  # noqa: E402

NESTED = {"spec": {"containers": [{"name": "cool"}]}}


def get(data, path):
    return lambda: render.get_value(copy.deepcopy(data), path)


def set_(data, path, value):
    def run():
        obj = copy.deepcopy(data)
        render.set_value(obj, path, value)
        return obj
    return run


def transform(t, value):
    return lambda: render.resolve(t, value)


def fn(resources, xr):
    def run():
        desired, warnings, not_ready = render.run_function(
            {"apiVersion": "pt.fn.crossplane.io/v1beta1", "kind": "Resources", "resources": resources}, xr)
        return {"desired": dict(desired), "warnings": len(warnings), "xr_ready_false": not_ready}
    return run


def age_triggers(spec_update):
    """The triggers the real Composition renders for the age example claim with spec_update
    applied (None values remove the field)."""
    def run():
        root = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../.."))
        composition, claims, schema, xr_kind = render.load_inputs(root)
        claim = copy.deepcopy(next(c for c in claims if c["_stem"] == "claim-age"))
        for k, v in spec_update.items():
            if v is None:
                claim["spec"].pop(k, None)
            else:
                claim["spec"][k] = v
        desired, warnings, _ = render.render(composition, render.claim_to_xr(claim, schema, xr_kind))
        so = dict(desired)["scaled-object"]["spec"]["forProvider"]["manifest"]
        return [t.get("type") for t in so["spec"]["triggers"]], so["spec"]["triggers"][-1]["metadata"], warnings
    return run


CD = {"apiVersion": "example.org/v1", "kind": "CD", "spec": {}}
REQUIRED = {"fromFieldPath": "Required"}

# (upstream test / case, thunk, expected value or exception class)
CASES = [
    # paved_test.go TestGetValue
    ("TestGetValue/MetadataName", get({"metadata": {"name": "cool"}}, "metadata.name"), "cool"),
    ("TestGetValue/ContainerName", get(NESTED, "spec.containers[0].name"), "cool"),
    ("TestGetValue/NestedArray", get({"items": [["a", "b"]]}, "items[0][1]"), "b"),
    ("TestGetValue/MetadataVersion", get({"metadata": {"version": 2}}, "metadata.version"), 2),
    ("TestGetValue/MetadataNope", get({"metadata": {"nope": "cool"}}, "metadata.name"), NotFound),
    ("TestGetValue/InsufficientContainers", get(NESTED, "spec.containers[1].name"), NotFound),
    ("TestGetValue/NotAnArray", get({"metadata": {"nope": "cool"}}, "metadata[1]"), ValueError),
    ("TestGetValue/NotAnObject", get(NESTED, "spec.containers[nope].name"), ValueError),
    ("TestGetValue/MalformedPath", get({}, "spec[]"), ValueError),
    # paved_test.go TestSetValue
    ("TestSetValue/MetadataName", set_({"metadata": {"name": "lame"}}, "metadata.name", "cool"),
     {"metadata": {"name": "cool"}}),
    ("TestSetValue/NonExistentMetadataName", set_({}, "metadata.name", "cool"), {"metadata": {"name": "cool"}}),
    ("TestSetValue/ContainerName", set_({"spec": {"containers": [{"name": "lame"}]}}, "spec.containers[0].name", "cool"),
     NESTED),
    ("TestSetValue/NonExistentContainerName", set_({}, "spec.containers[0].name", "cool"), NESTED),
    ("TestSetValue/NewContainer", set_(NESTED, "spec.containers[1].name", "cooler"),
     {"spec": {"containers": [{"name": "cool"}, {"name": "cooler"}]}}),
    ("TestSetValue/NestedArray", set_({}, "data[0][0]", "a"), {"data": [["a"]]}),
    ("TestSetValue/GrowNestedArray", set_({"data": [["a"]]}, "data[0][1]", "b"), {"data": [["a", "b"]]}),
    ("TestSetValue/GrowArrayField", set_({"data": ["a"]}, "data[2]", "c"), {"data": ["a", None, "c"]}),
    ("TestSetValue/RejectsHighIndexes", set_({"data": ["a"]}, "data[1025]", "c"), ValueError),
    ("TestSetValue/MapStringString", set_({"metadata": {}}, "metadata.labels", {"cool": "very"}),
     {"metadata": {"labels": {"cool": "very"}}}),
    ("TestSetValue/NotAnArray", set_({"data": {}}, "data[0]", None), ValueError),
    ("TestSetValue/NotAnObject", set_({"data": []}, "data.name", None), ValueError),
    ("TestSetValue/MalformedPath", set_({}, "spec[]", None), ValueError),
    ("TestSetValue label key with dots (metadata.labels[a.b/c])",
     set_({}, "metadata.labels[app.kubernetes.io/name]", "x"), {"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}),
    # transforms_test.go TestMapResolve
    ("TestMapResolve/NonStringInput", transform({"type": "map", "map": {}}, 5), ValueError),
    ("TestMapResolve/KeyNotFound", transform({"type": "map", "map": {}}, "ola"), ValueError),
    ("TestMapResolve/SuccessString", transform({"type": "map", "map": {"ola": "voila"}}, "ola"), "voila"),
    ("TestMapResolve/SuccessObject", transform({"type": "map", "map": {"ola": {"foo": "bar"}}}, "ola"), {"foo": "bar"}),
    ("TestMapResolve/SuccessSlice", transform({"type": "map", "map": {"ola": ["foo", "bar"]}}, "ola"), ["foo", "bar"]),
    # transforms_test.go TestStringResolve (sFmt = "verycool%s", iFmt = "the largest %d")
    ("TestStringResolve/FmtString", transform({"type": "string", "string": {"type": "Format", "fmt": "verycool%s"}},
                                              "thing"), "verycoolthing"),
    ("TestStringResolve/FmtInteger", transform({"type": "string", "string": {"type": "Format", "fmt": "the largest %d"}},
                                               8), "the largest 8"),
    # transforms_test.go TestConvertResolve (to string)
    ("TestConvertResolve int64 -> string (getConversion FormatInt)",
     transform({"type": "convert", "convert": {"toType": "string"}}, 5), "5"),
    ("TestConvertResolve bool -> string (getConversion FormatBool)",
     transform({"type": "convert", "convert": {"toType": "string"}}, True), "true"),
    ("TestConvertResolve/ConversionPairFormatNotSupported",
     transform({"type": "convert", "convert": {"toType": "string", "format": "quantity"}}, 100), Unsupported),
    # fn_test.go TestRunFunction
    ("TestRunFunction/OptionalFieldPathNotFound",
     fn([{"name": "cool-resource", "base": CD, "patches": [
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.widgets", "toFieldPath": "spec.watchers"},
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.doesNotExist"}]}],
        {"apiVersion": "example.org/v1", "kind": "XR", "spec": {"widgets": "10"}}),
     {"desired": {"cool-resource": {"apiVersion": "example.org/v1", "kind": "CD", "spec": {"watchers": "10"}}},
      "warnings": 0, "xr_ready_false": False}),
    ("TestRunFunction/RequiredFieldPathNotFound (new resource: left out, warning, XR not ready)",
     fn([{"name": "new-resource", "base": CD, "patches": [
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.doesNotExist", "policy": REQUIRED}]}],
        {"apiVersion": "example.org/v1", "kind": "XR", "spec": {"widgets": "10"}}),
     {"desired": {}, "warnings": 1, "xr_ready_false": True}),
    # transforms_test.go TestMatchResolve (validate.go ValidateMatchTransform: at least one pattern)
    ("TestMatchResolve/ErrNonStringInput",
     transform({"type": "match", "match": {"patterns": [{"type": "literal", "literal": "5"}]}}, 5), ValueError),
    ("TestMatchResolve/MatchLiteral", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "foo", "result": "bar"}]}}, "foo"), "bar"),
    ("TestMatchResolve/MatchLiteralFirst", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "foo", "result": "bar"},
        {"type": "literal", "literal": "foo", "result": "not this"}]}}, "foo"), "bar"),
    ("TestMatchResolve/MatchLiteralWithResultStruct", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "foo", "result": {"Hello": "World"}}]}}, "foo"), {"Hello": "World"}),
    ("TestMatchResolve/MatchLiteralWithResultNil", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "foo"}]}}, "foo"), None),
    ("TestMatchResolve/MatchRegexp", transform({"type": "match", "match": {"patterns": [
        {"type": "regexp", "regexp": "^foo.*$", "result": "Hello World"}]}}, "foobar"), "Hello World"),
    ("match: no pattern matches -> fallbackValue", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "x", "result": "y"}], "fallbackValue": "bar"}}, "foo"), "bar"),
    ("match: no pattern matches, fallbackTo Input -> the input", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "x", "result": "y"}], "fallbackTo": "Input"}}, "foo"), "foo"),
    ("TestMatchResolve/ErrFallbackValueAndToInput", transform({"type": "match", "match": {"patterns": [
        {"type": "literal", "literal": "x"}], "fallbackValue": "foo", "fallbackTo": "Input"}}, "foo"), ValueError),
    ("ValidateMatchTransform: no patterns is an error", transform({"type": "match", "match": {"patterns": [],
                                                                                           "fallbackValue": "b"}}, "a"),
     ValueError),
    ("match regexp '^' maps every string to the result (the Composition's constants)",
     transform({"type": "match", "match": {"patterns": [{"type": "regexp", "regexp": "^", "result": "external"}]}},
               "2592000"), "external"),
    ("match regexp on a number (no convert first) is an error (matchesRegexp: unsupported input type)",
     transform({"type": "match", "match": {"patterns": [{"type": "regexp", "regexp": "^", "result": "x"}]}}, 30.0),
     ValueError),
    # fmt.Sprintf as Go does it (fmt/print.go doPrintf), for CombineString and string Format
    ("Sprintf %[2]s prints only the second argument, no EXTRA once an index was used",
     lambda: render.go_sprintf_args("%[2]s", [30.0, "AGENT_TASKS"]), "AGENT_TASKS"),
    ("Sprintf without an index reports unused arguments",
     lambda: render.go_sprintf_args("%s", ["a", 30.0]), "a%!(EXTRA float64=30)"),
    ("Sprintf %d of a float64 (every XR number) is %!d(float64=30)",
     lambda: render.go_sprintf_args("%d", [30.0]), "%!d(float64=30)"),
    ("Sprintf %v of float64 2592000 is 2.592e+06 (strconv 'g', shortest: %e from exponent 6)",
     lambda: render.go_sprintf_args("%v", [2592000.0]), "2.592e+06"),
    ("Sprintf %v of float64 30 is 30", lambda: render.go_sprintf_args("%v", [30.0]), "30"),
    ("Sprintf %s-%s with one argument: %!s(MISSING)",
     lambda: render.go_sprintf_args("%s-%s", ["a"]), "a-%!s(MISSING)"),
    ("Sprintf %[3]s of two arguments: %!s(BADINDEX)",
     lambda: render.go_sprintf_args("%[3]s", ["a", "b"]), "%!s(BADINDEX)"),
    ("Sprintf with a width is refused", lambda: render.go_sprintf_args("%5s", ["a"]), Unsupported),
    # patches_test.go TestApplyCombineFromVariablesPatch
    ("TestApplyCombineFromVariablesPatch/ValidCombineFromComposite",
     fn([{"name": "r", "base": CD, "patches": [{"type": "CombineFromComposite", "combine": {
         "variables": [{"fromFieldPath": "metadata.labels.source1"}, {"fromFieldPath": "metadata.labels.source2"}],
         "strategy": "string", "string": {"fmt": "%s-%s"}}, "toFieldPath": "metadata.labels.destination"}]}],
        {"metadata": {"labels": {"source1": "foo", "source2": "bar"}}}),
     {"desired": {"r": dict(CD, metadata={"labels": {"destination": "foo-bar"}})}, "warnings": 0,
      "xr_ready_false": False}),
    ("TestApplyCombineFromVariablesPatch/VariableFromFieldPathNotFound (not found)",
     lambda: render.combine({"variables": [{"fromFieldPath": "metadata.labels.source1"},
                                           {"fromFieldPath": "metadata.labels.source2"}],
                             "strategy": "string", "string": {"fmt": "%s-%s"}},
                            {"metadata": {"labels": {"source1": "foo"}}}), NotFound),
    # fn.go RunFunction: a combine patch with a missing variable, Optional -> skipped (the age
    # trigger of a claim without scaleOnAgeSeconds), Required -> the new resource is left out
    ("RunFunction: CombineFromComposite with a missing variable (Optional) is skipped, nothing written",
     fn([{"name": "r", "base": CD, "patches": [
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.widgets", "toFieldPath": "spec.watchers"},
         {"type": "CombineFromComposite", "combine": {
             "variables": [{"fromFieldPath": "spec.age"}, {"fromFieldPath": "spec.widgets"}],
             "strategy": "string", "string": {"fmt": "%[2]s"}}, "toFieldPath": "spec.list[1].name",
          "policy": {"fromFieldPath": "Optional"}}]}],
        {"apiVersion": "example.org/v1", "kind": "XR", "spec": {"widgets": "10"}}),
     {"desired": {"r": dict(CD, spec={"watchers": "10"})}, "warnings": 0, "xr_ready_false": False}),
    ("RunFunction: CombineFromComposite with a missing variable (Required): new resource left out",
     fn([{"name": "r", "base": CD, "patches": [
         {"type": "CombineFromComposite", "combine": {
             "variables": [{"fromFieldPath": "spec.age"}, {"fromFieldPath": "spec.widgets"}],
             "strategy": "string", "string": {"fmt": "%[2]s"}}, "toFieldPath": "spec.name", "policy": REQUIRED}]}],
        {"apiVersion": "example.org/v1", "kind": "XR", "spec": {"widgets": "10"}}),
     {"desired": {}, "warnings": 1, "xr_ready_false": True}),
    ("RunFunction: an XR integer reaches a combine as a float64 (structpb AsMap)",
     fn([{"name": "r", "base": CD, "patches": [{"type": "CombineFromComposite", "combine": {
         "variables": [{"fromFieldPath": "spec.n"}], "strategy": "string", "string": {"fmt": "%d"}},
         "toFieldPath": "spec.s"}]}], {"spec": {"n": 30}}),
     {"desired": {"r": dict(CD, spec={"s": "%!d(float64=30)"})}, "warnings": 0, "xr_ready_false": False}),
    ("RunFunction: an XR integer patched as it is comes back an integer (toValidJSON)",
     fn([{"name": "r", "base": CD, "patches": [
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec.n", "toFieldPath": "spec.n"}]}], {"spec": {"n": 30}}),
     {"desired": {"r": dict(CD, spec={"n": 30})}, "warnings": 0, "xr_ready_false": False}),
    ("combine strategy other than string is an error",
     fn([{"name": "r", "base": CD, "patches": [{"type": "CombineFromComposite", "combine": {
         "variables": [{"fromFieldPath": "spec"}], "strategy": "json"}, "toFieldPath": "spec.s"}]}], {"spec": {}}),
     ValueError),
    # The Composition's age trigger (triggers[1]) on the age example claim
    ("Composition: without scaleOnAgeSeconds every triggers[1] patch is skipped: one trigger",
     age_triggers({"scaleOnAgeSeconds": None}),
     (["external"], {"scalerAddress": "jetstream-scaler.keda.svc:6000", "natsUrl": "nats://nats.nats.svc:4222",
                     "lagThreshold": "5", "activationLagThreshold": "0", "stream": "ORDER_TASKS",
                     "consumer": "order-fulfilment-workers"}, [])),
    ("Composition: scaleOnAgeSeconds 2592000 (a float64 in the XR) is ageThreshold 2592000s, activation 10s;"
     " the age trigger takes the claim's triggerType",
     age_triggers({"scaleOnAgeSeconds": 2592000, "activationAgeSeconds": 10, "triggerType": "external-push"}),
     (["external-push", "external-push"], {"scalerAddress": "jetstream-scaler.keda.svc:6000",
                                           "natsUrl": "nats://nats.nats.svc:4222", "stream": "ORDER_TASKS",
                                           "consumer": "order-fulfilment-workers", "ageThreshold": "2592000s",
                                           "activationAgeThreshold": "10s"}, [])),
    ("Composition: the claim's pushInterval goes to the age trigger too",
     age_triggers({"scaleOnAgeSeconds": 30, "triggerType": "external-push", "pushInterval": "500ms"}),
     (["external-push", "external-push"], {"scalerAddress": "jetstream-scaler.keda.svc:6000",
                                           "natsUrl": "nats://nats.nats.svc:4222", "stream": "ORDER_TASKS",
                                           "consumer": "order-fulfilment-workers", "pushInterval": "500ms",
                                           "ageThreshold": "30s"}, [])),
    # patches.go: features the Composition does not use are refused, not approximated
    ("patch type ToCompositeFieldPath is refused",
     fn([{"name": "r", "base": CD, "patches": [{"type": "ToCompositeFieldPath"}]}], {}), Unsupported),
    ("toFieldPath policy MergeObjects is refused",
     fn([{"name": "r", "base": CD, "patches": [
         {"type": "FromCompositeFieldPath", "fromFieldPath": "spec", "policy": {"toFieldPath": "MergeObjects"}}]}],
        {"spec": {}}), Unsupported),
    ("wildcard toFieldPath is refused", set_({}, "spec.containers[*].name", "x"), Unsupported),
]


def main():
    failed = 0
    for name, thunk, want in CASES:
        try:
            got = thunk()
        except (NotFound, ValueError, Unsupported) as e:
            got = e
        ok = isinstance(got, want) if isinstance(want, type) else got == want
        if ok:
            print(f"PASS render: {name}")
        else:
            failed += 1
            shown = want.__name__ if isinstance(want, type) else repr(want)
            print(f"FAIL render: {name}\n       - expected {shown}, got {got!r}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""render.py against the upstream test cases of the semantics it reproduces.

  render_cases.py

Each case is a table entry of an upstream Go test, restated (inputs and expected results, not
code): crossplane-runtime v2.1.0 pkg/fieldpath/paved_test.go TestGetValue/TestSetValue and
function-patch-and-transform v0.10.8 transforms_test.go TestMapResolve/TestStringResolve/
TestConvertResolve and fn_test.go TestRunFunction. Only cases of features render.py implements
are here; a feature it refuses must raise Unsupported. Prints "PASS render: <case>" or "FAIL ...".
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
    # patches.go: features the Composition does not use are refused, not approximated
    ("patch type CombineFromComposite is refused",
     fn([{"name": "r", "base": CD, "patches": [{"type": "CombineFromComposite"}]}], {}), Unsupported),
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

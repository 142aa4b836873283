#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds with
# warnings as errors, runs unit + integration tests (real nats-server, real
# gRPC) and the offline platform/chart checks, the NATS-behaviour tests again
# on newer nats-server releases (the matrix), then the e2e runs with the real
# programs (nats CLI, Crossplane CLI, Kubernetes control plane and KEDA:
# test/e2e/{natscli,crossplane}/run.sh, scripts/e2e.sh), then the same unit and
# integration tests under ASan+UBSan and under TSan, then a bounded fuzz run, then
# the container image: built, size-checked and smoke-tested (scripts/image.sh).
# Ends with the names of what failed (one "FAILED: <stage>: <test>" line each, so CI's
# tail names them) and one line "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
passed=0
failed=0
failures=()
stage="build"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Records what failed in the current stage, for the list printed at the end.
record_failure() { failures+=("FAILED: ${stage}: $*"); }

# Adds one ctest run's counts to the totals and records the names of the tests that failed
# (ctest lists them after "The following tests FAILED:").
count_ctest() {
  local line total fails name
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    record_failure "ctest printed no summary (crashed or was killed)"
    return
  fi
  while IFS= read -r name; do
    record_failure "$name"
  done < <(sed -n '/^The following tests FAILED:/,$p' "$log" |
    sed -nE 's/^[[:space:]]+[0-9]+ - (.*)$/\1/p')
  fails=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* failed out of ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - fails))
  failed=$((failed + fails))
}

# Adds the counts of a script ending "<what>: N passed, M failed" to the totals.
count_plain() {
  local line name
  line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -1)
  if [[ -z "$line" ]]; then
    failed=$((failed + 1))
    record_failure "printed no summary"
    return
  fi
  while IFS= read -r name; do
    record_failure "$name"
  done < <(grep -E '^(FAIL |--- FAIL|e2e: FAILED)' "$log")
  passed=$((passed + $(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$line")))
}

step() { stage="$*"; echo; echo "==== $*"; }

step "dependencies"
scripts/install-deps.sh scripts/packages-build.txt scripts/packages-test.txt || exit 1

step "build (RelWithDebInfo, -Werror)"
if ! scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJSS_WERROR=ON \
    -DJSS_BUILD_TESTS=ON -DJSS_BUILD_BENCH=ON; then
  echo "0 passed, 1 failed"
  exit 1
fi

# Debian's nats-server (2.9) by name, so a JSS_NATS_SERVER left in the caller's
# environment does not silently change what the main run tests.
debian_nats=$(scripts/nats-server.sh debian) || exit 1
step "tests: unit, integration, offline platform/chart checks (nats-server: $("$debian_nats" --version))"
JSS_NATS_SERVER=$debian_nats ctest --test-dir build --output-on-failure -j2 --timeout 900 2>&1 | tee "$log"
count_ctest

# The NATS server matrix: the integration tests that exercise NATS behaviour run
# again on newer releases (built once from the Go module proxy, pinned in
# test/nats-servers/, cached in ~/.cache). nats-matrix = every NATS-behaviour
# test, on the newest release; nats-lag-push = the lag and push subset, on the
# newest 2.11 and 2.10 and on 2.10.5 (the platform's NATS chart). Labels: see
# test/nats_matrix_labels.cmake; every server also runs the nats-2.11+ features
# (test/nats_feature_labels.cmake: they skip, naming the version, where the server
# lacks one). Plain build only: the sanitizer passes test our
# code, which does not change with the server.
for entry in "v2.15.3 nats-matrix" "v2.11.17 nats-lag-push" "v2.10.27 nats-lag-push" \
    "v2.10.5 nats-lag-push"; do
  read -r version label <<<"$entry"
  if ! bin=$(scripts/nats-server.sh "$version"); then
    echo "nats-server $version: could not be built"
    failed=$((failed + 1)); record_failure "nats-server $version could not be built"
    continue
  fi
  step "NATS matrix: nats-server $version ($("$bin" --version)), tests labelled $label"
  matrix_start=$SECONDS
  JSS_NATS_SERVER=$bin ctest --test-dir build --output-on-failure -j2 -L "^(${label}|nats-2\.11\+)\$" \
    --timeout 900 2>&1 | tee "$log"
  count_ctest
  echo "NATS matrix: nats-server $version: $((SECONDS - matrix_start)) s"
done

step "e2e natscli: the real nats CLI (natscli) and the scaler on nats-server 2.10.5 with the platform's NATS config"
JSS_BUILD_DIR=build test/e2e/natscli/run.sh 2>&1 | tee "$log"
count_plain "natscli e2e"

step "e2e crossplane: the real crossplane CLI's validator on the platform's Crossplane manifests"
test/e2e/crossplane/run.sh 2>&1 | tee "$log"
count_plain "crossplane e2e"

# The real components (issue 19): etcd, kube-apiserver and kube-controller-manager v1.35.4 and
# the KEDA operator v2.20.2, built from the Go module proxy (cached), against the scaler built
# above. A component that cannot be built or started is a failure, not a skip.
step "e2e: scripts/e2e.sh (real control plane, KEDA and Crossplane core)"
e2e_start=$SECONDS
JSS_SCALER_BIN=$(pwd)/build/scaler/main/jetstream-scaler scripts/e2e.sh 2>&1 | tee "$log"
echo "e2e: $((SECONDS - e2e_start)) s"
count_plain "e2e"

step "build (ASan+UBSan)"
if scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DJSS_SANITIZE=ON -DJSS_WERROR=ON \
    -DJSS_BUILD_BENCH=OFF -- jss_unit_tests jss_integration_tests jetstream-scaler; then
  step "tests under ASan+UBSan: unit, integration"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    LSAN_OPTIONS=suppressions=$(pwd)/test/sanitizers/lsan.supp:print_suppressions=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j2 -L 'unit|integration' 2>&1 | tee "$log"
  count_ctest
else
  failed=$((failed + 1)); record_failure "the build failed"
fi

step "build (ThreadSanitizer)"
if scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=Debug -DJSS_TSAN=ON -DJSS_WERROR=ON \
    -DJSS_BUILD_BENCH=OFF -- jss_unit_tests jss_integration_tests jetstream-scaler; then
  step "tests under TSan: unit, integration"
  # Debian's gRPC, Abseil, OpenSSL and cnats are not instrumented:
  # test/sanitizers/tsan.supp silences reports that run through them; our own
  # code is checked. The resilience tests (overload, drain deadlines) are left
  # out: TSan slows every call 5-15x, which makes their deadlines, not our
  # code, the subject; they run in the plain and ASan passes.
  TSAN_OPTIONS="halt_on_error=1 suppressions=$(pwd)/test/sanitizers/tsan.supp" \
    ctest --test-dir build-tsan --output-on-failure -j2 -L 'unit|integration' -E 'Resilience' \
    --timeout 300 2>&1 | tee "$log"
  count_ctest
else
  failed=$((failed + 1)); record_failure "the build failed"
fi

step "fuzz (libFuzzer, ${FUZZ_SECONDS}s per target)"
if scripts/build.sh build-fuzz -DJSS_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
    -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo; then
  for fuzzer in metadata_fuzzer consumer_info_fuzzer policy_fuzzer message_get_fuzzer; do
    corpus=$(mktemp -d)
    seeds=test/fuzz/corpus/${fuzzer%_fuzzer}
    if build-fuzz/test/fuzz/$fuzzer -max_total_time="$FUZZ_SECONDS" -timeout=5 \
        "$corpus" "$seeds" >"$log" 2>&1; then
      echo "$fuzzer: $(grep -E '^Done [0-9]+ runs' "$log")"
      passed=$((passed + 1))
    else
      tail -40 "$log"
      echo "$fuzzer: FAILED (crash input saved in $(pwd))"
      failed=$((failed + 1))
      record_failure "$fuzzer"
    fi
    rm -rf "$corpus"
  done
else
  failed=$((failed + 1)); record_failure "the build failed"
fi

# The container image as users deploy it: built from the Dockerfile (docker, else podman,
# installed and its base bootstrapped on a fresh machine), size budget enforced, then run
# with the chart's args against a real nats-server. Exit status 77: no container tool.
step "container image: scripts/image.sh build (size budget ${JSS_IMAGE_BUDGET_MIB:-60} MiB)"
image_start=$SECONDS
scripts/image.sh build 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "container image build: $((SECONDS - image_start)) s"
if ((rc == 77)); then
  echo "container image: SKIPPED, no container tool could be installed ($(grep -m1 'SKIP' "$log"))"
elif ((rc != 0)); then
  failed=$((failed + 1)); record_failure "scripts/image.sh build"
else
  passed=$((passed + 1))
  step "container image: scripts/image.sh smoke (the chart's args, real nats-server)"
  smoke_start=$SECONDS
  if scripts/image.sh smoke; then passed=$((passed + 1)); else failed=$((failed + 1)); record_failure "scripts/image.sh smoke"; fi
  echo "container image smoke: $((SECONDS - smoke_start)) s"
fi

echo
((${#failures[@]} == 0)) || printf '%s\n' "${failures[@]}"
echo "${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]

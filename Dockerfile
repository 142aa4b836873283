# jetstream-scaler container image: build on Debian bookworm, run on bookworm-slim
# with only the runtime libraries.
#
#   docker build -t jetstream-scaler:0.1.0 .
#
# No Docker engine at hand? scripts/runtime-dir.sh assembles the runtime stage's
# file set (the RUNTIME_PACKAGES below + the binary) into a directory and runs the
# binary from it with nothing else present; test/chart/check.sh runs it.

# ---- build -------------------------------------------------------------------
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The same package list as scripts/install-deps.sh uses for a local build.
COPY scripts/packages-build.txt /tmp/packages-build.txt
RUN apt-get update \
 && grep -Ev '^[[:space:]]*(#|$)' /tmp/packages-build.txt \
      | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole context, .git included: CMake stamps `git rev-parse --short HEAD`
# into --version and jetstream_scaler_build_info.
COPY . .
RUN rm -rf /src/build* \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DJSS_BUILD_TESTS=OFF -DJSS_BUILD_BENCH=OFF \
 && cmake --build /build --target jetstream-scaler \
 && install -D -m 0755 -s /build/scaler/main/jetstream-scaler /out/jetstream-scaler \
 && /out/jetstream-scaler --version

# ---- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# Shared libraries the binary links against (plus CA roots for NATS over TLS).
# scripts/runtime-dir.sh reads this list: keep it one ARG, one package per line.
ARG RUNTIME_PACKAGES="\
    ca-certificates \
    libabsl20220623 \
    libc6 \
    libcivetweb1 \
    libfmt9 \
    libgcc-s1 \
    libgrpc++1.51 \
    libgrpc29 \
    libnats3.4 \
    libprometheus-cpp-core1.0 \
    libprotobuf32 \
    libspdlog1.10 \
    libstdc++6 \
    "
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends ${RUNTIME_PACKAGES} \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 scaler \
 && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin scaler
COPY --from=build /out/jetstream-scaler /usr/local/bin/jetstream-scaler
# Fail the build if a library is missing rather than at the first pod start.
RUN ! ldd /usr/local/bin/jetstream-scaler | grep -q 'not found' \
 && /usr/local/bin/jetstream-scaler --version
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 6000: ExternalScaler gRPC (+ grpc.health.v1); 8080: /metrics /healthz /readyz
EXPOSE 6000 8080
ENTRYPOINT ["/usr/local/bin/jetstream-scaler"]

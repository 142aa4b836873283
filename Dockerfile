# jetstream-scaler container image: built on Debian bookworm, shipped FROM scratch with
# only the binary, the shared libraries it loads, CA roots and a uid 65532 entry.
#
#   docker build -t jetstream-scaler:0.1.0 .
#
# scripts/image.sh builds the same file with docker or podman (bootstrapping the
# debian:bookworm base from Debian packages where no registry is reachable), runs a
# smoke test and saves an OCI archive with version/revision labels; docs/deploy.md.

# ---- build -------------------------------------------------------------------
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The packages the runtime file set comes from (the binary's libraries + CA roots).
# scripts/runtime-dir.sh reads this list, installed here, and copies into /rootfs only
# the files the binary loads: keep it one ARG, one package per line.
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
# The same build package list as scripts/install-deps.sh uses for a local build,
# plus python3 for scripts/runtime-dir.sh.
COPY scripts/packages-build.txt /tmp/packages-build.txt
RUN apt-get update \
 && { grep -Ev '^[[:space:]]*(#|$)' /tmp/packages-build.txt; \
      echo python3 ${RUNTIME_PACKAGES} | tr ' ' '\n'; } \
      | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole context, .git included: CMake stamps `git rev-parse --short HEAD` into
# --version and jetstream_scaler_build_info unless JSS_REVISION names the revision
# (scripts/image.sh passes it: a git worktree's .git does not work inside the build).
COPY . .
ARG JSS_REVISION=""
RUN rm -rf /src/build* \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DJSS_BUILD_TESTS=OFF -DJSS_BUILD_BENCH=OFF -DJSS_REVISION="${JSS_REVISION}" \
 && cmake --build /build --target jetstream-scaler \
 && install -D -m 0755 -s /build/scaler/main/jetstream-scaler /out/jetstream-scaler \
 && /out/jetstream-scaler --version
# The runtime root: fails the build if a library does not resolve inside it.
RUN scripts/runtime-dir.sh --bin /out/jetstream-scaler --dir /rootfs

# ---- runtime -----------------------------------------------------------------
FROM scratch AS runtime
COPY --from=build /rootfs/ /
LABEL org.opencontainers.image.title="jetstream-scaler" \
      org.opencontainers.image.description="KEDA external scaler reporting NATS JetStream consumer lag" \
      org.opencontainers.image.source="https://github.com/jetstream-scaler/jetstream-scaler" \
      org.opencontainers.image.base.name="scratch"
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 6000: ExternalScaler gRPC (+ grpc.health.v1); 8080: /metrics /healthz /readyz
EXPOSE 6000 8080
ENTRYPOINT ["/usr/local/bin/jetstream-scaler"]

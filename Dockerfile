# syntax=docker/dockerfile:1
# The kapture-worker image: every workload role (order-service, router, sinks, loadgen).
#   docker build -t kapture-worker:0.1.0 .
# The tag kubectl-kapture deploys by default is kapture-worker:<crate version>; push elsewhere
# and pass --image to use another.

FROM rust:1-bookworm AS build
# rdkafka builds its bundled librdkafka from source: a C toolchain, make and cmake.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
    && rm -rf /var/lib/apt/lists/*
# Link zlib statically: the distroless runtime has no libz.
ENV LIBZ_SYS_STATIC=1
WORKDIR /src
# The whole workspace: the worker builds on the plugin's library (the contract with the
# manifests), which embeds manifests/ at compile time.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p kapture-worker \
    && install -m 0755 target/release/kapture-worker /kapture-worker

# glibc, libgcc and CA certificates, no shell; runs as uid/gid 65532 (nonroot), which the
# manifests set explicitly too.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /kapture-worker /usr/local/bin/kapture-worker
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/kapture-worker"]

# syntax=docker/dockerfile:1
# taskflow's container image: docker build -t ghcr.io/YOU/taskflow:TAG .
# protox compiles the protos in pure Rust, so no protoc is needed.

FROM rust:1.95-bookworm AS build
WORKDIR /src

# 1. Dependencies only, cached until a manifest, Cargo.lock or a proto changes: build the
#    workspace's manifests with stub sources.
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto proto
COPY migrations/Cargo.toml migrations/Cargo.toml
COPY dapr-double/Cargo.toml dapr-double/Cargo.toml
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src migrations/src dapr-double/src bench/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > bench/src/main.rs \
 && touch src/lib.rs migrations/src/lib.rs dapr-double/src/lib.rs \
 && cargo build --release --locked --bin taskflow \
 && rm -rf src migrations/src dapr-double/src

# 2. taskflow itself. Touch the sources so cargo rebuilds the crates the stubs stood in for.
COPY src src
COPY migrations/src migrations/src
COPY dapr-double/src dapr-double/src
RUN touch src/main.rs src/lib.rs migrations/src/lib.rs \
 && cargo build --release --locked --bin taskflow \
 && cp target/release/taskflow /usr/local/bin/taskflow

# Runtime: glibc and libgcc only, no shell, user nonroot (65532).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /usr/local/bin/taskflow /usr/local/bin/taskflow
USER 65532:65532
# API (grpc.health.v1 too), Dapr app callback, metrics.
EXPOSE 50051 50052 9464
ENTRYPOINT ["/usr/local/bin/taskflow"]

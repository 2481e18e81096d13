# syntax=docker/dockerfile:1
# The Concordat image: one binary serving any set of targets (`serve --target …`), running
# migrations (`migrate --target …`). Build it from the repository root:
#
#   docker build -t concordat/concordat:0.1.0 .
#
# The Kubernetes manifests (deploy/k8s) run it as user 10001 with a read-only root filesystem;
# configuration comes from a mounted file (--config), the environment (CONCORDAT_…) and flags.

# ---- build: the locked dependency set, release profile ------------------------------------------
FROM rust:1.94-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p concordat \
    && install -D -m 0755 target/release/concordat /out/concordat

# ---- runtime: glibc, CA certificates (for the OIDC issuers), no shell, non-root -----------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/concordat /usr/local/bin/concordat
# Listen where other pods and containers reach it; the data directory is a volume. The
# development issuer refuses to run with a non-loopback listener: give a federation file
# (CONCORDAT_FEDERATION or `federation` in the --config file) and a database URL.
ENV CONCORDAT_LISTEN=0.0.0.0:50051 \
    CONCORDAT_METRICS_LISTEN=0.0.0.0:9464 \
    CONCORDAT_DATA_DIR=/var/lib/concordat
USER 10001:10001
VOLUME ["/var/lib/concordat"]
# gRPC and gRPC-Web; /metrics, /healthz and /readyz.
EXPOSE 50051 9464
ENTRYPOINT ["/usr/local/bin/concordat"]
CMD ["serve", "--no-migrate"]

# syntax=docker/dockerfile:1.7
#
# The p360 image: one binary, every role chosen by its command.
#   docker build --build-arg VERSION=0.1.0 --build-arg SOURCE_GIT_SHA=$(git rev-parse --short=12 HEAD) -t p360 .
#   docker run p360 serve          # the API (default command)
#   docker run --no-healthcheck p360 worker
#   docker run --no-healthcheck p360 migrate up   # one-off, before every deployment (scripts/deploy)
# The build runs the same command as CI: cargo build --release --locked -p p360.

ARG RUST_VERSION=1.94
ARG DEBIAN_RELEASE=bookworm

# ---- toolchain + cargo-chef (dependency caching)
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /build

# ---- the dependency "recipe": changes only when Cargo.toml/Cargo.lock do
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- build: dependencies first (a cached layer), then the workspace
FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --locked -p p360 --recipe-path recipe.json
COPY . .
# build.rs records this commit in p360_build_info (no .git in the build context).
ARG SOURCE_GIT_SHA=unknown
ENV SOURCE_GIT_SHA=${SOURCE_GIT_SHA}
# Queries are checked against the committed .sqlx data: no database at build time.
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked -p p360 \
    && install -m 0755 target/release/p360 /usr/local/bin/p360

# ---- runtime: Debian slim (the builder's glibc), CA certificates, non-root.
# The binary speaks TLS through rustls (aws-lc-rs): no OpenSSL at run time.
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG VERSION=0.0.0-dev
ARG SOURCE_GIT_SHA=unknown
LABEL org.opencontainers.image.title="p360" \
      org.opencontainers.image.description="P360 Display: B2B account-based display advertising" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${SOURCE_GIT_SHA}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.vendor="P360"

# curl serves the health check (and fetches the RDS CA bundle, over TLS
# from AWS's trust store, checked to be certificates). Versions are not pinned on purpose: the
# image is rebuilt for every release and Debian's security updates replace
# exact versions; Trivy scans each build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 p360 \
    && useradd --system --uid 10001 --gid p360 --home-dir /var/lib/p360 --shell /usr/sbin/nologin p360 \
    && install -d -o p360 -g p360 -m 0750 /var/lib/p360 \
    && curl -fsSL --proto '=https' --tlsv1.2 -o /etc/ssl/certs/rds-global-bundle.pem \
       https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem \
    && grep -q 'BEGIN CERTIFICATE' /etc/ssl/certs/rds-global-bundle.pem

COPY --from=builder /usr/local/bin/p360 /usr/local/bin/p360

# Production unless told otherwise (P360_MODE=development): the development
# issuer, the TTD sandbox and fault injection are never on by omission, and
# the database connection must verify the server (sslmode=verify-full with
# sslrootcert=/etc/ssl/certs/rds-global-bundle.pem, the RDS CA bundle above).
ENV P360_MODE=production \
    P360_HTTP__LISTEN=0.0.0.0:8360 \
    P360_DATA_DIR=/var/lib/p360 \
    P360_LOG__FORMAT=json

USER 10001:10001
WORKDIR /var/lib/p360
EXPOSE 8360

HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "http://127.0.0.1:8360/health/live"]

ENTRYPOINT ["/usr/local/bin/p360"]
CMD ["serve"]

# Shared by scripts/run and scripts/test: install what is missing, and say so.
# Sourced, not executed.

say() { printf '==> %s\n' "$*" >&2; }

# Queries compile against the committed .sqlx data, never a live database
# (scripts/check-sqlx checks that data; --prepare rewrites it).
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "cannot install $* automatically (no apt-get); install it and retry"
    exit 1
  fi
  say "installing $* with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

have_pg_server() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}

# PostgreSQL server binaries (the embedded cluster runs them) and psql.
ensure_postgres() {
  if ! have_pg_server || ! command -v psql >/dev/null 2>&1; then
    say "PostgreSQL server binaries not found"
    apt_install postgresql
  fi
  # As root the embedded cluster runs as the postgres system user, via runuser.
  if [ "$(id -u)" -eq 0 ] && ! command -v runuser >/dev/null 2>&1; then
    apt_install util-linux
  fi
}

# pgBackRest: the embedded cluster archives its WAL and takes its backups
# with it (backup.enabled, on by default).
ensure_pgbackrest() {
  command -v pgbackrest >/dev/null 2>&1 || apt_install pgbackrest
}

# A Rust toolchain and a C compiler (a few crates build C code).
ensure_rust() {
  if ! command -v cc >/dev/null 2>&1; then
    say "no C compiler found"
    apt_install build-essential pkg-config
  fi
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    say "Rust not found: installing the stable toolchain with rustup"
    command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

# Redis on 127.0.0.1:6379 (shared rate limits are tested against it).
ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    say "Redis not found"
    apt_install redis-server
  fi
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    say "starting redis-server on 127.0.0.1:6379 (no persistence)"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /tmp --logfile /tmp/p360-redis.log >/dev/null
    for _ in $(seq 50); do
      redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && return 0
      sleep 0.1
    done
    say "redis-server did not start (see /tmp/p360-redis.log)"
    exit 1
  fi
}

# Node.js and the test OIDC provider (tools/oidc-provider).
ensure_oidc_provider() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "Node.js not found"
    apt_install nodejs npm
  fi
  if [ ! -d tools/oidc-provider/node_modules/oidc-provider ]; then
    say "installing the test OIDC provider (npm ci in tools/oidc-provider)"
    (cd tools/oidc-provider && npm ci --no-audit --no-fund --silent)
  fi
}

# moto_server: an S3-compatible server for the object storage tests.
# HAProxy, for the blue-green traffic tests (its runtime API).
ensure_haproxy() {
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || apt_install haproxy
}

# Poppler's pdftotext and pdftoppm, for reading back and rendering the
# invoice PDFs the billing tests write.
ensure_poppler() {
  if ! command -v pdftotext >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
    apt_install poppler-utils
  fi
}

# Prometheus, for the deploy controller's Prometheus metric source.
ensure_prometheus() {
  command -v prometheus >/dev/null 2>&1 || apt_install prometheus
}

ensure_moto() {
  if ! command -v moto_server >/dev/null 2>&1; then
    command -v pip3 >/dev/null 2>&1 || apt_install python3-pip
    say "installing moto_server (PyPI moto[server]) for the S3 tests"
    python3 -m pip install --quiet 'moto[server]' || python3 -m pip install --quiet --break-system-packages 'moto[server]'
  fi
}

# simple-salesforce (PyPI), the Python client the Salesforce sandbox's
# fidelity test drives it with.
SIMPLE_SALESFORCE_VERSION=1.12.6
ensure_simple_salesforce() {
  python3 -c 'import simple_salesforce' >/dev/null 2>&1 && return 0
  command -v pip3 >/dev/null 2>&1 || apt_install python3-pip
  say "installing simple-salesforce $SIMPLE_SALESFORCE_VERSION (PyPI) for the Salesforce sandbox test"
  python3 -m pip install --quiet "simple-salesforce==$SIMPLE_SALESFORCE_VERSION" \
    || python3 -m pip install --quiet --break-system-packages "simple-salesforce==$SIMPLE_SALESFORCE_VERSION"
}

# ChannelAttribution (PyPI; built from source, C++), the independent
# implementation the attribution models are compared with; it imports
# matplotlib.
CHANNEL_ATTRIBUTION_VERSION=2.2.5
ensure_channel_attribution() {
  python3 -c 'import ChannelAttribution' >/dev/null 2>&1 && return 0
  command -v pip3 >/dev/null 2>&1 || apt_install python3-pip
  command -v g++ >/dev/null 2>&1 || apt_install g++
  say "installing ChannelAttribution $CHANNEL_ATTRIBUTION_VERSION (PyPI, compiled) for the attribution comparison"
  python3 -m pip install --quiet "ChannelAttribution==$CHANNEL_ATTRIBUTION_VERSION" matplotlib \
    || python3 -m pip install --quiet --break-system-packages "ChannelAttribution==$CHANNEL_ATTRIBUTION_VERSION" matplotlib
}

# cargo-nextest: scripts/test runs the suite with it (.config/nextest.toml
# keeps the process-spawning tests from piling up and bounds hung tests).
NEXTEST_VERSION=0.9.143
ensure_nextest() {
  cargo nextest --version >/dev/null 2>&1 && return 0
  say "installing cargo-nextest $NEXTEST_VERSION (crates.io)"
  # (Its build in a temporary dir, not the target dir the tests share.)
  env -u CARGO_TARGET_DIR cargo install cargo-nextest --locked --version "$NEXTEST_VERSION"
}

# cargo-deny: Cargo.lock's licences, bans and sources against deny.toml
# (.ci/run, make deny).
CARGO_DENY_VERSION=0.20.2
ensure_cargo_deny() {
  cargo deny --version >/dev/null 2>&1 && return 0
  say "installing cargo-deny $CARGO_DENY_VERSION (crates.io)"
  env -u CARGO_TARGET_DIR cargo install cargo-deny --locked --version "$CARGO_DENY_VERSION"
}

# Cargo names the artifacts of path crates the same in every checkout and
# trusts the modification times recorded by the checkout that built them
# last, so a target dir shared by two checkouts can hand one of them the
# other's build. When the checkout changes, rebuild this workspace's crates
# (dependencies are unaffected).
guard_target_dir() {
  local dir mark here
  dir="$(target_dir)"
  mark="$dir/.p360-checkout"
  here="$(pwd -P)"
  if [ -f "$mark" ] && [ "$(cat "$mark")" != "$here" ]; then
    say "target dir last used by $(cat "$mark"): rebuilding this workspace's crates"
    cargo clean --quiet -p p360 -p platform -p tenancy -p campaigns -p activation \
      -p deploy -p landing-lambda -p release -p operations 2>/dev/null || true
  fi
  mkdir -p "$dir"
  printf '%s\n' "$here" >"$mark"
}

target_dir() {
  printf '%s\n' "${CARGO_TARGET_DIR:-$PWD/target}"
}

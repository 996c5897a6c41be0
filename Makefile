# Repository commands. The GitLab pipeline (.gitlab-ci.yml) calls nothing but
# these targets, so every pipeline step can be run here too: `make <target>`.
# `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help
export CARGO_TERM_COLOR ?= never

ENV ?= dev
VERSION ?= $(shell scripts/version)
# The smoke tests reach URL when given, else the app_url of ENV's terraform outputs.
TARGET = $(if $(URL),--url $(URL),--env $(ENV))

.PHONY: help fmt-check clippy squawk test coverage deny check-infra terraform-fmt \
        terraform-validate checkov hadolint monitoring-check pipeline-check trivy \
        release lambda image image-push deploy deploy-status deploy-promote deploy-rollback \
        deploy-resume deploy-history switch-traffic integration-test uat smoke-test \
        bench-accounts-intent bench-audit-archive

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

# ---- validate
fmt-check: ## cargo fmt --check
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	cargo fmt --all -- --check

clippy: ## cargo clippy, warnings are errors
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo clippy --workspace --all-targets --locked -- -D warnings

squawk: ## lint the SQL migrations
	@command -v squawk >/dev/null || bash -c '. scripts/lib.sh; command -v pip3 >/dev/null || apt_install python3-pip; \
	  python3 -m pip install --quiet squawk-cli || python3 -m pip install --quiet --break-system-packages squawk-cli'
	squawk migrations/*.sql

check-infra: ## every non-Rust check: terraform fmt, variables, checkov, hadolint, promtool, pipeline
	./scripts/check-infra

terraform-fmt: ## terraform fmt -check, variable and schema checks, validate, plan against moto, plan assertions
	./scripts/check-infra terraform

terraform-validate: ## terraform init + validate of every root, plan of every environment against moto (offline)
	./scripts/terraform-validate

# ---- test
test: ## the test suite against real PostgreSQL and Redis (./scripts/test)
	./scripts/test

coverage: ## the test suite under cargo-tarpaulin (LLVM engine), failing below 80% of lines
	./scripts/coverage

# ---- benchmarks (docs/benchmarks.md; release builds, each with its anchor in the same run)
bench-accounts-intent: ## accounts and intent: account-list matching, Company Surge ingest vs DuckDB, audience rebuild vs DuckDB
	./scripts/bench-accounts
	./scripts/bench-intent
	./scripts/bench-audiences

bench-audit-archive: ## the daily audit.archive job on a month of 1,000,000 events vs PostgreSQL's JSON export through gzip
	./scripts/bench-audit-archive

# ---- security
deny: ## cargo deny: advisories, licences, bans, sources (deny.toml)
	@bash -c '. scripts/lib.sh; ensure_cargo_deny'
	cargo deny --locked check

checkov: ## checkov over infrastructure/ and the Dockerfile
	./scripts/check-infra checkov

hadolint: ## lint the Dockerfile (and shellcheck the scripts)
	./scripts/check-infra hadolint

monitoring-check: ## promtool check/test rules, dashboards, metric names
	./scripts/check-infra monitoring

pipeline-check: ## gitlab-ci-local --list parses .gitlab-ci.yml
	./scripts/check-infra pipeline

trivy: ## Trivy: dependencies, misconfigurations, secrets of the repository
	./scripts/trivy-scan fs .

# ---- build
release: ## the release binary, as the image builds it
	SOURCE_GIT_SHA=$$(git rev-parse --short=12 HEAD) cargo build --release --locked -p p360

lambda: ## the landing Lambda zip (target/lambda/landing-lambda/bootstrap.zip)
	./scripts/build-lambda

image: ## docker build the p360 image as p360:$(VERSION)
	./scripts/image build

image-push: ## build, Trivy-scan and push to ECR_REPOSITORY as $(VERSION) and sha-<sha>
	./scripts/image push

# ---- deploy and verify (ENV=dev|staging|production, VERSION=x.y.z)
# The deploy targets run where ENV's database and slot test URLs are reachable:
# a host in ENV's VPC (the pipeline: the GitLab runner tagged p360-vpc-ENV).
deploy: ## terraform apply, then p360 deploy start --version $(VERSION) (blue-green, migrations included)
	./scripts/deploy $(ENV) $(VERSION)

deploy-status: ## p360 deploy status of ENV: phase, weights, controller liveness, events
	./scripts/deploy $(ENV) status

deploy-promote: ## p360 deploy promote: skip the remaining dwell of ENV's deployment
	./scripts/deploy $(ENV) promote

deploy-rollback: ## p360 deploy rollback: all traffic back on the old slot, new slot stopped
	./scripts/deploy $(ENV) rollback

deploy-resume: ## p360 deploy resume: take over ENV's deployment whose controller fell silent
	./scripts/deploy $(ENV) resume

deploy-history: ## p360 deploy history of ENV
	./scripts/deploy $(ENV) history

switch-traffic: ## BREAK-GLASS: all traffic of ENV to COLOUR=blue|green without the controller
	./scripts/switch-traffic $(ENV) $(COLOUR)

integration-test: ## URL (or ENV): health, readiness, OpenAPI, version, error contract
	./scripts/smoke-test $(TARGET) --version $(VERSION) --full

uat: ## acceptance checks on URL (or ENV) before the production approval
	./scripts/smoke-test $(TARGET) --version $(VERSION) --full

smoke-test: ## URL (or ENV): health, readiness, OpenAPI, version
	./scripts/smoke-test $(TARGET) --version $(VERSION)

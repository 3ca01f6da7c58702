"""The build is reproducible: every import is a declared dependency, and every declared dependency is pinned with
hashes in the locks that CI, the launcher and the image install."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
FIRST_PARTY = {"services", "shared", "tests", "examples"}
RUNTIME_LOCK = ROOT / "deploy" / "requirements.lock"
DEV_LOCK = ROOT / "deploy" / "requirements-dev.lock"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def _declared(*extras: str) -> set[str]:
    names = {_name(requirement) for requirement in PROJECT["dependencies"]}
    for extra in extras:
        names |= {_name(requirement) for requirement in PROJECT["optional-dependencies"][extra]}
    return names


def _imported_modules(*folders: str) -> set[str]:
    modules: set[str] = set()
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return modules - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}


def _undeclared(modules: set[str], declared: set[str]) -> list[str]:
    distributions = packages_distributions()
    return sorted(
        module
        for module in modules
        if not {_name(distribution) for distribution in distributions.get(module, [module])} & declared
    )


def _locked(lock: Path) -> dict[str, str]:
    """name -> the lock's entry (its pin line and hash lines)."""
    entries: dict[str, str] = {}
    for entry in re.split(r"\n(?=\S)", lock.read_text()):
        if match := re.match(r"([A-Za-z0-9_.\-]+)==", entry):
            entries[_name(match[1])] = entry
    return entries


def test_every_import_of_the_services_is_a_declared_dependency() -> None:
    assert _undeclared(_imported_modules("services", "shared", "deploy"), _declared()) == []


def test_every_import_of_the_tests_is_a_declared_dependency_or_test_extra() -> None:
    assert _undeclared(_imported_modules("tests"), _declared("test")) == []


def test_the_runtime_lock_pins_every_dependency_with_hashes() -> None:
    locked = _locked(RUNTIME_LOCK)
    assert sorted(_declared() - set(locked)) == [], "run: bash deploy/lock.sh"
    assert [name for name, entry in locked.items() if "--hash=sha256:" not in entry] == []


def test_the_dev_lock_pins_every_dependency_and_extra_with_hashes_at_the_runtime_versions() -> None:
    locked, runtime = _locked(DEV_LOCK), _locked(RUNTIME_LOCK)
    assert sorted(_declared("test", "dev") - set(locked)) == [], "run: bash deploy/lock.sh"
    assert [name for name, entry in locked.items() if "--hash=sha256:" not in entry] == []
    pin = re.compile(r"^\S+")
    assert [name for name in runtime if pin.findall(runtime[name])[:1] != pin.findall(locked.get(name, ""))[:1]] == []


def test_ci_the_launcher_and_the_image_install_from_the_locks_with_hashes() -> None:
    venv = (ROOT / "deploy" / "venv.sh").read_text()
    assert '--require-hashes -r "$lock"' in venv and "deploy/requirements-dev.lock" in venv
    assert 'ensure_venv ""' in (ROOT / "deploy" / "up.sh").read_text()
    assert 'ensure_venv "[test,dev]"' in (ROOT / "deploy" / "test.sh").read_text()
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip.sh install --require-hashes -r /src/requirements.lock" in dockerfile
    assert "pip.sh install --no-deps /src" in dockerfile


def test_the_linter_is_in_the_dev_extra() -> None:
    assert "ruff" in {_name(requirement) for requirement in PROJECT["optional-dependencies"]["dev"]}

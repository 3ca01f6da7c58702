"""The documentation names what the code does: every route of the gateway, every setting of every service."""

from __future__ import annotations

import importlib
import re
import subprocess
from pathlib import Path

import pytest

from services.gateway.routes import ROUTES
from tests.deploy.test_compose import RecordingEnvironment

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = {
    "DATABASE_URL": "postgresql://u@h/db",
    "AMQP_URL": "amqp://u:p@h/",
    "INTERNAL_SIGNING_KEY": "k" * 40,
    "SECRET_PEPPER": "p" * 40,
    "ENCRYPTION_KEY": "e" * 40,
}


@pytest.mark.parametrize("rule", ROUTES, ids=lambda rule: rule.pattern)
def test_every_gateway_route_is_in_the_api_reference(rule: object) -> None:
    assert f"{rule.pattern}`" in (ROOT / "docs" / "api.md").read_text()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ("auth", "gateway", "odata", "importer", "webhooks"))
def test_every_setting_a_service_reads_is_in_the_readme(name: str) -> None:
    environment = RecordingEnvironment(dict(SAMPLE))
    importlib.import_module(f"services.{name}.config").Config.from_env(environment)
    readme = (ROOT / "README.md").read_text()
    missing = sorted(key for key in environment.read if key not in readme)
    assert not missing, f"README.md does not document {name}'s settings {missing}"


# Outside references: a reference document by number, a contract file that is not here, a path out of the checkout,
# an issue number. The repository must explain itself.
OUTSIDE_REFERENCE = re.compile(r"\b[Ss]eeds? 0\d\d|[Ss]eed's|\bthe seeds?\b|CONTRACT\.md|\.\./shared/|\bissue #?\d+")
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".sh", ".toml", ".html", ".css", ".js"}
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in listed.splitlines() if (ROOT / name).is_file()]


def test_code_and_docs_refer_only_to_what_is_in_the_repository() -> None:
    found = []
    for name in tracked_files():
        if Path(name).suffix not in TEXT_SUFFIXES:
            continue
        for number, line in enumerate((ROOT / name).read_text(errors="replace").splitlines(), 1):
            if OUTSIDE_REFERENCE.search(line) and "OUTSIDE_REFERENCE" not in line:
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_every_relative_link_in_the_docs_names_a_file_of_the_repository() -> None:
    broken = []
    for name in tracked_files():
        if not name.endswith(".md"):
            continue
        for target in MARKDOWN_LINK.findall((ROOT / name).read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            resolved = ((ROOT / name).parent / target).resolve()
            if not resolved.exists():
                broken.append(f"{name}: {target}")
    assert not broken, broken

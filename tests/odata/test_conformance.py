"""docs/odata-conformance.md, walked against a running odata service: every supported or 501 row's example request
answers the status the table gives, and the table lists every numbered requirement of section 13."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.odata.helpers import Signed, running_odata

TABLE = Path(__file__).resolve().parents[2] / "docs" / "odata-conformance.md"
_EXAMPLE = re.compile(r"^(?P<parts>(?:`[^`]+`\s*)+)→\s*(?P<status>\d{3})$")


@dataclass(frozen=True)
class Row:
    level: str
    number: str
    requirement: str
    status: str
    example: str
    notes: str

    @property
    def id(self) -> str:
        return f"{self.level} {self.number}"


def table_rows() -> list[Row]:
    rows = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| 4.0"):
            cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            assert len(cells) == 6, line
            rows.append(Row(*cells))
    return rows


ROWS = table_rows()
SECTION_13 = {
    "4.0 Minimal": ["1", "2", "3", "4", "5.1", "5.2", *map(str, range(6, 34))],
    "4.0 Intermediate": [*"123456", "7", "7.1", "7.2", "7.3", "7.4", "7.5", *map(str, range(8, 18))],
    "4.0 Advanced": [*map(str, range(1, 10)), *(f"9.{n}" for n in range(1, 10)), *map(str, range(10, 17))],
    "4.01 Minimal": [*map(str, range(1, 9)), *(f"9.{n}" for n in range(1, 15)), *map(str, range(10, 28))],
    "4.01 Intermediate": [str(n) for n in range(1, 12)],
    "4.01 Advanced": [*map(str, range(1, 6)), *(f"5.{n}" for n in range(1, 6)), *map(str, range(6, 11))],
}


def request_of(row: Row) -> tuple[str, str, dict[str, str], int]:
    match = _EXAMPLE.match(row.example)
    assert match, f"{row.id}: the example must read `METHOD /path` [`Header: value`] → status: {row.example!r}"
    parts = re.findall(r"`([^`]+)`", match.group("parts"))
    method, _, path = parts[0].partition(" ")
    headers = dict(part.split(": ", 1) for part in parts[1:])
    return method, path, headers, int(match.group("status"))


@pytest.fixture(scope="module")
def service(database_url: str, signing_key: str) -> Iterator[tuple[str, requests.Session]]:
    env = {"DATABASE_URL": database_url, "INTERNAL_SIGNING_KEY": signing_key, "LOG_LEVEL": "ERROR"}
    with running_odata(env) as url, requests.Session() as session:
        session.auth = Signed(signing_key)
        yield url, session


def test_the_table_lists_every_numbered_requirement_of_section_13() -> None:
    listed = {level: [row.number for row in ROWS if row.level == level] for level in SECTION_13}
    assert listed == SECTION_13
    assert {row.status for row in ROWS} <= {"supported", "501", "n/a", "no"}


@pytest.mark.parametrize("row", [row for row in ROWS if row.status in ("n/a", "no")], ids=lambda row: row.id)
def test_rows_without_a_request_say_why(row: Row) -> None:
    assert not row.example and row.notes, row


@pytest.mark.parametrize("row", [row for row in ROWS if row.status in ("supported", "501")], ids=lambda row: row.id)
def test_each_supported_or_501_row_answers_as_the_table_says(service: tuple[str, requests.Session], row: Row) -> None:
    url, session = service
    method, path, headers, expected = request_of(row)
    if row.status == "501":
        assert expected == 501, row
    response = session.request(method, f"{url}{path}", headers=headers, allow_redirects=False, timeout=30)
    assert response.status_code == expected, (row.id, path, response.text)
    if expected == 501:
        assert response.json()["error"]["code"] == "not_implemented"
    if response.status_code == 200:
        assert response.headers["OData-Version"] == "4.0"

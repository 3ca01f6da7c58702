from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.odata.conftest import Seed
from tests.odata.helpers import matching


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("stock eq 3", [3]),
        ("stock ne 3", [0, 1, 2, 4, 5, 6, 7, 8, 9]),
        ("stock gt 7", [8, 9]),
        ("stock ge 7", [7, 8, 9]),
        ("stock lt 2", [0, 1]),
        ("stock le 2", [0, 1, 2]),
        ("price gt 85.25", [9]),
        ("stock gt 2 and stock lt 5", [3, 4]),
        ("stock lt 1 or stock gt 8", [0, 9]),
        ("not (stock gt 1)", [0, 1]),
        ("(stock eq 1 or stock eq 2) and active", [1, 2]),
        ("active eq false", [9]),
        ("stock in (1, 4, 6)", [1, 4, 6]),
        ("sku in ('nope', 'other')", []),
        ("description eq null", []),
        ("category_id ne null and stock lt 1", [0]),
        ("stock add 1 eq 5", [4]),
        ("stock sub 1 eq 5", [6]),
        ("stock mul 2 eq 8", [4]),
        ("stock div 2 eq 4", [8, 9]),
        ("stock mod 3 eq 2", [2, 5, 8]),
        ("price divby 2 gt 41", [9]),
        ("-stock eq -2", [2]),
        ("contains(name, 'Gadget')", [1, 3, 5, 7, 9]),
        ("contains(description, 'It''s')", [3]),
        ("endswith(name, '07')", [7]),
        ("startswith(tolower(name), 'X') eq false and stock eq 0", [0]),
        ("contains(toupper(name), 'GADGET 0') and stock lt 4", [1, 3]),
        ("length(description) eq 12", [3]),
        ("year(created_at) eq 2021", [1, 4, 7]),
        ("month(created_at) eq 10", [9]),
        ("day(created_at) eq 3", [2]),
        ("created_at lt 2020-03-01", [0]),
        ("created_at gt 2022-09-01T00:00:00Z", [8]),
        ("indexof(name, 'Item') gt 0 and stock lt 3", [0, 2]),
        ("trim(concat(' ', sku)) eq sku and stock eq 5", [5]),
        ("substring(description, 5) eq 'special'", [3]),
        ("substring(description, 0, 4) eq 'It''s'", [3]),
        ("round(price) eq 11 or floor(price) eq 20 or ceiling(price) eq 31", [1, 2, 3]),
        ("stock div 0 eq 1", []),
    ],
)
async def test_filter_operator_selects_the_right_products(
    client: TestClient, auth: dict[str, str], seed: Seed, expression: str, expected: list[int]
) -> None:
    assert await matching(client, auth, seed, expression) == expected


async def test_parameter_aliases_are_substituted(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await matching(client, auth, seed, "stock ge @low and stock le @high", **{"@low": "2", "@high": "3"}) == [
        2,
        3,
    ]


async def test_an_alias_without_a_value_is_null(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    assert await matching(client, auth, seed, "category_id eq @missing") == []


async def test_string_values_are_bound_not_spliced(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    injection = "name eq 'x'' or 1=1 --'"
    assert await matching(client, auth, seed, injection) == []


async def test_search_matches_every_term_in_searchable_fields(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    assert await matching(client, auth, seed, "true", **{"$search": 'gadget "special"'}) == [3]


async def test_an_unescaped_plus_in_a_date_time_offset_is_read_as_plus(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    url = f"/odata/products?$filter={seed.where()} and created_at lt 2020-01-01T14:30:00+02:00&$orderby=sku"
    response = await client.get(url, headers=auth)
    body = await response.json()
    assert response.status == 200, body
    assert [entity["stock"] for entity in body["value"]] == [0]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("category_id ne {child}", [5, 6, 7, 8, 9, 10, 11, 12]),
        ("not (category_id gt {root})", [5, 6, 7, 8, 9, 10, 11, 12]),
        ("not (category_id lt {child})", [0, 1, 2, 3, 4, 10, 11, 12]),
        ("category_id in ({child}, null)", [0, 1, 2, 3, 4, 10, 11, 12]),
        ("not (category_id in ({child}))", [5, 6, 7, 8, 9, 10, 11, 12]),
        ("category_id eq null", [10, 11, 12]),
        ("not (category_id eq null)", list(range(10))),
        ("category_id le null", [10, 11, 12]),
        ("category_id gt null", []),
        ("null ge null", list(range(13))),
        ("null gt null", []),
        ("(category_id gt 0) eq false", [10, 11, 12]),
        ("not (category_id lt 0 or category_id ge 0)", [10, 11, 12]),
        ("not (category_id add 1 gt 0) and stock lt 11", [10]),
        ("category_id eq category_id", list(range(13))),
        ("contains(null, 'a') or stock eq 12", [12]),
        ("not (contains(null, 'a')) or stock eq 12", [12]),
    ],
)
async def test_null_follows_the_odata_rules_not_sql_three_valued_logic(
    client: TestClient,
    auth: dict[str, str],
    seed: Seed,
    uncategorized: list[int],
    expression: str,
    expected: list[int],
) -> None:
    ids = {"child": seed.child_category_id, "root": seed.root_category_id}
    assert await matching(client, auth, seed, expression.format(**ids)) == expected


async def test_trim_removes_unicode_whitespace(client: TestClient, auth: dict[str, str], seed: Seed) -> None:
    padded = "concat(concat('\u3000\t\u00a0 ', sku), '\u2003\n\u202f')"
    assert await matching(client, auth, seed, f"trim({padded}) eq sku and stock lt 2") == [0, 1]


async def test_substring_counts_from_zero_and_stops_at_the_end(
    client: TestClient, auth: dict[str, str], seed: Seed
) -> None:
    assert await matching(client, auth, seed, "substring(description, 5, 100) eq 'special'") == [3]
    assert await matching(client, auth, seed, "substring(description, 40) eq ''") == list(range(10))

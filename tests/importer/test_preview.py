"""POST /api/mappers/preview: a mapper tried on a CSV sample with the worker's own conversions, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from services.importer.keys import POOL
from services.importer.preview import MAX_SAMPLE_BYTES, MAX_SAMPLE_ROWS
from shared.principal import Principal
from tests.importer.conftest import PRODUCT_COLUMNS, make_principal, tag

DEFINITION = {"delimiter": ";", "key": "sku", "columns": PRODUCT_COLUMNS}


async def _preview(client: TestClient, headers: dict[str, str], sample: str, **body: Any) -> dict[str, Any]:
    payload = {"entity": "products", "definition": DEFINITION, "sample": sample, **body}
    response = await client.post("/api/mappers/preview", json=payload, headers=headers)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_each_column_shows_where_it_is_found_and_which_field_it_feeds(
    client: TestClient, as_user: dict[str, str]
) -> None:
    answer = await _preview(client, as_user, "name;sku;price;colour\nLamp;L-1;12,50;red\n")
    columns = {column["column"]: column for column in answer["columns"]}
    assert (columns["sku"]["position"], columns["sku"]["field"], columns["sku"]["kind"]) == (2, "sku", "text")
    assert (columns["price"]["position"], columns["price"]["kind"]) == (3, "decimal")
    assert columns["stock"]["usesDefault"] is True and columns["stock"]["position"] is None
    assert columns["description"]["skipped"] is True
    assert answer["ignoredColumns"] == ["colour"]


async def test_cells_are_converted_as_an_import_converts_them(client: TestClient, as_user: dict[str, str]) -> None:
    answer = await _preview(client, as_user, "sku;name;price;active\n L-1 ;Lamp;1.234,50;ja\n")
    assert answer["rowsShown"] == 1 and answer["rowsFailed"] == 1  # "1.234,50" has a "." where "," separates
    (row,) = answer["rows"]
    values = {cell["field"]: cell["value"] for cell in row["cells"]}
    assert values["sku"] == "L-1" and values["active"] is True and values["stock"] == 0
    answer = await _preview(client, as_user, "sku;name;price\nL-1;Lamp;1234,50\n")
    (row,) = answer["rows"]
    assert row["ok"] is True and {cell["field"]: cell["value"] for cell in row["cells"]}["price"] == "1234.50"


async def test_rows_that_would_fail_are_named_with_their_line_and_message(
    client: TestClient, as_user: dict[str, str]
) -> None:
    answer = await _preview(client, as_user, "sku;name;price\nA-1;Fine;1,00\n;No sku;2,00\nA-3;Bad;cheap\nA-4;Short\n")
    assert [(row["line"], row["ok"]) for row in answer["rows"]] == [(2, True), (3, False), (4, False), (5, False)]
    assert answer["rows"][1]["errors"] == [{"column": "sku", "value": "", "message": "sku: a value is required"}]
    assert answer["rows"][2]["errors"][0]["message"] == "price: not a decimal number"
    assert answer["rows"][3]["errors"][0]["message"] == "the row has 2 fields, the header has 3"
    price = next(cell for cell in answer["rows"][2]["cells"] if cell["field"] == "price")
    assert (price["raw"], price["value"], price["error"]) == ("cheap", None, "not a decimal number")
    assert answer["rowsFailed"] == 3


async def test_a_header_the_import_would_refuse_is_the_previews_problem(
    client: TestClient, as_user: dict[str, str]
) -> None:
    answer = await _preview(client, as_user, "name;price\nLamp;1,00\n")
    assert answer["problem"] == "the header row lacks the required columns: sku"
    assert answer["rows"] == []


async def test_only_the_first_rows_are_previewed(client: TestClient, as_user: dict[str, str]) -> None:
    sample = "sku;name;price\n" + "".join(f"M-{n};Row;1,00\n" for n in range(MAX_SAMPLE_ROWS + 5))
    answer = await _preview(client, as_user, sample)
    assert answer["rowsShown"] == MAX_SAMPLE_ROWS and answer["truncated"] is True
    exact = await _preview(client, as_user, "sku;name;price\n" + "".join(f"M-{n};R;1,00\n" for n in range(3)))
    assert exact["rowsShown"] == 3 and exact["truncated"] is False


async def test_a_sample_over_the_limit_is_a_413(client: TestClient, as_user: dict[str, str]) -> None:
    payload = {"entity": "products", "definition": DEFINITION, "sample": "x" * (MAX_SAMPLE_BYTES + 1)}
    response = await client.post("/api/mappers/preview", json=payload, headers=as_user)
    assert response.status == 413
    assert (await response.json())["error"] == {
        "code": "sample_too_large",
        "message": f"The sample is larger than {MAX_SAMPLE_BYTES} bytes; paste the first lines only",
        "target": "sample",
    }


async def test_an_invalid_mapper_is_refused_as_saving_it_would_be(client: TestClient, as_user: dict[str, str]) -> None:
    payload = {"entity": "products", "definition": {"columns": [{"column": "x", "field": "colour"}]}, "sample": "x\n"}
    response = await client.post("/api/mappers/preview", json=payload, headers=as_user)
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_mapper"


async def test_a_preview_writes_nothing_and_needs_only_mappers_read(
    client: TestClient, sign: Callable[[Principal], dict[str, str]]
) -> None:
    reader = sign(make_principal("mappers:read"))
    sku = f"W-{tag()}"
    answer = await _preview(client, reader, f"sku;name;price\n{sku};Lamp;1,00\n")
    assert answer["rows"][0]["ok"] is True
    assert client.app is not None
    pool = client.app[POOL]
    assert await pool.fetchval("SELECT count(*) FROM catalog.products WHERE sku = $1", sku) == 0


async def test_a_preview_without_mappers_read_is_forbidden(
    client: TestClient, sign: Callable[[Principal], dict[str, str]]
) -> None:
    payload = {"entity": "products", "definition": DEFINITION, "sample": "sku\n"}
    response = await client.post("/api/mappers/preview", json=payload, headers=sign(make_principal("imports:read")))
    assert response.status == 403

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.importer.csvstream import CsvFormatError, Record, read_records


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(
    data: bytes, size: int, encoding: str = "utf-8", batch_rows: int = 2, delimiter: str = ","
) -> list[Record]:
    records: list[Record] = []
    async for batch in read_records(
        _chunks(data, size), encoding=encoding, delimiter=delimiter, quote='"', batch_rows=batch_rows
    ):
        assert batch
        records.extend(batch)
    return records


@pytest.mark.parametrize("size", [1, 2, 3, 7, 1024])
async def test_quoted_line_breaks_and_multibyte_characters_survive_any_chunking(size: int) -> None:
    data = 'a,b\n1,"x\ny"\n\n2,"Ünï ""q"", z"\r\n3,last'.encode()
    records = await _read(data, size)
    assert [(r.line, r.cells) for r in records] == [
        (1, ["a", "b"]),
        (2, ["1", "x\ny"]),
        (5, ["2", 'Ünï "q", z']),
        (6, ["3", "last"]),
    ]


async def test_invalid_utf8_names_the_offset_of_the_bad_byte() -> None:
    with pytest.raises(CsvFormatError, match="offset 6"):
        await _read(b"a,b\n1,\xff\n", 4)


async def test_a_quote_never_closed_is_a_format_error() -> None:
    with pytest.raises(CsvFormatError, match="never closed"):
        await _read(b'a,b\n1,"open\n2,3\n', 5)


async def test_latin1_files_are_read_in_their_declared_encoding() -> None:
    records = await _read("name\nCafé\n".encode("latin-1"), 3, encoding="iso8859-1")
    assert records[1].cells == ["Café"]


@pytest.mark.parametrize("size", [1, 5, 1024])
async def test_a_quote_inside_an_unquoted_field_is_part_of_the_value(size: int) -> None:
    records = await _read(b'sku,name\nA1,12" pizza\nA2,3" tart\nA3,plain\n', size)
    assert [r.cells for r in records] == [["sku", "name"], ["A1", '12" pizza'], ["A2", '3" tart'], ["A3", "plain"]]


@pytest.mark.parametrize("size", [1, 4, 1024])
async def test_crlf_line_ends_and_quoted_crlf_inside_a_field_are_read(size: int) -> None:
    records = await _read(b'a,b\r\n1,"two\r\nlines"\r\n2,x\r\n', size)
    assert [(r.line, r.cells) for r in records] == [(1, ["a", "b"]), (2, ["1", "two\r\nlines"]), (4, ["2", "x"])]


@pytest.mark.parametrize("size", [1, 2, 1024])
async def test_a_utf8_byte_order_mark_is_not_part_of_the_first_cell(size: int) -> None:
    records = await _read('\ufeff"sku",name\nA1,Ä\n'.encode(), size)
    assert [r.cells for r in records] == [["sku", "name"], ["A1", "Ä"]]


async def test_semicolon_delimited_files_keep_commas_in_values() -> None:
    records = await _read(b'sku;price;note\nA1;9,50;"a; b"\n', 3, delimiter=";")
    assert [r.cells for r in records] == [["sku", "price", "note"], ["A1", "9,50", "a; b"]]


@pytest.mark.parametrize("size", [1, 6, 1024])
async def test_a_quoted_field_spanning_many_chunks_keeps_later_line_numbers_right(size: int) -> None:
    data = b'a,b\n1,"' + b"x\n" * 20 + b'"\n2,y\n'
    records = await _read(data, size, batch_rows=1)
    assert [(r.line, r.cells) for r in records] == [(1, ["a", "b"]), (2, ["1", "x\n" * 20]), (23, ["2", "y"])]


async def test_a_stray_quote_in_one_row_does_not_swallow_the_rows_after_it() -> None:
    records = await _read(b'a,b\n1,say "hi" twice\n2,ok\n', 3)
    assert [r.cells for r in records] == [["a", "b"], ["1", 'say "hi" twice'], ["2", "ok"]]

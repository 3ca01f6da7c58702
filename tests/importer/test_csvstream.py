from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from services.importer.csvstream import CsvFormatError, Record, read_records


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def _read(data: bytes, size: int, encoding: str = "utf-8", batch_rows: int = 2) -> list[Record]:
    records: list[Record] = []
    async for batch in read_records(
        _chunks(data, size), encoding=encoding, delimiter=",", quote='"', batch_rows=batch_rows
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

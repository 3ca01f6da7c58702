"""Reading an uploaded CSV incrementally: bytes in ~1 MiB chunks in, batches of parsed records out.

Memory stays bounded by one chunk plus one batch whatever the file size. The csv module itself finds where each
record ends: the complete lines of a chunk are parsed, and a record that needs lines not yet arrived (a quoted field
spanning chunks) is kept, unparsed, with the text after the last line break until the next chunk completes it.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

# A record that never ends (an unclosed quote) must not grow without bound.
MAX_RECORD_CHARS = 8 * 1024 * 1024
BOM = "\ufeff"


class CsvFormatError(ValueError):
    """The file as a whole cannot be read as CSV (encoding, binary, unclosed quote): the job fails."""


@dataclass(frozen=True)
class Record:
    line: int  # 1-based line of the file where the record starts
    cells: list[str] | None  # None when the record could not be parsed
    problem: str | None = None


class _Decoder:
    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)("strict")
        self.offset = 0
        self.started = False

    def decode(self, data: bytes, final: bool = False) -> str:
        try:
            text = self.decoder.decode(data, final)
        except UnicodeDecodeError as error:
            raise CsvFormatError(
                f"the file is not valid {self.encoding} text (bad byte at offset {self.offset + error.start})"
            ) from None
        self.offset += len(data)
        if "\x00" in text:
            raise CsvFormatError("the file holds binary data (NUL characters), not CSV text")
        if not self.started and text:
            # Spreadsheets write a byte order mark even in plain UTF-8; it is no part of the first cell.
            self.started = True
            text = text.removeprefix(BOM)
        return text


class _Lines:
    """The complete lines handed to one csv reader, noting where the reader is and whether it asked for more."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0
        self.ran_out = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self.position == len(self.lines):
            self.ran_out = True
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


@dataclass(frozen=True)
class _Parsed:
    records: list[Record]
    rest: str  # the text not parsed yet: an incomplete record or line
    rest_line: int  # the file line where rest starts


def _parse(text: str, first_line: int, delimiter: str, quote: str, final: bool) -> _Parsed:
    pieces = text.split("\n")
    partial = pieces.pop()
    lines = [piece + "\n" for piece in pieces]
    if final and partial:
        lines.append(partial)
        partial = ""
    feed = _Lines(lines)
    reader = csv.reader(feed, delimiter=delimiter, quotechar=quote, doublequote=True, strict=False)
    records: list[Record] = []
    while True:
        start = feed.position
        try:
            cells = next(reader)
        except StopIteration:
            cells = None
        except csv.Error as error:
            records.append(Record(line=first_line + start, cells=None, problem=f"not valid CSV: {error}"))
            continue
        if feed.ran_out and feed.position > start:
            # The reader reached the end of the text inside this record: its end has not arrived (yet).
            if final:
                raise CsvFormatError(f"a quoted field starting on line {first_line + start} is never closed")
            return _Parsed(records, "".join(lines[start:]) + partial, first_line + start)
        if cells is None:
            return _Parsed(records, partial, first_line + len(lines))
        if cells:
            records.append(Record(line=first_line + start, cells=cells))


async def read_records(
    chunks: AsyncIterator[bytes], *, encoding: str, delimiter: str, quote: str, batch_rows: int
) -> AsyncIterator[list[Record]]:
    """Yield lists of at most batch_rows records, blank lines skipped."""
    decoder = _Decoder(encoding)
    rest, rest_line = "", 1
    ready: list[Record] = []
    async for chunk in chunks:
        parsed = _parse(rest + decoder.decode(chunk), rest_line, delimiter, quote, final=False)
        rest, rest_line = parsed.rest, parsed.rest_line
        if len(rest) > MAX_RECORD_CHARS:
            raise CsvFormatError(
                f"the record starting on line {rest_line} is longer than {MAX_RECORD_CHARS} characters"
                " (a quoted field never closed?)"
            )
        ready.extend(parsed.records)
        while len(ready) >= batch_rows:
            yield ready[:batch_rows]
            ready = ready[batch_rows:]
    parsed = _parse(rest + decoder.decode(b"", final=True), rest_line, delimiter, quote, final=True)
    ready.extend(parsed.records)
    for start in range(0, len(ready), batch_rows):
        yield ready[start : start + batch_rows]

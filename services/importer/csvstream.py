"""Reading an uploaded CSV incrementally: bytes in ~1 MiB chunks in, batches of parsed records out.

Memory stays bounded by one chunk plus one batch whatever the file size. Records are cut at line ends outside
quotes (quote parity), so a quoted field may span lines and chunks; the csv module then parses each cut.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterator
from dataclasses import dataclass

# A record that never ends (an unclosed quote) must not grow without bound.
MAX_RECORD_CHARS = 8 * 1024 * 1024


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
        return text


async def read_records(
    chunks: AsyncIterator[bytes], *, encoding: str, delimiter: str, quote: str, batch_rows: int
) -> AsyncIterator[list[Record]]:
    """Yield lists of at most about batch_rows records, blank lines skipped."""
    decoder = _Decoder(encoding)
    pending: list[str] = []  # lines of the record being assembled
    pending_chars = 0
    in_quotes = False
    partial = ""  # text after the last line break
    ready: list[str] = []  # lines of complete records, not yet parsed
    ready_records = 0
    next_line = 1  # file line of ready[0]

    def parse() -> list[Record]:
        nonlocal ready, ready_records, next_line
        records = _parse_lines(ready, next_line, delimiter, quote)
        next_line += len(ready)
        ready = []
        ready_records = 0
        return records

    async for chunk in chunks:
        text = partial + decoder.decode(chunk)
        lines = text.split("\n")
        partial = lines.pop()
        for line in lines:
            line += "\n"
            pending.append(line)
            pending_chars += len(line)
            if line.count(quote) % 2:
                in_quotes = not in_quotes
            if in_quotes:
                if pending_chars > MAX_RECORD_CHARS:
                    raise CsvFormatError(f"a quoted field starting on line {next_line + len(ready)} is never closed")
                continue
            ready.extend(pending)
            ready_records += 1
            pending = []
            pending_chars = 0
        if len(partial) > MAX_RECORD_CHARS:
            line_no = next_line + len(ready) + len(pending)
            raise CsvFormatError(f"line {line_no} is longer than {MAX_RECORD_CHARS} characters")
        if ready_records >= batch_rows:
            for batch in _slices(parse(), batch_rows):
                yield batch
    partial += decoder.decode(b"", final=True)
    if partial:
        pending.append(partial)
        if partial.count(quote) % 2:
            in_quotes = not in_quotes
    if in_quotes and pending:
        raise CsvFormatError(f"a quoted field starting on line {next_line + len(ready)} is never closed")
    ready.extend(pending)
    if ready:
        for batch in _slices(parse(), batch_rows):
            yield batch


def _slices(records: list[Record], size: int) -> list[list[Record]]:
    return [records[start : start + size] for start in range(0, len(records), size)]


def _parse_lines(lines: list[str], first_line: int, delimiter: str, quote: str) -> list[Record]:
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar=quote, doublequote=True, strict=False)
    records: list[Record] = []
    while True:
        start = reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            records.append(Record(line=first_line + start, cells=None, problem=f"not valid CSV: {error}"))
            continue
        if not cells:
            continue
        records.append(Record(line=first_line + start, cells=cells))
    return records

"""Reading form bodies so that every fault in one is a MalformedBody (400), never an unhandled error.

aiohttp's request.post() raises ValueError, LookupError (an unknown charset) or UnicodeDecodeError for bodies a
client got wrong, and quietly turns undecodable percent-escapes into U+FFFD; here a urlencoded body must decode
in its declared charset (UTF-8 by default), escapes included, and a multipart one must be complete.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from shared.errors import BadRequest

URLENCODED = "application/x-www-form-urlencoded"


class MalformedBody(BadRequest):
    """The body cannot be read as its Content-Type says."""


async def read_form(request: web.BaseRequest) -> MultiDictProxy[str | web.FileField]:
    """The fields of a urlencoded or multipart body (an empty set for any other content type)."""
    charset = request.charset or "utf-8"
    if request.content_type == URLENCODED:
        raw = await request.read()
        try:
            text = raw.decode(charset)
            pairs = parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
        except LookupError:
            raise MalformedBody(f"The body's charset {charset[:40]!r} is not one this server knows") from None
        except ValueError:
            raise MalformedBody(f"The form body is not valid {charset[:40]} once decoded") from None
        return MultiDictProxy(MultiDict[str | web.FileField](pairs))
    try:
        return await request.post()
    except LookupError:
        raise MalformedBody("A field of the form names a charset this server does not know") from None
    except (ValueError, AssertionError):
        # aiohttp's multipart reader reports a missing boundary, a truncated body or a field that does not
        # decode as ValueError, and a few framing faults through assertions.
        raise MalformedBody("The multipart body is malformed (a missing boundary, or cut short?)") from None

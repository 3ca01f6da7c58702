"""What an OData request asks of the answer before any query runs: the Accept and OData-MaxVersion headers
(OData v4 part 1, 8.2.1 and 8.2.7: honour them or fail the request) and the system query option names, which
OData 4.01 lets clients write without the `$` and in any case (part 1, section 13 "4.01 Minimal", 6 and 7)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import MultiDict, MultiDictProxy

from services.odata.query import SUPPORTED_OPTIONS, UNSUPPORTED_OPTIONS
from shared.errors import ApiError, BadRequest

# Every system query option OData names: the ones served and the ones answered with 501.
SYSTEM_OPTIONS = SUPPORTED_OPTIONS | UNSUPPORTED_OPTIONS
JSON_TYPES = ("application/json",)
XML_TYPES = ("application/xml",)


class NotAcceptable(ApiError):
    status = 406
    code = "not_acceptable"


class UnsupportedVersion(BadRequest):
    code = "unsupported_odata_version"


def option_names(query: MultiDictProxy[str]) -> MultiDict[str]:
    """The query with system options under their canonical names: `top`, `$TOP` and `$top` are all `$top`.
    Other names (custom options, @aliases) are kept as given."""
    normalized: MultiDict[str] = MultiDict()
    for name, value in query.items():
        lower = name.lower()
        if lower in SYSTEM_OPTIONS:
            name = lower
        elif f"${lower}" in SYSTEM_OPTIONS:
            name = f"${lower}"
        normalized.add(name, value)
    return normalized


def _media_ranges(header: str) -> Iterable[str]:
    for item in header.split(","):
        media, _, parameters = item.partition(";")
        quality = [p.strip() for p in parameters.split(";") if p.strip().replace(" ", "").startswith("q=")]
        if quality and quality[0].replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            continue
        yield media.strip().lower()


def check_accept(headers: Mapping[str, str], offered: tuple[str, ...]) -> None:
    """406 when an Accept header is given and admits none of the media types this answer comes in."""
    header = headers.get("Accept")
    if not header:
        return
    for media in _media_ranges(header):
        if media in ("*/*", "*") or media in offered or any(media == f"{kind.split('/')[0]}/*" for kind in offered):
            return
    raise NotAcceptable(f"This resource is available as {', '.join(offered)} only", target="Accept")


def check_max_version(headers: Mapping[str, str]) -> None:
    """The service speaks OData 4.0 (and 4.01 syntax); a client capped below 4.0 cannot be answered."""
    header = headers.get("OData-MaxVersion")
    if header is None:
        return
    major, _, minor = header.strip().partition(".")
    if not (major.isdigit() and (minor.isdigit() or minor == "")) or len(header) > 10:
        raise UnsupportedVersion("OData-MaxVersion must be a version such as 4.0", target="OData-MaxVersion")
    if int(major) < 4:
        raise UnsupportedVersion("This service answers OData 4.0 only", target="OData-MaxVersion")

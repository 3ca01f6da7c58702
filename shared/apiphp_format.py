"""The wire format of the Webasyst-compatible api.php access point (seed 000), spoken by three services: the gateway
(its own refusals on api.php routes), the auth service (/api.php/token) and the odata service (the API methods).

FORMAT is json (the default) or xml. Errors are {"error": CODE, "error_description": TEXT}; the XML form of any answer
is a <response> document mirroring the JSON the way Webasyst's waAPIDecoratorXML does: a key becomes an element, a
list under a plural key becomes one element per item named by the singular (products -> product, categories ->
category), other lists one <item> per entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

FORMATS = ("json", "xml")
DEFAULT_FORMAT = "json"
JSON_CONTENT_TYPE = "application/json"
XML_CONTENT_TYPE = "text/xml"
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# The error codes of seed 000 and the HTTP status each is answered with.
INVALID_REQUEST = "invalid_request"
ACCESS_DENIED = "access_denied"
INVALID_METHOD = "invalid_method"
INVALID_TOKEN = "invalid_token"  # noqa: S105 (an error code, not a secret)
# Webasyst's framework codes beyond the seed's list (waAPIController, waAPIMethod).
TOKEN_REQUIRED = "token_required"  # noqa: S105 (an error code, not a secret)
APP_NOT_INSTALLED = "app_not_installed"
INVALID_PARAM = "invalid_param"
SERVER_ERROR = "server_error"
ERROR_STATUS = {
    INVALID_REQUEST: 400,
    TOKEN_REQUIRED: 400,
    APP_NOT_INSTALLED: 400,
    INVALID_PARAM: 400,
    INVALID_TOKEN: 401,
    ACCESS_DENIED: 403,
    INVALID_METHOD: 404,
    SERVER_ERROR: 500,
}


class UnknownFormat(ValueError):
    """A format parameter that is neither json nor xml."""


def response_format(value: str | None) -> str:
    """The requested format (case-insensitive, json when absent or empty); UnknownFormat otherwise."""
    if not value:
        return DEFAULT_FORMAT
    chosen = value.strip().lower()
    if chosen not in FORMATS:
        raise UnknownFormat(f"Invalid response format: {value[:20]}")
    return chosen


def format_or_default(value: str | None) -> str:
    try:
        return response_format(value)
    except UnknownFormat:
        return DEFAULT_FORMAT


def error_body(code: str, description: str | None = None) -> dict[str, str]:
    body = {"error": code}
    if description:
        body["error_description"] = description
    return body


def render(data: Any, fmt: str, item_name: str = "item") -> tuple[bytes, str]:
    """The body and its content type (charset utf-8). A method may answer a mapping, a list (in XML one
    `item_name` element per entry, Webasyst's `_element`) or a scalar (`true` for a deletion)."""
    if fmt == "xml":
        return to_xml(data, item_name), XML_CONTENT_TYPE
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), JSON_CONTENT_TYPE


def to_xml(data: Any, item_name: str = "item") -> bytes:
    root = ElementTree.Element("response")
    if isinstance(data, Mapping):
        for key, value in data.items():
            _append(root, str(key), value)
    elif isinstance(data, list | tuple):
        for item in data:
            _append(root, item_name, item)
    elif isinstance(data, bool):
        root.text = "1" if data else "0"  # PHP's string form of true/false, as waAPIDecoratorXML writes it
    elif data is not None:
        root.text = _NOT_XML.sub("", str(data))
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode").encode()


def _singular(name: str) -> str:
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith("s") and len(name) > 1:
        return name[:-1]
    return "item"


def _element(parent: ElementTree.Element, name: str) -> ElementTree.Element:
    if _XML_NAME.match(name) and not name.lower().startswith("xml"):
        return ElementTree.SubElement(parent, name)
    element = ElementTree.SubElement(parent, "item")
    element.set("key", _NOT_XML.sub("", name))
    return element


def _append(parent: ElementTree.Element, name: str, value: Any) -> None:
    element = _element(parent, name)
    if isinstance(value, Mapping):
        for key, nested in value.items():
            _append(element, str(key), nested)
    elif isinstance(value, list | tuple):
        item_name = _singular(name)
        for item in value:
            _append(element, item_name, item)
    elif value is None:
        return
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = _NOT_XML.sub("", str(value))

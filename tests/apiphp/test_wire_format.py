"""The api.php wire format and the gateway's reading of a token from a form body, without the network."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from services.gateway.apiphp import strip_multipart, strip_urlencoded
from services.gateway.credentials import AmbiguousCredentials
from shared import apiphp_format
from shared.errors import BadRequest

BOUNDARY = "xYzBoundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _multipart(*parts: tuple[str, bytes]) -> bytes:
    body = b""
    for name, value in parts:
        body += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def test_xml_mirrors_json_with_singular_list_items_like_webasyst() -> None:
    data = {"count": 2, "products": [{"id": 1, "name": "A & B"}, {"id": 2, "name": None}], "ok": True}
    root = ElementTree.fromstring(apiphp_format.to_xml(data))  # noqa: S314 - our own output
    assert root.tag == "response"
    assert [item.findtext("name") for item in root.findall("products/product")] == ["A & B", ""]
    assert root.findtext("count") == "2" and root.findtext("ok") == "true"
    nested = apiphp_format.to_xml({"categories": [{"categories": []}]})
    assert b"<categories><category><categories /></category></categories>" in nested


def test_xml_drops_characters_xml_cannot_carry_and_keeps_odd_keys_as_attributes() -> None:
    root = ElementTree.fromstring(apiphp_format.to_xml({"name": "a\x00b", "1 bad": "x"}))  # noqa: S314
    assert root.findtext("name") == "ab"
    assert root.find("item").get("key") == "1 bad"  # type: ignore[union-attr]


def test_the_format_is_json_by_default_case_insensitive_and_nothing_else() -> None:
    assert apiphp_format.response_format(None) == "json"
    assert apiphp_format.response_format("XML") == "xml"
    with pytest.raises(apiphp_format.UnknownFormat):
        apiphp_format.response_format("yaml")


def test_the_urlencoded_token_field_is_taken_out_and_the_rest_kept_byte_for_byte() -> None:
    form = strip_urlencoded(b"id=4&access_token=abc%2Bdef&note=a+b%26c", "access_token")
    assert form.token == "abc+def"
    assert form.body == b"id=4&note=a+b%26c"
    assert "abc" not in repr(form)
    with pytest.raises(AmbiguousCredentials):
        strip_urlencoded(b"access_token=a&access_token=b", "access_token")
    with pytest.raises(BadRequest):
        strip_urlencoded(b"id=\xff", "access_token")


def test_the_multipart_token_part_is_taken_out_and_other_parts_kept_intact() -> None:
    raw = _multipart(("id", b"4"), ("access_token", b"0123456789abcdef0123456789abcdef"), ("file", b"\x00\r\n--x"))
    form = strip_multipart(raw, CONTENT_TYPE, "access_token")
    assert form.token == "0123456789abcdef0123456789abcdef"
    assert form.body == _multipart(("id", b"4"), ("file", b"\x00\r\n--x"))
    without = strip_multipart(_multipart(("id", b"4")), CONTENT_TYPE, "access_token")
    assert without.token is None and without.body == _multipart(("id", b"4"))
    with pytest.raises(BadRequest):
        strip_multipart(raw, "multipart/form-data", "access_token")

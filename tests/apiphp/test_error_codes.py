"""api.php errors as Webasyst's framework answers them (waAPIController, waAPIMethod, the shop methods): each
code with its HTTP status, in JSON and in XML alike (docs/apiphp.md has the table)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest

from tests.apiphp.conftest import ApiPhpPlatform


@pytest.fixture
async def token(apiphp_platform: ApiPhpPlatform) -> str:
    return await apiphp_platform.token()


async def _both_formats(
    platform: ApiPhpPlatform, path: str, method: str = "GET", **params: str
) -> tuple[int, dict[str, Any], int, dict[str, str]]:
    """(status, JSON body, status, XML body as {child tag: text}) of one call asked in each format."""
    as_json = await platform.call(path, method, params=params)
    as_xml = await platform.call(path, method, params={**params, "format": "xml"})
    assert as_xml.content_type == "text/xml"
    root = ElementTree.fromstring(await as_xml.read())  # noqa: S314 - our own service's answer
    assert root.tag == "response"
    return as_json.status, await as_json.json(), as_xml.status, {child.tag: child.text or "" for child in root}


async def test_a_missing_token_is_400_token_required(apiphp_platform: ApiPhpPlatform) -> None:
    status, body, xml_status, xml = await _both_formats(apiphp_platform, "/api.php/shop.product.getList")
    assert (status, body) == (400, {"error": "token_required", "error_description": "Access token is missing"})
    assert (xml_status, xml) == (400, {"error": "token_required", "error_description": "Access token is missing"})


async def test_an_unknown_token_is_401_invalid_token(apiphp_platform: ApiPhpPlatform) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.product.getList", access_token="0" * 32
    )
    assert (status, body) == (401, {"error": "invalid_token", "error_description": "Invalid access token"})
    assert (xml_status, xml["error"]) == (401, "invalid_token")


async def test_an_app_that_is_not_installed_is_400_app_not_installed_naming_the_app(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/blog.post.getList", access_token=token
    )
    expected = {"error": "app_not_installed", "app": "blog", "error_description": "App is not installed (blog)"}
    assert (status, body) == (400, expected)
    assert (xml_status, xml) == (400, expected)


async def test_a_token_without_the_app_in_its_scope_is_403_access_denied_without_a_description(
    apiphp_platform: ApiPhpPlatform,
) -> None:
    other = await apiphp_platform.issue_token_directly(await apiphp_platform.user(), ["blog"])
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.product.getList", access_token=other
    )
    assert (status, body) == (403, {"error": "access_denied"})
    assert (xml_status, xml) == (403, {"error": "access_denied"})


async def test_an_unknown_method_of_an_installed_app_is_404_invalid_method(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.product.explode", access_token=token
    )
    expected = {"error": "invalid_method", "error_description": "Unknown method: shop.product.explode"}
    assert (status, body) == (404, expected)
    assert (xml_status, xml) == (404, expected)


async def test_a_write_method_called_with_get_is_405_invalid_request(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.product.delete", access_token=token, id="1"
    )
    assert (status, body) == (405, {"error": "invalid_request", "error_description": "Method GET not allowed"})
    assert (xml_status, xml["error"]) == (405, "invalid_request")


async def test_a_missing_parameter_is_400_invalid_param_in_waapimethods_words(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.order.getInfo", access_token=token
    )
    expected = {"error": "invalid_param", "error_description": "Required parameter is missing: “id”."}
    assert (status, body) == (400, expected)
    assert (xml_status, xml) == (400, expected)


async def test_a_bad_parameter_value_is_400_invalid_param(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    for params in ({"id": "abc"}, {"id": "0"}):
        status, body, xml_status, xml = await _both_formats(
            apiphp_platform, "/api.php/shop.product.getInfo", access_token=token, **params
        )
        assert status == xml_status == 400
        assert body["error"] == xml["error"] == "invalid_param"
        assert body["error_description"].startswith("Invalid value of parameter “id”")


async def test_an_id_that_names_nothing_is_404_invalid_param(apiphp_platform: ApiPhpPlatform, token: str) -> None:
    status, body, xml_status, xml = await _both_formats(
        apiphp_platform, "/api.php/shop.customer.getInfo", access_token=token, id=str(2**62)
    )
    assert (status, body) == (404, {"error": "invalid_param", "error_description": "Customer not found"})
    assert (xml_status, xml["error"]) == (404, "invalid_param")


async def test_a_malformed_path_and_an_unknown_format_are_400_invalid_request(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    path = await apiphp_platform.call("/api.php/a/b/c", params={"access_token": token, "format": "xml"})
    root = ElementTree.fromstring(await path.read())  # noqa: S314 - our own service's answer
    assert path.status == 400 and root.findtext("error") == "invalid_request"
    fmt = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token, "format": "csv"})
    assert fmt.status == 400
    assert await fmt.json() == {"error": "invalid_request", "error_description": "Invalid response format: csv"}


async def test_a_right_the_user_lacks_is_403_access_denied_naming_the_permission(
    apiphp_platform: ApiPhpPlatform, token: str
) -> None:
    response = await apiphp_platform.call(
        "/api.php/shop.product.delete", "POST", data={"id": "1"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status == 403
    assert await response.json() == {
        "error": "access_denied",
        "error_description": "This token does not allow this method (needs products:delete)",
    }


async def test_a_user_without_any_right_in_the_app_is_403_access_denied(apiphp_platform: ApiPhpPlatform) -> None:
    """Webasyst's hasAppAccess: the token's scope alone is not enough once the user lost every right in the app."""
    user = await apiphp_platform.user(frozenset({"imports:read"}))
    token = await apiphp_platform.issue_token_directly(user, ["shop"])
    response = await apiphp_platform.call("/api.php/shop.product.getList", params={"access_token": token})
    assert response.status == 403 and await response.json() == {"error": "access_denied"}

"""An example plugin (docs/oauth.md, plugin authorization): reads the credentials the runner injected, gets a token with
the client-credentials grant, and calls the Query API (or, where that is not deployed, the OData API).

    python -m services.auth.oauth.plugin_runner --plugin example -- python plugins/example_plugin.py

Standard library only, like a plugin written by a third party would be; it prints what it fetched as JSON lines.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_SECONDS = 10


class PluginApiClient:
    """A plugin's API client: authenticate once, re-authenticate when the token is about to expire."""

    def __init__(self, client_id: str, client_secret: str, api_base_url: str) -> None:
        if urllib.parse.urlsplit(api_base_url).scheme not in ("http", "https"):
            raise ValueError("API_BASE_URL must be an http(s) URL")
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_base_url = api_base_url.rstrip("/")
        self.access_token: str | None = None
        self.token_expiry = 0.0

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Any:
        # The base URL's scheme was checked in __init__, so only http(s) is ever opened.
        request = urllib.request.Request(f"{self.api_base_url}{path}", data=body, headers=headers, method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def authenticate(self) -> None:
        body = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "read write",
            }
        ).encode()
        tokens = self._send("POST", "/auth/oauth/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
        self.access_token = tokens["access_token"]
        self.token_expiry = time.time() + int(tokens["expires_in"]) - 30

    def request(self, method: str, path: str, data: Any = None) -> Any:
        if self.access_token is None or time.time() >= self.token_expiry:
            self.authenticate()
        headers = {"Authorization": f"Bearer {self.access_token}"}
        body = None
        if data is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(data).encode()
        return self._send(method, path, body, headers)

    def fetch_products(self) -> list[dict[str, Any]]:
        try:
            answer = self.request("POST", "/api/query", {"query": "products { id, name, price }"})
            return list(answer.get("products", []))
        except urllib.error.HTTPError as error:
            if error.code not in (404, 405):
                raise
        answer = self.request("GET", "/odata/products?%24top=3")  # the Query API is not deployed: use OData
        return list(answer.get("value", []))


def main() -> int:
    try:
        client = PluginApiClient(
            os.environ["OAUTH_CLIENT_ID"], os.environ["OAUTH_CLIENT_SECRET"], os.environ["API_BASE_URL"]
        )
    except KeyError as missing:
        print(f"example plugin: {missing.args[0]} is not set; start me with the plugin runner", file=sys.stderr)
        return 2
    try:
        products = client.fetch_products()
    except urllib.error.HTTPError as error:
        print(f"example plugin: the API answered {error.code}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"example plugin: cannot reach the API: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"fetched_products": len(products), "products": products}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

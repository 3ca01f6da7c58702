"""An example webhook receiver: verifies each delivery's Standard Webhooks signature, refuses old or replayed
ones, ignores a webhook-id it has already handled, and answers at once.

Run it:  WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py --port 9000
then subscribe http://<this host>:9000/webhooks (the URL must be reachable from the webhooks service and, unless the
operator allows private addresses, public).

Only the standard library and aiohttp; any Standard Webhooks library (e.g. `standardwebhooks` on PyPI) does the same
verification in one call.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import logging
import os
import time
from collections import OrderedDict
from typing import Any

from aiohttp import web

TOLERANCE_SECONDS = 5 * 60
REMEMBERED_IDS = 10_000
MAX_BODY_BYTES = 1024 * 1024

log = logging.getLogger("webhook_receiver")


class InvalidDelivery(Exception):
    pass


def verify(secret: str, headers: Any, body: bytes, now: float | None = None) -> dict[str, Any]:
    """The payload of a genuine, recent delivery; InvalidDelivery otherwise."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not message_id or not timestamp.isdigit() or not signatures:
        raise InvalidDelivery("missing webhook headers")
    if abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise InvalidDelivery("timestamp outside the tolerance (a replay, or a clock far off)")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    # The header may carry several signatures (during a secret rotation), space-separated, each "v1,<base64>".
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), base64.b64encode(expected)):
            return json.loads(body)
    raise InvalidDelivery("no valid signature")


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.handled: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return web.Response(status=413)
        try:
            payload = verify(self.secret, request.headers, body)
        except (InvalidDelivery, ValueError) as error:
            log.warning("refused a delivery: %s", error)
            return web.Response(status=400, text="invalid signature")
        message_id = request.headers["webhook-id"]
        if message_id in self.seen:
            return web.Response(status=204)  # at-least-once delivery: a retry of what was handled already
        self.seen[message_id] = None
        if len(self.seen) > REMEMBERED_IDS:
            self.seen.popitem(last=False)
        # Real work (which may be slow) belongs in a queue of your own; answer quickly so the delivery is not retried.
        self.handled.append(payload)
        log.info("%s %s", payload["type"], json.dumps(payload["data"])[:200])
        return web.Response(status=204)


RECEIVER = web.AppKey("receiver", Receiver)


def create_app(secret: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    receiver = Receiver(secret)
    app[RECEIVER] = receiver
    app.router.add_post("/webhooks", receiver.handle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET", "")
    if not secret.startswith("whsec_"):
        raise SystemExit("set WEBHOOK_SECRET to the subscription's secret (whsec_...)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    web.run_app(create_app(secret), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

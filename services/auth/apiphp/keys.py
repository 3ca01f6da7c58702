"""Typed application state of the api.php access point."""

from __future__ import annotations

from aiohttp import web

from services.auth.apiphp.tokens import ApiPhpTokens

APIPHP_TOKENS = web.AppKey("apiphp_tokens", ApiPhpTokens)

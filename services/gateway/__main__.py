from __future__ import annotations

from services.gateway.app import create_app
from services.gateway.config import Config
from shared.service import run_service

if __name__ == "__main__":
    run_service("gateway", Config.from_env, create_app, ssl_context=Config.tls_context)

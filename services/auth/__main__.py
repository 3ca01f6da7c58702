from __future__ import annotations

from services.auth.app import create_app
from services.auth.config import Config
from shared.service import run_service

if __name__ == "__main__":
    run_service("auth", Config.from_env, create_app)

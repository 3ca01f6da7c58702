from services.webhooks.app import create_app
from services.webhooks.config import Config
from shared.service import run_service

run_service("webhooks", Config.from_env, create_app)

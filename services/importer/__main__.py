from services.importer.app import create_app
from services.importer.config import Config
from shared.service import run_service

run_service("importer", Config.from_env, create_app)

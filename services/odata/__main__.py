from services.odata.app import create_app
from services.odata.config import Config
from shared.service import run_service

run_service("odata", Config.from_env, create_app)

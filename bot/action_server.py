"""Runs the rasa-sdk action server on a private address, answering only the Rasa server.

rasa-sdk's own `rasa run actions` binds 0.0.0.0 with CORS "*" and no authentication; anyone who
reaches it could run actions as any patient. Here it binds to ACTION_HOST (loopback by default)
and refuses requests without the shared X-Action-Token that endpoints.yml sends.
"""

from __future__ import annotations

import hmac
import logging
import os

from sanic import Sanic, response
from sanic.request import Request

from bot.settings import RuntimeSettings, load_runtime_settings

logger = logging.getLogger(__name__)
TOKEN_HEADER = "X-Action-Token"


def create_action_app(settings: RuntimeSettings) -> Sanic:
    from rasa_sdk.endpoint import create_app

    app = create_app("actions", cors_origins=[])

    @app.middleware("request")
    async def require_token(request: Request):
        if request.path == "/health":
            return None
        supplied = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), settings.action_server_token.encode()):
            return response.json({"error": "unauthorized"}, status=401)
        return None

    return app


def main() -> None:
    from bot.env_file import load_env_file
    from bot.log_privacy import install_pii_log_filter

    os.umask(0o077)  # the booking spool and SQLite files hold contact details
    load_env_file()
    settings = load_runtime_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s actions %(levelname)s %(message)s")
    install_pii_log_filter()
    app = create_action_app(settings)
    from bot.bookings.retry import register_booking_retry

    register_booking_retry(app)  # stores requests kept while the database was down
    logger.info(
        "Action server listening on http://%s:%s",
        settings.action_host,
        settings.action_port,
    )
    app.run(
        host=settings.action_host,
        port=settings.action_port,
        workers=1,
        access_log=False,
    )


if __name__ == "__main__":
    main()

"""Runs the Rasa server in-process: `python -m bot.server` (the launcher starts it this way).

Rasa's own `rasa run` takes the JWT secret on the command line (visible to anyone in `ps`) and
offers no place to set Sanic's limits. Building the app with Rasa's `configure_app` here keeps
Rasa's behaviour and adds:
- the JWT secret from the environment (RASA_API_SECRET) or its 0600 file, never argv;
- a request size cap (REQUEST_MAX_SIZE) and a listen backlog that absorbs bursts;
- `GET /health`: "ok", or "degraded" (HTTP 200 still: FAQ answers work) when the action server
  does not answer;
- files this process creates (SQLite, spool) readable by this user only.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import PROJECT_ROOT
from bot.metrics import install_metrics
from bot.settings import RuntimeSettings, load_runtime_settings
from bot.staff.api_auth import install_api_auth_guard

logger = logging.getLogger(__name__)

# A chat message is a few KB; 1 MB leaves room for the staff console's forms and still refuses
# the 100 MB Sanic accepts by default.
REQUEST_MAX_SIZE = 1024 * 1024
# Sanic's default of 100 refused connections under a burst of 400 requests.
LISTEN_BACKLOG = 1024
HEALTH_PROBE_TIMEOUT_SECONDS = 1.0


def action_server_answers(settings: RuntimeSettings) -> bool:
    host = "127.0.0.1" if settings.action_host in ("0.0.0.0", "") else settings.action_host
    try:
        url = f"http://{host}:{settings.action_port}/health"
        with urllib.request.urlopen(url, timeout=HEALTH_PROBE_TIMEOUT_SECONDS) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def add_health_route(app: Sanic, settings: RuntimeSettings) -> None:
    import asyncio

    async def health(request: Request) -> HTTPResponse:
        agent = getattr(request.app.ctx, "agent", None)
        model_ready = bool(agent is not None and agent.is_ready())
        actions_up = await asyncio.to_thread(action_server_answers, settings)
        status = "ok" if model_ready and actions_up else "degraded"
        return response.json(
            {"status": status, "model": model_ready, "action_server": actions_up},
            status=200 if model_ready else 503,
        )

    app.add_route(health, "/health", methods=["GET"], name="clinic_health")


def build_app(settings: RuntimeSettings) -> Sanic:
    from rasa.core.run import configure_app, create_http_input_channels

    from bot import rasa_patches
    from bot.endpoints import available_endpoints

    endpoints = available_endpoints(settings)
    rasa_patches.install()  # compiled action-reply schema, graph run without dask
    channels = create_http_input_channels(None, str(PROJECT_ROOT / "credentials.yml"))
    app = configure_app(
        channels,
        cors=list(settings.cors_origins) or None,
        enable_api=True,
        # The HTTP API, for the staff tools' model swap (PUT /model); every call needs a JWT
        # signed with api_secret (a Bearer header: --auth-token would land in access logs).
        jwt_secret=settings.api_secret,
        jwt_method="HS256",
        endpoints=endpoints,
        port=settings.bot_port,
    )
    app.config.REQUEST_MAX_SIZE = REQUEST_MAX_SIZE
    add_health_route(app, settings)
    install_metrics(app, settings)
    # Bad JWTs get 401, never 500; tokens without `exp` are refused (bot/staff/api_auth.py).
    install_api_auth_guard(app)
    app.ctx.endpoints = endpoints
    return app


def serve(settings: RuntimeSettings) -> None:
    from functools import partial

    from rasa.core.run import close_resources, load_agent_on_start

    app = build_app(settings)
    from bot.privacy.schedule import register_daily_purge

    register_daily_purge(app)  # retention: old conversations and handled-message ids
    app.register_listener(
        partial(load_agent_on_start, str(settings.model_path), app.ctx.endpoints, None),
        "before_server_start",
    )
    app.register_listener(close_resources, "after_server_stop")
    logger.info("Starting the Rasa server on http://%s:%s", settings.bot_host, settings.bot_port)
    app.run(
        host=settings.bot_host,
        port=settings.bot_port,
        backlog=LISTEN_BACKLOG,
        workers=1,
        access_log=False,
    )


def configure_logging(level_name: str) -> None:
    """What `rasa run` does before serving: log levels, coloured stdlib logs, structlog, TF."""
    import rasa.utils.io
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog
    from rasa.utils.tensorflow.environment import setup_tf_environment

    level = logging.getLevelName(level_name)
    configure_logging_and_warnings(level, warn_only_once=True, filter_repeated_logs=True)
    setup_tf_environment()
    rasa.utils.io.configure_colored_logging(level)
    configure_structlog(level)


def main() -> None:
    from bot.env_file import load_env_file
    from bot.log_privacy import install_pii_log_filter

    os.umask(0o077)  # SQLite files and logs hold health messages and contact details
    load_env_file()
    settings = load_runtime_settings()
    configure_logging(settings.log_level)
    install_pii_log_filter()
    os.environ.update(settings.rasa_environment())
    serve(settings)


if __name__ == "__main__":
    main()

"""Runtime settings read from the environment."""

from __future__ import annotations

import pytest

from bot.settings import load_runtime_settings, parse_cors_origins


def test_cors_origins_are_exact_origins():
    assert parse_cors_origins("") == ()
    assert parse_cors_origins("https://www.clinic.example, http://localhost:8080/") == (
        "https://www.clinic.example",
        "http://localhost:8080",
    )


@pytest.mark.parametrize(
    "bad", ["*", "https://*.clinic.example", "clinic.example", "https://clinic.example/page", "ftp://x.org"]
)
def test_wildcards_and_non_origins_stop_the_start(bad):
    with pytest.raises(ValueError, match="exact origin"):
        load_runtime_settings({"BOT_CORS_ORIGINS": bad})

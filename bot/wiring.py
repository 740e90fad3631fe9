"""The one accessor for the wired bot (database, LINE client, configuration) of the running
Flask app: `current_bot()`, for request handlers and CLI commands. `create_app()` puts it there;
nothing else looks it up."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:  # pragma: no cover - for type checkers only
    from bot.delivery.pipeline import Bot

EXTENSION = "tsunagari"


def current_bot() -> "Bot":
    return current_app.extensions[EXTENSION]

"""Tsunagari (つながり): a LINE bot for neighbours helping neighbours.

`create_app()` is the WSGI application factory (`bot:create_app()`); importing this package
does nothing else.
"""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(config: Any = None):
    """Build the Flask app. `config` may be a `bot.core.config.Config`, a mapping of overrides, or
    None (read the environment and an optional `.env` file)."""
    # late: bot.app imports every layer, and importing any bot.* module runs this file first (a cycle)
    from bot.app import build_app

    return build_app(config)

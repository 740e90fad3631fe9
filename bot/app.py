"""Wiring: configuration, database, LINE client, blueprints, CLI."""
from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface

import handlers
from bot import cli, console, security
from bot.core import i18n, jma, names, timefmt, translate
from bot.core.config import Config
from bot.core.db import Database
from bot.core.i18n import html_lang
from bot.delivery.line_client import LineClient
from bot.delivery.pipeline import Bot
from bot.web import accesslog, circular_page, health, media, webchat, webhook
from bot.wiring import EXTENSION
from handlers.dispatcher import dispatch


def load_config(config: Any, instance_path: str) -> Config:
    if isinstance(config, Config):
        cfg = config
    else:
        cfg = Config.from_env(**dict(config or {}))
    if not cfg.database_url:
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        cfg = cfg.with_overrides(database_url="sqlite:///" + os.path.join(instance_path, "tsunagari.db"))
    return cfg


def make_bot(cfg: Config) -> Bot:
    timefmt.use_japanese_era(cfg.japanese_era)
    names.use_fallback(cfg.fallback_language)
    line = None
    if cfg.line_channel_access_token:
        line = LineClient(cfg.line_channel_access_token, cfg.line_api_base_url, cfg.line_timeout_seconds,
                          data_base_url=cfg.line_data_url)
    return Bot(cfg, Database(cfg.database_url or ""), line, dispatch)


def ensure_catalogs() -> None:
    """The compiled catalogs (.mo) the bot answers with: compiled here when missing or older
    than their .po (a deployment that skipped `scripts/setup`'s step would otherwise answer every
    resident in English and look healthy); when they cannot be written, the web, the worker and
    the clock refuse to start."""
    problems = i18n.catalog_problems()
    if not problems:
        return
    try:
        done = i18n.compile_catalogs()
    except OSError as exc:
        raise RuntimeError(f"message catalogs not compiled ({'; '.join(problems[:3])}"
                           f"{'; …' if len(problems) > 3 else ''}) and they cannot be compiled here ({exc}): "
                           "run `python scripts/i18n.py compile` when building the release") from None
    logging.getLogger(__name__).warning("compiled %d message catalogs at start (%s); scripts/setup compiles them",
                                        len(done), ", ".join(done[:4]) + (", …" if len(done) > 4 else ""))


class _Sessions(SecureCookieSessionInterface):
    """The console's cookie session, not opened for LINE's webhook: its requests carry no cookie,
    and each resident's message would otherwise build a signer to read one that is not there."""

    def open_session(self, app: Flask, request: Request):
        return None if request.path == webhook.PATH else super().open_session(app, request)


def build_app(config: Any = None) -> Flask:
    app = Flask("bot", instance_relative_config=True)
    app.session_interface = _Sessions()
    cfg = load_config(config, app.instance_path)
    # In production (LINE, or https) without a strong FLASK_SECRET_KEY this raises: the web, the
    # worker and the clock (all built here) refuse to start.
    app.config.update(SECRET_KEY=security.secret_key(cfg, app.instance_path), MAX_CONTENT_LENGTH=cfg.max_webhook_bytes,
                      JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    app.jinja_env.globals["html_lang"] = html_lang
    # The console's session cookie: never readable by scripts, not sent on cross-site posts,
    # only over https when the bot is served over https.
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=(cfg.public_base_url or "").startswith("https://"),
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=8), WTF_CSRF_TIME_LIMIT=None)
    # A machine-translation provider named without a key, or one the bot does not know: refused
    # here, so the web, the worker and the clock do not start half-configured.
    translate.check(cfg)
    ensure_catalogs()
    jma.check(cfg)
    handlers.check_routes()
    bot = make_bot(cfg)
    app.extensions[EXTENSION] = bot
    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(circular_page.bp)
    app.register_blueprint(media.bp)
    if cfg.webchat_on:
        app.register_blueprint(webchat.bp)
    console.init_app(app)
    # LINE's deliveries answered without Flask's request machinery (ProxyFix, if any, goes around it)
    app.wsgi_app = webhook.FastPath(app, bot)  # type: ignore[method-assign]
    security.init_app(app, cfg)  # ProxyFix (TRUSTED_PROXIES) and the security headers
    cli.init_app(app)
    accesslog.install(app)  # no keys from addresses in the error log
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return app

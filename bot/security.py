"""Safe by default on the web: the secret key that signs the console's cookie, the client's
address behind reverse proxies, and the security headers every response carries.

- The secret key: in production (`Config.production`: a LINE channel, or an https
  `PUBLIC_BASE_URL`) the web, the worker and the clock refuse to start without a strong
  `FLASK_SECRET_KEY`; in development a random key is made once and kept in the instance folder
  (`instance/secret_key`, readable only by its owner), so restarts keep the console's sessions.
- The client's address: only `TRUSTED_PROXIES` reverse proxies are believed (werkzeug's
  `ProxyFix`); by default no forwarded header is, so a client cannot choose its address.
- Headers: a Content-Security-Policy (scripts and styles from the bot itself, or inline with
  the request's nonce, `csp_nonce()` in templates), no framing, no referrer, no sniffing, no
  caching of pages with personal data, and HSTS on https.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.core.config import Config

log = logging.getLogger(__name__)

OLD_DEFAULT_KEY = "dev-only-not-secret"  # the key earlier versions fell back to (it is public)
MIN_KEY_LENGTH = 32
MIN_KEY_CHARACTERS = 10  # distinct characters: "aaaa…" or "1234…1234" is not a key
KEY_FILE = "secret_key"
# Words of the placeholders in documentation and examples ("change-me-to-a-long-random-value").
PLACEHOLDER_WORDS = ("change-me", "changeme", "your-secret", "example", "placeholder")
GENERATE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
HSTS = "max-age=31536000"
# Pages that show personal data (or sign someone in): never kept by a browser or a proxy.
NO_STORE_PREFIXES = ("/console/", "/c/", "/chat/api/")
NO_STORE_PATHS = ("/console", "/chat")


class InsecureConfiguration(RuntimeError):
    """The bot would run in production with a secret key anyone can find or guess."""


def key_weakness(key: str | None) -> str | None:
    """Why `key` is not a strong secret key (None: it is)."""
    if not key:
        return "FLASK_SECRET_KEY is not set"
    if key == OLD_DEFAULT_KEY:
        return "FLASK_SECRET_KEY is the development default that is published in the repository"
    if len(key) < MIN_KEY_LENGTH:
        return f"FLASK_SECRET_KEY is too short ({len(key)} characters; at least {MIN_KEY_LENGTH} are needed)"
    if (len(set(key)) < MIN_KEY_CHARACTERS or any(ch.isspace() or ch == "…" for ch in key)
            or any(word in key.lower() for word in PLACEHOLDER_WORDS)):
        return "FLASK_SECRET_KEY looks like a placeholder or a pattern, not a random value"
    return None


def secret_key(config: Config, instance_path: str) -> str:
    """The key that signs the console's session cookie. In production a weak or missing
    `FLASK_SECRET_KEY` raises InsecureConfiguration (the process must not start); in
    development without one, the key kept in the instance folder (made on first use)."""
    weakness = key_weakness(config.secret_key)
    if config.production:
        if weakness:
            why = ("a LINE channel is configured" if config.line_channel_secret or config.line_channel_access_token
                   else "PUBLIC_BASE_URL is an https address")
            message = (f"Refusing to start: {weakness}. This is a production configuration ({why}), and with a "
                       f"missing or weak secret key anyone could forge a console session and act as staff. "
                       f"Set FLASK_SECRET_KEY (environment or .env) to a long random value, for example the "
                       f"output of: {GENERATE}")
            log.critical(message)
            raise InsecureConfiguration(message)
        return config.secret_key  # type: ignore[return-value]
    if config.secret_key:
        return config.secret_key
    return _instance_key(Path(instance_path) / KEY_FILE)


def _instance_key(path: Path) -> str:
    """The development key in `path`, made (mode 0600) when there is none yet. Several
    processes starting at once agree on one: the file appears whole or not at all."""
    try:
        key = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        key = ""
    if key_weakness(key) is None:
        _owner_only(path)
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
        if key:  # an empty or damaged file: replace it
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # never overwrites what another process wrote meanwhile
            except FileExistsError:
                pass
    finally:
        if tmp.exists():
            tmp.unlink()
    key = path.read_text(encoding="ascii").strip()
    log.info("development: the console's secret key is kept in %s", path)
    return key


def _owner_only(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:  # pragma: no cover - not ours to change: it still works
        pass


# -- headers -------------------------------------------------------------------------------------

def csp_nonce() -> str:
    """This request's nonce for inline <script> and <style> (`nonce="{{ csp_nonce() }}"`)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def content_security_policy(nonce: str | None, image_origins: str = "") -> str:
    own = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return "; ".join((
        "default-src 'none'",
        f"script-src {own}",
        f"style-src {own}",
        f"img-src 'self' data:{image_origins}",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ))


def _origin(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


def image_origins(config: Config) -> str:
    """Photos may be linked at PUBLIC_BASE_URL, which need not be the host a page was opened at."""
    public = _origin(config.public_base_url)
    return f" {public}" if public else ""


def response_headers(path: str, secure: bool, nonce: str | None, images: str) -> list[tuple[str, str]]:
    """The security headers of a response to `path` (the after-request hook's, and the webhook's
    fast path's, `bot.web.webhook.FastPath`)."""
    out = [
        ("Content-Security-Policy", content_security_policy(nonce, images)),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),  # unless the view set its own
    ]
    if path in NO_STORE_PATHS or path.startswith(NO_STORE_PREFIXES):
        out.append(("Cache-Control", "no-store"))
    if secure:
        out.append(("Strict-Transport-Security", HSTS))
    return out


def init_app(app: Flask, config: Config) -> None:
    if config.trusted_proxies > 0:
        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    images = image_origins(config)
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def _security_headers(resp):
        h = resp.headers
        for name, value in response_headers(request.path, request.is_secure, g.get("csp_nonce"), images):
            if name == "Referrer-Policy":
                h.setdefault(name, value)
            else:
                h[name] = value
        return resp

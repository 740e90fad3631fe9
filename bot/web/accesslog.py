"""Access-log lines without secrets or personal data.

Some addresses are keys: `/c/<token>` opens a resident's circular, `/console/link/<token>` signs a
leader in, `/m/<token>.jpg` shows a photo. Query strings carry what people typed (the console's
resident search, `?q=<nickname>`; the web chat's resident). `redact` keeps the shape of a path
and drops the secrets: `/c/<token>` becomes `/c/[token]` and any query string `?[redacted]`.

`RedactingLogger` is gunicorn's logger with every atom of the access log that can hold a path,
a query or a referring page redacted (the request line `%(r)s`, `%(U)s`, `%(q)s`, `%(f)s`, the
`Referer` and `Location` headers and the WSGI variables with a path). `gunicorn.conf.py` sets it,
and `install` does the same for the message Flask logs on an unhandled exception.
"""
from __future__ import annotations

import re

from flask import request
from gunicorn.glogging import Logger

TOKEN = "[token]"
QUERY = "[redacted]"

# Path segments that are keys, after these prefixes (a photo's ".jpg" is kept).
_KEYED = re.compile(r"(/(?:c|console/link)/)([^/?#]+)")
_PHOTO = re.compile(r"(/m/)([^/?#.]+)")
# Any other segment that looks like a random key (20+ URL-safe characters) goes too.
_LONG = re.compile(r"(?<=/)[A-Za-z0-9_-]{20,}(?=[/.]|$)")


def redact(uri: str | None) -> str:
    """A request URI (path, or a full URL such as a Referer) with keys and the query removed."""
    if not uri or uri == "-":
        return uri or ""
    path, sep_q, _query = uri.partition("?")
    path, _sep_f, _fragment = path.partition("#")
    path = _KEYED.sub(lambda m: m.group(1) + TOKEN, path)
    path = _PHOTO.sub(lambda m: m.group(1) + TOKEN, path)
    path = _LONG.sub(TOKEN, path)
    return path + ("?" + QUERY if sep_q else "")


class RedactingLogger(Logger):
    """gunicorn's logger, with the access log's paths, queries and referrers redacted."""

    _URI_ATOMS = ("U", "f", "{referer}i", "{location}o", "{raw_uri}e", "{path_info}e", "{request_uri}e",
                  "{http_referer}e", "{script_name}e")
    _QUERY_ATOMS = ("q", "{query_string}e")

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = "%s %s %s" % (environ.get("REQUEST_METHOD", "-"), redact(environ.get("RAW_URI", "")),
                                   environ.get("SERVER_PROTOCOL", "-"))
        for key in self._URI_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        for key in self._QUERY_ATOMS:
            if atoms.get(key):
                atoms[key] = QUERY
        return atoms


def install(app) -> None:
    """Flask logs "Exception on <path> [GET]" for an unhandled error: log the redacted path."""
    def log_exception(exc_info) -> None:
        app.logger.error("Exception on %s [%s]", redact(request.path), request.method, exc_info=exc_info)

    app.log_exception = log_exception

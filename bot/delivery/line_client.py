"""The one module that talks to LINE's Messaging API, through the official SDK (v3).

`LINE_API_BASE_URL` points the SDK elsewhere (a fake LINE API in tests and benchmarks).
Every call returns a `SendResult`; nothing here raises on an HTTP error.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Sequence

import urllib3
from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    outcome: str  # sent | retry | bad_reply_token | failed
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "sent"


@dataclass(frozen=True)
class ApiResult:
    ok: bool
    status: int | None = None
    data: Any = None
    error: str | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class Profile:
    display_name: str | None
    language: str | None


class LineClient:
    def __init__(self, access_token: str, base_url: str, timeout: float = 5.0, data_base_url: str | None = None):
        self._config = Configuration(access_token=access_token, host=base_url.rstrip("/"))
        self._data_host = (data_base_url or base_url).rstrip("/")
        self._config.retries = 0  # retries are the outbox's job, with the same retry key
        self._timeout = timeout
        self._urllib3_timeout = urllib3.Timeout(total=timeout)  # as the SDK makes it from a number
        self._base_path = (urllib3.util.parse_url(self._config.host).path or "").rstrip("/")  # (a prefix in the URL)
        self._local = threading.local()

    def warm_up(self) -> None:
        """This thread's API client, made ahead of its first call."""
        self._api()

    def _pool(self, api: MessagingApi) -> urllib3.HTTPConnectionPool:
        """This thread's connection pool for LINE's API host, taken once from the SDK's pool manager
        (its TLS settings, its `retries=0`; the bot configures no proxy). The pool manager's own
        `request` re-parsed the URL, looked the pool up and rebuilt the headers on every call: a
        fifth of a mass sending's CPU in the send threads."""
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = api.api_client.rest_client.pool_manager.connection_from_url(self._config.host)
        return pool

    def _api(self) -> MessagingApi:
        api = getattr(self._local, "api", None)
        if api is None:
            api = MessagingApi(ApiClient(self._config))
            self._local.api = api
        return api

    # The messages are already LINE's JSON (bot/delivery/render_line.py, checked by the tests against
    # LINE's limits), so they go through the SDK's API client as they are, without building
    # the SDK's message models only to serialise them again.
    def reply(self, reply_token: str, messages: Sequence[dict[str, Any]]) -> SendResult:
        return self._post("/v2/bot/message/reply", {"replyToken": reply_token, "messages": list(messages)})

    def push(self, to: str, messages: Sequence[dict[str, Any]], retry_key: str) -> SendResult:
        return self._post("/v2/bot/message/push", {"to": to, "messages": list(messages)}, retry_key)

    def multicast(self, to: Sequence[str], messages: Sequence[dict[str, Any]], retry_key: str) -> SendResult:
        return self._post("/v2/bot/message/multicast", {"to": list(to), "messages": list(messages)}, retry_key)

    def broadcast(self, messages: Sequence[dict[str, Any]], retry_key: str) -> SendResult:
        return self._post("/v2/bot/message/broadcast", {"messages": list(messages)}, retry_key)

    def _post(self, path: str, body: dict[str, Any], retry_key: str | None = None) -> SendResult:
        """A message call: the body serialised once, straight onto the SDK's HTTP connection pool
        for LINE's host.

        The SDK's generic `call_api` walks the body to sanitise it, copies and sanitises the
        headers and builds a pydantic response model, none of which a body that is already LINE's
        JSON needs; on the hot path (every reply, every push of a mass sending) that walk cost as
        much as the JSON itself. What goes on the wire is what `call_api` sends: the same
        connection pool (the SDK's TLS and pool settings), the same address, the same headers
        (authorization, the SDK's User-Agent), `json.dumps` of the body."""
        api = self._api()
        headers = dict(api.api_client.default_headers)  # Authorization and the SDK's User-Agent
        headers["Accept"] = "application/json"
        headers["Content-Type"] = "application/json"
        if retry_key:
            headers["X-Line-Retry-Key"] = retry_key
        try:
            resp = self._pool(api).urlopen(
                "POST", self._base_path + path, body=json.dumps(body).encode(), headers=headers,
                timeout=self._urllib3_timeout, preload_content=True, redirect=False, assert_same_host=False,
            )
        except Exception as exc:  # timeouts, refused connections: try again later
            return SendResult("retry", error=type(exc).__name__)
        if not 200 <= resp.status <= 299:
            return _classify(resp.status, resp.headers, resp.data)
        return SendResult("sent", status=resp.status, request_id=resp.headers.get("x-line-request-id"))

    def call(self, method: str, path: str, body: Any = None, *, data_host: bool = False,
             content_type: str = "application/json") -> ApiResult:
        """Any other Messaging API call (rich menus): JSON in, JSON out. Never raises."""
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            resp = self._api().api_client.call_api(
                path, method, {}, [], headers, body=body, post_params=[], files={}, response_types_map={},
                auth_settings=["Bearer"], _return_http_data_only=False, _preload_content=True,
                _request_timeout=self._timeout, collection_formats={}, _host=self._data_host if data_host else None,
            )
        except ApiException as exc:
            res = _classify(exc.status, exc.headers or {}, exc.body)
            return ApiResult(False, res.status, None, res.error, res.retry_after)
        except Exception as exc:
            return ApiResult(False, None, None, type(exc).__name__)
        raw = getattr(resp, "raw_data", None) or b""
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return ApiResult(True, getattr(resp, "status_code", 200), data)

    def get_content(self, message_id: str, max_bytes: int) -> bytes | None:
        """What a resident sent (a photo), from LINE's data API; None when it cannot be had
        (gone, too large, LINE unreachable). Never raises."""
        if not message_id.isdigit() or len(message_id) > 32:
            return None
        try:
            resp = self._api().api_client.call_api(
                f"/v2/bot/message/{message_id}/content", "GET", {}, [], {"Accept": "*/*"}, body=None,
                post_params=[], files={}, response_types_map={"200": "bytearray"}, auth_settings=["Bearer"],
                _return_http_data_only=True, _preload_content=True, _request_timeout=self._timeout,
                collection_formats={}, _host=self._data_host,
            )
            data = resp
        except Exception as exc:
            log.info("content download failed: %s", type(exc).__name__)
            return None
        if not isinstance(data, (bytes, bytearray)) or len(data) > max_bytes:
            return None
        return bytes(data)

    def get_profile(self, user_id: str) -> Profile | None:
        try:
            prof = self._api().get_profile(user_id, _request_timeout=min(self._timeout, 1.5))
        except Exception as exc:  # a profile is a nicety: go on without it
            log.info("profile lookup failed: %s", type(exc).__name__)
            return None
        return Profile(display_name=prof.display_name, language=getattr(prof, "language", None))


def _header(headers: Any, name: str) -> str | None:
    try:
        for key, value in dict(headers).items():
            if key.lower() == name:
                return value
    except Exception:
        return None
    return None


def _classify(status: int | None, headers: Any, body: Any) -> SendResult:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    message = text[:300]
    try:
        message = str(json.loads(text).get("message", message))[:300]
    except Exception:
        pass
    status = int(status or 0)
    if status == 409 and _header(headers, "x-line-accepted-request-id"):
        # The same retry key was accepted before: the message went out.
        return SendResult("sent", status=409, request_id=_header(headers, "x-line-accepted-request-id"))
    if status == 429:
        retry_after = _header(headers, "retry-after")
        try:
            delay = float(retry_after) if retry_after else None
        except ValueError:
            delay = None
        return SendResult("retry", status=429, error=message, retry_after=delay)
    if status >= 500 or status == 0:
        return SendResult("retry", status=status, error=message)
    if status == 400 and "reply token" in message.lower():
        return SendResult("bad_reply_token", status=400, error=message)
    return SendResult("failed", status=status, error=message)

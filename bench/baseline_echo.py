"""The minimal LINE bot anyone would write first: verify and parse the webhook with the SDK,
reply to each text message with the same text, store nothing.

It is the yardstick for `bench/webhook.py`. Run it like the real bot:

    LINE_CHANNEL_SECRET=... LINE_CHANNEL_ACCESS_TOKEN=... LINE_API_BASE_URL=... \
        gunicorn -w 2 "bench.baseline_echo:create_app()"

To keep the comparison fair it is a little better than the SDK's own example: the API client is
made once per process (the example makes one per event).
"""
from __future__ import annotations

import os
from typing import Protocol

from flask import Flask, abort, request
from linebot.v3 import WebhookParser
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import (
    ApiClient,
    Configuration,
    MessagingApi,
    ReplyMessageRequest,
    TextMessage,
)
from linebot.v3.webhooks import MessageEvent, TextMessageContent


class Store(Protocol):
    """What the durable echo (bench/durable_echo.py) adds: the event recorded before the reply,
    the reply recorded after it."""

    def record(self, event_id: str, reply_token: str, text: str) -> bool: ...

    def replied(self, event_id: str) -> None: ...


def create_app() -> Flask:
    return echo_app()


def echo_app(store: Store | None = None) -> Flask:
    """The echo bot; with a `store`, each event is recorded first (a redelivery of a recorded one
    is not answered again) and its reply recorded after it is sent."""
    secret = os.environ["LINE_CHANNEL_SECRET"]
    configuration = Configuration(
        host=os.environ.get("LINE_API_BASE_URL") or "https://api.line.me",
        access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"],
    )
    parser = WebhookParser(secret)
    api = MessagingApi(ApiClient(configuration))

    app = Flask(__name__)

    @app.post("/callback")
    def callback():
        signature = request.headers.get("X-Line-Signature", "")
        body = request.get_data(as_text=True)
        try:
            events = parser.parse(body, signature)
        except InvalidSignatureError:
            abort(400)
        for event in events:
            if isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
                if store is not None and not store.record(event.webhook_event_id, event.reply_token, event.message.text):
                    continue
                api.reply_message(
                    ReplyMessageRequest(reply_token=event.reply_token, messages=[TextMessage(text=event.message.text)])
                )
                if store is not None:
                    store.replied(event.webhook_event_id)
        return "OK"

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app

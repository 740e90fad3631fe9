"""The cheapest *durable* LINE bot: the floor for `bench/webhook.py`.

Per delivery it verifies and parses the webhook with the SDK; per event it records the event under
its `webhookEventId` and commits (a redelivery is recognised and not answered twice), replies
with the same text, then records that the reply went and commits. Nothing else: no resident, no
conversation, no rendering. That is what any bot that must not lose or repeat an answer has to
pay, so "the bot's cost over this" is the bot's own work.

    DURABLE_ECHO_DB=/tmp/echo.db  (or postgresql://user@host/db)  LINE_CHANNEL_SECRET=… \
    LINE_CHANNEL_ACCESS_TOKEN=… LINE_API_BASE_URL=… gunicorn -w 2 "bench.durable_echo:create_app()"

SQLite is used through the standard library's sqlite3 in WAL mode with `synchronous=NORMAL` (as
the bot runs SQLite); PostgreSQL through psycopg, one connection per worker process, autocommit
off, each commit a real commit.
"""
from __future__ import annotations

import os
import sqlite3
import threading

from flask import Flask

from bench.baseline_echo import echo_app

SCHEMA = ("CREATE TABLE IF NOT EXISTS echo_event (webhook_event_id TEXT PRIMARY KEY, reply_token TEXT, "
          "text TEXT, replied INTEGER NOT NULL DEFAULT 0)")


class Store:
    """One connection per process (gunicorn's sync workers handle one request at a time)."""

    def __init__(self, url: str):
        self.pg = url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))
        self.lock = threading.Lock()
        if self.pg:
            import psycopg  # only when asked for PostgreSQL

            self.conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
            self.mark = "%s"
        else:
            self.conn = sqlite3.connect(url, timeout=30, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.mark = "?"
        if self.pg:  # both workers start at once: CREATE TABLE IF NOT EXISTS is not safe side by side there
            with self.conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(7531)")
                cur.execute(SCHEMA)
            self.conn.commit()
        else:
            self._run(SCHEMA)

    def _run(self, sql: str, params: tuple = ()) -> int:
        with self.lock:
            if self.pg:
                with self.conn.cursor() as cur:
                    cur.execute(sql.replace("?", self.mark), params)
                    n = cur.rowcount
                self.conn.commit()
                return n
            cur = self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self.conn.execute(sql, params)
                n = cur.rowcount
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            return n

    def record(self, event_id: str, reply_token: str, text: str) -> bool:
        """Whether the event is new (a redelivery of a recorded one is not answered again)."""
        return self._run("INSERT INTO echo_event (webhook_event_id, reply_token, text) VALUES (?, ?, ?) "
                         "ON CONFLICT (webhook_event_id) DO NOTHING", (event_id, reply_token, text)) == 1

    def replied(self, event_id: str) -> None:
        self._run("UPDATE echo_event SET replied = 1 WHERE webhook_event_id = ?", (event_id,))


def create_app() -> Flask:
    """The baseline echo (bench/baseline_echo.py), the same code, with the store added."""
    return echo_app(Store(os.environ["DURABLE_ECHO_DB"]))

"""SQLite: the main thread keeps one connection for its write transactions (issue 22). Each
webhook event's two transactions then skip the pool; everything else about a transaction — its
commit, its rollback, the writer lock, a lost connection — stays as it was."""
from __future__ import annotations

import shutil
import sqlite3
import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from bot.core.db import Database
from bot.core.models import Resident

WHEN = datetime(2026, 12, 6, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def sqlite_db(sqlite_template, tmp_path):
    """A SQLite database on both test runs (this is about SQLite's connections)."""
    path = tmp_path / "kept.db"
    shutil.copyfile(sqlite_template, path)
    d = Database(f"sqlite:///{path}")
    yield d
    d.dispose()


def _resident(s, n: int) -> Resident:
    r = Resident(line_user_id="U" + f"{n:032x}", channel="line", locale="ja", following=True, created_at=WHEN)
    s.add(r)
    return r


def _driver_connection(conn):
    return conn.connection.dbapi_connection


def test_the_main_threads_transactions_share_one_connection_and_each_commits(sqlite_db):
    seen = []
    with sqlite_db.session() as s:
        _resident(s, 1)
        seen.append(_driver_connection(s.connection()))
    with sqlite_db.core() as conn:
        seen.append(_driver_connection(conn))
        conn.execute(text("UPDATE resident SET locale = 'vi'"))
    with sqlite_db.session() as s:
        seen.append(_driver_connection(s.connection()))
        assert s.scalar(select(Resident.locale)) == "vi"
    assert seen[0] is seen[1] is seen[2]
    # committed, as seen from another connection (and nothing left open on the kept one)
    with sqlite_db.read() as s:
        assert _driver_connection(s.connection()) is not seen[0]
        assert s.scalar(select(Resident.locale)) == "vi"
    assert not seen[0].in_transaction


def test_a_transaction_that_raises_is_rolled_back_and_the_next_one_works(sqlite_db):
    with pytest.raises(RuntimeError):
        with sqlite_db.session() as s:
            _resident(s, 2)
            s.flush()
            raise RuntimeError("a handler's bug")
    with sqlite_db.session() as s:
        assert s.scalar(select(Resident.id)) is None  # nothing of the failed one stayed
        _resident(s, 7)
    with pytest.raises(RuntimeError):
        with sqlite_db.core() as conn:
            conn.execute(text("UPDATE resident SET locale = 'pt'"))
            raise RuntimeError("lost")
    with sqlite_db.read() as s:
        assert s.scalars(select(Resident.locale)).all() == ["ja"]


def test_a_connection_closed_under_the_kept_one_is_replaced(sqlite_db):
    with sqlite_db.core() as conn:
        kept = _driver_connection(conn)
    kept.close()  # as if the file had gone away under it
    with pytest.raises((DBAPIError, sqlite3.ProgrammingError)):  # (at BEGIN: the driver's own error)
        with sqlite_db.core() as conn:
            conn.execute(text("SELECT 1"))
    with sqlite_db.session() as s:
        _resident(s, 3)
    with sqlite_db.read() as s:
        assert s.scalar(select(Resident.line_user_id)) == "U" + f"{3:032x}"


def test_a_transaction_inside_another_and_other_threads_use_their_own_connections(sqlite_db):
    with sqlite_db.core() as conn:
        kept = _driver_connection(conn)
    with sqlite_db.session() as outer:
        with sqlite_db.session() as inner:  # before the outer one has touched the database
            assert _driver_connection(inner.connection()) is not kept
            _resident(inner, 8)
        assert _driver_connection(outer.connection()) is kept
        _resident(outer, 9)
    other = []

    def elsewhere() -> None:
        with sqlite_db.session() as s:
            other.append(_driver_connection(s.connection()))
            _resident(s, 4)

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert other and other[0] is not kept
    with sqlite_db.core() as conn:
        assert _driver_connection(conn) is kept
        assert conn.execute(text("SELECT count(*) FROM resident")).scalar() == 3


def test_the_writer_lock_is_held_by_the_kept_connections_transactions(sqlite_db):
    """Another process's writer (here a thread with its own connection) waits for the lock."""
    order = []
    started = threading.Event()

    def writer() -> None:
        started.set()
        with sqlite_db.session() as s:
            order.append("other")
            _resident(s, 5)

    with sqlite_db.session() as s:
        t = threading.Thread(target=writer)
        t.start()
        started.wait()
        t.join(timeout=0.3)
        assert t.is_alive()  # waiting for this transaction to end
        order.append("main")
        _resident(s, 6)
    t.join(timeout=10)
    assert order == ["main", "other"]


def test_dispose_closes_the_kept_connection(sqlite_db):
    with sqlite_db.core() as conn:
        kept = _driver_connection(conn)
    sqlite_db.dispose()
    with pytest.raises(Exception):
        kept.execute("SELECT 1")

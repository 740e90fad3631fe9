"""The database: engine, sessions and the declarative base.

SQLite (the embedded default) gets WAL, a busy timeout, foreign keys and immediate write
transactions; PostgreSQL is reached through psycopg 3. Domain code takes a `Session` and never
commits: whoever opens `Database.session()` owns the transaction.
"""
from __future__ import annotations

import fcntl
import logging
import os
import threading
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from typing import Any, ContextManager, Iterable, Iterator, Sequence

from sqlalchemy import DateTime, MetaData, Table, create_engine, event, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC and always hands back aware UTC datetimes.

    SQLite keeps no time zone, so naive values read back are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
            # Let SQLAlchemy, not pysqlite, say when transactions begin (see "begin" below).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # Deleted rows (a resident's data) are overwritten with zeros, not left in free pages.
            cur.execute("PRAGMA secure_delete=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - exercised by every test
            # Immediate: take the write lock at BEGIN, so two writers queue instead of one
            # failing half-way with "database is locked". Readers (Database.read) do not.
            # On the driver's connection: this runs twice per webhook event, and the statement
            # needs none of SQLAlchemy's execution machinery (no parameters, no result).
            readonly = conn.get_execution_options().get("tsunagari_readonly")
            conn.connection.dbapi_connection.execute("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def bulk_insert(session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]],
                chunk: int = 5000) -> int:
    """Insert many plain rows (numbers, text, times, booleans; no JSON) in this transaction.
    PostgreSQL gets them through COPY, several times faster than one prepared INSERT per row
    (what psycopg's executemany does); SQLite through executemany. Returns the count."""
    n = 0
    if session.get_bind().dialect.name == "postgresql":
        cols = ", ".join(f'"{c}"' for c in columns)
        cursor = session.connection().connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
        finally:
            cursor.close()
        return n
    stmt = insert(table)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(dict(zip(columns, row)))
        if len(batch) >= chunk:
            session.execute(stmt, batch)
            n += len(batch)
            batch = []
    if batch:
        session.execute(stmt, batch)
        n += len(batch)
    return n


class WriterLock:
    """One writer at a time on a SQLite file, across threads and processes, handed over at once.

    SQLite makes a writer that finds the database locked sleep and poll (1, 2, 5, 10 … ms), which
    turns a 1 ms wait into a 5–50 ms one under load. Queueing on an flock beside the database
    wakes the next writer the moment the last one commits.
    """

    def __init__(self, path: str):
        self.path = path + ".lock"
        self._thread_lock = threading.RLock()
        self._local = threading.local()
        self._fd: int | None = None

    @property
    def nested(self) -> bool:
        """This thread holds the lock more than once (a transaction inside another)."""
        return getattr(self._local, "depth", 0) > 1

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            depth = getattr(self._local, "depth", 0)
            if depth == 0:
                if self._fd is None or self._pid != os.getpid():  # a fork gets its own descriptor
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
                if depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)


def _sqlite_file(url: str) -> str | None:
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    return path if path and path != ":memory:" else None


_CHECKPOINT = "tsunagari_checkpoint"


def checkpoint_after_commit(session: Session) -> None:
    """Ask `Database.session` to empty SQLite's WAL once this transaction commits: personal
    data was deleted, and the WAL still holds the pages as they were (PostgreSQL: nothing)."""
    session.info[_CHECKPOINT] = True


class Database:
    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        path = _sqlite_file(url)
        self._writer = WriterLock(path) if path else None
        self._local = threading.local()

    def _write_lock(self) -> ContextManager[None]:
        return self._writer.hold() if self._writer else nullcontext()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _kept(self) -> Connection | None:
        """SQLite, in the process's main thread (a gunicorn worker's requests, the outbox worker's
        loop), outside any other transaction of that thread: one connection kept for all its
        write transactions. Each event's two transactions then skip the pool's checkout and
        check-in (SQLite connections are files: there is nothing to share them with). Other
        threads, and a transaction inside another, take one from the pool as before."""
        if self._writer is None or self._writer.nested or threading.current_thread() is not threading.main_thread():
            return None
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.invalidated or self._local.pid != os.getpid():
            conn = self._local.conn = self.engine.connect()
            self._local.pid = os.getpid()
        return conn

    def _drop_kept(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    @contextmanager
    def _given_back_on_error(self) -> Iterator[None]:
        """A transaction on the kept connection that raises (rolled back by then) gives the
        connection back to the pool, which checks it; the next transaction takes a fresh one."""
        try:
            yield
        except BaseException:
            self._drop_kept()
            raise

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        with self._write_lock():
            conn = self._kept()
            if conn is None:
                with self.Session.begin() as s:
                    yield s
            else:
                with self._given_back_on_error(), self.Session(bind=conn) as s, s.begin():
                    yield s
            if s.info.pop(_CHECKPOINT, False) and not (self._writer and self._writer.nested):
                self.checkpoint()  # (inside another transaction of this thread it could not finish)

    @contextmanager
    def core(self) -> Iterator[Connection]:
        """One transaction on a bare connection (no ORM session): for the hot path's single
        statements (recording a delivery's events, a send's outcome). Committed when the block
        ends, rolled back if it raises; the same write lock as `session`."""
        with self._write_lock():
            conn = self._kept()
            if conn is None:
                with self.engine.begin() as conn:
                    yield conn
            else:
                with self._given_back_on_error(), conn.begin():
                    yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: no write lock (on SQLite, WAL lets it read beside a writer).
        Anything written in it is rolled back."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(tsunagari_readonly=True)
            with Session(bind=conn, expire_on_commit=False) as s:
                try:
                    yield s
                finally:
                    s.rollback()

    def checkpoint(self) -> bool:
        """SQLite: copy the WAL into the database file and truncate it to nothing, so pages as
        they were before a deletion are gone from the disk files too (with secure_delete, the
        database file keeps zeros where the data was). True when done; False when a reader kept
        it from finishing (the next checkpoint does it) or not SQLite."""
        if self.dialect != "sqlite":
            return False
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("PRAGMA busy_timeout=5000")  # a deletion's answer should not wait long
            busy = cur.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        finally:
            raw.close()
        if busy:
            logging.getLogger(__name__).info("WAL checkpoint after a deletion could not finish (a reader); "
                                             "the next one will")
        return not busy

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self._drop_kept()
        self.engine.dispose()

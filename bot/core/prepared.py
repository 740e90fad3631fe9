"""The webhook's hot-path statements, compiled once per dialect and run on the driver's cursor.

For every statement, SQLAlchemy's execution looks the statement up in its cache by a key it
works out, builds an execution context, processes the parameters through a general path and
wraps the cursor in a result; for the handful of statements every resident's message runs
(recording the event, counting it, saving the conversation's step, queueing and recording the
reply) that is most of their cost on SQLite. A `Prepared` statement is compiled once per
dialect; a call applies the same bind processors SQLAlchemy would (JSON, times), runs the SQL on
the connection's own DBAPI cursor, inside the transaction the caller's `Connection` has begun,
and hands back the cursor.

What the callers rely on from SQLAlchemy is kept: an error comes out as SQLAlchemy's
(`OperationalError`, `IntegrityError`, … with `connection_invalidated`, the connection
invalidated when the database went away — `Connection._handle_dbapi_exception`, the same call
SQLAlchemy's own execution makes), and `before_cursor_execute` listeners still see the
statement (the fault tests cut the connection there).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # positional drivers (sqlite3's "?"): the parameters' order
    defaults: dict[str, Any]  # values compiled into the statement (`.values(status="done")`)
    processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    results: tuple[Callable[[Any], Any] | None, ...]  # per selected column (JSON read back, booleans…)


class Prepared:
    """`stmt` (Core, no expanding IN) run with `run(connection, params)`; `params` names every
    bind parameter the statement has no value for. `columns`: for an INSERT without
    `.values()`, the columns the parameters give (as `Connection.execute` works out from them)."""

    def __init__(self, stmt: ClauseElement, columns: Sequence[str] | None = None):
        self.stmt = stmt
        self.columns = list(columns) if columns is not None else None
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.stmt.compile(dialect=dialect, column_keys=self.columns)
        if "POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
            raise ValueError("Prepared takes plain bind parameters only")
        processors = compiled._bind_processors  # what SQLAlchemy applies at each execution
        defaults = dict(compiled.construct_params(_check=False))
        done = _Compiled(
            sql=compiled.string,
            order=tuple(compiled.positiontup) if compiled.positional else None,
            defaults=defaults,
            processors=tuple((name, fn) for name, fn in processors.items() if name in defaults),
            results=tuple(col.type._cached_result_processor(dialect, None)
                          for col in getattr(self.stmt, "selected_columns", ())),
        )
        self._by_dialect[dialect.name] = done
        return done

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """The rows a SELECT (or RETURNING) gives, each value as SQLAlchemy would read it back."""
        cursor = self.run(conn, params or {})
        results = self._by_dialect[conn.dialect.name].results
        if not any(results):
            return [tuple(row) for row in cursor.fetchall()]
        return [tuple(value if fn is None else fn(value) for fn, value in zip(results, row)) for row in cursor.fetchall()]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute in `conn`'s transaction (begun by the caller); returns the DBAPI cursor."""
        c = self._by_dialect.get(conn.dialect.name) or self._compile(conn.dialect)
        values = {**c.defaults, **params}
        for name, process in c.processors:
            values[name] = process(values[name])
        args: Any = [values[name] for name in c.order] if c.order is not None else values
        sql = c.sql
        cursor = None
        try:
            cursor = conn.connection.dbapi_connection.cursor()
            if conn._has_events or conn.engine._has_events:
                for fn in conn.dispatch.before_cursor_execute:
                    sql, args = fn(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
        except Exception as exc:
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        return cursor

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
SQLAlchemy's own execution makes), and the engine's `before_cursor_execute` listeners still see the
statement (the fault tests cut the connection there).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session, configure_mappers, make_transient_to_detached
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: bool  # sqlite3's "?" (a list of values) or psycopg's "%(name)s" (a dict)
    # each parameter, in the driver's order: its name, the value compiled into the statement
    # (`.values(status="done")`; None when the caller gives it) and SQLAlchemy's conversion
    plan: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]


class Prepared:
    """`stmt` (Core, no expanding IN) run with `run(connection, params)`; `params` names every
    bind parameter the statement has no value for. `columns`: for an INSERT without
    `.values()`, the columns the parameters give (as `Connection.execute` works out from them)."""

    def __init__(self, stmt: ClauseElement, columns: Sequence[str] | None = None):
        self.stmt = stmt
        self.columns = list(columns) if columns is not None else None
        self._by_dialect: dict[str, _Compiled] = {}
        # per dialect, per selected column: how SQLAlchemy reads its value back (JSON, booleans…;
        # some depend on the type the driver reports, so worked out at the first rows())
        self._results: dict[str, tuple[tuple[int, Callable[[Any], Any]], ...]] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.stmt.compile(dialect=dialect, column_keys=self.columns)
        if "POSTCOMPILE" in compiled.string or compiled.escaped_bind_names:
            raise ValueError("Prepared takes plain bind parameters only")
        processors = compiled._bind_processors  # what SQLAlchemy applies at each execution
        defaults = dict(compiled.construct_params(_check=False))
        names = compiled.positiontup if compiled.positional else list(defaults)
        done = _Compiled(
            sql=compiled.string,
            positional=bool(compiled.positional),
            plan=tuple((name, defaults[name], processors.get(name)) for name in names),
        )
        self._by_dialect[dialect.name] = done
        return done

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """The rows a SELECT (or RETURNING) gives, each value as SQLAlchemy would read it back."""
        cursor = self.run(conn, params or {})
        results = self._results.get(conn.dialect.name)
        if results is None:
            processors = (col.type._cached_result_processor(conn.dialect, described[1])
                          for col, described in zip(self.stmt.exported_columns, cursor.description))
            results = self._results[conn.dialect.name] = tuple(
                (i, fn) for i, fn in enumerate(processors) if fn is not None)
        out = []
        for row in cursor.fetchall():
            if results:
                row = list(row)
                for i, fn in results:
                    row[i] = fn(row[i])
            out.append(tuple(row))
        return out

    def run(self, conn: Connection, params: Mapping[str, Any]) -> Any:
        """Execute in `conn`'s transaction (begun by the caller); returns the DBAPI cursor."""
        c = self._by_dialect.get(conn.dialect.name) or self._compile(conn.dialect)
        get = params.get
        if c.positional:
            args: Any = [get(name, default) if process is None else process(get(name, default))
                         for name, default, process in c.plan]
        else:
            args = {name: get(name, default) if process is None else process(get(name, default))
                    for name, default, process in c.plan}
        sql = c.sql
        cursor = None
        try:
            cursor = conn.connection.dbapi_connection.cursor()
            listeners = conn.engine.dispatch.before_cursor_execute  # (the engine's: none are set on a connection)
            if listeners:
                for fn in listeners:
                    sql, args = fn(conn, cursor, sql, args, None, False)
            cursor.execute(sql, args)
        except Exception as exc:
            conn._handle_dbapi_exception(exc, sql, args, cursor, None)
        return cursor


# -- ORM objects for rows read on the driver -----------------------------------------------------

def columns(*classes: type) -> list:
    """The columns of each mapped class's table, in order: `select(*columns(A, B))`, then
    `attach_row(session, row, A, B)`."""
    return [col for cls in classes for col in cls.__table__.c]


@cache
def _attribute_keys(cls: type) -> tuple[tuple[str, ...], int]:
    """Each table column's attribute name, in the table's order, and where the primary key is."""
    configure_mappers()  # as the ORM's first query would: attribute instrumentation complete
    mapper = inspect(cls)
    keys = tuple(mapper.get_property_by_column(col).key for col in cls.__table__.c)
    (pk,) = mapper.primary_key
    return keys, list(cls.__table__.c).index(pk)


def attach(session: Session, cls: type, values: Mapping[str, Any]) -> Any:
    """An ORM object for a row read (or written) on the driver, in `session` as if the session had
    loaded it: persistent, nothing to flush, its version counter as read. `values` holds every
    column by attribute name; relationships not set with `set_committed_value` load when first
    used, as after an expiry. The object the session already has for that row wins."""
    keys, pk = _attribute_keys(cls)  # (and the mappers configured)
    mapper = inspect(cls)
    key = mapper.identity_key_from_primary_key([values[keys[pk]]])
    present = session.identity_map.get(key)
    if present is not None:
        return present
    obj = mapper.class_manager.new_instance()  # no __init__: no attribute events, no history
    obj.__dict__.update(values)
    make_transient_to_detached(obj)  # the values as loaded (committed), the rest expired
    session.add(obj)
    return obj


def attach_row(session: Session, row: Sequence[Any], *classes: type) -> list[Any]:
    """The objects of a row selected with `columns(*classes)` (None for the empty side of an
    outer join)."""
    out, at = [], 0
    for cls in classes:
        keys, pk = _attribute_keys(cls)
        values = row[at:at + len(keys)]
        at += len(keys)
        out.append(None if values[pk] is None else attach(session, cls, dict(zip(keys, values))))
    return out

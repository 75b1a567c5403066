"""SQLAlchemy Core statements run on a psycopg 3 connection, in its transaction, as typed rows.

The jobs' small reads and writes (config rows, executions, statuses, summaries) are Core statements
over the models' tables (`db/tables.py`). Many run inside a chunk's psycopg transaction, together
with the chunk's set-based SQL, so they must run on that very connection: this module compiles a
statement with SQLAlchemy's PostgreSQL psycopg dialect (its SQL, its bound values passed through
the types' bind processors, e.g. JSONB) and executes it with psycopg. Rows come back as the named
row type asked for (a frozen dataclass or a NamedTuple), built by column name. Callers holding a
SQLAlchemy Connection (the API) execute their statements on it and build rows with `typed`.
"""

import types
from collections.abc import Callable, Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin, get_type_hints

import psycopg
from psycopg.rows import dict_row
from sqlalchemy import Column, Table
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

Row = TypeVar("Row")

DIALECT = PGDialect_psycopg()  # type: ignore[no-untyped-call]


def field_names(row_type: type) -> tuple[str, ...]:
    if is_dataclass(row_type):
        return tuple(f.name for f in fields(row_type))
    return tuple(row_type._fields)  # type: ignore[attr-defined]  # a NamedTuple


def columns_of(table: Table, row_type: type) -> list[Column[Any]]:
    """The table's columns named like the row type's fields, in the fields' order."""
    return [table.c[name] for name in field_names(row_type)]


def _converter(hint: Any) -> Callable[[Any], Any] | None:
    """What turns a driver value into the field's type: a domain enum from its stored string, a
    tuple from a PostgreSQL array; None when the value is used as it comes."""
    options = get_args(hint) if get_origin(hint) in (Union, types.UnionType) else (hint,)
    for option in options:
        if isinstance(option, type) and issubclass(option, Enum):
            return option
        if get_origin(option) is tuple:
            return tuple
    return None


@cache
def _converters(row_type: type) -> dict[str, Callable[[Any], Any]]:
    hints = get_type_hints(row_type)
    found = {name: _converter(hints[name]) for name in field_names(row_type)}
    return {name: convert for name, convert in found.items() if convert is not None}


def typed(row_type: type[Row], mapping: Mapping[Any, Any]) -> Row:
    """The row type built from a row mapping by field name; NULLs stay None."""
    convert = _converters(row_type)  # type: ignore[arg-type]  # classes are hashable
    values = {}
    for name in field_names(row_type):
        value = mapping[name]
        if value is not None and name in convert:
            value = convert[name](value)
        values[name] = value
    return row_type(**values)


def compile_for_psycopg(statement: ClauseElement) -> tuple[str, dict[str, Any]]:
    """The statement's SQL (pyformat placeholders) and its values, ready for psycopg's execute."""
    compiled = cast(
        SQLCompiler, statement.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True})
    )
    # The domain's enums are StrEnums: psycopg binds them as their values, the stored strings.
    params = dict(compiled.construct_params() or {})
    for bind, name in compiled.bind_names.items():
        # e.g. JSONB's, which wraps a dict for psycopg. An IN list (expanded into name_1, name_2, ...
        # by render_postcompile) of scalars psycopg adapts itself needs none.
        process = bind.type.dialect_impl(DIALECT).bind_processor(DIALECT)
        if process is not None and params.get(name) is not None:
            params[name] = process(params[name])
    return compiled.string, params


def execute(conn: psycopg.Connection, statement: ClauseElement) -> int:
    """Run a statement returning nothing the caller reads; the number of rows it touched."""
    sql, params = compile_for_psycopg(statement)
    return conn.execute(sql, params).rowcount  # type: ignore[arg-type]  # compiled, not a literal


def fetch_all(conn: psycopg.Connection, statement: ClauseElement, row_type: type[Row]) -> list[Row]:
    sql, params = compile_for_psycopg(statement)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()  # type: ignore[arg-type]
    return [typed(row_type, r) for r in rows]


def fetch_one(conn: psycopg.Connection, statement: ClauseElement, row_type: type[Row]) -> Row | None:
    """The first row, or None when there is none."""
    sql, params = compile_for_psycopg(statement)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return typed(row_type, row) if row is not None else None


def fetch_value(conn: psycopg.Connection, statement: ClauseElement) -> Any:
    """The first column of the first row, or None when there is no row."""
    sql, params = compile_for_psycopg(statement)
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return row[0] if row is not None else None

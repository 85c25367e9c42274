"""Small SQL building blocks the repositories share."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Dialect, FunctionElement, Row, Select, Text, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeDecorator, TypeEngine

ConflictInsert = postgresql.Insert | sqlite.Insert
# A result row / a SELECT of any columns (SQLAlchemy 2.1 types them with a variadic column tuple).
AnyRow = Row[*tuple[Any, ...]]
AnySelect = Select[*tuple[Any, ...]]
T = TypeVar("T")
# Well below the bound-parameter limits of SQLite (32,766) and asyncpg (32,767).
CHUNK = 1000


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: one statement per slice keeps its bound parameters under the limits."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def conflict_insert(dialect_name: str, table: Any) -> ConflictInsert:
    """An INSERT that can say ON CONFLICT DO NOTHING / DO UPDATE.

    Both backends speak the same clause, so "add unless present" and upserts are one statement: no
    read-then-write race between two sign-ins, and no failed statement that would abort a PostgreSQL
    transaction the caller still wants to use.
    """
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    if dialect_name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database dialect {dialect_name!r}")


class without_index(FunctionElement[Any]):
    """A column used only to filter rows, never to pick an index.

    SQLite's planner, given ``a = ? OR b IN (...)`` on indexed columns, unions index look-ups and sorts them
    all: for "newest 20 of a million" that reads every match. Its documented escape is a unary ``+`` on the
    term; then it walks the primary key backwards and stops after the limit, as PostgreSQL does by itself.
    Other backends see the plain column.
    """

    inherit_cache = True

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any]) -> None:
        expression = column.expression
        super().__init__(expression)
        self.type = expression.type


@compiles(without_index)
def _plain_column(element: without_index, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(without_index, "sqlite")
def _unary_plus(element: without_index, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class IdList(TypeDecorator[Sequence[int]]):
    """A list of integer ids bound as ONE parameter: a ``BIGINT[]`` on PostgreSQL, JSON text on SQLite.

    An expanding ``IN (:ids)`` is re-rendered for every list length (SQLAlchemy's "post-compile" step),
    which cost more than the query itself on the hot listings; one parameter keeps a prebuilt statement
    compiled once, whatever the number of ids.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.ARRAY(BigInteger()))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Sequence[int] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        ids = [int(each) for each in value]
        return ids if dialect.name == "postgresql" else json.dumps(ids)


def id_list(name: str) -> BindParameter[Sequence[int]]:
    """A parameter holding many ids, for ``in_id_list``."""
    return bindparam(name, type_=IdList())


class in_id_list(FunctionElement[bool]):
    """``column`` is one of the ids in ``ids`` (a parameter made by ``id_list``).

    PostgreSQL: ``column = ANY(CAST(:ids AS BIGINT[]))``; SQLite: ``column IN (SELECT value FROM
    json_each(:ids))``. Both are index look-ups per id, like the ``IN`` list they replace.
    """

    # No Boolean type on purpose: SQLite (no native booleans) would append "= 1" to a Boolean-typed
    # predicate, and that comparison hides the IN from the planner (a full scan instead of look-ups).
    inherit_cache = True

    def __init__(self, column: ColumnElement[Any] | QueryableAttribute[Any], ids: BindParameter[Any]) -> None:
        super().__init__(column.expression, ids)


@compiles(in_id_list)
def _any_of_array(element: in_id_list, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses
    return f"{compiler.process(column, **kw)} = ANY(CAST({compiler.process(ids, **kw)} AS BIGINT[]))"


@compiles(in_id_list, "sqlite")
def _in_json_array(element: in_id_list, compiler: SQLCompiler, **kw: Any) -> str:
    column, ids = element.clauses
    # Compiled SQL of our own elements (a column and a placeholder), never a value.
    return f"{compiler.process(column, **kw)} IN (SELECT value FROM json_each({compiler.process(ids, **kw)}))"  # noqa: S608

"""Small SQL building blocks the repositories share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FunctionElement, Row, Select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler

ConflictInsert = postgresql.Insert | sqlite.Insert
# A result row / a SELECT of any columns (SQLAlchemy 2.1 types them with a variadic column tuple).
AnyRow = Row[*tuple[Any, ...]]
AnySelect = Select[*tuple[Any, ...]]


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

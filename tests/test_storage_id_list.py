"""``in_id_list``: many ids as ONE bound parameter (a PostgreSQL array, JSON text on SQLite).

Prebuilt statements (the home timeline's, the extras of every page of posts) rely on it instead of an
expanding ``IN``, so it must find exactly the listed rows on both backends, whatever the list's length.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from intrablog.storage.database import SqlDatabase
from intrablog.storage.models import PostRow
from intrablog.storage.sql import id_list, in_id_list
from tests.support.storage_data import NOW, add_user

BIG = 9_007_199_254_740_993  # beyond a double's exact integers: JSON and the array must keep it exact


async def test_in_id_list_finds_exactly_the_listed_rows(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        author = await add_user(uow, "author")
        ids = [*range(1, 7_001), BIG]
        rows = [
            {"id": n, "author_id": author.id, "text": f"post {n}", "thread_root": n, "created_at": NOW} for n in ids
        ]
        await uow.session.execute(insert(PostRow), rows)
        await uow.commit()

    statement = select(PostRow.id).where(in_id_list(PostRow.id, id_list("wanted"))).order_by(PostRow.id)
    async with database.unit_of_work() as uow:

        async def found(wanted: list[int]) -> list[int]:
            return list((await uow.session.execute(statement, {"wanted": wanted})).scalars())

        assert await found([3, 1, 2, 3]) == [1, 2, 3]
        assert await found([]) == []
        assert await found([BIG, 999_999]) == [BIG]
        # More ids than an expanding IN may bind on either driver, in one parameter.
        assert await found(list(range(1, 40_001))) == list(range(1, 7_001))

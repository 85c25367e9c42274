"""IM storage on SQLite and PostgreSQL: JID look-up, the outbox queue, the deliveries' unique key, and the
plans that keep the worker's queues cheap however much history piles up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, text, update

from intrablog.domain.im import DeliveryState, NewDirectMessage, OutboxItem, OutboxKind, origin_id_for_message
from intrablog.domain.model import DirectoryPerson
from intrablog.storage.database import SqlDatabase
from intrablog.storage.models import DeliveryRow, DirectMessageRow, OutboxRow, UserRow
from intrablog.storage.unit_of_work import SqlUnitOfWork
from tests.support.storage_data import NOW, add_user, new_post
from tests.test_storage_query_plans import captured_statements

HISTORY = 3_000


async def test_by_xmpp_address_is_bare_case_insensitive_and_prefers_the_active_holder(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        old = await uow.users.upsert_from_directory(
            DirectoryPerson("old", "Old", None, "Desk@Example.com"), is_site_admin=False, now=NOW
        )
        await uow.session.execute(update(UserRow).where(UserRow.id == old.id).values(active=False))
        new = await uow.users.upsert_from_directory(
            DirectoryPerson("new", "New", None, "desk@example.com/ignored"), is_site_admin=False, now=NOW
        )
        await uow.commit()
    assert (old.xmpp_address, new.xmpp_address) == ("desk@example.com", "desk@example.com")
    async with database.unit_of_work() as uow:
        found = await uow.users.by_xmpp_address("DESK@example.COM/phone")
        assert found is not None
        assert found.username == "new"
        assert await uow.users.by_xmpp_address("someone@example.com") is None


async def test_outbox_hands_out_unprocessed_rows_oldest_first(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice, bob = await add_user(uow, "alice"), await add_user(uow, "bob")
        await uow.posts.add(new_post(1, alice))
        await uow.posts.add(new_post(2, alice))
        message = await uow.messages.add(NewDirectMessage(10, alice.id, bob.id, "hi", NOW))
        await uow.outbox.add_post(2, NOW)
        await uow.outbox.add_direct_message(message.id, NOW)
        await uow.outbox.add_post(1, NOW)
        await uow.commit()
    async with database.unit_of_work() as uow:
        claimed = await uow.outbox.claim(2)
        assert [(item.kind, item.post_id, item.message_id) for item in claimed] == [
            (OutboxKind.POST, 2, None),
            (OutboxKind.DIRECT_MESSAGE, None, 10),
        ]
        await uow.outbox.mark_processed([item.id for item in claimed], NOW)
        await uow.commit()
    async with database.unit_of_work() as uow:
        assert await uow.outbox.unprocessed_count() == 1
        (last,) = await uow.outbox.claim(10)
        assert last == OutboxItem(last.id, OutboxKind.POST, 1, None)


async def test_a_delivery_is_unique_per_recipient_and_origin_id(database: SqlDatabase) -> None:
    async with database.unit_of_work() as uow:
        alice, bob = await add_user(uow, "alice"), await add_user(uow, "bob")
        message = await uow.messages.add(NewDirectMessage(10, alice.id, bob.id, "hi", NOW))
        origin = origin_id_for_message(message.id)
        assert await uow.deliveries.add_for_message(message, origin, NOW) == 1
        assert await uow.deliveries.add_for_message(message, origin, NOW + timedelta(seconds=1)) == 0
        assert await uow.deliveries.pending_count() == 1
        await uow.commit()


async def _plan(uow: SqlUnitOfWork, database: SqlDatabase, statement: str, parameters: object) -> str:
    explain = "EXPLAIN QUERY PLAN " if database.dialect_name == "sqlite" else "EXPLAIN "
    rows = await (await uow.session.connection()).exec_driver_sql(explain + statement, parameters)  # type: ignore[arg-type]
    return "\n".join(str(row[-1]) for row in rows.all())


async def test_the_worker_queues_are_index_walks(database: SqlDatabase) -> None:
    """Years of processed outbox rows and sent deliveries must not slow "what is next"."""
    async with database.unit_of_work() as uow:
        alice, bob = await add_user(uow, "alice"), await add_user(uow, "bob")
        history = range(1, HISTORY + 1)
        await uow.session.execute(
            insert(DirectMessageRow),
            [{"id": n, "sender_id": alice.id, "recipient_id": bob.id, "text": "m", "created_at": NOW} for n in history],
        )
        await uow.session.execute(
            insert(OutboxRow),
            [
                {
                    "kind": "direct_message",
                    "message_id": n,
                    "created_at": NOW,
                    "processed_at": None if n > HISTORY - 3 else NOW,
                }
                for n in history
            ],
        )
        await uow.session.execute(
            insert(DeliveryRow),
            [
                {
                    "recipient_id": bob.id,
                    "message_id": n,
                    "reason": "direct",
                    "state": DeliveryState.PENDING.value if n > HISTORY - 3 else DeliveryState.SENT.value,
                    "origin_id": origin_id_for_message(n),
                    "created_at": NOW,
                }
                for n in history
            ],
        )
        await uow.commit()

    async with database.unit_of_work() as uow:
        if database.dialect_name == "postgresql":
            await uow.session.execute(text("ANALYZE"))
        with captured_statements(database) as statements:
            assert len(await uow.outbox.claim(10)) == 3
        claim_plan = await _plan(uow, database, *statements[0])
        with captured_statements(database) as statements:
            assert len(await uow.deliveries.pending(10)) == 3
        pending_plan = await _plan(uow, database, *statements[0])
    assert "ix_outbox_processed_at_id" in claim_plan, claim_plan
    assert "ix_deliveries_state_id" in pending_plan, pending_plan
    assert "TEMP B-TREE" not in claim_plan + pending_plan
    # PostgreSQL sorts what the index range returns (it does not treat IS NULL as an equality for ordering):
    # that is the unprocessed rows only, never the processed history.
    assert "Seq Scan on outbox" not in claim_plan
    assert "Seq Scan on deliveries" not in pending_plan

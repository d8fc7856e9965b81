"""The assist stages with the ticket store on a real PostgreSQL server (started by the test):
two calls from one number through the ingest; the second sees the first in its caller profile
and as a duplicate."""

from __future__ import annotations

from typing import Any

import assist_doubles as doubles
from assist_calls import open_call, say
from pg_cluster import postgres_cluster

from jiesu.engine.audio import Leg
from jiesu.engine.storage.base import ticket_id_for


async def test_history_and_duplicates_on_postgres(make_engine: Any) -> None:
    with postgres_cluster() as dsn:
        engine = await make_engine(doubles.toolkit(), dsn=dsn)
        screen = await engine.screen("agent-7")
        first = await open_call(engine, "pg-1")
        await say(engine, "pg-1", 1, Leg.CALLER, "我要投诉噪音，在天河区中山大道88号阳光花园")
        await first.stop_call("pg-1")
        await engine.assist.idle()
        second = await open_call(engine, "pg-2")
        await screen.send({"type": "follow", "call_id": "pg-2"})
        profile = await screen.until(lambda m: m.get("type") == "caller.profile")
        assert profile["payload"]["ticket_count"] == 1
        await say(engine, "pg-2", 1, Leg.CALLER, "又是噪音，天河区中山大道88号阳光花园")
        duplicate = await screen.until(
            lambda m: m.get("type") == "ticket.field" and m["payload"]["field"] == "duplicate_of"
        )
        assert duplicate["payload"]["value"] == ticket_id_for("pg-1")
        await second.stop_call("pg-2")
        await engine.assist.idle()
        store = engine.store()
        assert store.dialect == "postgres" and store.count_tickets() == 2
        assert store.transcript("pg-2")[0].text == "又是噪音，天河区中山大道88号阳光花园"
        store.close()
        await engine.assist.close()  # release the connection before the server stops

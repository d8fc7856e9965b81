"""Behaviour every ticket store back end must show; run on SQLite (unit) and on a real
PostgreSQL server (integration) through :class:`TicketStoreContract`."""

from __future__ import annotations

from jiesu.engine.storage.base import TicketStore, TranscriptRow, ticket_id_for
from jiesu.engine.storage.migrations import LATEST


class Clock:
    def __init__(self, now: int = 1_764_000_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        self.now += 1
        return self.now


def check_migrated(store: TicketStore) -> None:
    assert store.schema_version() == LATEST
    assert store.migrate() == LATEST  # idempotent


class TicketStoreContract:
    """The tests every back end passes: a test module subclasses this as ``Test...`` and gives
    the ``store`` and ``clock`` fixtures."""

    def test_idempotent(self, store: TicketStore) -> None:
        first = store.save_ticket("call-1", "12345", {"caller_name": "王先生"}, caller_key="k1")
        again = store.save_ticket(
            "call-1", "12345", {"caller_name": "王晓明", "summary": "噪音"}, category="环境保护/x/y"
        )
        assert first.ticket_id == again.ticket_id == ticket_id_for("call-1")
        assert store.count_tickets() == 1
        assert again.fields == {"caller_name": "王晓明", "summary": "噪音"}
        assert again.caller_key == "k1", "an empty key must not erase a known one"
        assert again.created_at == first.created_at and again.updated_at > first.updated_at
        other = store.save_ticket("call-2", "12345", {})
        assert other.ticket_id != first.ticket_id and store.count_tickets() == 2

    def test_history(self, store: TicketStore) -> None:
        store.save_ticket("h1", "12345", {}, caller_key="kA", category="城乡建设/物业/收费")
        store.save_ticket("h2", "12345", {}, caller_key="kA", category="城乡建设/噪音/施工")
        store.save_ticket("h3", "12345", {}, caller_key="kA", category="交通运输/公交/线路")
        store.save_ticket("h4", "12345", {}, caller_key="kB", category="民政/x/y")
        assert store.close_ticket("h3", "closed", "已答复，市民满意")
        assert not store.close_ticket("no-such-call")
        history = store.caller_history("kA", exclude_call_id="h2")
        assert history.count == 2 and history.open_count == 1
        # A dispatched ticket is being handled, not closed: it still counts as open.
        dispatched = store.set_status("h1", "dispatched", "市城管局")
        assert dispatched is not None and dispatched.closed_at is None
        assert (dispatched.status, dispatched.outcome) == ("dispatched", "市城管局")
        assert store.set_status("no-such-call", "submitted") is None
        assert store.caller_history("kA", exclude_call_id="h2").open_count == 1
        assert history.categories == (("交通运输", 1), ("城乡建设", 1))
        assert history.last_ticket_id == ticket_id_for("h3")
        assert (history.last_status, history.last_outcome) == ("closed", "已答复，市民满意")
        assert store.caller_history("kA").count == 3
        assert store.caller_history("nobody").count == 0
        assert store.caller_history("").count == 0

    def test_duplicates(self, store: TicketStore, clock: Clock) -> None:
        place = "天河区||||中山大道|88号|阳光花园||"
        store.save_ticket(
            "d1", "12345", {}, category="环境保护/环境污染/噪音污染", address_key=place
        )
        store.save_ticket(
            "d2", "12345", {}, category="环境保护/环境污染/施工噪音", address_key=place
        )
        store.save_ticket("d3", "12345", {}, category="交通运输/公交/线路", address_key=place)
        store.save_ticket(
            "d4", "12345", {}, category="环境保护/环境污染/噪音污染", address_key="other"
        )
        store.save_ticket(
            "d5", "12345", {}, category="环境保护/环境污染/噪音污染", address_key=place
        )
        store.close_ticket("d5")
        store.set_status("d2", "dispatched", "区生态环境分局")  # dispatched is still open
        found = store.find_duplicates(place, "环境保护/环境污染/噪音污染", 0, exclude_call_id="d1")
        assert [t.call_id for t in found] == ["d2"]
        assert [t.call_id for t in store.find_duplicates(place, "环境保护/环境污染/x", 0)] == [
            "d2",
            "d1",
        ]
        assert store.find_duplicates(place, "环境保护/环境污染/噪音污染", clock.now + 10) == []
        assert store.find_duplicates("", "环境保护", 0) == []

    def test_transcripts(self, store: TicketStore) -> None:
        rows = [
            TranscriptRow("t1", "u2", "agent", 3000, 4000, "请问您的电话？"),
            TranscriptRow("t1", "u1", "caller", 1000, 2000, "你好，我要投诉"),
        ]
        for row in rows:
            store.add_transcript(row)
        store.add_transcript(rows[0])  # again: no error, no second row
        assert store.transcript("t1") == [rows[1], rows[0]]
        assert store.transcript("none") == []

"""Work-order events reach a real screen during a call opened through the real ingest.

The call's audio goes through the ingest for real; its transcript is fed as the speech
pipeline feeds it (``TranscriptFinal`` appended to the event log), because Whisper on this CPU
is slow; ``test_real_speech.py`` runs real audio through the real pipeline. The extractors are
the unit tests' stand-ins: this test is about the wiring (stream, locks, storage, history).
"""

from __future__ import annotations

from typing import Any

import assist_doubles as doubles
from assist_calls import AGENT, open_call, say

from jiesu.engine.audio import Leg
from jiesu.engine.events import TranscriptFinal
from jiesu.engine.storage.base import ticket_id_for


def latest(fields: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return [f for f in fields if f["field"] == name][-1]


async def test_ticket_fields_stream_to_the_screen_and_agent_edits_lock(make_engine: Any) -> None:
    engine = await make_engine(doubles.toolkit())
    screen = await engine.screen(AGENT)
    client = await open_call(engine, "call-1")
    await screen.send({"type": "follow", "call_id": "call-1"})
    profile = await screen.until(lambda m: m.get("type") == "caller.profile")
    assert profile["payload"]["caller_masked"] == "138****5678"
    assert profile["payload"]["ticket_count"] == 0

    await say(engine, "call-1", 1, Leg.CALLER, "你好，我叫王小明，我要投诉噪音")
    await say(engine, "call-1", 2, Leg.AGENT, "好的，请问具体地址")
    await say(engine, "call-1", 3, Leg.CALLER, "天河区中山大道88号阳光花园3栋，电话13900001111")
    await engine.assist.idle()
    last = await engine.log.read("call-1")
    await screen.until_seq(last[-1].seq)
    fields = screen.fields("call-1")
    name = latest(fields, "caller_name")
    assert (name["value"], name["origin"], name["locked"]) == ("王小明", "auto", False)
    assert name["source"]["utterance_id"] == "call-1-u1"
    assert latest(fields, "callback_phone")["value"] == "13900001111"
    assert latest(fields, "address")["value"] == "天河区中山大道88号阳光花园3栋"
    dept = latest(fields, "department")
    assert [a["value"] for a in dept["alternatives"]] == ["区生态环境局", "区城管局", "街道办"]
    assert latest(fields, "request_type")["value"] == "投诉"
    assert "summary" in {f["field"] for f in fields}

    # The agent corrects the name: the field locks, and later speech does not change it.
    await screen.send(
        {"type": "ticket.edit", "call_id": "call-1", "field": "caller_name", "value": "王晓明"}
    )
    edited = await screen.until(
        lambda m: m.get("type") == "ticket.field" and m["payload"]["origin"] == "agent"
    )
    assert edited["payload"] == {
        **edited["payload"],
        "field": "caller_name",
        "value": "王晓明",
        "locked": True,
    }
    edit_seq = edited["seq"]
    seq = await say(
        engine, "call-1", 4, Leg.CALLER, "对，我叫王小明，王先生，楼下饭店每天晚上都很吵"
    )
    await engine.assist.idle()
    last = await engine.log.read("call-1")
    await screen.until_seq(last[-1].seq)
    later = [
        m["payload"] for m in screen.seen if m.get("type") == "ticket.field" and m["seq"] > edit_seq
    ]
    assert seq > edit_seq and later, "the new utterance produced no field updates at all"
    assert all(f["field"] != "caller_name" for f in later), later

    # Unknown fields and calls outside the agent's scope are refused, with a reason.
    await screen.send({"type": "ticket.edit", "call_id": "call-1", "field": "x", "value": "1"})
    error = await screen.until(lambda m: m.get("type") == "error")
    assert (error["code"], error["call_id"]) == ("unknown_field", "call-1")
    await screen.send({"type": "ticket.edit", "call_id": "nope", "field": "summary", "value": "1"})
    error = await screen.until(lambda m: m.get("type") == "error")
    assert error["code"] == "not_found"

    await client.stop_call("call-1")
    await screen.until(lambda m: m.get("type") == "call.ended")
    await engine.assist.idle()
    # Wrap-up: the order stays editable after the hang-up.
    await screen.send(
        {"type": "ticket.edit", "call_id": "call-1", "field": "summary", "value": "夜间施工噪音"}
    )
    wrapped = await screen.until(
        lambda m: (
            m.get("type") == "ticket.field"
            and m["payload"]["field"] == "summary"
            and m["payload"]["origin"] == "agent"
        )
    )
    assert wrapped["payload"]["value"] == "夜间施工噪音"
    store = engine.store()
    assert store.ticket_for_call("call-1").fields["summary"] == "夜间施工噪音"  # type: ignore[union-attr]
    ticket = store.ticket_for_call("call-1")
    assert ticket is not None and ticket.ticket_id == ticket_id_for("call-1")
    assert ticket.fields["caller_name"] == "王晓明"
    assert ticket.fields["callback_phone"] == "13900001111"
    assert ticket.category.startswith("环境保护")
    assert store.transcript("call-1")[0].text == "你好，我叫王小明，我要投诉噪音"
    assert store.count_tickets() == 1
    store.close()


async def test_second_call_gets_caller_history_and_duplicate(make_engine: Any) -> None:
    engine = await make_engine(doubles.toolkit())
    screen = await engine.screen(AGENT)
    first = await open_call(engine, "first")
    await say(engine, "first", 1, Leg.CALLER, "我要投诉噪音，在天河区中山大道88号阳光花园")
    await first.stop_call("first")
    await engine.assist.idle()

    second = await open_call(engine, "second")
    await screen.send({"type": "follow", "call_id": "second"})
    profile = await screen.until(lambda m: m.get("type") == "caller.profile")
    assert profile["payload"]["ticket_count"] == 1
    assert profile["payload"]["last_ticket_id"] == ticket_id_for("first")
    assert profile["payload"]["categories"] == [{"value": "环境保护", "score": 1.0}]
    await say(engine, "second", 1, Leg.CALLER, "还是噪音的事，天河区中山大道88号阳光花园")
    duplicate = await screen.until(
        lambda m: m.get("type") == "ticket.field" and m["payload"]["field"] == "duplicate_of"
    )
    assert duplicate["payload"]["value"] == ticket_id_for("first")
    await second.stop_call("second")
    await engine.assist.idle()
    assert engine.metrics.value("assist_duplicates_found_total") == 1


async def test_a_flood_of_finals_overflows_the_queue_without_losing_any(make_engine: Any) -> None:
    classifier = doubles.Classifier()
    engine = await make_engine(doubles.toolkit(classifier))
    client = await open_call(engine, "flood")
    # 40 finals appended in one go: far past the queue of 8; the stage reads the rest back.
    items = [
        (i, TranscriptFinal(Leg.CALLER, f"f{i}", f"第{i}句，噪音", i, i + 1)) for i in range(40)
    ]
    await engine.log.append_many("flood", items)
    await engine.assist.idle()
    assert engine.metrics.value("assist_queue_overflows_total") >= 1
    assert len(classifier.calls) == 40, "every final was filled exactly once"
    assert classifier.calls[-1].endswith("第39句，噪音")
    await client.stop_call("flood")
    await engine.assist.idle()
    store = engine.store()
    assert len(store.transcript("flood")) == 40
    store.close()


async def test_knowledge_cards_reach_the_screen_without_flicker(make_engine: Any) -> None:
    engine = await make_engine(doubles.toolkit(knowledge=True))
    screen = await engine.screen(AGENT)
    client = await open_call(engine, "kb")
    await screen.send({"type": "follow", "call_id": "kb"})
    await say(engine, "kb", 1, Leg.CALLER, "工地晚上施工")
    card = await screen.until(lambda m: m.get("type") == "kb.suggestion")
    assert card["payload"]["entry_id"] == "kb-noise" and card["payload"]["version"] == "1"
    assert card["payload"]["keywords"] == ["施工"]
    assert card["payload"]["trigger_utterance_id"] == "kb-u1"
    # Same topic again, and a weaker other topic: the card stays, nothing new is sent.
    await say(engine, "kb", 2, Leg.CALLER, "噪音很大，施工到半夜")
    await say(engine, "kb", 3, Leg.CALLER, "我的社保也断了")
    await engine.assist.idle()
    last = await engine.log.read("kb")
    await screen.until_seq(last[-1].seq)
    cards = [m["payload"]["entry_id"] for m in screen.seen if m.get("type") == "kb.suggestion"]
    assert cards == ["kb-noise"]
    assert engine.metrics.value("assist_kb_suggestions_total") == 1
    await client.stop_call("kb")

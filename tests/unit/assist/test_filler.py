"""The pure ticket filler, with stand-in extractors (the real ones are tested on their own)."""

from __future__ import annotations

from datetime import datetime

import assist_doubles as doubles
import pytest

from jiesu.engine.assist.filler import CST, FillerState, TicketFiller, summarize
from jiesu.engine.assist.loaders import SCHEMA_FILE, load_schema
from jiesu.engine.audio import Leg
from jiesu.engine.events import FieldOrigin, TicketField, TranscriptFinal

START = datetime(2026, 12, 3, 9, 30, tzinfo=CST)


@pytest.fixture
def filler() -> TicketFiller:
    return TicketFiller(load_schema(SCHEMA_FILE), doubles.toolkit())


def say(
    filler: TicketFiller, state: FillerState, leg: Leg, text: str
) -> tuple[FillerState, dict[str, TicketField]]:
    n = len(state.utterances) + 1
    final = TranscriptFinal(leg, f"u{n}", text, 1000 * n, 1000 * n + 900)
    state, events = filler.on_final(state, final)
    return state, {e.field: e for e in events}


def test_details_fill_with_spans_and_confidence(filler: TicketFiller) -> None:
    state = filler.start("c1", START)
    state, ev = say(filler, state, Leg.CALLER, "你好，我叫王小明，我要投诉噪音")
    name = ev["caller_name"]
    assert (name.value, name.origin, name.locked) == ("王小明", FieldOrigin.AUTO, False)
    assert name.source is not None and name.source.utterance_id == "u1"
    assert "你好，我叫王小明，我要投诉噪音"[
        name.source.char_start : name.source.char_end
    ].startswith("我叫王小明")
    assert ev["request_type"].value == "投诉"
    assert [a.value for a in ev["request_type"].alternatives] == ["投诉", "咨询", "建议"]
    assert ev["category"].value == "环境保护/环境污染/噪音污染"
    assert ev["department"].value == "区生态环境局"
    assert [a.value for a in ev["department"].alternatives] == [
        "区生态环境局",
        "区城管局",
        "街道办",
    ]
    assert ev["dispatch"].value == "ready"  # 0.72 >= the schema's threshold 0.6
    assert ev["urgency"].value == "normal"

    state, ev = say(filler, state, Leg.CALLER, "昨天晚上十点开始，天河区中山大道88号阳光花园3栋")
    assert ev["incident_time"].value == "2026-12-02 22:00"
    assert ev["address"].value == "天河区中山大道88号阳光花园3栋"
    assert ev["address.district"].value == "天河区" and ev["address.poi"].value == "阳光花园"
    assert "天河区中山大道88号阳光花园3栋" in ev["summary"].value


def test_agent_confirmation_raises_confidence_and_correction_wins(filler: TicketFiller) -> None:
    state = filler.start("c2", START)
    state, ev = say(filler, state, Leg.CALLER, "我电话是13812345678")
    first = ev["callback_phone"]
    assert first.value == "13812345678" and first.confidence == pytest.approx(0.9)
    state, ev = say(filler, state, Leg.AGENT, "好的，13812345678对吗")
    assert ev["callback_phone"].value == "13812345678"
    assert ev["callback_phone"].confidence > first.confidence
    assert (
        ev["callback_phone"].source is not None and ev["callback_phone"].source.utterance_id == "u2"
    )
    state, ev = say(filler, state, Leg.CALLER, "不对，是13812345679")
    assert ev["callback_phone"].value == "13812345679"
    assert state.order.value("callback_phone") == "13812345679"


def test_locked_field_is_never_overwritten(filler: TicketFiller) -> None:
    state = filler.start("c3", START)
    state, _ = say(filler, state, Leg.CALLER, "我叫王小明")
    state, events = filler.edit(state, "caller_name", "王晓明")
    assert [(e.field, e.value, e.origin, e.locked) for e in events] == [
        ("caller_name", "王晓明", FieldOrigin.AGENT, True)
    ]
    state, ev = say(filler, state, Leg.CALLER, "我叫王小明，王先生也行")
    assert "caller_name" not in ev
    assert state.order.value("caller_name") == "王晓明"
    with pytest.raises(KeyError):
        filler.edit(state, "no_such_field", "x")


def test_agent_leg_surname_only_is_not_the_callers_name(filler: TicketFiller) -> None:
    state = filler.start("c4", START)
    state, ev = say(filler, state, Leg.AGENT, "王先生您好")
    assert ev["caller_name"].value == "王先生"


def test_unchanged_values_emit_nothing(filler: TicketFiller) -> None:
    state = filler.start("c5", START)
    state, ev = say(filler, state, Leg.CALLER, "我想咨询社保")
    assert "request_type" in ev
    state, ev = say(filler, state, Leg.CALLER, "嗯")
    assert "request_type" not in ev and "category" not in ev


def test_category_is_cut_to_what_the_taxonomy_knows(filler: TicketFiller) -> None:
    state = filler.start("c6", START)
    state, ev = say(filler, state, Leg.CALLER, "我想咨询社保缴费")
    # The double proposes a level-2 the taxonomy does not have: only level 1 is kept.
    assert ev["category"].value == "劳动和社会保障"
    assert ev["dispatch"].value == "review"


def test_new_place_replaces_the_old_address_components(filler: TicketFiller) -> None:
    state = filler.start("c7", START)
    state, ev = say(filler, state, Leg.CALLER, "在天河区中山大道88号")
    assert ev["address.roadno"].value == "88号"
    state, ev = say(filler, state, Leg.CALLER, "不是，是黄埔区阳光花园")
    assert ev["address.district"].value == "黄埔区"
    assert ev["address.roadno"].value == "" and ev["address.road"].value == ""
    assert state.order.value("address") == "黄埔区阳光花园"


def test_duplicates_become_a_field(filler: TicketFiller) -> None:
    state = filler.start("c8", START)
    state, events = filler.set_duplicates(state, ["T1", "T2"])
    assert [(e.field, e.value, [a.value for a in e.alternatives]) for e in events] == [
        ("duplicate_of", "T1", ["T1", "T2"])
    ]


def test_summary_is_third_person_and_leaves_out_numbers(filler: TicketFiller) -> None:
    state = filler.start("c9", START)
    state, _ = say(filler, state, Leg.CALLER, "你好，我叫王小明")
    state, _ = say(filler, state, Leg.CALLER, "我家楼下的饭店噪音很大，每天吵到半夜")
    state, _ = say(filler, state, Leg.CALLER, "我电话13812345678")
    state, _ = say(filler, state, Leg.CALLER, "希望你们尽快处理一下")
    text = summarize(state, filler.schema)
    assert text.startswith("市民王小明来电投诉：")
    assert "其家楼下的饭店噪音很大" in text
    assert "诉求：希望你们尽快处理一下" in text
    assert "13812345678" not in text and "我" not in text
    assert state.order.value("summary") == text


def test_empty_final_changes_nothing(filler: TicketFiller) -> None:
    state = filler.start("c10", START)
    after, events = filler.on_final(state, TranscriptFinal(Leg.CALLER, "u1", "  ", 0, 10))
    assert after is state and events == []


def test_full_name_beats_a_later_honorific_and_third_parties_are_ignored(
    filler: TicketFiller,
) -> None:
    state = filler.start("c11", START)
    state, ev = say(filler, state, Leg.CALLER, "张先生人很好")  # someone the caller talks about
    assert "caller_name" not in ev
    state, ev = say(filler, state, Leg.CALLER, "我叫李娜")
    assert ev["caller_name"].value == "李娜"
    state, ev = say(filler, state, Leg.AGENT, "李女士您好")
    assert "caller_name" not in ev and state.order.value("caller_name") == "李娜"


def test_incident_time_is_the_earliest_sure_time(filler: TicketFiller) -> None:
    state = filler.start("c12", START)
    state, ev = say(filler, state, Leg.CALLER, "昨天晚上十点又吵了")
    assert ev["incident_time"].value == "2026-12-02 22:00"
    state, ev = say(filler, state, Leg.CALLER, "其实从上周三就开始了")
    assert ev["incident_time"].value == "2026-11-25 00:00"
    state, ev = say(filler, state, Leg.CALLER, "昨天晚上十点最厉害")
    assert "incident_time" not in ev
    assert state.order.value("incident_time") == "2026-11-25 00:00"


@pytest.mark.parametrize(
    ("labelled", "kept"),
    [
        # What the character labeller tags in spoken sentences that are not addresses.
        ({"district": "超市", "poi": "买到了", "person": "的牛奶"}, {"poi": "买到了"}),
        ({"poi": "昨天下午三点左右", "road": "我坐10路"}, {"poi": "昨天下午三点左右"}),
        ({"roomno": "13812345678"}, {}),
        ({"redundant": "一", "roomno": "五九零零一二三四五六"}, {}),
        ({"poi": "希望公交公司管一管"}, {}),
        # Real addresses keep their parts; a leading 的 is not part of the road.
        (
            {"district": "拱墅区", "road": "的湖墅路", "poi": "小学"},
            {"district": "拱墅区", "road": "湖墅路", "poi": "小学"},
        ),
        (
            {
                "prov": "浙江省",
                "city": "杭州市",
                "roadno": "100号",
                "houseno": "5幢",
                "roomno": "1201室",
            },
            {
                "province": "浙江省",
                "city": "杭州市",
                "roadno": "100号",
                "houseno": "5幢",
                "roomno": "1201室",
            },
        ),
    ],
)
def test_address_parts_must_look_like_their_kind(
    labelled: dict[str, str], kept: dict[str, str]
) -> None:
    from jiesu.engine.assist.filler import clean_components
    from jiesu.engine.assist.workorder import DEFAULT_ADDRESS_COMPONENTS

    assert clean_components(labelled, DEFAULT_ADDRESS_COMPONENTS) == kept


def test_building_parts_complete_a_known_place_only(filler: TicketFiller) -> None:
    state = filler.start("c13", START)
    state, ev = say(filler, state, Leg.CALLER, "3栋")
    assert "address" not in ev
    state, ev = say(filler, state, Leg.CALLER, "天河区中山大道88号")
    state, ev = say(filler, state, Leg.CALLER, "3栋")
    assert ev["address"].value == "天河区中山大道88号3栋"

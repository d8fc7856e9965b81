"""The ticket filler: a pure ``(state, event) -> (state, [TicketField])`` stage.

It reads the final transcripts of both legs and keeps the work order up to date:

* Spoken details (phone, ID number, name, address, incident time) are *evidence*: each mention
  is a candidate with its confidence and span. The newest mention wins (callers correct
  themselves: "不对，是…"), and a value said on both legs (the agent repeating it back to
  confirm) gets a higher confidence than one heard once.
* Request type, category (with the department recommendation) and urgency are re-classified on
  the whole conversation so far, so they sharpen as the caller explains.
* The summary (诉求摘要) is rebuilt from the order and the caller's own sentences, in the
  third person of a written order.

A field the agent edited is locked (:meth:`TicketFiller.edit`); no later automatic update
changes it. Only fields that actually change produce a ``TicketField``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from jiesu.engine.assist.toolkit import AssistToolkit, CategoryLike
from jiesu.engine.assist.workorder import (
    FieldValue,
    WorkOrder,
    WorkOrderSchema,
    address_text,
)
from jiesu.engine.audio import Leg
from jiesu.engine.events import (
    ScoredValue,
    SourceSpan,
    TicketField,
    TranscriptFinal,
)

#: China Standard Time (no daylight saving): relative times are resolved in it.
CST = timezone(timedelta(hours=8))

#: Confidence added when the other leg says the same value (the agent confirming it).
CONFIRM_BONUS = 0.15
#: Confidence added per further mention on the same leg.
REPEAT_BONUS = 0.05
#: Mentions below this confidence are ignored.
MIN_CONFIDENCE = 0.3
#: The address dataset's short labels for the schema's component names.
_COMPONENT_ALIASES = {"prov": "province"}
#: How much of the conversation the classifiers see (characters, newest kept).
MAX_CLASSIFY_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Candidate:
    """One mention of a value in the transcript."""

    value: str
    confidence: float
    source: SourceSpan
    leg: Leg
    order: int
    #: How complete the value is (names: full name 2, surname + honorific 1, surname 0);
    #: a higher rank wins over a newer mention of a lower one.
    rank: int = 0


@dataclass(frozen=True, slots=True)
class Utterance:
    leg: Leg
    utterance_id: str
    text: str


@dataclass(frozen=True, slots=True)
class FillerState:
    order: WorkOrder
    #: The call's start (wall clock, CST): relative times ("昨天晚上") are resolved against it.
    reference: datetime
    utterances: tuple[Utterance, ...] = ()
    #: Field name -> its mentions, oldest first.
    evidence: Mapping[str, tuple[Candidate, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: Address components heard so far (newest mention of each component wins).
    address: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    address_confidence: float = 0.0
    address_source: SourceSpan | None = None


def reference_from_ms(t_wall_ms: int) -> datetime:
    return datetime.fromtimestamp(t_wall_ms / 1000, tz=CST)


class TicketFiller:
    """Pure: holds only the schema and the (stateless) toolkit; state travels in and out."""

    def __init__(self, schema: WorkOrderSchema, toolkit: AssistToolkit) -> None:
        self.schema = schema
        self.toolkit = toolkit

    def start(self, call_id: str, reference: datetime) -> FillerState:
        return FillerState(WorkOrder(call_id), reference)

    # --- transitions -----------------------------------------------------------------------

    def on_final(
        self, state: FillerState, final: TranscriptFinal
    ) -> tuple[FillerState, list[TicketField]]:
        text = final.text.strip()
        if not text:
            return state, []
        state = replace(
            state, utterances=(*state.utterances, Utterance(final.leg, final.utterance_id, text))
        )
        order_no = len(state.utterances)
        proposals: dict[str, FieldValue] = {}
        state = self._spoken_details(state, final, text, order_no, proposals)
        state = self._address(state, final, text, proposals)
        if final.leg is not Leg.AGENT or not state.order.value(self._category_name()):
            # Classification is the costly step (sentence embeddings); the caller describes
            # the problem, so the agent's turns do not re-run it once there is a category.
            self._classified(state, proposals)
        state, events = self._apply(state, proposals)
        # The summary depends on the fields just set.
        summary = self.schema.by_kind("summary")
        if summary is not None:
            value = summarize(state, self.schema)
            if value:
                state, more = self._apply(
                    state, {summary.name: FieldValue(value, self._summary_confidence(state))}
                )
                events += more
        return state, events

    def edit(
        self, state: FillerState, name: str, value: str
    ) -> tuple[FillerState, list[TicketField]]:
        """The agent typed a value: lock the field. Raises KeyError for an unknown field."""
        if not self.schema.accepts(name):
            raise KeyError(name)
        order = state.order.edit(name, value)
        state = replace(state, order=order)
        return state, [_event(name, order.fields[name])]

    def set_duplicates(
        self, state: FillerState, ticket_ids: Sequence[str]
    ) -> tuple[FillerState, list[TicketField]]:
        """Open tickets found at the same address and category (智能查重)."""
        spec = self.schema.by_kind("duplicate")
        if spec is None or not ticket_ids:
            return state, []
        value = FieldValue(
            ticket_ids[0], 0.9, alternatives=tuple(ScoredValue(t, 0.9) for t in ticket_ids[:5])
        )
        return self._apply(state, {spec.name: value})

    # --- evidence --------------------------------------------------------------------------

    def _spoken_details(
        self,
        state: FillerState,
        final: TranscriptFinal,
        text: str,
        order_no: int,
        proposals: dict[str, FieldValue],
    ) -> FillerState:
        kit, schema = self.toolkit, self.schema
        found: dict[str, list[Candidate]] = {}

        def add(
            kind: str, value: str, confidence: float, start: int, end: int, rank: int = 0
        ) -> None:
            spec = schema.by_kind(kind)
            if spec is None or not value or confidence < MIN_CONFIDENCE:
                return
            span = SourceSpan(final.utterance_id, start, end)
            found.setdefault(spec.name, []).append(
                Candidate(value, confidence, span, final.leg, order_no, rank)
            )

        for phone in kit.phones(text):
            if phone.kind in ("mobile", "landline"):
                add("phone", phone.number, phone.confidence, phone.start, phone.end)
        for idm in kit.id_numbers(text):
            # A failed checksum is usually a misheard digit: keep it, less sure.
            confidence = idm.confidence if idm.checksum_ok else idm.confidence * 0.6
            add("id_number", idm.number, confidence, idm.start, idm.end)
        for person in kit.names(text):
            value = _name_value(person.full_name, person.surname, person.honorific)
            if final.leg is Leg.AGENT and person.honorific is None:
                continue  # the agent's "我姓李" / "我叫…" is the agent, not the caller
            if final.leg is Leg.CALLER and person.full_name is None and person.honorific:
                continue  # "周医生", "张师傅": someone the caller talks about
            rank = 2 if person.full_name else (1 if person.honorific else 0)
            add("name", value, person.confidence, person.start, person.end, rank)
        for when in kit.times(text, state.reference):
            value = when.start_time.astimezone(CST).strftime("%Y-%m-%d %H:%M")
            add("time", value, when.confidence, when.text_start, when.text_end)

        if not found:
            return state
        evidence = dict(state.evidence)
        for name, candidates in found.items():
            evidence[name] = (*evidence.get(name, ()), *candidates)
            spec = schema.spec(name)
            best = _decide(evidence[name], earliest=spec is not None and spec.kind == "time")
            if best is not None:
                proposals[name] = best
        return replace(state, evidence=MappingProxyType(evidence))

    def _address(
        self,
        state: FillerState,
        final: TranscriptFinal,
        text: str,
        proposals: dict[str, FieldValue],
    ) -> FillerState:
        spec = self.schema.by_kind("address")
        if spec is None:
            return state
        allowed = self.schema.address_components
        cleaned = [
            (m, parts)
            for m in self.toolkit.addresses(text)
            if m.confidence >= MIN_CONFIDENCE
            for parts in [clean_components(m.components, allowed)]
            if parts
        ]
        anchored = [(m, p) for m, p in cleaned if any(k in ANCHOR_COMPONENTS for k in p)]
        # Building-level parts alone ("3号楼2单元") only complete a place named already.
        building = [
            (m, p) for m, p in cleaned if (m, p) not in anchored and set(p) <= BUILDING_COMPONENTS
        ]
        if not anchored and not (building and state.address):
            return state
        taken = anchored + building
        matches = [m for m, _ in taken]
        merged = dict(state.address)
        best, best_parts = max(taken, key=lambda mp: (len(mp[1]), mp[0].confidence))
        # A new district or road means the caller is naming another place: start over from it.
        moved = any(
            key in best_parts and merged.get(key) and merged[key] != best_parts[key]
            for key in ("district", "road")
        )
        if moved:
            merged = {}
        for _, parts in sorted(taken, key=lambda mp: mp[0].start):
            merged.update(parts)
        confidence = max(m.confidence for m in matches)
        if not moved and state.address:
            confidence = min(0.99, max(confidence, state.address_confidence) + REPEAT_BONUS)
        source = SourceSpan(final.utterance_id, best.start, best.end)
        state = replace(
            state,
            address=MappingProxyType(merged),
            address_confidence=confidence,
            address_source=source,
        )
        proposals[spec.name] = FieldValue(address_text(merged, allowed), confidence, source=source)
        for key in allowed:
            if key in merged:
                proposals[f"{spec.name}.{key}"] = FieldValue(merged[key], confidence, source=source)
            elif state.order.value(f"{spec.name}.{key}"):
                # A component of the place named before, not of this one: clear it.
                proposals[f"{spec.name}.{key}"] = FieldValue("", confidence, source=source)
        return state

    def _classified(self, state: FillerState, proposals: dict[str, FieldValue]) -> None:
        schema, kit = self.schema, self.toolkit
        text = conversation_text(state)
        caller_text = conversation_text(state, Leg.CALLER) or text
        spec = schema.by_kind("request_type")
        if spec is not None:
            scored = [s for s in kit.request_type(caller_text) if s.label in schema.request_types]
            if scored:
                top = max(scored, key=lambda s: s.probability)
                alternatives = tuple(
                    ScoredValue(s.label, round(s.probability, 4))
                    for s in sorted(scored, key=lambda s: -s.probability)[:3]
                )
                proposals[spec.name] = FieldValue(
                    top.label, top.probability, alternatives=alternatives
                )
        spec = schema.by_kind("urgency")
        if spec is not None:
            urgency = kit.urgency(caller_text)
            if urgency.label in schema.urgencies:
                proposals[spec.name] = FieldValue(urgency.label, urgency.probability)
        category_spec, dept_spec = schema.by_kind("category"), schema.by_kind("department")
        dispatch_spec = schema.by_kind("dispatch")
        if category_spec is None and dept_spec is None:
            return
        prediction, departments = kit.classify(text)
        if category_spec is not None:
            path = _category_path(prediction, schema)
            if path:
                proposals[category_spec.name] = FieldValue(
                    "/".join(path),
                    prediction.path_confidence,
                    alternatives=tuple(
                        ScoredValue(s.label, round(s.probability, 4)) for s in prediction.level1[:3]
                    ),
                )
        top3 = tuple(departments.top3[:3])
        if dept_spec is not None and top3:
            proposals[dept_spec.name] = FieldValue(
                top3[0].label,
                top3[0].probability,
                alternatives=tuple(ScoredValue(s.label, round(s.probability, 4)) for s in top3),
            )
        if dispatch_spec is not None and top3:
            ready = (
                departments.ready_to_dispatch and top3[0].probability >= schema.dispatch_threshold
            )
            proposals[dispatch_spec.name] = FieldValue(
                "ready" if ready else "review", top3[0].probability
            )

    def _category_name(self) -> str:
        spec = self.schema.by_kind("category") or self.schema.by_kind("request_type")
        return spec.name if spec is not None else ""

    def _summary_confidence(self, state: FillerState) -> float:
        required = [s.name for s in self.schema.fields if s.required and s.kind != "summary"]
        if not required:
            return 0.5
        have = sum(1 for name in required if state.order.value(name))
        return round(0.3 + 0.6 * have / len(required), 3)

    def _apply(
        self, state: FillerState, proposals: Mapping[str, FieldValue]
    ) -> tuple[FillerState, list[TicketField]]:
        order = state.order
        events: list[TicketField] = []
        for name, value in proposals.items():
            value = replace(value, confidence=round(min(max(value.confidence, 0.0), 1.0), 4))
            changed = order.propose(name, value)
            if changed is not None:
                order = changed
                events.append(_event(name, order.fields[name]))
        return replace(state, order=order), events


#: Components that name a place on their own; a match needs one of them to be an address.
ANCHOR_COMPONENTS = frozenset(
    {"province", "city", "district", "devzone", "town", "community", "road"}
)
#: Components inside a building, which only complete an address.
BUILDING_COMPONENTS = frozenset({"houseno", "cellno", "floorno", "roomno"})
#: What a component's text must end with (the sequence labeller also tags spoken sentences).
_SUFFIXES = {
    "province": ("省", "自治区", "市"),
    "city": ("市", "州", "盟", "地区"),
    "district": ("区", "县", "旗", "市"),
    "devzone": ("区", "园"),
    "town": ("镇", "乡", "街道", "街办"),
    "community": ("社区", "村", "居委会", "小区", "新村"),
    "road": ("路", "街", "道", "巷", "弄", "胡同", "线"),
    "roadno": ("号",),
    "houseno": ("栋", "幢", "号楼", "座", "号院", "楼"),
    "cellno": ("单元",),
    "floorno": ("层", "楼"),
    "roomno": ("室", "号", "房"),
}
_ADMIN_COMPONENTS = frozenset({"province", "city", "district", "town"})
#: Characters no place name contains: pronouns and particles of a spoken sentence.
_NOT_IN_PLACES = re.compile(r"[我你您他她它吗呢吧啊呀哪谁]|希望|请问|查一查")
_PHONE_RUN = re.compile(r"[0-9幺一二三四五六七八九零两洞]{7,}")


def clean_components(components: Mapping[str, str], allowed: Sequence[str]) -> dict[str, str]:
    """The plausible parts of a labelled address: schema components only, each shaped like its
    kind (a district ends in 区/县…, a road in 路/街…), no sentence words, no phone numbers."""
    parts: dict[str, str] = {}
    for label, raw in components.items():
        key = _COMPONENT_ALIASES.get(label, label)
        value = raw.strip().removeprefix("的").removeprefix("在").removesuffix("的")
        if key not in allowed or len(value) < 2 or len(value) > 30:
            continue
        if _NOT_IN_PLACES.search(value) or _PHONE_RUN.search(value):
            continue
        suffixes = _SUFFIXES.get(key)
        if suffixes is not None and not value.endswith(suffixes):
            continue
        if key in _ADMIN_COMPONENTS and (len(value) < 3 or value.endswith("超市")):
            continue  # 超市, 城市: a suffix alone does not make an administrative name
        parts[key] = value
    return parts


def _event(name: str, value: FieldValue) -> TicketField:
    return TicketField(
        field=name,
        value=value.value,
        confidence=value.confidence,
        origin=value.origin,
        locked=value.locked,
        source=value.source,
        alternatives=value.alternatives,
    )


def _name_value(full_name: str | None, surname: str, honorific: str | None) -> str:
    if full_name:
        return full_name
    if honorific:
        return surname + honorific if not honorific.startswith(surname) else honorific
    return surname


def _decide(candidates: Sequence[Candidate], earliest: bool = False) -> FieldValue | None:
    """The value to show: the newest mention of the highest rank (for times: the earliest sure
    time, the incident's start: "从上周三开始，每天晚上…"), its confidence raised by
    confirmations on the other leg and by repetitions."""
    if not candidates:
        return None
    if earliest:
        sure = [c for c in candidates if c.confidence >= 0.6]
        chosen = min(sure, key=lambda c: (c.value, c.order)) if sure else candidates[-1]
    else:
        chosen = max(candidates, key=lambda c: (c.rank, c.order))
    same = [c for c in candidates if c.value == chosen.value]
    legs = {c.leg for c in same}
    confidence = max(c.confidence for c in same)
    confidence += CONFIRM_BONUS * (len(legs) - 1) + REPEAT_BONUS * (len(same) - len(legs))
    return FieldValue(chosen.value, min(confidence, 0.99), source=chosen.source)


def _category_path(prediction: CategoryLike, schema: WorkOrderSchema) -> tuple[str, ...]:
    path = tuple(p for p in prediction.path if p)
    if not path and prediction.level1:
        path = (max(prediction.level1, key=lambda s: s.probability).label,)
    taxonomy = schema.taxonomy
    if taxonomy.paths:
        # Keep the longest prefix the configured taxonomy knows.
        while path and not taxonomy.contains(path):
            path = path[:-1]
    return path


def conversation_text(state: FillerState, leg: Leg | None = None) -> str:
    parts = [u.text for u in state.utterances if leg is None or u.leg is leg]
    text = "。".join(p.rstrip("。") for p in parts)
    return text[-MAX_CLASSIFY_CHARS:]


# --- summary -------------------------------------------------------------------------------

_CLAUSE_SPLIT = re.compile(r"[。！？!?；;，,、\s]+")
_FILLER = re.compile(
    r"^(喂|你好|您好|嗯|啊|哦|对|对的|是的|是|好的|好|谢谢|谢谢你|谢谢您|没有了|没了|再见|行)+$"
)
_DEMAND = re.compile(r"希望|要求|请求|请你们|麻烦|尽快|能不能|能否|帮忙|帮我|帮助|处理一下|解决")
_PERSONAL = re.compile(r"[0-9幺一二三四五六七八九零两洞]{6,}|我叫|我姓|免贵|电话|号码|身份证|手机")
_VERBS = {
    "咨询": "来电咨询",
    "求助": "来电求助",
    "投诉": "来电投诉",
    "举报": "来电举报",
    "建议": "来电建议",
    "表扬": "来电表扬",
}


#: A clause that only announces the kind of request ("我要投诉"): the verb says it already.
_ANNOUNCE = re.compile(
    r"^(喂|你好|您好)?我?(就是)?(要|想|想要|来)?(投诉|咨询|举报|反映|表扬|建议|求助|问)"
    r"(一下|一个问题|个问题|个事|个情况|一件事)?$"
)


def _third_person(clause: str) -> str:
    clause = clause.replace("我们", "其").replace("我家", "其家")
    if clause.startswith("我"):
        clause = "来电人" + clause[1:]
    return clause.replace("我", "其")


def summarize(state: FillerState, schema: WorkOrderSchema) -> str:
    """诉求摘要: who, what kind of request, when, where, what happened, what they ask for."""
    order = state.order
    caller = [u.text for u in state.utterances if u.leg is Leg.CALLER]
    if not caller:
        return ""
    content: list[str] = []
    demands: list[str] = []
    for text in caller:
        for clause in _CLAUSE_SPLIT.split(text):
            clause = clause.strip()
            if len(clause) < 4 or _FILLER.match(clause) or _PERSONAL.search(clause):
                continue
            if _ANNOUNCE.match(clause):
                continue
            (demands if _DEMAND.search(clause) else content).append(_third_person(clause))
    if not content and not demands:
        return ""

    def field_of(kind: str) -> str:
        spec = schema.by_kind(kind)
        return order.value(spec.name) if spec is not None else ""

    name = field_of("name")
    who = f"市民{name}" if name else "市民"
    verb = _VERBS.get(field_of("request_type"), "来电反映")
    parts: list[str] = []
    when = field_of("time")
    if when:
        # A date without a time of day is resolved to midnight: show the date only.
        parts.append(f"事发时间{when.removesuffix(' 00:00')}")
    where = field_of("address")
    if where:
        parts.append(f"地点{where}")
    if where:
        # The place is said once, in front; not again as one of the caller's clauses.
        content = [c for c in content if c not in where and where not in c]
    parts.extend(dict.fromkeys(content[:4]))
    text = f"{who}{verb}：" + "，".join(parts) + "。"
    if demands:
        text += "诉求：" + "，".join(dict.fromkeys(demands[-2:])) + "。"
    return text[:300]

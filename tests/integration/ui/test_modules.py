"""The screens' pure modules, run in the real browser they ship to (imported from the gateway)."""

from __future__ import annotations

from typing import Any

CALLSTATE = """async () => {
  const m = await import('/assets/callstate.js');
  const call = m.newCall('c');
  const ev = (seq, type, payload) => ({v: 1, type, call_id: 'c', seq, t_media: 0, t_wall: 0, payload});
  const p = (seq, text, type = 'transcript.partial') =>
    ev(seq, type, {leg: 'caller', utterance_id: 'u', text, t_start: 0, t_end: 1, stable_chars: 1});
  m.applyEvent(call, p(1, '我想'));
  m.applyEvent(call, p(2, '我想问', 'transcript.final'));
  const late = m.applyEvent(call, p(3, '我'));
  const again = m.applyEvent(call, p(2, '我想问', 'transcript.final'));
  const card = (seq, id, title) => ev(seq, 'kb.suggestion', {entry_id: id, version: '1', title, answer: 'a', score: 0.5, keywords: [], trigger_utterance_id: ''});
  m.applyEvent(call, card(4, 'K1', 'one'));
  m.applyEvent(call, card(5, 'K2', 'two'));
  m.applyEvent(call, card(6, 'K1', 'one v2'));
  const alert = ev(7, 'alert.risk', {kind: 'threat', level: 'critical', reason: 'r', quote: ''});
  m.applyEvent(call, alert);
  m.applyEvent(call, alert);
  return {line: call.lines.get('u'), late: late.length, again: again.length,
          order: call.cardOrder, k1: call.cards.get('K1').title, alerts: call.alerts.length,
          unknown: (m.applyEvent(call, ev(8, 'x.future', {})), call.unknown)};
}"""

HIGHLIGHT = """async () => {
  const d = await import('/assets/dom.js');
  const node = d.highlighted(document.createElement('p'), '路灯报修请找路灯所', ['路灯', '路灯报修', '']);
  return {html: node.innerHTML, dur: [d.duration(65000), d.duration(3723000)]};
}"""

LINK = """async () => {
  const {ScreenLink} = await import('/assets/link.js');
  const got = [];
  const link = new ScreenLink({url: 'ws://unused', token: 't', handlers: {
    onEvent: (e, how) => got.push([e.seq, how.followed]),
  }});
  const ev = (seq) => JSON.stringify({v: 1, type: 'transcript.final', call_id: 'c', seq, t_media: 0, t_wall: 0, payload: {}});
  link.follow('c');
  link.receive(ev(5));                       // a board event ahead of the follow stream
  link.receive(JSON.stringify({type: 'following', call_id: 'c', after_seq: 0}));
  for (const s of [3, 4, 5, 5, 6]) link.receive(ev(s));
  link.receive(JSON.stringify({type: 'error', code: 'unavailable', reason: 'unavailable', call_id: 'c'}));
  const stillFollowing = link.follows.has('c');
  link.receive(ev(7));
  link.follow('d');
  link.receive(JSON.stringify({type: 'error', code: 'forbidden', reason: 'forbidden', call_id: 'd'}));
  return {got, dup: link.stats.duplicates, last: link.lastSeq('c'), stillFollowing,
          dFollowed: link.follows.has('d'), delivered: link.stats.delivered.c};
}"""


async def test_call_state_module(engine: Any, browser: Any) -> None:
    page, _ = await engine.open_page(browser, "/")
    result = await page.evaluate(CALLSTATE)
    assert result["line"]["text"] == "我想问" and result["line"]["final"] is True
    assert (result["late"], result["again"]) == (0, 0)  # a late partial never replaces a final
    assert result["order"] == ["K1", "K2"] and result["k1"] == "one v2"  # updated in place
    assert result["alerts"] == 1  # the same alert twice is one alert
    assert result["unknown"] == 1


async def test_highlight_and_duration(engine: Any, browser: Any) -> None:
    page, _ = await engine.open_page(browser, "/")
    result = await page.evaluate(HIGHLIGHT)
    assert result["html"] == "<mark>路灯报修</mark>请找<mark>路灯</mark>所"
    assert result["dur"] == ["01:05", "1:02:03"]


async def test_link_gates_and_dedupes_by_seq(engine: Any, browser: Any) -> None:
    page, _ = await engine.open_page(browser, "/")
    result = await page.evaluate(LINK)
    assert result["got"] == [[5, False], [3, True], [4, True], [5, True], [6, True], [7, True]]
    assert result["dup"] == 1 and result["last"] == 7
    assert result["delivered"] == [3, 4, 5, 6, 7]
    assert result["stillFollowing"] is True  # an error about an edit does not end the follow
    assert result["dFollowed"] is False  # a refused follow does


OPEN_ALERTS = """async () => {
  const m = await import('/assets/callstate.js');
  const call = m.newCall('c');
  const ev = (seq, type, payload) => ({v: 1, type, call_id: 'c', seq, t_media: 0, t_wall: 0, payload});
  const emo = (seq, level) => ev(seq, 'alert.emotion', {leg: 'caller', level, emotion: 'anger', score: 0.7, reason: 'r'});
  m.applyEvent(call, emo(1, 'warning'));
  // The order's duplicate field raises a screen-derived warning after the anger alert.
  m.applyEvent(call, ev(2, 'ticket.field', {field: 'duplicate_of', value: 'T1', confidence: 0.9, origin: 'engine', locked: false, alternatives: []}));
  const first = m.openAlerts(call).map((a) => a.type + ':' + (a.emotion || a.kind));
  m.applyEvent(call, emo(3, 'info'));             // the engine cleared the anger
  const cleared = m.openAlerts(call).map((a) => a.kind || a.emotion);
  m.applyEvent(call, ev(4, 'alert.risk', {kind: 'fire', level: 'critical', reason: 'r', quote: ''}));
  const risk = m.openAlerts(call)[0].kind;
  const dismissed = m.openAlerts(call, new Set([4])).map((a) => a.kind);
  return {first, cleared, risk, dismissed};
}"""


async def test_open_alerts_rank_engine_alerts_first_and_close_cleared_emotion(
    engine: Any, browser: Any
) -> None:
    page, _ = await engine.open_page(browser, "/")
    result = await page.evaluate(OPEN_ALERTS)
    # Equal level: the caller's anger before the newer screen-derived duplicate warning.
    assert result["first"] == ["alert.emotion:anger", "alert.risk:duplicate_ticket"]
    assert result["cleared"] == ["duplicate_ticket"]
    assert result["risk"] == "fire"
    assert result["dismissed"] == ["duplicate_ticket"]

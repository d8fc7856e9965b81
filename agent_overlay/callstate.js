// What a screen knows about one call, built from the call's events (no DOM here).
//
// applyEvent(call, event) updates the plain object `call` and returns what changed, so the
// page redraws only that: one transcript line, one field, one card. Applying the same event
// twice changes nothing visible (lines, fields and cards are keyed), so a board event that is
// later repeated by the follow stream is harmless.

export function newCall(callId) {
  return {
    callId,
    hotline: "",
    agentId: "",
    mode: "",
    callerMasked: "",
    state: "",
    startedAt: 0, // t_wall of call.started, ms since the epoch
    endedAt: 0,
    endReason: "",
    lastMediaMs: 0,
    // utterance_id -> {id, leg, text, final, stable, tStart, tEnd, seq}
    lines: new Map(),
    // field name -> {name, value, confidence, origin, locked, source, alternatives, seq}
    fields: new Map(),
    // entry_id -> card; cardOrder keeps the order of first arrival so cards never move
    cards: new Map(),
    cardOrder: [],
    // alerts and tips in arrival order, keyed by seq so a repeat is ignored
    alerts: [],
    tips: [],
    alertSeqs: new Set(),
    tipIds: new Set(),
    // caller.profile: the caller's past tickets (诉求人画像), when the engine found any
    profile: null,
    // call.context: what the voice dialog learnt before handing the call over (or null)
    context: null,
    // ticket.status: the agent's submit / dispatch as the engine stored it
    ticketStatus: null,
    unknown: 0,
  };
}

// Apply one board entry of the welcome (a snapshot; events that follow may refine it).
export function applyBoardEntry(call, entry) {
  call.hotline = entry.hotline;
  call.agentId = entry.agent_id;
  call.mode = entry.mode;
  call.state = entry.state;
  call.startedAt = entry.started_at;
}

export function applyEvent(call, event) {
  const p = event.payload;
  call.lastMediaMs = Math.max(call.lastMediaMs, event.t_media || 0);
  switch (event.type) {
    case "call.started":
      call.hotline = p.hotline;
      call.agentId = p.agent_id;
      call.mode = p.mode;
      call.callerMasked = p.caller_masked || call.callerMasked;
      call.startedAt = event.t_wall - (event.t_media || 0);
      if (!call.state) call.state = "ringing";
      return [{ kind: "info" }];
    case "call.state":
      if (call.state !== "ended") call.state = p.state;
      return [{ kind: "info" }];
    case "call.ended":
      call.state = "ended";
      call.endReason = p.reason;
      call.endedAt = event.t_wall;
      return [{ kind: "info" }];
    case "call.context":
      return applyContext(call, event);
    case "transcript.partial":
    case "transcript.final":
      return applyTranscript(call, event);
    case "ticket.field":
      return applyField(call, event);
    case "kb.suggestion":
      return applyCard(call, event);
    case "alert.emotion":
    case "alert.risk":
      if (call.alertSeqs.has(event.seq)) return [];
      call.alertSeqs.add(event.seq);
      call.alerts.push({ type: event.type, seq: event.seq, tWall: event.t_wall, ...p });
      return [{ kind: "alert", alert: call.alerts[call.alerts.length - 1] }];
    case "coach.tip":
      if (call.tipIds.has(p.tip_id)) return [];
      call.tipIds.add(p.tip_id);
      call.tips.push({ id: p.tip_id, text: p.text, seq: event.seq });
      return [{ kind: "tip" }];
    case "caller.profile": {
      call.profile = { ...p };
      call.callerMasked = p.caller_masked || call.callerMasked;
      const changes = [{ kind: "info" }];
      if (p.ticket_count > 0) {
        // A caller with past tickets is a repeat caller: worth a banner, not only the panel.
        const level = p.open_count > 0 ? "warning" : "info";
        const reason = `历史工单 ${p.ticket_count} 件，未办结 ${p.open_count} 件`;
        changes.push(...derivedAlert(call, event, "repeat_caller", level, reason, p.last_ticket_id));
      }
      return changes;
    }
    case "ticket.status":
      call.ticketStatus = { ...p, seq: event.seq };
      return [{ kind: "status" }];
    case "speaker.turn":
      return [];
    default:
      call.unknown += 1;
      return [];
  }
}

function applyTranscript(call, event) {
  const p = event.payload;
  const existing = call.lines.get(p.utterance_id);
  const final = event.type === "transcript.final";
  // A final is never replaced by a late partial of the same utterance.
  if (existing && existing.final && !final) return [];
  if (existing && existing.seq >= event.seq) return [];
  const line = {
    id: p.utterance_id,
    leg: p.leg,
    text: p.text,
    final,
    stable: final ? p.text.length : Math.min(p.stable_chars || 0, p.text.length),
    tStart: p.t_start,
    tEnd: p.t_end,
    seq: event.seq,
  };
  call.lines.set(p.utterance_id, line);
  return [{ kind: "line", line, isNew: !existing }];
}

function applyField(call, event) {
  const p = event.payload;
  const existing = call.fields.get(p.field);
  if (existing && existing.seq >= event.seq) return [];
  const field = {
    name: p.field,
    value: p.value,
    confidence: p.confidence,
    origin: p.origin,
    locked: p.locked,
    source: p.source || null,
    alternatives: p.alternatives || [],
    seq: event.seq,
  };
  call.fields.set(p.field, field);
  const changes = [{ kind: "field", field }];
  if (p.field === "duplicate_of" && p.value && p.value !== existing?.value) {
    // The engine reports a possible duplicate as a field; the agent must see it at once.
    const reason = `同地址同类诉求已有工单 ${p.value}`;
    changes.push(...derivedAlert(call, event, "duplicate_ticket", "warning", reason, ""));
  }
  return changes;
}

// An alert the screen raises from another event (kept with the engine's alerts, keyed by the
// seq of the event it came from, so a repeated event raises nothing new).
function derivedAlert(call, event, kind, level, reason, quote) {
  if (call.alertSeqs.has(event.seq)) return [];
  call.alertSeqs.add(event.seq);
  const alert = { type: "alert.risk", seq: event.seq, tWall: event.t_wall, derived: true, kind, level, reason, quote };
  call.alerts.push(alert);
  return [{ kind: "alert", alert }];
}

function applyCard(call, event) {
  const p = event.payload;
  const existing = call.cards.get(p.entry_id);
  if (existing && existing.seq >= event.seq) return [];
  const card = {
    id: p.entry_id,
    version: p.version,
    title: p.title,
    answer: p.answer,
    score: p.score,
    keywords: p.keywords || [],
    seq: event.seq,
  };
  if (!existing) call.cardOrder.push(p.entry_id);
  call.cards.set(p.entry_id, card);
  return [{ kind: "card", card, isNew: !existing }];
}

// Transcript lines in speaking order (by start time, then arrival).
export function orderedLines(call) {
  return [...call.lines.values()].sort((a, b) => a.tStart - b.tStart || a.seq - b.seq);
}

// The text a field's value came from, when the engine said where.
// A hand-over from the voice dialog: the call is this agent's now, and the work order starts
// with what the caller already gave (fields the engine or the agent set later win as usual).
function applyContext(call, event) {
  const p = event.payload;
  call.agentId = p.agent_id || call.agentId;
  call.context = { target: p.target, intent: p.intent, topic: p.topic, said: p.said };
  const changes = [{ kind: "context" }];
  for (const f of p.fields || []) {
    if (call.fields.has(f.name)) continue;
    const field = { name: f.name, value: f.value, confidence: 1, origin: "dialog", seq: event.seq };
    call.fields.set(f.name, field);
    changes.push({ kind: "field", field });
  }
  return changes;
}

export function sourceQuote(call, field) {
  const src = field.source;
  if (!src) return "";
  const line = call.lines.get(src.utterance_id);
  if (!line) return "";
  return line.text.slice(src.char_start, src.char_end);
}

const LEVEL_RANK = { info: 1, warning: 2, critical: 3 };

export function levelRank(level) {
  return LEVEL_RANK[level] || 0;
}

// What needs the agent now, among equals in level: the engine's risk alerts, then the caller's
// emotion, then what the screen derives from the order (duplicate, repeat caller).
function sourceRank(alert) {
  if (alert.derived) return 0;
  return alert.type === "alert.risk" ? 2 : 1;
}

// The alerts still open, the one to show first at index 0. An emotion alert is closed by the
// engine's later event for the same emotion (escalated, or cleared with level info).
export function openAlerts(call, dismissed = new Set()) {
  const latest = new Map();
  for (const a of call?.alerts || []) {
    const key = a.type === "alert.emotion" ? `emotion:${a.emotion}:${a.leg}` : `seq:${a.seq}`;
    latest.set(key, a);
  }
  const open = [...latest.values()].filter(
    (a) => !dismissed.has(a.seq) && !(a.type === "alert.emotion" && a.level === "info"),
  );
  return open.sort(
    (a, b) =>
      levelRank(b.level) - levelRank(a.level) ||
      sourceRank(b) - sourceRank(a) ||
      b.seq - a.seq,
  );
}

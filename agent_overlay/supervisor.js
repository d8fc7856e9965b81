// The supervisor screen (班长/质检): every live call of the hotline, sorted by how much it
// needs attention, with counters; click (or Enter) follows one call's transcript and order.

import { linkScreen } from "./session.js";
import { newCall, applyEvent, levelRank } from "./callstate.js";
import { TranscriptView, OrderView, CardsView, alertText, applyViewChange } from "./views.js";
import { el, clear, duration, toast } from "./dom.js";
import { ALERT_LEVEL, CALL_MODE, CALL_STATE, EMOTION, label } from "./labels.js";
import { PostcallView, RecentCalls } from "./postcall.js";

const $ = (id) => document.getElementById(id);
const HOUR_MS = 3600 * 1000;
const auto = (row) => row.mode === "after_hours" || row.mode === "ivr";
const BOARD_TYPES = new Set(["call.started", "call.state", "call.ended", "alert.emotion", "alert.risk"]);

class SupervisorScreen {
  constructor() {
    this.link = null;
    this.board = new Map(); // call_id -> row state
    this.rows = new Map(); // call_id -> <tr>
    this.alertLog = []; // {seq, callId, tWall} of alerts seen since the page opened
    this.followed = null; // the call view being followed
    this.selected = null;
    this.transcript = new TranscriptView($("transcript"), $("to-latest"));
    this.order = new OrderView($("order"), { editable: false, transcript: this.transcript });
    this.cards = new CardsView($("cards"), { shortcuts: false });
    // Post-call QA and summary of the followed call; ended calls stay reachable for review.
    this.postcall = new PostcallView($("follow-alerts"));
    this.recent = new RecentCalls($("board-empty"), (callId) => this.followCall(callId));
    $("unfollow").addEventListener("click", () => this.stopFollowing());
    document.addEventListener("keydown", (ev) => this.key(ev));
    setInterval(() => this.renderBoard(), 1000);
  }

  welcome(welcome) {
    $("hotline").textContent = `热线 ${welcome.hotline} · ${welcome.sub}`;
    const live = new Set();
    for (const entry of welcome.calls) {
      live.add(entry.call_id);
      const row = this.rowState(entry.call_id);
      row.agentId = entry.agent_id;
      row.mode = entry.mode;
      row.state = entry.state;
      row.startedAt = entry.started_at;
    }
    // The snapshot is the truth about which calls are live.
    for (const callId of [...this.board.keys()]) if (!live.has(callId)) this.board.delete(callId);
    this.renderBoard();
  }

  rowState(callId) {
    let row = this.board.get(callId);
    if (!row) {
      row = {
        callId,
        agentId: "",
        mode: "",
        state: "ringing",
        startedAt: 0,
        callerMasked: "",
        alerts: [],
        alertSeqs: new Set(),
      };
      this.board.set(callId, row);
    }
    return row;
  }

  event(event, { followed }) {
    if (BOARD_TYPES.has(event.type)) this.boardEvent(event);
    if (followed && this.followed && event.call_id === this.followed.callId) {
      if (this.postcall.event(event)) return;
      for (const change of applyEvent(this.followed, event)) this.renderFollowed(change);
    }
  }

  boardEvent(event) {
    const p = event.payload;
    if (event.type === "call.ended") {
      this.recent.ended(event.call_id, this.board.get(event.call_id)?.agentId, event.t_wall);
      this.board.delete(event.call_id);
      this.renderBoard();
      return;
    }
    const row = this.rowState(event.call_id);
    if (event.type === "call.started") {
      row.agentId = p.agent_id;
      row.mode = p.mode;
      row.callerMasked = p.caller_masked || row.callerMasked;
      row.startedAt = row.startedAt || event.t_wall - event.t_media;
    } else if (event.type === "call.state") {
      row.state = p.state;
    } else if (!row.alertSeqs.has(event.seq)) {
      row.alertSeqs.add(event.seq);
      row.alerts.push({ type: event.type, seq: event.seq, tWall: event.t_wall, ...p });
      this.alertLog.push({ seq: event.seq, callId: event.call_id, tWall: event.t_wall });
    }
    this.renderBoard();
  }

  control(message) {
    if (message.type === "error" && message.call_id) {
      toast(`无法跟听 ${message.call_id}：${message.detail || message.code}`, "warn");
    }
  }

  // Higher is more urgent: the worst alert, then how many, then waiting callers, then time.
  attention(row, now) {
    const worst = Math.max(0, ...row.alerts.map((a) => levelRank(a.level)));
    const waiting = row.state === "ringing" ? 1 : 0;
    const minutes = row.startedAt ? (now - row.startedAt) / 60000 : 0;
    return worst * 1e6 + row.alerts.length * 1e4 + waiting * 1e3 + Math.min(minutes, 999);
  }

  renderBoard() {
    const now = Date.now();
    const rows = [...this.board.values()].sort(
      (a, b) => this.attention(b, now) - this.attention(a, now) || a.callId.localeCompare(b.callId),
    );
    const body = $("board");
    for (const [callId, tr] of this.rows) {
      if (!this.board.has(callId)) {
        tr.remove();
        this.rows.delete(callId);
      }
    }
    for (const row of rows) body.append(this.renderRow(row, now)); // append moves: keeps nodes
    $("board-empty").hidden = rows.length > 0;
    const live = [...this.board.values()];
    $("count-talking").textContent = live.filter((r) => !auto(r) && r.state !== "ringing").length;
    $("count-waiting").textContent = live.filter((r) => r.state === "ringing").length;
    $("count-auto").textContent = live.filter(auto).length;
    this.alertLog = this.alertLog.filter((a) => now - a.tWall < HOUR_MS);
    $("count-alerts").textContent = this.alertLog.length;
  }

  renderRow(row, now) {
    let tr = this.rows.get(row.callId);
    if (!tr) {
      tr = el("tr", {
        tabindex: 0,
        dataset: { call: row.callId },
        onclick: () => this.followCall(row.callId),
        onkeydown: (ev) => {
          if (ev.key === "Enter") this.followCall(row.callId);
        },
      });
      this.rows.set(row.callId, tr);
    }
    const worst = row.alerts.reduce((w, a) => (levelRank(a.level) > levelRank(w) ? a.level : w), "");
    tr.dataset.level = worst;
    tr.classList.toggle("selected", this.followed?.callId === row.callId);
    const trend = el("span", { class: "trend" });
    const emotions = row.alerts.filter((a) => a.type === "alert.emotion").slice(-8);
    for (const a of emotions) {
      trend.append(
        el("span", {
          class: `dot level-${a.level}`,
          title: `${label(EMOTION, a.emotion)} ${Math.round(a.score * 100)}%`,
        }),
      );
    }
    if (!emotions.length) trend.append(el("span", { class: "muted", text: "平稳" }));
    const latest = row.alerts[row.alerts.length - 1];
    const cells = [
      el(
        "td",
        { class: "agent" },
        row.agentId || "—",
        auto(row) ? el("span", { class: "mode-tag", text: label(CALL_MODE, row.mode) }) : null,
      ),
      el("td", { text: row.callerMasked || "—", title: label(CALL_MODE, row.mode) }),
      el("td", {}, el("span", { class: "pill", dataset: { state: row.state }, text: label(CALL_STATE, row.state) })),
      el("td", { class: "mono", text: row.startedAt ? duration(now - row.startedAt) : "—" }),
      el("td", {}, trend),
      el(
        "td",
        { class: "alerts-cell", title: latest ? alertText(latest) : "" },
        row.alerts.length
          ? el("span", { class: `badge level-${worst}`, text: `${row.alerts.length} · ${label(ALERT_LEVEL, worst)}` })
          : el("span", { class: "muted", text: "无" }),
      ),
    ];
    clear(tr);
    tr.append(...cells);
    return tr;
  }

  followCall(callId) {
    if (this.followed?.callId === callId) return;
    if (this.followed) this.link.unfollow(this.followed.callId);
    this.followed = newCall(callId);
    this.postcall.reset();
    this.transcript.reset();
    this.order.reset(this.followed);
    this.cards.reset();
    clear($("follow-alerts"));
    const row = this.board.get(callId);
    $("follow-title").textContent = `${row?.agentId || ""} · ${callId}`;
    $("unfollow").hidden = false;
    document.body.dataset.following = callId;
    this.link.follow(callId);
    this.renderBoard();
  }

  stopFollowing() {
    if (!this.followed) return;
    this.link.unfollow(this.followed.callId);
    this.followed = null;
    this.postcall.reset();
    this.transcript.reset();
    this.order.reset(null);
    this.cards.reset();
    clear($("follow-alerts"));
    $("follow-title").textContent = "未选择通话";
    $("unfollow").hidden = true;
    document.body.dataset.following = "";
    this.renderBoard();
  }

  renderFollowed(change) {
    if (applyViewChange(change, this)) return;
    switch (change.kind) {
      case "alert":
        $("follow-alerts").append(
          el("div", {
            class: `alert-line level-${change.alert.level}`,
            text: alertText(change.alert),
          }),
        );
        break;
      case "info":
        if (this.followed.state === "ended") {
          $("follow-title").textContent = `${this.followed.agentId} · ${this.followed.callId}（已结束）`;
        }
        break;
      default:
    }
  }

  key(ev) {
    if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
    const trs = [...$("board").children];
    if (!trs.length) return;
    const at = trs.indexOf(document.activeElement);
    const next = ev.key === "ArrowDown" ? Math.min(at + 1, trs.length - 1) : Math.max(at - 1, 0);
    trs[next].focus();
    ev.preventDefault();
  }
}

window.jiesu = { link: null, screen: null };

async function main() {
  const screen = new SupervisorScreen();
  window.jiesu.screen = screen;
  await linkScreen("supervisor", screen);
}

main();

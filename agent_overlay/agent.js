// The agent screen (话务员): follows the agent's current call and shows its transcript, work
// order, knowledge cards, alerts, tips and caller details as the events arrive.

import { Protocol } from "./protocol.js";
import { linkScreen } from "./session.js";
import { newCall, applyEvent, applyBoardEntry, openAlerts } from "./callstate.js";
import { TranscriptView, OrderView, CardsView, addTip, alertText, applyViewChange } from "./views.js";
import { el, clear, duration, toast } from "./dom.js";
import { CALL_MODE, CALL_STATE, REFUSAL, label } from "./labels.js";

const $ = (id) => document.getElementById(id);

// Agent edits kept per call in this tab, so a reload never loses them even when the engine
// does not take edits back (docs/screens.md).
const EDITS_KEY = "jiesu.edits.";

class AgentScreen {
  constructor(protocol) {
    this.protocol = protocol;
    this.link = null;
    this.call = null;
    this.dismissed = new Set();
    this.submitted = false;
    this.warnedLocal = new Set();
    this.transcript = new TranscriptView($("transcript"), $("to-latest"));
    this.order = new OrderView($("order"), {
      editable: true,
      transcript: this.transcript,
      onEdit: (name, value) => this.edit(name, value),
    });
    this.cards = new CardsView($("cards"));
    this.order.reset(null);
    $("banner-dismiss").addEventListener("click", () => this.dismissAlert());
    $("submit-order").addEventListener("click", () => this.submit());
    $("dispatch-order").addEventListener("click", () => this.dispatch());
    document.addEventListener("keydown", (ev) => this.key(ev));
    setInterval(() => this.tick(), 1000);
  }

  welcome(welcome) {
    $("agent-id").textContent = `工号 ${welcome.sub}`;
    const live = [...welcome.calls].sort((a, b) => b.started_at - a.started_at);
    if (this.call && live.some((c) => c.call_id === this.call.callId)) return;
    if (live.length) this.switchTo(live[0].call_id, live[0]);
    else if (!this.call) this.showIdle();
  }

  event(event, { followed }) {
    if (!followed) {
      // Board: a new call of this agent replaces a finished (or absent) one.
      // A call handed over to this agent by the voice dialog (call.context) opens the same way.
      const opens = event.type === "call.started" || event.type === "call.context";
      if (opens && this.call?.callId !== event.call_id) {
        if (!this.call || this.call.state === "ended") this.switchTo(event.call_id);
      }
      return;
    }
    if (!this.call || event.call_id !== this.call.callId) return;
    for (const change of applyEvent(this.call, event)) this.render(change);
  }

  control(message) {
    if (message.type === "error" && message.call_id) {
      const following = this.link.follows.get(message.call_id)?.live;
      const what = following ? "引擎未接受此操作（已在本机保留）" : `无法打开通话 ${message.call_id}`;
      toast(`${what}：${label(REFUSAL, message.code)}`, "warn");
    } else if (message.type === "error" && message.code === "bad_message") {
      toast(`引擎拒收了一条消息（${message.reason}）`, "warn");
    }
  }

  switchTo(callId, entry = null) {
    if (this.call) this.link.unfollow(this.call.callId);
    this.call = newCall(callId);
    if (entry) applyBoardEntry(this.call, entry);
    this.dismissed.clear();
    this.submitted = false;
    this.transcript.reset();
    this.order.reset(this.call, this.loadEdits(callId));
    this.cards.reset();
    clear($("tips"));
    $("order-state").textContent = "";
    this.refreshDepartments();
    this.renderInfo();
    this.renderBanner();
    this.renderContext();
    this.link.follow(callId);
    document.body.dataset.call = callId;
  }

  showIdle() {
    $("call-caller").textContent = "等待来电";
    $("call-state").textContent = "";
    document.body.dataset.call = "";
  }

  render(change) {
    if (applyViewChange(change, this)) {
      if (change.kind === "field" && change.field.name === "department") this.refreshDepartments();
      return;
    }
    switch (change.kind) {
      case "alert":
        this.renderBanner();
        break;
      case "tip":
        addTip($("tips"), this.call.tips[this.call.tips.length - 1]);
        break;
      case "status":
        this.renderStatus();
        break;
      case "context":
        this.renderContext();
        break;
      default:
        this.renderInfo();
    }
  }

  // 转接背景: what the caller told the voice dialog before the hand-over.
  renderContext() {
    const context = this.call?.context;
    const panel = $("context-panel");
    panel.hidden = !context;
    if (!context) return;
    $("context-target").textContent = context.target ? `转自 ${context.target}` : "";
    const list = $("context");
    clear(list);
    list.append(
      el("dt", { text: "诉求类型" }),
      el("dd", { text: context.intent || "未识别" }),
      el("dt", { text: "事项" }),
      el("dd", { text: context.topic || "未识别" }),
      el("dt", { text: "来电人原话" }),
      el("dd", { text: context.said || "（无）" }),
    );
  }

  renderInfo() {
    const call = this.call;
    if (!call) return;
    $("call-caller").textContent = call.callerMasked ? `来电 ${call.callerMasked}` : "来电";
    const state = $("call-state");
    state.textContent = label(CALL_STATE, call.state || "talking");
    state.dataset.state = call.state;
    this.tick();
    const history = $("history");
    clear(history);
    history.append(
      el(
        "dl",
        {},
        el("dt", { text: "来电号码" }),
        el("dd", { text: call.callerMasked || "未知" }),
        el("dt", { text: "受理方式" }),
        el("dd", { text: label(CALL_MODE, call.mode) }),
        el("dt", { text: "通话编号" }),
        el("dd", { class: "mono", text: call.callId }),
      ),
      this.historyView(),
    );
  }

  // 诉求人画像: the caller's past tickets (caller.profile), or what is known without it.
  historyView() {
    const p = this.call.profile;
    const repeat = this.call.alerts.find((a) => a.type === "alert.risk" && a.kind === "repeat_caller");
    if (!p || !p.ticket_count) {
      return el("p", { class: "history-none muted", text: repeat ? repeat.reason : "无历史工单记录" });
    }
    const cats = (p.categories || []).map((c) => `${c.value} ${Math.round(c.score)}次`).join("、");
    const when = p.last_at ? new Date(p.last_at).toLocaleDateString("zh-CN") : "";
    return el(
      "div",
      { class: "profile" },
      el("p", { class: "profile-count" }, "历史工单 ", el("b", { text: String(p.ticket_count) }), " 件，未办结 ", el("b", { text: String(p.open_count) }), " 件"),
      cats ? el("p", { class: "muted", text: `常见诉求：${cats}` }) : null,
      p.last_ticket_id
        ? el(
            "p",
            { class: "profile-last" },
            `上次 ${when}：${p.last_category || "未分类"} · ${p.last_status || ""}`,
            p.last_outcome ? el("span", { class: "muted", text: ` — ${p.last_outcome}` }) : null,
            el("span", { class: "mono muted", text: ` (${p.last_ticket_id})` }),
          )
        : null,
    );
  }

  tick() {
    const call = this.call;
    if (!call || !call.startedAt) return;
    const end = call.endedAt || Date.now();
    $("call-timer").textContent = duration(end - call.startedAt);
  }

  // ---- alerts ----

  renderBanner() {
    const open = openAlerts(this.call, this.dismissed);
    const banner = $("banner");
    if (!open.length) {
      banner.hidden = true;
      return;
    }
    const top = open[0];
    banner.hidden = false;
    banner.dataset.level = top.level;
    banner.dataset.seq = String(top.seq);
    $("banner-text").textContent = alertText(top);
    $("banner-more").textContent = open.length > 1 ? `另有 ${open.length - 1} 条告警` : "";
    if (top.type === "alert.risk" && top.kind === "repeat_caller") this.renderInfo();
  }

  dismissAlert() {
    const seq = Number($("banner").dataset.seq);
    if (seq) this.dismissed.add(seq);
    this.renderBanner();
  }

  // ---- actions ----

  loadEdits(callId) {
    try {
      return new Map(JSON.parse(sessionStorage.getItem(EDITS_KEY + callId) || "[]"));
    } catch {
      return new Map();
    }
  }

  edit(name, value) {
    const call = this.call;
    if (!call) return;
    sessionStorage.setItem(EDITS_KEY + call.callId, JSON.stringify([...this.order.locked]));
    this.sendAction("edit", { call_id: call.callId, field: name, name, value }, "修改");
    if (name === "department") this.refreshDepartments();
  }

  sendAction(action, values, what) {
    const message = this.protocol.build(action, values);
    if (message && this.link.send(message)) return true;
    if (!this.warnedLocal.has(action)) {
      this.warnedLocal.add(action);
      toast(`${what}已在本机保存；当前引擎不接收此操作`, "warn");
    }
    return false;
  }

  refreshDepartments() {
    const select = $("dispatch-dept");
    const field = this.call?.fields.get("department");
    const chosen = this.order.locked.get("department") ?? field?.value ?? "";
    const options = [chosen, ...(field?.alternatives || []).map((a) => a.value)];
    clear(select);
    for (const value of [...new Set(options)].filter(Boolean)) {
      const alt = field?.alternatives?.find((a) => a.value === value);
      const text = alt ? `${value}（${Math.round(alt.score * 100)}%）` : value;
      select.append(el("option", { value, text }));
    }
    if (!select.options.length) select.append(el("option", { value: "", text: "待推荐" }));
    select.value = chosen;
  }

  // The engine's ticket.status is the confirmation: the ticket is stored when it arrives.
  renderStatus() {
    const status = this.call?.ticketStatus;
    if (!status) return;
    const what = status.status === "dispatched" ? `已派单：${status.department}` : "已提交";
    $("order-state").textContent = `${what} · 工单 ${status.ticket_id}`;
    $("order-state").dataset.status = status.status;
    this.submitted = true;
  }

  submit() {
    if (!this.call) return;
    const fields = this.order.values();
    const sent = this.sendAction("submit", { call_id: this.call.callId, fields }, "提交");
    this.submitted = true;
    $("order-state").textContent = sent ? "提交中…" : "已提交（本机）";
    if (sent) toast("工单已提交");
  }

  dispatch() {
    if (!this.call) return;
    const department = $("dispatch-dept").value;
    if (!department) {
      toast("请先选择承办单位", "warn");
      return;
    }
    const values = { call_id: this.call.callId, department, value: department };
    const sent = this.sendAction("dispatch", values, "派单");
    $("order-state").textContent = sent ? `派单中…：${department}` : `已派单（本机）：${department}`;
    if (sent) toast(`已派往 ${department}`);
  }

  key(ev) {
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement?.tagName);
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
      const actions = {
        KeyS: () => this.submit(),
        KeyD: () => this.dispatch(),
        KeyO: () => $("order").querySelector("input, textarea")?.focus(),
        Digit1: () => this.cards.copyRecent(1),
        Digit2: () => this.cards.copyRecent(2),
        Digit3: () => this.cards.copyRecent(3),
      };
      const action = actions[ev.code];
      if (action) {
        ev.preventDefault();
        action();
      }
    } else if (ev.key === "Escape" && !$("banner").hidden) {
      this.dismissAlert();
    } else if (ev.key === "End" && !typing) {
      ev.preventDefault();
      this.transcript.scrollToLatest();
    }
  }
}

window.jiesu = { link: null, screen: null };

async function main() {
  const protocol = await Protocol.load();
  const screen = new AgentScreen(protocol);
  window.jiesu.screen = screen;
  window.jiesu.protocol = protocol;
  await linkScreen("agent", screen, { showFailure: true });
}

main();

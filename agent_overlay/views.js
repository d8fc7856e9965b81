// The parts of a call's view that both screens show: transcript, work order, knowledge cards,
// tips. Each keeps one DOM node per line/field/card and updates it in place.

import { el, clear, highlighted, copyText, toast } from "./dom.js";
import {
  ALERT_LEVEL,
  EMOTION,
  LEG,
  LONG_FIELDS,
  ORDER_FIELDS,
  codedValue,
  fieldLabel,
  shownValue,
  RISK_KIND,
  label,
} from "./labels.js";
import { sourceQuote } from "./callstate.js";

// ---- transcript -------------------------------------------------------------------------

// Auto-scrolls while the reader is at the bottom; once they scroll up it stops and offers a
// "new lines" button instead.
export class TranscriptView {
  constructor(root, toLatest) {
    this.root = root;
    this.toLatest = toLatest;
    this.nodes = new Map(); // utterance_id -> {node, line}
    this.follow = true;
    root.addEventListener("scroll", () => {
      this.follow = this.atBottom();
      if (this.follow && toLatest) toLatest.hidden = true;
    });
    toLatest?.addEventListener("click", () => this.scrollToLatest());
  }

  reset() {
    this.nodes.clear();
    clear(this.root);
    this.follow = true;
    if (this.toLatest) this.toLatest.hidden = true;
  }

  atBottom() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 24;
  }

  scrollToLatest() {
    this.root.scrollTop = this.root.scrollHeight;
    this.follow = true;
    if (this.toLatest) this.toLatest.hidden = true;
  }

  line(line) {
    // Measured now, not taken from the last scroll event, which may not have fired yet.
    const follow = this.follow && this.atBottom();
    let entry = this.nodes.get(line.id);
    if (!entry) {
      const node = el(
        "div",
        { class: `line leg-${line.leg}`, dataset: { utt: line.id, leg: line.leg } },
        el("span", { class: "who", text: label(LEG, line.leg) }),
        el("span", { class: "text" }),
      );
      entry = { node, line };
      this.nodes.set(line.id, entry);
      this.insertInOrder(node, line);
    }
    entry.line = line;
    this.paint(entry.node, line);
    if (follow) this.root.scrollTop = this.root.scrollHeight;
    else if (this.toLatest) this.toLatest.hidden = false;
  }

  insertInOrder(node, line) {
    // Lines are in speaking order; a line almost always goes last.
    let before = null;
    for (const other of [...this.nodes.values()].reverse()) {
      if (other.node === node || !other.node.isConnected) continue;
      if (other.line.tStart > line.tStart) before = other.node;
      else break;
    }
    this.root.insertBefore(node, before);
  }

  paint(node, line, mark = null) {
    node.classList.toggle("partial", !line.final);
    node.classList.toggle("final", line.final);
    node.dataset.seq = String(line.seq);
    const text = node.querySelector(".text");
    clear(text);
    if (mark) {
      text.append(
        line.text.slice(0, mark[0]),
        el("mark", { class: "source", text: line.text.slice(mark[0], mark[1]) }),
        line.text.slice(mark[1]),
      );
    } else if (line.final) {
      text.textContent = line.text;
    } else {
      // The confirmed prefix reads normally; the rest may still change.
      text.append(
        line.text.slice(0, line.stable),
        el("span", { class: "unstable", text: line.text.slice(line.stable) }),
      );
    }
  }

  // Mark characters [start, end) of an utterance (a field's source), or clear the mark.
  highlight(utteranceId, start, end) {
    for (const { node, line } of this.nodes.values()) {
      const on = line.id === utteranceId;
      node.classList.toggle("source-line", on);
      this.paint(node, line, on ? [start, end] : null);
      if (on) node.scrollIntoView({ block: "nearest" });
    }
  }

  texts() {
    return [...this.root.querySelectorAll(".line")].map((n) => n.textContent);
  }
}

// ---- work order -------------------------------------------------------------------------

// A field the agent edited is locked: the engine's later proposals for it are shown beside
// it, never written into it. A field being typed in is not overwritten either; the proposal
// lands when the agent leaves the field without changing it.
export class OrderView {
  constructor(form, { editable, onEdit, transcript }) {
    this.form = form;
    this.editable = editable;
    this.onEdit = onEdit;
    this.transcript = transcript;
    this.rows = new Map(); // name -> {row, input, conf, lock, hint, field}
    this.locked = new Map(); // name -> value the agent set
    this.call = null;
    form.addEventListener("submit", (ev) => ev.preventDefault());
  }

  reset(call, locked = new Map()) {
    this.call = call;
    this.rows.clear();
    this.locked = new Map(locked);
    clear(this.form);
    for (const [name, text] of ORDER_FIELDS) this.row(name, text);
    for (const [name, value] of this.locked) this.showLocked(name, value);
  }

  row(name, text = name) {
    let entry = this.rows.get(name);
    if (entry) return entry;
    const id = `field-${name.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
    const input = LONG_FIELDS.has(name)
      ? el("textarea", { id, name, rows: 2 })
      : el("input", { id, name, type: "text" });
    input.readOnly = !this.editable;
    input.placeholder = this.editable ? "待识别" : "";
    const conf = el("span", { class: "conf", "aria-hidden": "true" });
    const lock = el("span", { class: "lock", title: "已由话务员修改并锁定", text: "已锁定" });
    lock.hidden = true;
    const hint = el("div", { class: "hint muted" });
    hint.hidden = true;
    const row = el(
      "div",
      { class: "field unfilled", dataset: { field: name } },
      el("label", { for: id }, text, conf, lock),
      input,
      hint,
    );
    this.form.append(row);
    entry = { row, input, conf, lock, hint, field: null, pending: null };
    this.rows.set(name, entry);
    if (this.editable) {
      input.addEventListener("change", () => this.edited(name, input.value));
      input.addEventListener("blur", () => {
        // A proposal that arrived while the agent was in the field, which they left as it was.
        if (entry.pending && !this.locked.has(name)) this.fill(entry, entry.pending);
        entry.pending = null;
      });
    }
    row.addEventListener("mouseenter", () => this.showSource(entry, true));
    row.addEventListener("mouseleave", () => this.showSource(entry, false));
    return entry;
  }

  field(field) {
    const entry = this.row(field.name, fieldLabel(field.name));
    entry.field = field;
    if (field.origin === "agent") {
      // The engine confirms an agent's edit (possibly from another screen or before a reload).
      this.locked.set(field.name, field.value);
      this.showLocked(field.name, field.value);
      return;
    }
    if (this.locked.has(field.name)) {
      if (field.value !== this.locked.get(field.name)) {
        entry.hint.hidden = false;
        entry.hint.textContent = `引擎识别为：${field.value}（已锁定，未覆盖）`;
      }
      return;
    }
    if (document.activeElement === entry.input) {
      entry.pending = field;
      return;
    }
    this.fill(entry, field);
  }

  fill(entry, field) {
    entry.input.value = shownValue(field.name, field.value);
    entry.row.classList.remove("unfilled");
    entry.row.classList.add("filled");
    const c = Math.max(0, Math.min(1, field.confidence));
    entry.conf.textContent = `${Math.round(c * 100)}%`;
    entry.conf.dataset.level = c >= 0.8 ? "high" : c >= 0.5 ? "mid" : "low";
    const quote = this.call ? sourceQuote(this.call, field) : "";
    entry.row.title = quote
      ? `来源：「${quote}」 · 置信度 ${Math.round(c * 100)}%`
      : `置信度 ${Math.round(c * 100)}%`;
    entry.row.classList.add("fresh");
    setTimeout(() => entry.row.classList.remove("fresh"), 1200);
  }

  showLocked(name, value) {
    const entry = this.row(name, fieldLabel(name));
    entry.input.value = shownValue(name, value);
    entry.lock.hidden = false;
    entry.row.classList.add("locked", "filled");
    entry.row.classList.remove("unfilled");
    entry.conf.textContent = "";
    entry.row.dataset.locked = "true";
  }

  edited(name, shown) {
    const value = codedValue(name, shown);
    this.locked.set(name, value);
    this.showLocked(name, value);
    this.rows.get(name).hint.hidden = true;
    this.onEdit?.(name, value);
  }

  showSource(entry, on) {
    const src = entry.field?.source;
    if (!src || !this.transcript) return;
    if (on) this.transcript.highlight(src.utterance_id, src.char_start, src.char_end);
    else this.transcript.highlight(null, 0, 0);
  }

  values() {
    const out = {};
    for (const [name, entry] of this.rows) {
      if (entry.input.value) out[name] = codedValue(name, entry.input.value);
    }
    return out;
  }
}

// ---- knowledge cards --------------------------------------------------------------------

// Retrieval scores are fused z-scores (engine/assist/knowledge/retriever.py), not
// probabilities: the agent gets a coarse word. A calming script carries the alert's score.
function matchText(card) {
  if (String(card.id).startsWith("calming.")) return "安抚话术";
  return card.score >= 4 ? "高度相关" : card.score >= 2.5 ? "相关" : "可能相关";
}

// A card keeps its place: new cards go after the others, an updated card changes in place.
export class CardsView {
  constructor(root, { shortcuts = true } = {}) {
    this.root = root;
    this.shortcuts = shortcuts;
    this.nodes = new Map();
    this.order = [];
  }

  reset() {
    this.nodes.clear();
    this.order = [];
    clear(this.root);
    this.root.append(el("p", { class: "empty muted", text: "暂无推荐。" }));
  }

  card(card) {
    let node = this.nodes.get(card.id);
    if (!node) {
      this.root.querySelector(".empty")?.remove();
      node = el("article", { class: "card", dataset: { entry: card.id } });
      this.nodes.set(card.id, node);
      this.order.push(card.id);
      this.root.append(node);
    }
    clear(node);
    const copy = el("button", {
      type: "button",
      class: "copy",
      text: "复制口径",
      title: "复制答复口径",
      onclick: () => this.copy(card.id),
    });
    node.append(
      highlighted(el("h3", { class: "card-title" }), card.title, card.keywords),
      highlighted(el("p", { class: "answer" }), card.answer, card.keywords),
      el(
        "div",
        { class: "card-meta" },
        el("span", { class: "entry muted", text: `条目 ${card.id} · 版本 ${card.version}` }),
        el("span", { class: "score muted", text: matchText(card), title: `score ${card.score}` }),
        el("kbd", { class: "key" }),
        copy,
      ),
    );
    node.answerText = card.answer;
    this.badges();
  }

  // Alt+1 is the newest card, Alt+2 the one before, Alt+3 the one before that.
  badges() {
    const recent = this.order.slice(-3).reverse();
    for (const [id, node] of this.nodes) {
      const key = node.querySelector(".key");
      const at = recent.indexOf(id);
      key.textContent = this.shortcuts && at >= 0 ? `Alt+${at + 1}` : "";
      key.hidden = !key.textContent;
    }
  }

  async copy(id) {
    const node = this.nodes.get(id);
    if (!node) return;
    const ok = await copyText(node.answerText);
    node.classList.toggle("copied", ok);
    toast(ok ? "已复制答复口径" : "复制失败，请手动选择文字", ok ? "info" : "warn");
  }

  copyRecent(n) {
    const id = this.order[this.order.length - n];
    if (id) this.copy(id);
  }
}

// ---- tips -------------------------------------------------------------------------------

/** Apply a line, field or card change to ``views`` (its transcript, order, cards); false otherwise. */
export function applyViewChange(change, views) {
  if (change.kind === "line") views.transcript.line(change.line);
  else if (change.kind === "field") views.order.field(change.field);
  else if (change.kind === "card") views.cards.card(change.card);
  else return false;
  return true;
}

export function addTip(list, tip) {
  list.append(el("li", { class: "tip", dataset: { tip: tip.id }, text: tip.text }));
  while (list.children.length > 5) list.firstChild.remove();
}

// ---- alerts -----------------------------------------------------------------------------

export function alertText(alert) {
  const level = label(ALERT_LEVEL, alert.level);
  if (alert.type === "alert.emotion") {
    const who = label(LEG, alert.leg);
    const emotion = label(EMOTION, alert.emotion);
    return `【${level}】${who}情绪：${emotion}（${Math.round(alert.score * 100)}%）— ${alert.reason}`;
  }
  const quote = alert.quote ? `「${alert.quote}」` : "";
  return `【${level}】${label(RISK_KIND, alert.kind)} — ${alert.reason}${quote}`;
}

// Post-call QA (全量质检) and summary on the supervisor screen: the followed call's score, the
// items it failed with their evidence lines, and the summary; plus the recently ended calls,
// so a call can be reviewed after it has left the live board. Engine text only ever goes in
// through textContent (el()).

import { el, clear, duration } from "./dom.js";
import { LEG, label, shownValue } from "./labels.js";

const RECENT_KEPT = 10;

export class PostcallView {
  // The view is inserted after `anchor` (the followed call's alert lines).
  constructor(anchor) {
    this.node = el("section", { id: "postcall", class: "postcall", hidden: true, "aria-label": "质检与小结" });
    anchor.after(this.node);
    this.qa = null;
    this.summary = null;
  }

  reset() {
    this.qa = null;
    this.summary = null;
    this.render();
  }

  // A later result of the same call (rescored once its work order was complete) replaces it.
  event(event) {
    if (event.type === "qa.result") this.qa = event.payload;
    else if (event.type === "call.summary") this.summary = event.payload;
    else return false;
    this.render();
    return true;
  }

  render() {
    clear(this.node);
    this.node.hidden = !this.qa && !this.summary;
    // Score first, then the summary, then the failed items (the longest part).
    const [head, failed] = this.qa ? this.renderQa(this.qa) : [null, null];
    if (head) this.node.append(head);
    if (this.summary) this.node.append(this.renderSummary(this.summary));
    if (failed) this.node.append(failed);
  }

  renderQa(qa) {
    const failed = qa.items.filter((i) => i.applicable && !i.passed);
    const passed = qa.items.filter((i) => i.applicable && i.passed);
    const head = el(
      "div",
      { class: "qa-head" },
      el("span", { text: "质检 " }),
      el("b", { id: "qa-score", text: qa.score.toFixed(1) }),
      el("span", { text: " 分 " }),
      el("span", {
        id: "qa-verdict",
        class: `qa-verdict ${qa.passed ? "pass" : "fail"}`,
        text: qa.passed ? "合格" : "不合格",
      }),
      el("span", { class: "muted", text: ` · 通过 ${passed.length} 项 · 未通过 ${failed.length} 项 · ${qa.rubric}` }),
    );
    const list = el("ul", { id: "qa-failed", class: "qa-failed" });
    for (const item of failed) {
      const evidence = el("div", { class: "evidence" });
      for (const line of item.evidence) {
        evidence.append(
          el(
            "div",
            { class: `evidence-line leg-${line.leg}` },
            el("span", { class: "who", text: label(LEG, line.leg) }),
            el("span", { class: "mono t", text: duration(line.t_start) }),
            el("span", { class: "said", text: line.text }),
          ),
        );
      }
      list.append(
        el(
          "li",
          { class: "qa-item", dataset: { item: item.item_id } },
          el("span", { class: "name", text: item.name }),
          el("span", { class: "pts mono", text: `${item.score}/${item.weight}` }),
          el("span", { class: "reason", text: item.reason }),
          item.evidence.length ? evidence : null,
        ),
      );
    }
    return [head, list];
  }

  renderSummary(s) {
    const fields = el("dl", { class: "summary-fields" });
    for (const f of s.fields) fields.append(el("dt", { text: f.label }), el("dd", { text: shownValue(f.name, f.value) }));
    return el(
      "div",
      { id: "call-summary", class: "call-summary" },
      el("div", { class: "summary-request" }, el("b", { text: "诉求 " }), s.request),
      el("div", { class: "summary-handling" }, el("b", { text: "处理 " }), s.handling),
      s.alerts.length ? el("div", { class: "summary-alerts muted", text: `告警：${s.alerts.join("；")}` }) : null,
      s.fields.length ? fields : null,
    );
  }
}

// The last calls that ended since the page opened; a click (or Enter) follows one for review.
export class RecentCalls {
  constructor(anchor, onPick) {
    this.onPick = onPick;
    this.calls = [];
    this.node = el("div", { id: "recent", class: "recent", hidden: true });
    anchor.after(this.node);
  }

  ended(callId, agentId, tWall) {
    this.calls = [{ callId, agentId, tWall }, ...this.calls.filter((c) => c.callId !== callId)];
    this.calls = this.calls.slice(0, RECENT_KEPT);
    this.render();
  }

  render() {
    clear(this.node);
    this.node.hidden = !this.calls.length;
    this.node.append(el("h3", { text: "最近结束 · 点击查看质检与小结" }));
    for (const c of this.calls) {
      const at = new Date(c.tWall).toLocaleTimeString("zh-CN", { hour12: false });
      this.node.append(
        el("button", {
          type: "button",
          class: "recent-call",
          dataset: { call: c.callId },
          text: `${c.agentId || "—"} · ${at}`,
          title: c.callId,
          onclick: () => this.onPick(c.callId),
        }),
      );
    }
  }
}

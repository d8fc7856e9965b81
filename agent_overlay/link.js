// The screen's websocket link to the gateway (docs/screen-protocol.md).
//
// - The token goes in the first message (hello), never in the URL.
// - For every followed call the link remembers the last seq it delivered. After a reconnect it
//   follows again with that seq, and drops anything at or below it: the page sees every event
//   once, in order (partials superseded in a slow queue are the only gaps the gateway makes).
// - Events of a followed call that arrive before its `following` answer are board events sent
//   ahead of the follow stream, which resends them in order: they go to the board only.
// - It reconnects by itself with a growing, jittered delay, except when the gateway refused the
//   token (4401) or the client's messages (4400): those need a person.

const CLOSE_BAD_MESSAGES = 4400;
const CLOSE_AUTH_FAILED = 4401;
const CLOSE_RESYNC = 4408;
const BACKOFF_MS = [300, 700, 1500, 3000, 5000];

export class ScreenLink {
  // handlers: onState(state, detail), onWelcome(welcome), onEvent(event, {followed}),
  // onControl(message) for following/unfollowed/errors about a call.
  constructor({ url, token, handlers, protocol = 1 }) {
    this.url = url;
    this.token = token;
    this.protocol = protocol;
    this.handlers = handlers;
    this.ws = null;
    this.state = "idle";
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
    this.lastError = null;
    // call_id -> {lastSeq, live}; live once `following` arrived on the current connection.
    this.follows = new Map();
    this.stats = { duplicates: 0, reconnects: 0, events: 0, delivered: {}, errors: {} };
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }

  follow(callId) {
    if (this.follows.has(callId)) return;
    this.follows.set(callId, { lastSeq: 0, live: false });
    if (this.state === "open") this.send({ type: "follow", call_id: callId, after_seq: 0 });
  }

  unfollow(callId) {
    if (!this.follows.delete(callId)) return;
    if (this.state === "open") this.send({ type: "unfollow", call_id: callId });
  }

  lastSeq(callId) {
    const entry = this.follows.get(callId);
    return entry ? entry.lastSeq : 0;
  }

  // Send a message now; false when not connected (the caller decides what to keep).
  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || this.state !== "open") return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  setState(state, detail = null) {
    this.state = state;
    this.handlers.onState?.(state, detail);
  }

  connect() {
    clearTimeout(this.timer);
    this.lastError = null;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.setState("failed", String(err));
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "hello", protocol: this.protocol, token: this.token }));
    });
    ws.addEventListener("message", (msg) => {
      if (ws === this.ws) this.receive(msg.data);
    });
    ws.addEventListener("close", (ev) => {
      if (ws === this.ws) this.closed(ev.code);
    });
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (!message || typeof message !== "object") return;
    if ("seq" in message && "call_id" in message && "payload" in message) {
      this.event(message);
      return;
    }
    switch (message.type) {
      case "welcome":
        this.attempt = 0;
        this.setState("open");
        // Resume first; follows the welcome handler adds are sent by follow() itself.
        for (const [callId, entry] of this.follows) {
          entry.live = false;
          this.send({ type: "follow", call_id: callId, after_seq: entry.lastSeq });
        }
        this.handlers.onWelcome?.(message);
        break;
      case "following": {
        const entry = this.follows.get(message.call_id);
        if (entry) entry.live = true;
        this.handlers.onControl?.(message);
        break;
      }
      case "error": {
        this.lastError = message;
        this.stats.errors[message.code] = (this.stats.errors[message.code] || 0) + 1;
        // A refused follow ends that follow; errors about other requests on a call whose
        // follow is live (an edit, say) do not.
        const entry = message.call_id ? this.follows.get(message.call_id) : null;
        if (entry && !entry.live && message.code !== "already_following") {
          this.follows.delete(message.call_id);
        }
        this.handlers.onControl?.(message);
        break;
      }
      default:
        this.handlers.onControl?.(message);
    }
  }

  event(event) {
    const entry = this.follows.get(event.call_id);
    if (!entry || !entry.live) {
      this.handlers.onEvent?.(event, { followed: false });
      return;
    }
    if (event.seq <= entry.lastSeq) {
      this.stats.duplicates += 1;
      return;
    }
    entry.lastSeq = event.seq;
    this.stats.events += 1;
    // Delivered seqs per call (bounded), so a test or a person can check for gaps and repeats.
    const seqs = this.stats.delivered[event.call_id] || (this.stats.delivered[event.call_id] = []);
    seqs.push(event.seq);
    if (seqs.length > 20000) seqs.splice(0, seqs.length - 20000);
    this.handlers.onEvent?.(event, { followed: true });
  }

  closed(code) {
    this.ws = null;
    if (this.stopped) {
      this.setState("idle");
      return;
    }
    const error = this.lastError;
    if (code === CLOSE_AUTH_FAILED || error?.code === "auth_failed") {
      this.setState("auth_failed", error?.reason || "expired");
      return;
    }
    if (code === CLOSE_BAD_MESSAGES) {
      this.setState("failed", error?.reason || "bad_message");
      return;
    }
    // 4408 (resync) and 1001 (gateway restarting) come back quickly; the rest back off.
    const delay =
      code === CLOSE_RESYNC
        ? 100
        : BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)] * (0.75 + Math.random() / 2);
    this.attempt += 1;
    this.stats.reconnects += 1;
    this.setState("reconnecting");
    this.timer = setTimeout(() => this.connect(), delay);
  }
}

// The gateway's websocket address, on the host and port that served the page.
export function screenUrl(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/screen`;
}

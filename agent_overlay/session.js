// Sign-in: where a screen's token comes from and how refusals are shown.
//
// The token is kept in sessionStorage (this tab only, gone when it closes). A link may carry it
// in the fragment (#token=...), which browsers never send to a server; the page moves it to
// sessionStorage and removes it from the address bar and history at once. Otherwise the
// sign-in form asks for it (`jiesu token --sub agent-7 --role agent` prints one).

import { el, clear } from "./dom.js";
import { AUTH_REASON, LINK_STATE, label } from "./labels.js";
import { ScreenLink, screenUrl } from "./link.js";

const KEY_PREFIX = "jiesu.token.";

export function takeToken(role) {
  const key = KEY_PREFIX + role;
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const fromLink = fragment.get("token");
  if (fromLink) {
    sessionStorage.setItem(key, fromLink.trim());
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(key);
}

export function forgetToken(role) {
  sessionStorage.removeItem(KEY_PREFIX + role);
}

// Show the sign-in card over the page; `problem` explains a refusal. Resolves with the token.
export function askToken(role, problem = "") {
  return new Promise((resolve) => {
    const host = document.getElementById("signin");
    clear(host);
    const input = el("textarea", {
      id: "token-input",
      rows: 3,
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "粘贴访问令牌",
      "aria-label": "访问令牌",
    });
    const submit = (ev) => {
      ev?.preventDefault();
      const token = input.value.trim();
      if (!token) {
        input.focus();
        return;
      }
      sessionStorage.setItem(KEY_PREFIX + role, token);
      host.hidden = true;
      resolve(token);
    };
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey) submit(ev);
    });
    const who = role === "supervisor" ? "班长/质检" : "话务员";
    host.append(
      el(
        "form",
        { class: "signin-card", onsubmit: submit },
        el("h2", { text: `接诉 · ${who}登录` }),
        problem ? el("p", { class: "signin-problem", role: "alert", text: problem }) : null,
        el("label", { for: "token-input", text: "访问令牌" }),
        input,
        el(
          "p",
          { class: "signin-hint" },
          "令牌由管理员发放（",
          el("code", { text: `jiesu token --sub 工号 --role ${role}` }),
          "），仅保存在本标签页。",
        ),
        el("button", { type: "submit", id: "signin-button", text: "登录" }),
      ),
    );
    host.hidden = false;
    input.focus();
  });
}

export function refusalText(reason) {
  return `登录失败：${label(AUTH_REASON, reason)}。请重新输入令牌。`;
}

// Sign a screen in as `role` and keep it linked: the token it has (or asks for), the link's
// state in #link-state, and a fresh sign-in when the gateway refuses the token. The screen's
// welcome/event/control methods handle the link; `screen.link` (and window.jiesu.link, for
// tests) is the current one. `showFailure` adds the reason to a failed link's state.
export async function linkScreen(role, screen, { showFailure = false } = {}) {
  const showState = (state, detail) => {
    const node = document.getElementById("link-state");
    node.dataset.state = state;
    node.textContent = label(LINK_STATE, state);
    if (state === "auth_failed") {
      forgetToken(role);
      askToken(role, refusalText(detail)).then(connect);
    } else if (state === "failed" && showFailure) {
      node.textContent = `${label(LINK_STATE, state)}（${detail}）`;
    }
  };
  const connect = (token) => {
    screen.link?.stop();
    screen.link = new ScreenLink({
      url: screenUrl(),
      token,
      handlers: {
        onState: showState,
        onWelcome: (welcome) => screen.welcome(welcome),
        onEvent: (event, how) => screen.event(event, how),
        onControl: (message) => screen.control(message),
      },
    });
    window.jiesu.link = screen.link;
    screen.link.start();
  };
  connect(takeToken(role) || (await askToken(role)));
}

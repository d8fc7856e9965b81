// Small DOM helpers. Text from the engine only ever goes in through textContent, never as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

// Fill `node` with `text`, wrapping every occurrence of a keyword in <mark>. Longer keywords
// win where two overlap.
export function highlighted(node, text, keywords) {
  clear(node);
  const words = [...new Set(keywords.filter((k) => k && k.length))].sort(
    (a, b) => b.length - a.length,
  );
  if (!words.length) {
    node.textContent = text;
    return node;
  }
  const marked = new Array(text.length).fill(false);
  for (const word of words) {
    let at = text.indexOf(word);
    while (at >= 0) {
      if (!marked.slice(at, at + word.length).some(Boolean)) {
        marked.fill(true, at, at + word.length);
      }
      at = text.indexOf(word, at + word.length);
    }
  }
  let start = 0;
  while (start < text.length) {
    let end = start;
    while (end < text.length && marked[end] === marked[start]) end += 1;
    const piece = text.slice(start, end);
    node.append(marked[start] ? el("mark", { text: piece }) : document.createTextNode(piece));
    start = end;
  }
  return node;
}

// "mm:ss", or "h:mm:ss" past an hour.
export function duration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, "0");
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (or not a secure context): the old way still works on a click.
    const area = el("textarea", { class: "offscreen" });
    area.value = text;
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

// A short-lived message at the bottom of the screen.
export function toast(message, kind = "info") {
  let host = document.getElementById("toasts");
  if (!host) {
    host = el("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(host);
  }
  const item = el("div", { class: `toast toast-${kind}`, text: message });
  host.append(item);
  setTimeout(() => item.remove(), 3500);
}

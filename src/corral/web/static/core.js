// The UI's ground floor: DOM helpers, the API client and the signed-in session. Every value from
// the server is put on the page with textContent (never innerHTML), and the token lives only in
// this tab's sessionStorage and the Authorization header of each request.

export const TOKEN_KEY = "corral.token";
export const IN_PROGRESS = /_IN_PROGRESS$/;
export const session = { me: null, onUnauthorized: () => {} };
let timers = [];

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
export const $ = (id) => document.getElementById(id);
export const enc = encodeURIComponent;

/** A status as a coloured badge: busy (in progress), bad (failed), good (complete/running), idle. */
export function statusBadge(status) {
  const s = String(status || "UNKNOWN");
  const kind = IN_PROGRESS.test(s) || /REQUESTED|STARTING|STOPPING|PENDING/.test(s) ? "busy"
    : /FAILED|PROTECTED|ERROR|INVALID/.test(s) ? "bad" : /COMPLETE|RUNNING|AVAILABLE|ACTIVE/.test(s) ? "good" : "idle";
  return el("span", { class: `badge ${kind}`, text: s });
}
export function table(headers, rows, caption) {
  return el("table", {}, caption ? el("caption", { class: "sr-only", text: caption }) : null,
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}
export function errorBox(where, err) {
  where.replaceChildren(el("p", { class: "error", role: "alert", text: err.message || String(err) }));
}
/** A read-only text view of a file (a config), numbered, scrollable and reachable by keyboard. */
export function codeView(id, label, text) {
  const lines = String(text).split("\n");
  if (lines.length > 1 && lines[lines.length - 1] === "") lines.pop();
  return el("div", { class: "code readonly" },
    el("pre", { class: "gutter", "aria-hidden": "true", text: lines.map((_, i) => String(i + 1)).join("\n") }),
    el("pre", { id, class: "source", tabindex: 0, role: "region", "aria-label": label, text: lines.join("\n") }));
}
export function every(ms, fn) { fn(); timers.push(setInterval(fn, ms)); }
export function clearTimers() { timers.forEach(clearInterval); timers = []; }
export function shown(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}
/** One request to the server with the tab's token; a 412 (a dry run's answer) is not an error. */
export async function api(method, path, { params, body } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of [].concat(v)) url.searchParams.append(k, one);
  }
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const answer = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit", cache: "no-store" });
  const text = await answer.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { doc = { message: text }; }
  if (answer.status === 401) {
    session.onUnauthorized("Your token was refused: sign in again.");
    throw new ApiError(401, doc);
  }
  if (!answer.ok && answer.status !== 412) throw new ApiError(answer.status, doc);
  return { status: answer.status, doc };
}

/** Findings of a validation (pcluster's validationMessages, with Corral's line/column) as a list
 * whose entries move the caret to their line of ``area``. */
export function findingsList(list, area, items, headline) {
  list.replaceChildren(el("li", { class: "headline", text: headline }), ...items.map((f) => el("li",
    { class: `finding ${String(f.level).toLowerCase()}` },
    el("a", { href: "#", "data-line": f.line || "", onclick: (e) => { e.preventDefault(); goToLine(area, f.line); },
      text: f.line ? `line ${f.line}${f.column ? `:${f.column}` : ""}` : "—" }),
    ` ${f.level}: `, el("span", { class: "message", text: f.message }))));
}
export function goToLine(area, line) {
  if (!line) return;
  const lines = area.value.split("\n");
  const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
}
/** A YAML editor: a numbered gutter beside a textarea labelled ``label``. */
export function yamlEditor(id, label) {
  const text = el("textarea", { id, spellcheck: "false", rows: 24, "aria-describedby": "findings" });
  const gutter = el("pre", { class: "gutter", "aria-hidden": "true" });
  const number = () => {
    gutter.textContent = Array.from({ length: text.value.split("\n").length }, (_, i) => String(i + 1)).join("\n");
  };
  text.addEventListener("input", number);
  return { text, number, nodes: [el("label", { for: id, text: label }), el("div", { class: "code" }, gutter, text)] };
}

// Log streams and the log viewer (paging, time bounds, a filter, following the tail live), for a
// cluster's streams (/v3/clusters/{name}/logstreams) and an image build's (/v3/images/custom/{id}/...).
import { api, el, enc, errorBox, every } from "./core.js";

export function logsView(view, name, stream) {
  const list = el("div");
  view.replaceChildren(el("h1", {}, "Logs of ", el("a", { href: `#/cluster/${enc(name)}`, text: name })), list);
  const base = `/v3/clusters/${enc(name)}/logstreams`;
  streamList(list, base, (s) => `#/logs/${enc(name)}/${enc(s)}`, stream);
}

/** The streams under ``base`` as links (``link(streamName)``), then the viewer of ``stream`` if given. */
export function streamList(box, base, link, stream) {
  return api("GET", base).then(({ doc }) => {
    box.replaceChildren(doc.logStreams.length === 0 ? el("p", { text: "No log streams yet." })
      : el("ul", { class: "streams", "aria-label": "Log streams" }, doc.logStreams.map((s) => el("li", {},
        el("a", { href: link(s.logStreamName), "aria-current": s.logStreamName === stream ? "page" : null,
          text: s.logStreamName }), ` ${s.lastEventTimestamp || ""}`))));
    if (stream) box.append(logViewer(`${base}/${enc(stream)}`, stream));
  }).catch((err) => errorBox(box, err));
}

export function logViewer(path, stream) {
  const start = el("input", { id: "log-start", type: "text", placeholder: "2026-01-01T00:00:00Z" });
  const end = el("input", { id: "log-end", type: "text", placeholder: "2026-01-02T00:00:00Z" });
  const filter = el("input", { id: "log-filter", type: "search" });
  const limit = el("input", { id: "log-limit", type: "number", value: 200, min: 1 });
  const fromHead = el("input", { id: "log-head", type: "checkbox" });
  const follow = el("input", { id: "log-follow", type: "checkbox" });
  const lines = el("pre", { id: "log-lines", class: "log", tabindex: 0, role: "region", "aria-label": `Lines of ${stream}` });
  const pager = el("div", { class: "pager" });
  const msg = el("p", { role: "alert" });
  let events = [];
  let token = null;
  const render = () => {
    const needle = filter.value;
    lines.textContent = events.filter((e) => !needle || e.message.includes(needle))
      .map((e) => `${e.timestamp}  ${e.message}`).join("\n");
  };
  const load = async (pageToken) => {
    try {
      const { doc } = await api("GET", path, { params: {
        startTime: start.value, endTime: end.value, limit: limit.value, startFromHead: fromHead.checked ? "true" : "",
        nextToken: pageToken } });
      events = doc.events; token = doc; msg.textContent = ""; render();
      pager.replaceChildren(
        el("button", { type: "button", text: "Older", disabled: !doc.prevToken, onclick: () => load(token.prevToken) }),
        el("button", { type: "button", text: "Newer", disabled: !doc.nextToken, onclick: () => load(token.nextToken) }));
      if (follow.checked) lines.scrollTop = lines.scrollHeight;
    } catch (err) { errorBox(msg, err); }
  };
  filter.addEventListener("input", render);
  const form = el("form", { class: "log-controls", onsubmit: (e) => { e.preventDefault(); load(); } },
    el("label", { for: "log-start", text: "From" }), start, el("label", { for: "log-end", text: "To" }), end,
    el("label", { for: "log-limit", text: "Lines" }), limit,
    el("label", { for: "log-head" }, fromHead, " oldest first"),
    el("label", { for: "log-follow" }, follow, " follow"),
    el("label", { for: "log-filter", text: "Filter" }), filter, el("button", { type: "submit", text: "Show" }));
  every(2000, () => { if (follow.checked) load(); });
  load();
  return el("section", { class: "viewer", "aria-label": `Log stream ${stream}` }, el("h2", { text: stream }), form, msg, pager, lines);
}

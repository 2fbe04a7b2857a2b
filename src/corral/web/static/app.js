// Corral's web UI: plain JavaScript, no build step, no outside asset. Every value from the
// server is put on the page with textContent (never innerHTML), and the token lives only in
// this tab's sessionStorage and the Authorization header of each request.
"use strict";

const TOKEN_KEY = "corral.token";
const IN_PROGRESS = /_IN_PROGRESS$/;
const FINAL_JOB = /^(COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)/;
let timers = [];
let me = null;

// ---- tiny DOM helpers ------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "text") node.textContent = String(value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const $ = (id) => document.getElementById(id);
function statusBadge(status) {
  const s = String(status || "UNKNOWN");
  const kind = IN_PROGRESS.test(s) || /REQUESTED|STARTING|STOPPING/.test(s) ? "busy"
    : /FAILED|PROTECTED/.test(s) ? "bad" : /COMPLETE|RUNNING/.test(s) ? "good" : "idle";
  return el("span", { class: `badge ${kind}`, text: s });
}
function table(headers, rows) {
  return el("table", {},
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));
}
function errorBox(where, err) {
  where.replaceChildren(el("p", { class: "error", role: "alert", text: err.message || String(err) }));
}
function every(ms, fn) { fn(); timers.push(setInterval(fn, ms)); }
function clearTimers() { timers.forEach(clearInterval); timers = []; }

// ---- the API ------------------------------------------------------------------------------
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}
async function api(method, path, { params, body } = {}) {
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
  if (answer.status === 401) { signOut("Your token was refused: sign in again."); throw new ApiError(401, doc); }
  if (!answer.ok && answer.status !== 412) throw new ApiError(answer.status, doc);
  return { status: answer.status, doc };
}
const enc = encodeURIComponent;

// ---- sign in --------------------------------------------------------------------------------
async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    me = (await api("GET", "/corral/v1/whoami")).doc;
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw err;
  }
}
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  clearTimers();
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

// ---- views ----------------------------------------------------------------------------------
function clustersView(view) {
  const body = el("div", { "aria-live": "polite" });
  view.replaceChildren(el("h1", { text: "Clusters" }), el("p", { class: "counts", id: "counts" }), body);
  every(3000, async () => {
    try {
      const { doc } = await api("GET", "/v3/clusters");
      const counts = {};
      for (const c of doc.clusters) counts[c.clusterStatus] = (counts[c.clusterStatus] || 0) + 1;
      $("counts") && $("counts").replaceChildren(
        ...Object.entries(counts).map(([s, n]) => el("span", { class: "count" }, statusBadge(s), ` ${n}`)));
      body.replaceChildren(doc.clusters.length === 0
        ? el("p", { text: "No clusters yet. " }, el("a", { href: "#/create", text: "Create one" }))
        : table(["Name", "Status", "Stack", "Region", "Version"], doc.clusters.map((c) => [
          el("a", { href: `#/cluster/${enc(c.clusterName)}`, text: c.clusterName }),
          statusBadge(c.clusterStatus), c.cloudformationStackStatus, c.region, c.version])));
    } catch (err) { errorBox(body, err); }
  });
}

function clusterView(view, name) {
  const summary = el("div", { "aria-live": "polite" });
  const fleet = el("div");
  const instances = el("div");
  const events = el("div");
  const actions = el("div", { class: "actions" });
  view.replaceChildren(
    el("h1", {}, "Cluster ", el("span", { class: "name", text: name })),
    el("nav", { class: "tabs" },
      el("a", { href: `#/logs/${enc(name)}`, text: "Logs" }),
      el("a", { href: `#/jobs/${enc(name)}`, text: "Jobs" }),
      el("a", { href: `#/update/${enc(name)}`, text: "Update" })),
    summary, el("h2", { text: "Compute fleet" }), fleet, actions,
    el("h2", { text: "Instances" }), instances, el("h2", { text: "Stack events" }), events);
  if (!me.readOnly) {
    actions.append(el("button", { type: "button", class: "danger", onclick: () => confirmDelete(view, name),
      text: `Delete ${name}…` }));
  }
  every(3000, async () => {
    try {
      const { doc } = await api("GET", `/v3/clusters/${enc(name)}`);
      const head = doc.headNode || {};
      summary.replaceChildren(el("dl", {},
        el("dt", { text: "Status" }), el("dd", {}, statusBadge(doc.clusterStatus),
          IN_PROGRESS.test(doc.clusterStatus) ? el("progress", { "aria-label": "in progress" }) : null),
        el("dt", { text: "Head node" }), el("dd", { text:
          head.instanceId ? `${head.instanceId} ${head.privateIpAddress || ""} (${head.state})` : "—" }),
        el("dt", { text: "Scheduler" }), el("dd", { text: (doc.scheduler || {}).type || "" }),
        el("dt", { text: "Created" }), el("dd", { text: doc.creationTime || "" }),
        ...(doc.failures || []).map((f) => [el("dt", { text: "Failure" }),
          el("dd", { class: "error", text: `${f.failureCode}: ${f.failureReason}` })])));
    } catch (err) { errorBox(summary, err); if (err.status === 404) clearTimers(); return; }
    refreshFleet(fleet, name);
    try {
      const inst = (await api("GET", `/v3/clusters/${enc(name)}/instances`)).doc.instances;
      instances.replaceChildren(table(["Node", "Type", "Queue", "Instance", "IP", "State"], inst.map((i) => [
        i.nodeType, i.instanceType, i.queueName || "", i.instanceId, i.privateIpAddress, statusBadge(i.state)])));
      const ev = (await api("GET", `/v3/clusters/${enc(name)}/stackevents`)).doc.events.slice(0, 20);
      events.replaceChildren(table(["Time", "Resource", "Status", "Reason"], ev.map((e) => [
        e.timestamp, e.logicalResourceId, statusBadge(e.resourceStatus), e.resourceStatusReason || ""])));
    } catch (err) { errorBox(instances, err); }
  });
}

async function refreshFleet(box, name) {
  try {
    const { doc } = await api("GET", `/v3/clusters/${enc(name)}/computefleet`);
    const parts = [statusBadge(doc.status), ` since ${doc.lastStatusUpdatedTime || "—"} `];
    if (!me.readOnly) {
      const request = async (status) => {
        try { await api("PATCH", `/v3/clusters/${enc(name)}/computefleet`, { body: { status } }); refreshFleet(box, name); }
        catch (err) { errorBox(box, err); }
      };
      parts.push(el("button", { type: "button", onclick: () => request("STOP_REQUESTED"), text: "Stop fleet",
        disabled: doc.status !== "RUNNING" }));
      parts.push(el("button", { type: "button", onclick: () => request("START_REQUESTED"), text: "Start fleet",
        disabled: !["STOPPED", "PROTECTED"].includes(doc.status) }));
    }
    box.replaceChildren(el("p", { id: "fleet" }, parts));
  } catch (err) { errorBox(box, err); }
}

function confirmDelete(view, name) {
  const input = el("input", { id: "confirm-name", autocomplete: "off" });
  const go = el("button", { type: "submit", class: "danger", text: `Delete ${name}`, disabled: true });
  const out = el("p", { role: "alert" });
  input.addEventListener("input", () => { go.disabled = input.value !== name; });
  const form = el("form", { class: "confirm", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("DELETE", `/v3/clusters/${enc(name)}`);
      out.textContent = `Deleting ${name}…`;
      setTimeout(() => { location.hash = "#/"; }, 800);
    } catch (err) { errorBox(out, err); }
  } },
  el("label", { for: "confirm-name" }, "This deletes cluster ", el("strong", { text: name }),
    " and everything it runs. Type its name to confirm:"), input, go,
  el("button", { type: "button", onclick: () => form.remove(), text: "Cancel" }), out);
  view.querySelector(".actions").append(form);
  input.focus();
}

// ---- create / update: the YAML editor validating as you type --------------------------------
function editorView(view, name) {
  const updating = name !== undefined;
  const nameInput = el("input", { id: "cluster-name", value: name || "", required: true, readonly: updating,
    pattern: "^[a-zA-Z][a-zA-Z0-9-]+$" });
  const text = el("textarea", { id: "config", spellcheck: "false", rows: 24, "aria-describedby": "findings" });
  const gutter = el("pre", { class: "gutter", "aria-hidden": "true" });
  const findings = el("ol", { id: "findings", class: "findings", "aria-live": "polite" });
  const changes = el("div", { id: "changes" });
  const submit = el("button", { type: "submit", text: updating ? "Apply update" : "Create cluster",
    disabled: me.readOnly });
  const out = el("p", { role: "alert" });
  let timer = null;
  let seq = 0;
  const validate = async () => {
    const mine = ++seq;
    const lines = text.value.split("\n").length;
    try {
      const { status, doc } = updating
        ? await api("PUT", `/v3/clusters/${enc(name)}`, { params: { dryrun: "true" },
          body: { clusterConfiguration: text.value } })
        : await api("POST", "/v3/clusters", { params: { dryrun: "true" },
          body: { clusterName: nameInput.value || "draft", clusterConfiguration: text.value } });
      if (mine !== seq) return;
      showFindings(doc.validationMessages || [], status === 412 ? "Valid." : "");
      if (updating) showChanges(doc.changeSet || []);
    } catch (err) {
      if (mine !== seq) return;
      const body = err.body || {};
      showFindings(body.configurationValidationErrors || [], err.message);
      if (updating) showChanges(body.changeSet || [], body.updateValidationErrors || []);
    }
    gutter.textContent = Array.from({ length: lines }, (_, i) => String(i + 1)).join("\n");
  };
  const showFindings = (items, headline) => {
    findings.replaceChildren(el("li", { class: "headline", text: headline }), ...items.map((f) => el("li",
      { class: `finding ${String(f.level).toLowerCase()}` },
      el("a", { href: "#", "data-line": f.line || "", onclick: (e) => { e.preventDefault(); goToLine(text, f.line); },
        text: f.line ? `line ${f.line}${f.column ? `:${f.column}` : ""}` : "—" }),
      ` ${f.level}: `, el("span", { class: "message", text: f.message }))));
  };
  const showChanges = (set, refused = []) => {
    changes.replaceChildren(el("h2", { text: "Change set" }), set.length === 0 ? el("p", { text: "No changes." })
      : table(["Parameter", "Current", "Requested"], set.map((c) => [c.parameter, shown(c.currentValue),
        shown(c.requestedValue)])),
    ...refused.map((r) => el("p", { class: "error", text: `${r.parameter}: ${r.message}` })));
  };
  text.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 400); });
  nameInput.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(validate, 400); });
  const form = el("form", { class: "editor", onsubmit: async (e) => {
    e.preventDefault();
    try {
      if (updating) await api("PUT", `/v3/clusters/${enc(name)}`, { body: { clusterConfiguration: text.value } });
      else await api("POST", "/v3/clusters", { body: { clusterName: nameInput.value, clusterConfiguration: text.value } });
      location.hash = `#/cluster/${enc(nameInput.value)}`;
    } catch (err) { errorBox(out, err); const b = err.body || {};
      if (b.configurationValidationErrors) showFindings(b.configurationValidationErrors, err.message); }
  } },
  el("label", { for: "cluster-name", text: "Cluster name" }), nameInput,
  el("label", { for: "config", text: "Cluster configuration (YAML, ParallelCluster 3 format)" }),
  el("div", { class: "code" }, gutter, text), findings, changes, submit, out);
  view.replaceChildren(el("h1", { text: updating ? `Update ${name}` : "Create a cluster" }), form);
  if (updating) {
    api("GET", `/v3/clusters/${enc(name)}`).then(async ({ doc }) => {
      const cfg = await api("GET", `/corral/v1/clusters/${enc(name)}/config`);
      text.value = cfg.doc.clusterConfiguration; validate();
    }).catch((err) => errorBox(out, err));
  } else {
    text.value = "Region: us-east-1\nImage:\n  Os: alinux2023\nHeadNode:\n  InstanceType: c5.large\n" +
      "  Networking:\n    SubnetId: subnet-0123456789abcdef0\nScheduling:\n  Scheduler: slurm\n  SlurmQueues:\n" +
      "    - Name: q1\n      ComputeResources:\n        - Name: c1\n          InstanceType: c5.large\n" +
      "          MinCount: 1\n          MaxCount: 2\n      Networking:\n        SubnetIds: [subnet-0123456789abcdef0]\n";
    validate();
  }
}
function shown(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}
function goToLine(area, line) {
  if (!line) return;
  const lines = area.value.split("\n");
  const start = lines.slice(0, line - 1).join("\n").length + (line > 1 ? 1 : 0);
  area.focus();
  area.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

// ---- logs -----------------------------------------------------------------------------------
function logsView(view, name, stream) {
  const list = el("div");
  view.replaceChildren(el("h1", {}, "Logs of ", el("a", { href: `#/cluster/${enc(name)}`, text: name })), list);
  api("GET", `/v3/clusters/${enc(name)}/logstreams`).then(({ doc }) => {
    list.replaceChildren(el("ul", { class: "streams" }, doc.logStreams.map((s) => el("li", {},
      el("a", { href: `#/logs/${enc(name)}/${enc(s.logStreamName)}`, text: s.logStreamName }),
      ` ${s.lastEventTimestamp || ""}`))));
    if (stream) list.append(logViewer(name, stream));
  }).catch((err) => errorBox(list, err));
}

function logViewer(name, stream) {
  const start = el("input", { id: "log-start", type: "text", placeholder: "2026-01-01T00:00:00Z" });
  const end = el("input", { id: "log-end", type: "text", placeholder: "2026-01-02T00:00:00Z" });
  const filter = el("input", { id: "log-filter", type: "search" });
  const limit = el("input", { id: "log-limit", type: "number", value: 200, min: 1 });
  const fromHead = el("input", { id: "log-head", type: "checkbox" });
  const follow = el("input", { id: "log-follow", type: "checkbox" });
  const lines = el("pre", { id: "log-lines", class: "log", tabindex: 0 });
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
      const { doc } = await api("GET", `/v3/clusters/${enc(name)}/logstreams/${enc(stream)}`, { params: {
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
  return el("section", { class: "viewer" }, el("h2", { text: stream }), form, msg, pager, lines);
}

// ---- jobs -----------------------------------------------------------------------------------
function jobsView(view, name) {
  const counts = el("div");
  const body = el("div", { "aria-live": "polite" });
  view.replaceChildren(el("h1", {}, "Jobs of ", el("a", { href: `#/cluster/${enc(name)}`, text: name })),
    counts, body);
  every(3000, async () => {
    try {
      const { doc } = await api("GET", `/corral/v1/clusters/${enc(name)}/jobs`);
      const per = (key) => Object.entries(doc.jobs.reduce((m, j) => ({ ...m, [j[key]]: (m[j[key]] || 0) + 1 }), {}))
        .map(([k, n]) => `${k}: ${n}`).join(", ") || "—";
      counts.replaceChildren(el("p", { text: `Per user: ${per("user")}` }), el("p", { text: `Per queue: ${per("partition")}` }));
      body.replaceChildren(doc.jobs.length === 0 ? el("p", { text: "No jobs." }) : table(
        ["Job", "Name", "User", "Queue", "State", "Reason", "Nodes", ""], doc.jobs.map((j) => [
          String(j.jobId), j.name, j.user, j.partition, statusBadge(j.state), j.reason || "", j.nodes || "",
          me.readOnly || FINAL_JOB.test(j.state) ? "" : el("button", { type: "button",
            text: `Cancel ${j.jobId}`, onclick: async () => {
              try { await api("DELETE", `/corral/v1/clusters/${enc(name)}/jobs/${enc(j.jobId)}`); }
              catch (err) { errorBox(body, err); }
            } })])));
      if (doc.accounting) {
        body.append(el("h2", { text: "Finished in the last day (sacct)" }),
          doc.accountingError ? el("p", { class: "error", text: doc.accountingError }) : "",
          table(["Job", "Name", "User", "Queue", "State", "Nodes"], (doc.finished || []).map((j) => [
            String(j.jobId), j.name, j.user, j.partition, statusBadge(j.state), j.nodes || ""])));
      } else {
        body.append(el("p", { class: "hint", text: "Finished jobs appear here when the cluster has accounting (SlurmSettings/Database)." }));
      }
    } catch (err) { errorBox(body, err); }
  });
}

// ---- routing --------------------------------------------------------------------------------
function route() {
  clearTimers();
  if (!sessionStorage.getItem(TOKEN_KEY) || !me) return;
  const view = $("view");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "cluster" && parts[1]) clusterView(view, parts[1]);
  else if (parts[0] === "create") editorView(view);
  else if (parts[0] === "update" && parts[1]) editorView(view, parts[1]);
  else if (parts[0] === "logs" && parts[1]) logsView(view, parts[1], parts[2]);
  else if (parts[0] === "jobs" && parts[1]) jobsView(view, parts[1]);
  else clustersView(view);
  $("main").focus();
}

async function start() {
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await signIn($("token").value.trim()); $("token").value = ""; showApp(); }
    catch (err) { $("signin-error").textContent = err.message; }
  });
  $("signout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  if (sessionStorage.getItem(TOKEN_KEY)) {
    try { me = (await api("GET", "/corral/v1/whoami")).doc; showApp(); return; } catch { /* sign in again */ }
  }
  signOut();
}
function showApp() {
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").textContent = `${me.name}${me.readOnly ? " (read-only)" : ""}`;
  route();
}
document.addEventListener("DOMContentLoaded", start);

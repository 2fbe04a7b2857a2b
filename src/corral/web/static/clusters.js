// The cluster list and a cluster's page: status, head node, login pools, compute fleet (start/stop),
// instances, stack events, its configuration (read-only) and delete with a confirmation that names it.
import { IN_PROGRESS, api, codeView, el, enc, errorBox, every, session, statusBadge, table } from "./core.js";

export function clustersView(view) {
  const body = el("div", { "aria-live": "polite" });
  const counts = el("p", { class: "counts" });
  view.replaceChildren(el("h1", { text: "Clusters" }), counts, body);
  every(3000, async () => {
    try {
      const { doc } = await api("GET", "/v3/clusters");
      const tally = {};
      for (const c of doc.clusters) tally[c.clusterStatus] = (tally[c.clusterStatus] || 0) + 1;
      counts.replaceChildren(
        ...Object.entries(tally).map(([s, n]) => el("span", { class: "count" }, statusBadge(s), ` ${n}`)));
      body.replaceChildren(doc.clusters.length === 0
        ? el("p", { text: "No clusters yet. " }, el("a", { href: "#/create", text: "Create one" }))
        : table(["Name", "Status", "Stack", "Region", "Version"], doc.clusters.map((c) => [
          el("a", { href: `#/cluster/${enc(c.clusterName)}`, text: c.clusterName }),
          statusBadge(c.clusterStatus), c.cloudformationStackStatus, c.region, c.version]), "Clusters"));
    } catch (err) { errorBox(body, err); }
  });
}

function summaryList(doc) {
  const head = doc.headNode || {};
  return el("dl", {},
    el("dt", { text: "Status" }), el("dd", {}, statusBadge(doc.clusterStatus),
      IN_PROGRESS.test(doc.clusterStatus) ? el("progress", { "aria-label": "in progress" }) : null),
    el("dt", { text: "Head node" }), el("dd", { text:
      head.instanceId ? `${head.instanceId} ${head.privateIpAddress || ""} (${head.state})` : "—" }),
    el("dt", { text: "Scheduler" }), el("dd", { text: (doc.scheduler || {}).type || "" }),
    ...(doc.loginNodes || []).map((p) => [el("dt", { text: `Login pool ${p.poolName}` }),
      el("dd", {}, statusBadge(String(p.status).toUpperCase()),
        ` ${p.healthyNodes} healthy, ${p.unhealthyNodes} unhealthy` + (p.address ? ` — ssh to ${p.address}` : ""))]),
    el("dt", { text: "Created" }), el("dd", { text: doc.creationTime || "" }),
    el("dt", { text: "Last updated" }), el("dd", { text: doc.lastUpdatedTime || "" }),
    ...(doc.failures || []).map((f) => [el("dt", { text: "Failure" }),
      el("dd", { class: "error", text: `${f.failureCode}: ${f.failureReason}` })]));
}

export function clusterView(view, name) {
  const summary = el("div", { "aria-live": "polite" });
  const fleet = el("div");
  const instances = el("div");
  const events = el("div");
  const config = el("div", { id: "config-view" });
  const actions = el("div", { class: "actions" });
  view.replaceChildren(
    el("h1", {}, "Cluster ", el("span", { class: "name", text: name })),
    el("nav", { class: "tabs", "aria-label": `Pages of ${name}` },
      el("a", { href: `#/logs/${enc(name)}`, text: "Logs" }),
      el("a", { href: `#/jobs/${enc(name)}`, text: "Jobs" }),
      el("a", { href: `#/update/${enc(name)}`, text: "Update" }),
      el("a", { href: "#configuration", onclick: (e) => { e.preventDefault(); config.scrollIntoView(); },
        text: "Configuration" })),
    summary, el("h2", { text: "Compute fleet" }), fleet, actions,
    el("h2", { text: "Instances" }), instances, el("h2", { text: "Stack events" }), events,
    el("h2", { id: "configuration", text: "Configuration" }), config);
  if (!session.me.readOnly) {
    actions.append(el("button", { type: "button", class: "danger", onclick: () => confirmDelete(view, name),
      text: `Delete ${name}…` }));
  }
  let version = null;
  every(3000, async () => {
    let doc;
    try { doc = (await api("GET", `/v3/clusters/${enc(name)}`)).doc; summary.replaceChildren(summaryList(doc)); }
    catch (err) { errorBox(summary, err); if (err.status === 404) version = "gone"; return; }
    refreshFleet(fleet, name);
    const applied = `${doc.lastUpdatedTime || ""}|${doc.clusterStatus}`;
    if (applied !== version) { version = applied; showConfig(config, name); }
    try {
      const inst = (await api("GET", `/v3/clusters/${enc(name)}/instances`)).doc.instances;
      instances.replaceChildren(table(["Node", "Type", "Queue", "Instance", "IP", "State"], inst.map((i) => [
        i.nodeType, i.instanceType, i.queueName || "", i.instanceId, i.privateIpAddress, statusBadge(i.state)]),
      "Instances"));
      const ev = (await api("GET", `/v3/clusters/${enc(name)}/stackevents`)).doc.events.slice(0, 20);
      events.replaceChildren(table(["Time", "Resource", "Status", "Reason"], ev.map((e) => [
        e.timestamp, e.logicalResourceId, statusBadge(e.resourceStatus), e.resourceStatusReason || ""]),
      "Stack events"));
    } catch (err) { errorBox(instances, err); }
  });
}

/** The config the cluster runs (as describe-cluster links it), read-only, as pcluster's console shows it. */
async function showConfig(box, name) {
  try {
    const { doc } = await api("GET", `/corral/v1/clusters/${enc(name)}/config`);
    box.replaceChildren(
      el("p", { class: "hint" }, "The configuration this cluster runs. To change it, ",
        el("a", { href: `#/update/${enc(name)}`, text: "update the cluster" }), "."),
      codeView("cluster-config", `Configuration of ${name} (YAML)`, doc.clusterConfiguration));
  } catch (err) { errorBox(box, err); }
}

async function refreshFleet(box, name) {
  try {
    const { doc } = await api("GET", `/v3/clusters/${enc(name)}/computefleet`);
    const parts = [statusBadge(doc.status), ` since ${doc.lastStatusUpdatedTime || "—"} `];
    if (!session.me.readOnly) {
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

/** Delete ``what`` (a cluster or an image) once its name is typed: ``path`` is the DELETE to send. */
export function confirmDelete(view, name, { path = `/v3/clusters/${enc(name)}`, kind = "cluster", after = "#/" } = {}) {
  const input = el("input", { id: "confirm-name", autocomplete: "off" });
  const go = el("button", { type: "submit", class: "danger", text: `Delete ${name}`, disabled: true });
  const out = el("p", { role: "alert" });
  input.addEventListener("input", () => { go.disabled = input.value !== name; });
  const form = el("form", { class: "confirm", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api("DELETE", path);
      out.textContent = `Deleting ${name}…`;
      setTimeout(() => { location.hash = after; }, 800);
    } catch (err) { errorBox(out, err); }
  } },
  el("label", { for: "confirm-name" }, `This deletes ${kind} `, el("strong", { text: name }),
    kind === "cluster" ? " and everything it runs." : " and everything built for it.", " Type its name to confirm:"),
  input, go, el("button", { type: "button", onclick: () => form.remove(), text: "Cancel" }), out);
  view.querySelector(".actions").append(form);
  input.focus();
}

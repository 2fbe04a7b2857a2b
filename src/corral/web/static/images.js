// Images over pcluster's /v3/images operations: the official images and the built (custom) ones
// by status; an image's page (build status, AMI, stack status, log streams and events, stack
// events, delete); and building one from an image config validated as you type.
import { api, el, enc, errorBox, every, findingsList, session, statusBadge, table, yamlEditor } from "./core.js";
import { confirmDelete } from "./clusters.js";
import { streamList } from "./logs.js";

const STATUSES = ["AVAILABLE", "PENDING", "FAILED"];
const SAMPLE = "Build:\n  InstanceType: c5.xlarge\n  ParentImage: ami-0123456789abcdef0\n";

export function imagesView(view) {
  const official = el("div");
  const custom = el("div", { "aria-live": "polite" });
  const status = el("select", { id: "image-status" }, STATUSES.map((s) => el("option", { value: s, text: s })));
  view.replaceChildren(el("h1", { text: "Images" }),
    session.me.readOnly ? null : el("p", {}, el("a", { href: "#/images/build", text: "Build an image" })),
    el("h2", { text: "Built images" }),
    el("label", { for: "image-status", text: "Build status" }), status, custom,
    el("h2", { text: "Official images" }), official);
  api("GET", "/v3/images/official").then(({ doc }) => official.replaceChildren(table(
    ["Name", "OS", "Architecture", "Image id", "Version"],
    doc.images.map((i) => [i.name, i.os, i.architecture, i.amiId, i.version]), "Official images")))
    .catch((err) => errorBox(official, err));
  const refresh = async () => {
    try {
      const { doc } = await api("GET", "/v3/images/custom", { params: { imageStatus: status.value } });
      custom.replaceChildren(doc.images.length === 0 ? el("p", { text: `No ${status.value} images.` }) : table(
        ["Image", "Build status", "Stack", "Image id", "Region", "Version"], doc.images.map((i) => [
          el("a", { href: `#/image/${enc(i.imageId)}`, text: i.imageId }), statusBadge(i.imageBuildStatus),
          i.cloudformationStackStatus || "", (i.ec2AmiInfo || {}).amiId || "", i.region, i.version]),
        `Built images, ${status.value}`));
    } catch (err) { errorBox(custom, err); }
  };
  status.addEventListener("change", refresh);
  every(5000, refresh);
}

function imageSummary(doc) {
  const ami = doc.ec2AmiInfo || {};
  const pairs = [["Build status", statusBadge(doc.imageBuildStatus)],
    ["Stack", doc.cloudformationStackStatus ? statusBadge(doc.cloudformationStackStatus) : "—"],
    ["Stack reason", doc.cloudformationStackStatusReason || ""], ["Image id", ami.amiId || "—"],
    ["Image name", ami.amiName || ""], ["Image state", ami.state || ""], ["Architecture", ami.architecture || ""],
    ["Region", doc.region], ["Version", doc.version], ["Created", doc.creationTime || ""],
    ["Configuration", (doc.imageConfiguration || {}).url || ""]];
  return el("dl", {}, pairs.filter(([, v]) => v !== "").map(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
}

export function imageView(view, id, stream) {
  const summary = el("div", { "aria-live": "polite" });
  const logs = el("div");
  const events = el("div");
  const actions = el("div", { class: "actions" });
  view.replaceChildren(el("h1", {}, "Image ", el("span", { class: "name", text: id })), summary, actions,
    el("h2", { text: "Build logs" }), logs, el("h2", { text: "Stack events" }), events);
  if (!session.me.readOnly) {
    actions.append(el("button", { type: "button", class: "danger", text: `Delete ${id}…`,
      onclick: () => confirmDelete(view, id, { path: `/v3/images/custom/${enc(id)}`, kind: "image", after: "#/images" }) }));
  }
  const base = `/v3/images/custom/${enc(id)}`;
  const streams = () => streamList(logs, `${base}/logstreams`, (s) => `#/image/${enc(id)}/${enc(s)}`, stream);
  if (stream) streams();  // the viewer follows its stream itself
  every(4000, async () => {
    try { summary.replaceChildren(imageSummary((await api("GET", base)).doc)); }
    catch (err) { errorBox(summary, err); return; }
    if (!stream) streams();  // a build adds its streams as it goes
    try {
      const ev = (await api("GET", `${base}/stackevents`)).doc.events.slice(0, 20);
      events.replaceChildren(table(["Time", "Resource", "Status", "Reason"], ev.map((e) => [
        e.timestamp, e.logicalResourceId, statusBadge(e.resourceStatus), e.resourceStatusReason || ""]), "Stack events"));
    } catch (err) { errorBox(events, err); }
  });
}

export function buildView(view) {
  const idInput = el("input", { id: "image-id", required: true, pattern: "[a-zA-Z][a-zA-Z0-9\\-]+", autocomplete: "off" });
  const editor = yamlEditor("image-config", "Image configuration (YAML, ParallelCluster 3 build-image format)");
  const findings = el("ol", { id: "findings", class: "findings", "aria-live": "polite" });
  const submit = el("button", { type: "submit", text: "Build image", disabled: session.me.readOnly });
  const out = el("p", { role: "alert" });
  const text = editor.text;
  let timer = null;
  let seq = 0;
  const body = () => ({ imageId: idInput.value || "draft", imageConfiguration: text.value });
  const validate = async () => {
    const mine = ++seq;
    try {
      const { status, doc } = await api("POST", "/v3/images/custom", { params: { dryrun: "true" }, body: body() });
      if (mine === seq) findingsList(findings, text, doc.validationMessages || [], status === 412 ? "Valid." : "");
    } catch (err) {
      if (mine === seq) findingsList(findings, text, (err.body || {}).configurationValidationErrors || [], err.message);
    }
    editor.number();
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(validate, 400); };
  text.addEventListener("input", later);
  idInput.addEventListener("input", later);
  const form = el("form", { class: "editor", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    out.replaceChildren(el("span", { text: "Starting the build… " }), el("progress", { "aria-label": "starting the build" }));
    try {
      await api("POST", "/v3/images/custom", { body: body() });
      location.hash = `#/image/${enc(idInput.value)}`;
    } catch (err) {
      submit.disabled = false;
      errorBox(out, err);
      const b = err.body || {};
      if (b.configurationValidationErrors) findingsList(findings, text, b.configurationValidationErrors, err.message);
    }
  } }, el("label", { for: "image-id", text: "Image id" }), idInput, ...editor.nodes, findings, submit, out);
  view.replaceChildren(el("h1", { text: "Build an image" }), form);
  text.value = SAMPLE;
  validate();
}

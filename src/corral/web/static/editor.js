// Create and update: the YAML editor validating as you type through the dry-run endpoint; for an
// update, the change set with each change's update policy and what Corral does with it (live, after
// a fleet stop, never), before anything is applied.
import { ApiError, api, el, enc, errorBox, findingsList, session, statusBadge, table, yamlEditor } from "./core.js";

const SAMPLE = "Region: us-east-1\nImage:\n  Os: alinux2023\nHeadNode:\n  InstanceType: c5.large\n" +
  "  Networking:\n    SubnetId: subnet-0123456789abcdef0\nScheduling:\n  Scheduler: slurm\n  SlurmQueues:\n" +
  "    - Name: q1\n      ComputeResources:\n        - Name: c1\n          InstanceType: c5.large\n" +
  "          MinCount: 1\n          MaxCount: 2\n      Networking:\n        SubnetIds: [subnet-0123456789abcdef0]\n";
const VERDICT = { live: "good", "fleet stop": "busy", never: "bad" };
const VERDICT_TEXT = { live: "live", "fleet stop": "needs a fleet stop", never: "never (new cluster)" };

function verdict(value) {
  return el("span", { class: `badge ${VERDICT[value] || "idle"}`, text: VERDICT_TEXT[value] || value });
}

/** A dotted parameter (or an UNDERSCORED_NAME) that may wrap at each separator (``<wbr>``: nothing
 * is added to its text). */
function breakable(text, sep = ".") {
  return el("span", {}, String(text).split(sep).flatMap((part, i) => (i ? [el("wbr"), `${sep}${part}`] : [part])));
}

/** The change set: pcluster's items, each with the explanation ``/corral/v1/.../changes`` gives. */
function changeTable(set, explained) {
  const by = Object.fromEntries((explained || []).map((c) => [c.parameter, c]));
  return table(["Parameter", "Current", "Requested", "Update policy", "pcluster (fleet running)", "Corral", "How"],
    set.map((c) => {
      const x = by[c.parameter] || {};
      return [breakable(c.parameter), c.currentValue, c.requestedValue,
        x.policy ? el("abbr", { title: x.policyDescription }, breakable(x.policy, "_")) : "",
        x.pcluster ? verdict(x.pcluster) : "", x.corral ? verdict(x.corral) : "",
        el("span", { class: x.allowedNow === false ? "error" : "hint",
          text: x.allowedNow === false ? `Not now: ${x.remedy || x.reason}` : x.reason || x.policyDescription || "" })];
    }), "Change set");
}

async function explain(name, config) {
  try {
    return (await api("POST", `/corral/v1/clusters/${enc(name)}/changes`, { body: { clusterConfiguration: config } })).doc;
  } catch (err) { if (err instanceof ApiError) return null; throw err; }
}

export function editorView(view, name) {
  const updating = name !== undefined;
  const nameInput = el("input", { id: "cluster-name", value: name || "", required: true, readonly: updating,
    pattern: "[a-zA-Z][a-zA-Z0-9\\-]+", autocomplete: "off" });
  const editor = yamlEditor("config", "Cluster configuration (YAML, ParallelCluster 3 format)");
  const text = editor.text;
  const findings = el("ol", { id: "findings", class: "findings", "aria-live": "polite" });
  const changes = el("div", { id: "changes", "aria-live": "polite" });
  const submit = el("button", { type: "submit", text: updating ? "Apply update" : "Create cluster",
    disabled: session.me.readOnly });
  const out = el("p", { role: "alert" });
  let timer = null;
  let seq = 0;
  const showChanges = async (mine, set, refused = []) => {
    const explained = set.length ? await explain(name, text.value) : null;
    if (mine !== seq) return;
    changes.replaceChildren(el("h2", { text: "Change set" }),
      explained ? el("p", { class: "hint" }, "Compute fleet now: ", statusBadge(explained.fleetStatus)) : null,
      set.length === 0 ? el("p", { text: "No changes." }) : changeTable(set, explained && explained.changes),
      ...refused.map((r) => el("p", { class: "error", text: `${r.parameter}: ${r.message}` })));
  };
  const validate = async () => {
    const mine = ++seq;
    try {
      const { status, doc } = updating
        ? await api("PUT", `/v3/clusters/${enc(name)}`, { params: { dryrun: "true" },
          body: { clusterConfiguration: text.value } })
        : await api("POST", "/v3/clusters", { params: { dryrun: "true" },
          body: { clusterName: nameInput.value || "draft", clusterConfiguration: text.value } });
      if (mine !== seq) return;
      findingsList(findings, text, doc.validationMessages || [], status === 412 ? "Valid." : "");
      if (updating) await showChanges(mine, doc.changeSet || []);
    } catch (err) {
      if (mine !== seq) return;
      const body = err.body || {};
      findingsList(findings, text, body.configurationValidationErrors || [], err.message);
      if (updating) await showChanges(mine, body.changeSet || [], body.updateValidationErrors || []);
    }
    editor.number();
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(validate, 400); };
  text.addEventListener("input", later);
  nameInput.addEventListener("input", later);
  const form = el("form", { class: "editor", onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    out.replaceChildren(el("span", { text: updating ? "Starting the update… " : "Starting the create… " }),
      el("progress", { "aria-label": "starting" }));
    try {
      if (updating) await api("PUT", `/v3/clusters/${enc(name)}`, { body: { clusterConfiguration: text.value } });
      else await api("POST", "/v3/clusters", { body: { clusterName: nameInput.value, clusterConfiguration: text.value } });
      location.hash = `#/cluster/${enc(nameInput.value)}`;
    } catch (err) {
      submit.disabled = false;
      errorBox(out, err);
      const b = err.body || {};
      if (b.configurationValidationErrors) findingsList(findings, text, b.configurationValidationErrors, err.message);
    }
  } },
  el("label", { for: "cluster-name", text: "Cluster name" }), nameInput, ...editor.nodes, findings, changes, submit, out);
  view.replaceChildren(el("h1", { text: updating ? `Update ${name}` : "Create a cluster" }), form);
  if (updating) {
    api("GET", `/corral/v1/clusters/${enc(name)}/config`)
      .then(({ doc }) => { text.value = doc.clusterConfiguration; validate(); })
      .catch((err) => errorBox(out, err));
  } else {
    text.value = SAMPLE;
    validate();
  }
}

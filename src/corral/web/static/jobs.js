// A cluster's jobs, read on its head node: squeue (running, pending with Slurm's reason), cancel,
// per-user and per-queue counts, and with accounting (SlurmSettings/Database) the finished jobs of
// the last day from sacct: user, account, elapsed, exit code and allocated TRES.
import { api, el, enc, errorBox, every, session, statusBadge, table } from "./core.js";

const FINAL_JOB = /^(COMPLETED|CANCELLED|FAILED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE)/;

function perKey(jobs, key) {
  const tally = {};
  for (const j of jobs) tally[j[key]] = (tally[j[key]] || 0) + 1;
  return Object.entries(tally).map(([k, n]) => `${k}: ${n}`).join(", ") || "—";
}

function cancelButton(name, job, where) {
  if (session.me.readOnly || FINAL_JOB.test(job.state)) return "";
  return el("button", { type: "button", text: `Cancel ${job.jobId}`, onclick: async () => {
    try { await api("DELETE", `/corral/v1/clusters/${enc(name)}/jobs/${enc(job.jobId)}`); }
    catch (err) { errorBox(where, err); }
  } });
}

function finishedSection(doc) {
  if (!doc.accounting) {
    return [el("p", { class: "hint",
      text: "Finished jobs appear here when the cluster has accounting (Scheduling/SlurmSettings/Database)." })];
  }
  const finished = doc.finished || [];
  return [el("h2", { id: "finished", text: "Finished in the last day (sacct)" }),
    doc.accountingError ? el("p", { class: "error", role: "alert", text: doc.accountingError }) : "",
    finished.length === 0 ? el("p", { text: "No finished jobs in the last day." }) : table(
      ["Job", "Name", "User", "Account", "Queue", "State", "Elapsed", "Exit code", "TRES", "Nodes"],
      finished.map((j) => [String(j.jobId), j.name, j.user, j.account || "", j.partition, statusBadge(j.state),
        j.elapsed || "", j.exitCode || "", j.tres || "", j.nodes || ""]), "Finished jobs (sacct)")];
}

export function jobsView(view, name) {
  const counts = el("div");
  const body = el("div", { "aria-live": "polite" });
  view.replaceChildren(el("h1", {}, "Jobs of ", el("a", { href: `#/cluster/${enc(name)}`, text: name })),
    counts, body);
  every(3000, async () => {
    try {
      const { doc } = await api("GET", `/corral/v1/clusters/${enc(name)}/jobs`);
      counts.replaceChildren(el("p", { text: `Per user: ${perKey(doc.jobs, "user")}` }),
        el("p", { text: `Per queue: ${perKey(doc.jobs, "partition")}` }));
      body.replaceChildren(doc.jobs.length === 0 ? el("p", { text: "No jobs in the queue." }) : table(
        ["Job", "Name", "User", "Queue", "State", "Reason", "Nodes", "Action"], doc.jobs.map((j) => [
          String(j.jobId), j.name, j.user, j.partition, statusBadge(j.state), j.reason || "", j.nodes || "",
          cancelButton(name, j, body)]), "Jobs in the queue (squeue)"),
      ...finishedSection(doc));
    } catch (err) { errorBox(body, err); }
  });
}

// Corral's web UI: plain JavaScript modules, no build step, no outside asset. This module signs in
// and routes (#/..., one view per page); the views live in their own modules.
import { $, TOKEN_KEY, api, clearTimers, session } from "./core.js";
import { clusterView, clustersView } from "./clusters.js";
import { editorView } from "./editor.js";
import { buildView, imageView, imagesView } from "./images.js";
import { jobsView } from "./jobs.js";
import { logsView } from "./logs.js";

const TITLES = { cluster: "Cluster", create: "Create a cluster", update: "Update", logs: "Logs", jobs: "Jobs",
  images: "Images", image: "Image" };

async function signIn(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  try {
    session.me = (await api("GET", "/corral/v1/whoami")).doc;
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    throw err;
  }
}
function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.me = null;
  clearTimers();
  $("nav").hidden = true;
  $("view").replaceChildren();
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("token").value = "";
  document.title = "Sign in · Corral";
  $("token").focus();
}
session.onUnauthorized = signOut;

function show(view, parts) {
  const [page, a, b] = parts;
  if (page === "cluster" && a) clusterView(view, a);
  else if (page === "create") editorView(view);
  else if (page === "update" && a) editorView(view, a);
  else if (page === "logs" && a) logsView(view, a, b);
  else if (page === "jobs" && a) jobsView(view, a);
  else if (page === "images" && a === "build") buildView(view);
  else if (page === "images") imagesView(view);
  else if (page === "image" && a) imageView(view, a, b);
  else { clustersView(view); return "Clusters"; }
  return [TITLES[page], a].filter(Boolean).join(" ");
}

/** Show the page the hash names; ``focus``: move the focus to it (a route change, a sign-in), not
 * on a fresh load, where the skip link stays the first stop of Tab. */
function route(focus = true) {
  clearTimers();
  if (!sessionStorage.getItem(TOKEN_KEY) || !session.me) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  document.title = `${show($("view"), parts)} · Corral`;
  for (const link of $("nav").querySelectorAll("a")) {
    const here = link.getAttribute("href") === `#/${parts[0] || ""}`;
    if (here) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (focus === true) $("main").focus();
}

function showApp(focus = true) {
  $("signin").hidden = true;
  $("nav").hidden = false;
  $("who").textContent = `${session.me.name}${session.me.readOnly ? " (read-only)" : ""}`;
  route(focus);
}

async function start() {
  $("signin-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try { await signIn($("token").value.trim()); $("token").value = ""; showApp(); }
    catch (err) { $("signin-error").textContent = err.message; }
  });
  $("signout").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", () => route(true));
  $("skip").addEventListener("click", (e) => { e.preventDefault(); $("main").focus(); });  // the hash is the route
  if (sessionStorage.getItem(TOKEN_KEY)) {
    try { session.me = (await api("GET", "/corral/v1/whoami")).doc; showApp(false); return; } catch { /* sign in again */ }
  }
  signOut();
}
start();

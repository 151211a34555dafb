/**
 * The live cluster page served at `/ui`: one self-contained HTML document (no external scripts,
 * styles or fonts) that draws every member's supervision tree with status, restarts, last error and
 * mailbox depth, and redraws on every lifecycle or membership event (server-sent, with a periodic
 * refresh as a fallback). All text from the cluster is inserted with textContent, never as HTML.
 * The client token is read from the page URL (`#token=...`, kept out of server logs) or asked for.
 */

/** The page, titled with the serving node's name, with links to the components' pages. */
export function uiPage(node: string, links: ReadonlyArray<{ path: string; title: string }> = []): string {
  const safe = (text: string): string => text.replace(/[^A-Za-z0-9 ._~:@$+=/-]/g, '');
  const nav = links.map((link) => `<a class="page-link" href="${safe(link.path)}">${safe(link.title)}</a>`).join(' ');
  return page.replace('__NODE__', node.replace(/[^A-Za-z0-9._~:@$+=-]/g, '')).replace('__LINKS__', nav);
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe cluster (via __NODE__)</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { padding: 10px 16px; background: #24292f; color: #fff; display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0; }
  #state { color: #d0d7de; font-size: 12px; }
  #pages a { color: #fff; font-size: 13px; }
  main { display: grid; grid-template-columns: 1fr 320px; gap: 12px; padding: 12px; }
  #nodes { display: flex; flex-direction: column; gap: 12px; }
  section.node { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
  section.node h2 { font-size: 15px; margin: 0 0 6px; display: flex; gap: 8px; align-items: center; }
  .badge { font-size: 11px; padding: 1px 6px; border-radius: 10px; color: #fff; background: var(--muted); }
  .badge.up, .badge.running { background: var(--ok); }
  .badge.joining, .badge.restarting, .badge.suspect, .badge.leaving { background: var(--warn); }
  .badge.down, .badge.stopped, .badge.removed { background: var(--bad); }
  .actor { display: grid; grid-template-columns: minmax(180px, 2fr) 110px 80px 70px 90px 3fr; gap: 6px; padding: 2px 0; border-top: 1px solid #f0f0f0; align-items: baseline; }
  .actor .name { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  .actor .error { color: var(--bad); font-size: 12px; }
  .actor.flash { animation: flash 1.5s ease-out; }
  @keyframes flash { from { background: #fff8c5; } to { background: transparent; } }
  .muted { color: var(--muted); font-size: 12px; }
  aside { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; max-height: 80vh; overflow: auto; }
  aside h2 { font-size: 14px; margin: 0 0 6px; }
  #events div { font-size: 12px; border-top: 1px solid #f0f0f0; padding: 2px 0; }
  #login { padding: 16px; }
</style>
</head>
<body>
<header><h1>Troupe cluster</h1><span id="members"></span><span id="state">connecting...</span><nav id="pages">__LINKS__</nav></header>
<div id="login" hidden><label>Client token <input id="token" type="password"></label> <button id="go">Open</button> <span id="login-error" class="muted"></span></div>
<main id="main">
  <div id="nodes"></div>
  <aside><h2>Lifecycle events</h2><div id="events"></div></aside>
</main>
<script>
"use strict";
const hash = new URLSearchParams(location.hash.slice(1));
let token = hash.get("token") || new URLSearchParams(location.search).get("token") || sessionStorage.getItem("troupe-token") || "";
const flashes = new Map();
let pending = undefined;
let source = undefined;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function ago(at) {
  const seconds = Math.max(0, Math.round((Date.now() - at) / 1000));
  return seconds < 60 ? seconds + "s ago" : Math.round(seconds / 60) + "m ago";
}

function renderActor(container, nodeName, actor, depth) {
  const row = el("div", "actor");
  row.dataset.node = nodeName;
  row.dataset.path = actor.path;
  row.dataset.status = actor.status;
  row.dataset.restarts = String(actor.restarts);
  const name = el("span", "name", (depth > 0 ? "\\u00a0".repeat(depth * 3) + "\\u2514 " : "") + (actor.path === "/" ? "(system)" : actor.path.split("/").pop()));
  name.title = actor.path;
  row.append(name, el("span", "muted", actor.behaviour));
  const status = el("span", "badge " + actor.status, actor.status);
  status.dataset.role = "status";
  row.append(status);
  const restarts = el("span", "restarts", "restarts " + actor.restarts);
  restarts.dataset.role = "restarts";
  row.append(restarts, el("span", "muted", "mailbox " + actor.mailbox.depth));
  const error = el("span", "error", actor.lastError ? actor.lastError.message + " (" + ago(actor.lastError.at) + ")" : "");
  error.dataset.role = "last-error";
  row.append(error);
  const key = nodeName + " " + actor.path;
  if ((flashes.get(key) || 0) > Date.now() - 1500) row.classList.add("flash");
  container.append(row);
  for (const child of actor.children || []) renderActor(container, nodeName, child, depth + 1);
}

function render(cluster) {
  const nodes = document.getElementById("nodes");
  const sections = [];
  const summary = [];
  for (const member of cluster.nodes) {
    summary.push(member.node + ": " + member.status);
    const section = el("section", "node");
    section.dataset.node = member.node;
    section.dataset.status = member.status;
    const title = el("h2");
    title.append(el("span", "", member.node), el("span", "badge " + member.status, member.status), el("span", "muted", "incarnation " + member.incarnation + " \\u00b7 " + member.address));
    section.append(title);
    if (member.tree) for (const child of member.tree.children) renderActor(section, member.node, child, 0);
    else section.append(el("div", "muted", member.error ? member.error.code + ": " + member.error.message : "no tree"));
    sections.push(section);
  }
  nodes.replaceChildren(...sections);
  document.getElementById("members").textContent = summary.join(" \\u00b7 ");
}

function logEvent(topic, event) {
  const events = document.getElementById("events");
  let text;
  if (topic === "membership") text = "member " + event.member.node + ": " + (event.previous || "new") + " \\u2192 " + event.member.status;
  else text = event.type + " " + event.node + ":" + event.path + (event.error ? " (" + event.error + ")" : "");
  const line = el("div", "", new Date().toLocaleTimeString() + " " + text);
  line.dataset.topic = topic;
  events.prepend(line);
  while (events.childElementCount > 100) events.lastElementChild.remove();
  if (topic === "lifecycle") flashes.set(event.node + " " + event.path, Date.now());
}

async function load() {
  pending = undefined;
  try {
    const response = await fetch("/api/tree", { headers: { authorization: "Bearer " + token } });
    if (response.status === 401) return askToken("the token was refused");
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
    document.getElementById("state").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("state").textContent = "offline: " + error.message;
  }
}

function scheduleLoad() {
  if (pending === undefined) pending = setTimeout(load, 100);
}

function listen() {
  if (source) source.close();
  source = new EventSource("/api/events?token=" + encodeURIComponent(token));
  for (const topic of ["lifecycle", "membership"]) {
    source.addEventListener(topic, (message) => {
      logEvent(topic, JSON.parse(message.data));
      scheduleLoad();
    });
  }
  source.onerror = () => { document.getElementById("state").textContent = "event stream lost, retrying"; };
}

function askToken(reason) {
  document.getElementById("login").hidden = false;
  document.getElementById("main").hidden = true;
  document.getElementById("login-error").textContent = reason || "";
}

document.getElementById("go").addEventListener("click", () => {
  token = document.getElementById("token").value;
  sessionStorage.setItem("troupe-token", token);
  document.getElementById("login").hidden = true;
  document.getElementById("main").hidden = false;
  start();
});

function start() {
  for (const link of document.querySelectorAll("a.page-link")) link.href = link.getAttribute("href").split("#")[0] + "#token=" + encodeURIComponent(token);
  load();
  listen();
}

if (token === "") askToken("");
else start();
setInterval(() => { if (token !== "") load(); }, 2000);
</script>
</body>
</html>
`;

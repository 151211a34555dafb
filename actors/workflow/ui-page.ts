/**
 * The workflows page served at `/ui/workflows`: one self-contained HTML document (no external
 * scripts, styles or fonts) that lists the runs (`/api/workflows`) and draws a selected run's history
 * (`/api/workflows/history`) as a timeline: a lane per step with a bar per attempt (completed, failed,
 * timed out, running), a lane per durable timer from set to fired, signals as marks, and below it every
 * event with its time since the start, its attempt and its error. It refreshes itself every two
 * seconds. All text from the node is inserted with textContent, never as HTML. The token comes from the
 * page URL (`#token=...`) like the cluster page's.
 */

/** The page, titled with the serving node's name. */
export function workflowsPage(node: string): string {
  return page.replaceAll('__NODE__', node.replace(/[^A-Za-z0-9._~:@$+=-]/g, ''));
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Troupe workflows (on __NODE__)</title>
<style>
  :root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; --line: #d0d7de; --info: #0969da; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { padding: 10px 16px; background: #24292f; color: #fff; display: flex; gap: 16px; align-items: center; }
  header h1 { font-size: 16px; margin: 0; }
  header a { color: #fff; font-size: 13px; }
  #state { color: #d0d7de; font-size: 12px; }
  main { display: grid; grid-template-columns: 420px 1fr; gap: 12px; padding: 12px; }
  .panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; overflow: auto; max-height: 85vh; }
  table { border-collapse: collapse; width: 100%; font-size: 13px; }
  td, th { text-align: left; padding: 3px 6px; border-top: 1px solid #f0f0f0; white-space: nowrap; }
  tr.run { cursor: pointer; }
  tr.run.selected { background: #ddf4ff; }
  .badge { font-size: 11px; padding: 1px 6px; border-radius: 10px; color: #fff; background: var(--muted); }
  .badge.running { background: var(--info); } .badge.completed { background: var(--ok); }
  .badge.failed, .badge.timedOut { background: var(--bad); } .badge.cancelled { background: var(--warn); }
  .muted { color: var(--muted); font-size: 12px; }
  #summary div { margin: 2px 0; }
  .lane { display: grid; grid-template-columns: 160px 1fr; gap: 8px; align-items: center; margin: 3px 0; }
  .lane .label { font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  .track { position: relative; height: 16px; background: #f6f8fa; border-radius: 3px; }
  .bar { position: absolute; top: 2px; height: 12px; min-width: 3px; border-radius: 2px; background: var(--info); }
  .bar.completed, .bar.fired { background: var(--ok); } .bar.failed, .bar.timedOut { background: var(--bad); }
  .bar.running, .bar.waiting { background: repeating-linear-gradient(45deg, var(--info), var(--info) 4px, #54aeff 4px, #54aeff 8px); }
  .bar.timer { opacity: 0.8; }
  .mark { position: absolute; top: 0; width: 2px; height: 16px; background: var(--warn); }
  .event { display: grid; grid-template-columns: 36px 80px 120px 1fr; gap: 6px; font-size: 12px; border-top: 1px solid #f0f0f0; padding: 2px 0; }
  .event .kind { font-size: 11px; }
  .event[data-kind="error"] { color: var(--bad); }
  .event[data-kind="end"] { color: var(--ok); font-weight: 600; }
  .event[data-kind="timer"] .kind { color: var(--warn); }
  #login { padding: 16px; }
  h2 { font-size: 14px; margin: 6px 0; }
</style>
</head>
<body>
<header><h1>Workflows on __NODE__</h1><a id="cluster" href="/ui">cluster</a><span id="state">loading...</span></header>
<div id="login" hidden><label>Client token <input id="token" type="password"></label> <button id="go">Open</button> <span id="login-error" class="muted"></span></div>
<main id="main">
  <div class="panel"><h2>Runs <span id="total" class="muted"></span></h2><table><thead><tr><th>id</th><th>type</th><th>status</th><th>run</th><th>events</th></tr></thead><tbody id="runs"></tbody></table></div>
  <div class="panel" id="detail"><div class="muted" id="hint">Select a run to see its history.</div><div id="summary"></div><h2 id="timeline-title" hidden>Timeline</h2><div id="lanes"></div><h2 id="events-title" hidden>Events</h2><div id="events"></div></div>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.hash.slice(1));
let token = params.get("token") || sessionStorage.getItem("troupe-token") || "";
let selected = params.get("run") || "";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = String(text);
  return node;
}

async function api(path) {
  const response = await fetch(path, { headers: { authorization: "Bearer " + token } });
  if (response.status === 401) { askToken("the token was refused"); throw new Error("unauthorized"); }
  const body = await response.json();
  if (!response.ok) throw new Error((body.code || response.status) + ": " + (body.message || ""));
  return body;
}

function remember() {
  const next = new URLSearchParams();
  next.set("token", token);
  if (selected) next.set("run", selected);
  history.replaceState(null, "", "#" + next.toString());
  document.getElementById("cluster").href = "/ui#token=" + encodeURIComponent(token);
}

function renderRuns(body) {
  document.getElementById("total").textContent = "(" + body.total + ")";
  const rows = body.runs.map((run) => {
    const row = el("tr", "run" + (run.workflowId === selected ? " selected" : ""));
    row.dataset.workflowId = run.workflowId;
    row.dataset.status = run.status;
    const status = el("td");
    status.append(el("span", "badge " + run.status, run.nondeterminism ? "nondeterminism" : run.status));
    row.append(el("td", "", run.workflowId), el("td", "", run.workflowType), status, el("td", "", run.run), el("td", "", run.events));
    row.addEventListener("click", () => { selected = run.workflowId; remember(); refresh(); });
    return row;
  });
  document.getElementById("runs").replaceChildren(...rows);
}

/** Lanes: a bar per step attempt, per timer; marks for signals. Times are ms since the run started. */
function lanesOf(events) {
  const lanes = new Map();
  const lane = (key, label) => { if (!lanes.has(key)) lanes.set(key, { label, bars: [], marks: [] }); return lanes.get(key); };
  const names = new Map();
  const open = new Map();
  let last = 0;
  for (const event of events) {
    const at = event.offsetMs === undefined ? last : event.offsetMs;
    last = Math.max(last, at);
    if (event.type === "stepScheduled") {
      names.set(event.seq, event.name);
      const bar = { from: at, to: undefined, state: "running", attempt: event.attempt, text: event.text };
      lane("step:" + event.seq, "step " + event.name).bars.push(bar);
      open.set("step:" + event.seq + ":" + event.attempt, bar);
    } else if (event.type === "stepCompleted" || event.type === "stepFailed" || event.type === "stepTimedOut") {
      const bar = open.get("step:" + event.seq + ":" + event.attempt);
      if (bar) { bar.to = at; bar.state = event.type === "stepCompleted" ? "completed" : event.type === "stepFailed" ? "failed" : "timedOut"; bar.text = event.text; }
    } else if (event.type === "timerSet") {
      names.set(event.seq, event.name);
      const bar = { from: at, to: undefined, state: "waiting", text: event.text };
      lane("timer:" + event.seq, "timer " + event.name).bars.push(bar);
      open.set("timer:" + event.seq, bar);
    } else if (event.type === "timerFired") {
      const bar = open.get("timer:" + event.seq);
      if (bar) { bar.to = at; bar.state = "fired"; }
    } else if (event.type === "signalReceived" || event.type === "cancelRequested") {
      lane("signals", "signals").marks.push({ at, text: event.text });
    }
  }
  return { lanes: [...lanes.values()], end: last };
}

function renderTimeline(events, status) {
  const { lanes, end } = lanesOf(events);
  const span = Math.max(end, 1);
  const pct = (ms) => (100 * ms / span).toFixed(2) + "%";
  const rows = lanes.map((entry) => {
    const row = el("div", "lane");
    row.dataset.lane = entry.label;
    const track = el("div", "track");
    for (const bar of entry.bars) {
      const to = bar.to === undefined ? end : bar.to;
      const node = el("div", "bar " + bar.state + (entry.label.startsWith("timer") ? " timer" : ""));
      node.dataset.state = bar.state;
      if (bar.attempt !== undefined) node.dataset.attempt = String(bar.attempt);
      node.style.left = pct(bar.from);
      node.style.width = pct(Math.max(0, to - bar.from));
      node.title = bar.text + " (+" + bar.from + "ms \\u2192 " + (bar.to === undefined ? (status === "running" ? "now" : "end") : "+" + bar.to + "ms") + ")";
      track.append(node);
    }
    for (const mark of entry.marks) {
      const node = el("div", "mark");
      node.style.left = pct(mark.at);
      node.title = mark.text + " (+" + mark.at + "ms)";
      track.append(node);
    }
    row.append(el("span", "label", entry.label), track);
    return row;
  });
  document.getElementById("lanes").replaceChildren(...rows);
  const list = events.map((event) => {
    const row = el("div", "event");
    row.dataset.kind = event.kind;
    row.dataset.type = event.type;
    if (event.attempt !== undefined) row.dataset.attempt = String(event.attempt);
    row.append(el("span", "muted", event.index), el("span", "muted", event.offsetMs === undefined ? "" : "+" + event.offsetMs + "ms"), el("span", "kind", event.type), el("span", "text", event.text));
    return row;
  });
  document.getElementById("events").replaceChildren(...list);
}

function renderSummary(run, earlier) {
  const summary = document.getElementById("summary");
  const title = el("h2", "", run.workflowId + " ");
  title.append(el("span", "badge " + run.status, run.status));
  const lines = [title, el("div", "muted", run.workflowType + " \\u00b7 run " + run.run + " \\u00b7 " + run.events + " events" + (earlier.length > 0 ? " \\u00b7 " + earlier.length + " earlier run(s) replaced by retry" : ""))];
  lines.push(el("div", "", "input: " + JSON.stringify(run.input)));
  if (run.result !== undefined) lines.push(el("div", "", "result: " + JSON.stringify(run.result)));
  if (run.failure) lines.push(el("div", "error", "failure: " + run.failure.type + ": " + run.failure.message));
  if (run.nondeterminism) lines.push(el("div", "error", run.nondeterminism));
  summary.replaceChildren(...lines);
  summary.dataset.status = run.status;
}

async function refresh() {
  try {
    renderRuns(await api("/api/workflows"));
    if (selected) {
      const body = await api("/api/workflows/history?id=" + encodeURIComponent(selected));
      document.getElementById("hint").hidden = true;
      document.getElementById("timeline-title").hidden = false;
      document.getElementById("events-title").hidden = false;
      renderSummary(body.run, body.earlierRuns);
      renderTimeline(body.events, body.run.status);
    }
    document.getElementById("state").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    document.getElementById("state").textContent = "error: " + error.message;
  }
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
  remember();
  refresh();
});

if (token === "") askToken("");
else { remember(); refresh(); }
setInterval(() => { if (token !== "") refresh(); }, 2000);
</script>
</body>
</html>
`;

// The game-day console page. Everything that came from an experiment or a note is set with
// textContent (never parsed as HTML), so the page shows it as text whatever it contains.
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const MAX_SECONDS = 900;
const state = { run: null, gameday: null, seconds: [], events: [], gamedayEvents: [],
  faults: [], summary: null, report: false, gamedayState: null, gamedayReport: false };
// When each load second reached this page (unix s), for the delay measurement.
window.gamedaySeen = {};

function withToken(path) {
  return token ? `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : path;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function say(text) { document.getElementById("message").textContent = text; }

function tolerance(value) {
  if (value && value.type === "range" && Array.isArray(value.range)) return `${value.range[0]} – ${value.range[1]}`;
  return fmt(value);
}

function fmt(value, digits) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return value.toFixed(digits === undefined ? 2 : digits);
  return typeof value === "string" ? value : JSON.stringify(value);
}

async function post(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || data.detail || `HTTP ${response.status}`);
  return data;
}

// -- charts -----------------------------------------------------------------------------

function faultWindows() {
  const open = {}; const windows = [];
  for (const event of state.events) {
    if (event.kind !== "fault") continue;
    if (event.edge === "start") open[event.id] = event.ts;
    else if (event.edge === "end" && open[event.id] !== undefined) {
      windows.push([open[event.id], event.ts]); delete open[event.id];
    }
  }
  for (const id in open) windows.push([open[id], null]);
  return windows;
}

function checkMarks() {
  return state.events.filter((e) => e.kind === "check").map((e) => [e.ts, !!e.ok]);
}

const overlay = {
  hooks: {
    drawClear: [(u) => {
      const ctx = u.ctx; const top = u.bbox.top; const height = u.bbox.height;
      ctx.save();
      ctx.fillStyle = "rgba(239, 68, 68, 0.15)";
      const last = u.data[0].length ? u.data[0][u.data[0].length - 1] : Date.now() / 1000;
      for (const [start, end] of faultWindows()) {
        const x0 = u.valToPos(start, "x", true);
        const x1 = u.valToPos(end === null ? Math.max(last, start) + 1 : end, "x", true);
        ctx.fillRect(x0, top, Math.max(x1 - x0, 2), height);
      }
      ctx.restore();
    }],
    draw: [(u) => {
      const ctx = u.ctx; const top = u.bbox.top; const height = u.bbox.height;
      ctx.save();
      for (const [ts, ok] of checkMarks()) {
        const x = u.valToPos(ts, "x", true);
        ctx.strokeStyle = ok ? "rgba(22, 163, 74, 0.8)" : "rgba(185, 28, 28, 0.95)";
        ctx.lineWidth = ok ? 1 : 2;
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      }
      ctx.restore();
    }],
  },
};

function makeChart(id, series) {
  const target = document.getElementById(id);
  const opts = {
    width: Math.max(target.clientWidth, 300), height: 170, plugins: [overlay],
    legend: { show: true }, scales: { x: { time: true } },
    series: [{}, ...series.map(([label, stroke]) => ({ label, stroke, width: 1.5, spanGaps: true }))],
  };
  return new uPlot(opts, [[], ...series.map(() => [])], target);
}

const charts = {
  rps: makeChart("chart-rps", [["req/s", "#2563eb"]]),
  errors: makeChart("chart-errors", [["errors %", "#dc2626"]]),
  latency: makeChart("chart-latency", [["p50", "#16a34a"], ["p95", "#d97706"], ["p99", "#7c3aed"]]),
};

function drawCharts() {
  const s = state.seconds;
  const xs = s.map((r) => r.ts);
  const pct = s.map((r) => (r.requests ? r.error_rate * 100 : null));
  charts.rps.setData([xs, s.map((r) => r.rps)]);
  charts.errors.setData([xs, pct]);
  charts.latency.setData([xs, s.map((r) => r.p50), s.map((r) => r.p95), s.map((r) => r.p99)]);
}

window.addEventListener("resize", () => {
  for (const chart of Object.values(charts)) {
    chart.setSize({ width: Math.max(chart.root.parentNode.clientWidth, 300), height: 170 });
  }
});

// -- panels -----------------------------------------------------------------------------

const PHASES = { warmup: "warm-up", baseline: "baseline", steady_state_before: "steady state before",
  method: "method", recovery: "recovery", steady_state_after: "steady state after", rollbacks: "rollbacks" };

function renderStatus() {
  const title = state.experiment ? state.experiment.title : "waiting for a run";
  document.getElementById("title").textContent = title;
  document.title = `gameday console: ${title}`;
  let phase = state.run ? "starting" : "waiting for a run";
  for (const event of state.events) {
    if (event.kind === "phase" && event.edge === "start") phase = PHASES[event.name] || event.name;
    if (event.kind === "abort") phase = `aborted: ${event.reason}`;
  }
  const verdict = document.getElementById("verdict");
  if (state.summary && state.summary.verdict) {
    phase = "ended";
    verdict.textContent = String(state.summary.verdict).toUpperCase();
    verdict.className = String(state.summary.verdict);
  } else { verdict.textContent = ""; verdict.className = ""; }
  document.getElementById("phase").textContent = phase;
  document.body.dataset.faultWindows = String(faultWindows().length);
  document.body.dataset.run = state.run || "";
}

function renderFaults() {
  const body = document.getElementById("faults");
  body.replaceChildren();
  const now = Date.now() / 1000;
  for (const fault of state.faults) {
    const ttl = fault.outstanding && fault.expires_at ? `${Math.max(0, fault.expires_at - now).toFixed(0)} s` : "–";
    const row = el("tr", null, fault.outstanding ? "applied" : "settled");
    for (const text of [fault.kind, fault.target, fault.status, ttl]) row.appendChild(el("td", text));
    body.appendChild(row);
  }
}

function renderChecks() {
  const body = document.getElementById("checks");
  body.replaceChildren();
  const declared = {};
  for (const probe of (state.experiment ? state.experiment.probes : [])) declared[probe.name] = probe.tolerance;
  for (const check of state.events.filter((e) => e.kind === "check").slice(-8).reverse()) {
    const row = el("tr", null, check.ok ? "ok" : "failed");
    const shown = check.tolerance !== undefined ? check.tolerance : declared[check.probe];
    for (const text of [check.probe, check.phase, fmt(check.value), tolerance(shown), check.ok ? "ok" : "FAILED"]) {
      row.appendChild(el("td", text));
    }
    body.appendChild(row);
  }
}

function renderNotes() {
  const list = document.getElementById("notes");
  list.replaceChildren();
  const notes = [...state.gamedayEvents, ...state.events].filter((e) => e.kind === "note");
  notes.sort((a, b) => a.ts - b.ts);
  for (const note of notes) {
    const item = el("li", null, "note");
    item.appendChild(el("strong", note.author || "anonymous"));
    item.appendChild(document.createTextNode(` (${new Date(note.ts * 1000).toLocaleTimeString()}): `));
    item.appendChild(el("span", note.text, "note-text"));
    list.appendChild(item);
  }
}

function awaitingNext() {
  // The game day waits when its last wait was stamped after the last advance.
  let waiting = false;
  for (const event of state.gamedayEvents) {
    if (event.kind === "awaiting_advance") waiting = true;
    else if (event.kind === "advance" || (event.kind === "step" && event.edge === "start")) waiting = false;
  }
  return waiting;
}

function renderGameday() {
  const box = document.getElementById("gameday-box");
  const gd = state.gamedayState;
  const next = document.getElementById("next");
  next.disabled = !awaitingNext();
  next.title = next.disabled ? "the game day is not waiting for the next step" : "start the next experiment";
  box.hidden = !gd;
  const list = document.getElementById("steps");
  list.replaceChildren();
  if (!gd) return;
  for (const step of gd.steps || []) {
    const running = step.started_at && !step.ended_at;
    // A step's verdict reads "not_run" until it ends: a running step says so instead.
    const text = `${step.title}${running ? " — running" : step.verdict ? ` — ${step.verdict}` : ""}`;
    list.appendChild(el("li", text, running ? "current" : ""));
  }
}

function renderRunbook() {
  const info = state.experiment;
  document.getElementById("runbook-name").textContent = info && info.runbook ? info.runbook : "";
  document.getElementById("runbook").textContent = info ? (info.runbook_text || "no runbook") : "";
}

function renderReport() {
  const box = document.getElementById("report");
  box.replaceChildren();
  const links = [];
  if (state.report && state.run) links.push(["Report of this run", state.run]);
  if (state.gamedayReport && state.gameday) links.push(["Game-day report", state.gameday]);
  for (const [label, folder] of links) {
    const link = el("a", label);
    link.href = withToken(`report/${encodeURIComponent(folder)}`);
    link.target = "_blank"; link.rel = "noopener";
    link.className = "report-link";
    box.appendChild(link); box.appendChild(document.createTextNode(" "));
  }
}

function renderAll() {
  renderStatus(); renderFaults(); renderChecks(); renderNotes(); renderGameday(); renderRunbook(); renderReport();
  drawCharts();
}

// -- the stream -------------------------------------------------------------------------

function seen(seconds) {
  const now = Date.now() / 1000;
  for (const second of seconds) if (!(second.ts in window.gamedaySeen)) window.gamedaySeen[second.ts] = now;
}

function applySnapshot(data) {
  state.run = data.run; state.gameday = data.gameday; state.experiment = data.experiment;
  state.events = data.events || []; state.gamedayEvents = data.gameday_events || [];
  state.seconds = data.seconds || []; state.faults = data.faults || [];
  state.summary = data.summary; state.report = !!data.report;
  state.gamedayState = data.gameday_state; state.gamedayReport = !!data.gameday_report;
  seen(state.seconds);
  renderAll();
}

function applyDelta(data) {
  if (data.events) state.events.push(...data.events);
  if (data.gameday_events) state.gamedayEvents.push(...data.gameday_events);
  if (data.seconds) { seen(data.seconds); state.seconds.push(...data.seconds); state.seconds = state.seconds.slice(-MAX_SECONDS); }
  if ("faults" in data) state.faults = data.faults || [];
  if ("summary" in data) state.summary = data.summary;
  if ("report" in data) state.report = !!data.report;
  if ("gameday_state" in data) state.gamedayState = data.gameday_state;
  if ("gameday_report" in data) state.gamedayReport = !!data.gameday_report;
  renderAll();
  document.body.dataset.lastSecond = state.seconds.length ? String(state.seconds[state.seconds.length - 1].ts) : "";
}

const source = new EventSource(withToken("api/events"));
source.addEventListener("snapshot", (e) => applySnapshot(JSON.parse(e.data)));
source.addEventListener("delta", (e) => applyDelta(JSON.parse(e.data)));
source.onerror = () => say("connection to the console lost; retrying…");
source.onopen = () => say("");
setInterval(renderFaults, 1000);  // TTLs count down between pushes

// -- actions ----------------------------------------------------------------------------

const authorBox = document.getElementById("note-author");
authorBox.value = localStorage.getItem("gameday-author") || "";

document.getElementById("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const textBox = document.getElementById("note-text");
  localStorage.setItem("gameday-author", authorBox.value);
  try {
    await post("api/notes", { text: textBox.value, author: authorBox.value });
    textBox.value = ""; say("note added");
  } catch (error) { say(`note not added: ${error.message}`); }
});

document.getElementById("next").addEventListener("click", async () => {
  try { await post("api/next", { author: authorBox.value || "facilitator" }); say("next step requested"); }
  catch (error) { say(`next step refused: ${error.message}`); }
});

document.getElementById("stop").addEventListener("click", async () => {
  if (!confirm("Emergency stop: halt every run under this runs folder and roll every fault back?")) return;
  say("emergency stop: stopping every run and rolling back…");
  try {
    const report = await post("api/stop", {});
    const left = report.may_still_be_applied ? "a fault may still be applied: run `gameday rollback`" : "nothing left applied";
    say(`emergency stop done: ${report.runners.length} runner(s), ${report.undone.length} undone; ${left}`);
    document.body.dataset.stopped = report.may_still_be_applied ? "incomplete" : "complete";
  } catch (error) { say(`emergency stop refused: ${error.message}`); }
});

fetch(withToken("api/whoami")).then((r) => r.json()).then((me) => {
  document.getElementById("role").textContent = me.role || "";
  const facilitator = me.role === "facilitator";
  document.getElementById("next").hidden = !facilitator;
  document.getElementById("stop").hidden = !facilitator;
});

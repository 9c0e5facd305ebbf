// pm dashboard: the process table with a sparkline per instance, a detail view per app, the
// event list beside the log panel; kept live by server-sent events. Plain JS modules, no build
// step, no external code. Auth rides on the HttpOnly cookie set at /login.
import { runAction } from "./actions.js";
import { sparkline } from "./chart.js";
import { closeDetail, detailName, initDetail, openDetail, renderCharts, renderStates,
  settingsMayHaveChanged } from "./detail.js";
import { formatBytes, renderEvents } from "./events.js";
import { initHosts } from "./hosts.js";
import { closeLogs, initLogs, logTarget, openLogs } from "./logs.js";
import { addEvent, addSample, loadAll, marksOf, store } from "./store.js";

const $ = (selector) => document.querySelector(selector);

const state = {
  rows: new Map(),      // pm_id -> <tr>
  apps: new Map(),      // pm_id -> last row data
  filter: "",
  rendered: false,      // new rows flash only after the first render
  drawQueued: false,
  eventsChanged: false,
};

// ------------------------------------------------------------------ formatting (PM2's style)

function formatUptime(ms) {
  if (!ms) return "0";
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m";
  const h = Math.floor(m / 60);
  if (h < 24) return h + "h";
  return Math.floor(h / 24) + "D";
}

// ------------------------------------------------------------------ the process table

function makeRow(app) {
  const row = $("#row-template").content.firstElementChild.cloneNode(true);
  row.dataset.id = app.id;
  row.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const current = state.apps.get(Number(row.dataset.id));
    if (button.dataset.action === "logs") showLogs(current);
    else if (button.dataset.action === "detail") location.hash = "#/app/" + encodeURIComponent(current.name);
    else runAction(button, button.dataset.action, current);
  });
  return row;
}

function setText(row, selector, text) {
  const cell = row.querySelector(selector);
  if (cell.textContent !== text) cell.textContent = text;
}

function updateRow(row, app, previous) {
  setText(row, ".id", String(app.id));
  setText(row, ".name .link", app.name);
  setText(row, ".namespace", app.namespace);
  const pill = row.querySelector(".pill");
  if (pill.dataset.status !== app.status) { pill.dataset.status = app.status; pill.textContent = app.status; }
  const health = row.querySelector(".health");
  health.hidden = !app.health;
  health.dataset.health = app.health || "";
  setText(row, ".health", app.health ? (app.health === "healthy" ? "♥ healthy" : app.health === "unhealthy" ? "⚠ unhealthy" : "… " + app.health) : "");
  row.dataset.status = app.status;
  setText(row, ".pid", app.pid ? String(app.pid) : "—");
  setText(row, ".uptime", app.status === "online" ? formatUptime(app.uptime_ms) : "0");
  setText(row, ".restarts", String(app.restarts));
  setText(row, ".cpu", app.cpu + "%");
  setText(row, ".memory", formatBytes(app.memory));
  const running = ["online", "launching", "waiting restart"].includes(app.status);
  row.querySelector('[data-action="start"]').disabled = running;
  row.querySelector('[data-action="stop"]').disabled = !running;
  if (previous && previous.restarts !== app.restarts) {
    const cell = row.querySelector(".restarts");
    cell.classList.add("bumped");
    row.classList.remove("flash");
    void row.offsetWidth;  // restart the animation
    row.classList.add("flash");
    setTimeout(() => cell.classList.remove("bumped"), 4000);
  }
  row.hidden = !matchesFilter(app);
}

function drawSpark(row, id) {
  const series = store.instances.get(id);
  const svg = row.querySelector(".spark");
  if (!series || !series.t.length) { svg.setAttribute("aria-label", "no history yet"); return; }
  const to = series.t[series.t.length - 1];
  // from the first sample (up to the retention), so a young history still fills the line
  const from = Math.max(to - store.retentionMs, Math.min(series.t[0], to - 10 * store.intervalMs));
  const marks = marksOf({ id }).filter((e) => e.name === series.name);
  sparkline(svg, { t: series.t, values: series.memory }, from, to, marks, store.intervalMs * 3);
  let peak = 0;
  for (const value of series.memory) if (value > peak) peak = value;
  const restarts = marks.filter((e) => e.kind === "restart" && e.at >= from).length;
  svg.setAttribute("aria-label", `memory over ${Math.max(1, Math.round((to - from) / 60e3))} min: ` +
    `now ${formatBytes(series.memory[series.memory.length - 1])}, peak ${formatBytes(peak)}, ` +
    `${restarts} restart${restarts === 1 ? "" : "s"}`);
  row.querySelector(".col-spark").title = svg.getAttribute("aria-label");
}

function matchesFilter(app) {
  if (!state.filter) return true;
  return app.name.toLowerCase().includes(state.filter) || app.namespace.toLowerCase().includes(state.filter);
}

function renderApps(apps) {
  const tbody = $("#rows");
  const seen = new Set();
  apps.sort((a, b) => a.id - b.id);
  let before = tbody.firstElementChild;
  for (const app of apps) {
    seen.add(app.id);
    let row = state.rows.get(app.id);
    const isNew = !row;
    if (isNew) { row = makeRow(app); state.rows.set(app.id, row); drawSpark(row, app.id); }
    updateRow(row, app, state.apps.get(app.id));
    state.apps.set(app.id, app);
    if (row !== before) tbody.insertBefore(row, before);
    else before = before.nextElementSibling;
    if (isNew && state.rendered) row.classList.add("flash");
    row.classList.toggle("selected", String(app.id) === logTarget());
  }
  for (const [id, row] of state.rows) {
    if (!seen.has(id)) { row.remove(); state.rows.delete(id); state.apps.delete(id); }
  }
  $("#empty").hidden = apps.length > 0;
  renderCounts(apps);
  renderStates(apps);
  state.rendered = true;
}

function renderCounts(apps) {
  const counts = {};
  for (const app of apps) counts[app.status] = (counts[app.status] || 0) + 1;
  const box = $("#counts");
  box.textContent = "";
  const order = ["online", "launching", "waiting restart", "stopping", "stopped", "errored"];
  for (const status of order.concat(Object.keys(counts).filter((s) => !order.includes(s)))) {
    if (!counts[status]) continue;
    const chip = document.createElement("span");
    chip.className = "count";
    const number = document.createElement("b");
    number.textContent = counts[status];
    chip.append(number, status);
    box.appendChild(chip);
  }
}

function renderDaemon(daemon) {
  const box = $("#daemon");
  box.dataset.up = String(Boolean(daemon.up));
  $("#daemon-text").textContent = daemon.up
    ? `daemon v${daemon.version} · pid ${daemon.pid}`
    : "daemon not running";
  const banner = $("#banner");
  banner.hidden = Boolean(daemon.up);
  if (!daemon.up) {
    banner.textContent = "The pm daemon is not answering" + (daemon.error ? ": " + daemon.error : ".") +
      " Start it with `pm resurrect` or `pm start`; this page reconnects by itself.";
  }
}

// ------------------------------------------------------------------ history and events

function renderEventList() {
  const name = detailName();
  $("#events-scope").textContent = name ? name : "all apps";
  const count = renderEvents($("#event-list"), name ? { name } : {}, $("#problems-only").checked);
  $("#events-empty").hidden = count > 0;
  $("#events-count").textContent = count ? `${count} kept` : "";
}

// Redraw what history feeds, once per animation frame however many items came; the event
// list only when events came (redrawing it would move a keyboard user's focus).
function historyChanged(what) {
  if (what !== "sample") state.eventsChanged = true;
  if (state.drawQueued) return;
  state.drawQueued = true;
  requestAnimationFrame(() => {
    state.drawQueued = false;
    for (const [id, row] of state.rows) drawSpark(row, id);
    renderCharts();
    if (state.eventsChanged) renderEventList();
    state.eventsChanged = false;
  });
}

function showLogs(app) {
  openLogs(app.id, `${app.name} (${app.id})`);
  for (const [id, row] of state.rows) row.classList.toggle("selected", id === app.id);
}

// ------------------------------------------------------------------ the live connection

function setLive(stateName, text) {
  $("#live").dataset.state = stateName;
  $("#live-text").textContent = text;
}

function connectEvents() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => {
    setLive("live", "live");
    loadAll().catch((error) => setLive("down", "history: " + error.message));  // fills any gap
  });
  source.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    renderDaemon(snapshot.daemon);
    renderApps(snapshot.apps);
    setLive("live", "live");
  });
  source.addEventListener("sample", (event) => addSample(JSON.parse(event.data)));
  source.addEventListener("event", (event) => {
    const data = JSON.parse(event.data);
    addEvent(data);
    settingsMayHaveChanged(data);
  });
  source.addEventListener("error", async () => {
    setLive(source.readyState === EventSource.CLOSED ? "down" : "connecting", "reconnecting");
    if (source.readyState === EventSource.CLOSED) {
      const check = await fetch("/api/daemon", { credentials: "same-origin" }).catch(() => null);
      if (check && check.status === 401) { location.href = "/login"; return; }
      setTimeout(connectEvents, 2000);
    }
  });
}

// ------------------------------------------------------------------ views and keys

function route() {
  const match = location.hash.match(/^#\/app\/(.+)$/);
  const name = match ? decodeURIComponent(match[1]) : null;
  if (name) {
    if (name !== detailName()) {
      openDetail(name);
      openLogs(name, name, false);
    }
  } else if (detailName()) {
    closeDetail();
    closeLogs();
  }
  renderStates([...state.apps.values()]);
  renderEventList();
}

function onKey(event) {
  const typing = event.target.closest("input, select, textarea");
  if (event.key === "/" && !typing) {
    event.preventDefault();
    const filter = detailName() ? $("#log-filter") : $("#filter");
    filter.focus();
  } else if (event.key === "Escape") {
    if (typing && event.target.value) return;  // the browser clears a search field first
    if (detailName()) location.hash = "#/";
    else if (logTarget() !== null) closeLogs();
  }
}

function init() {
  $("#filter").addEventListener("input", (event) => {
    state.filter = event.target.value.trim().toLowerCase();
    for (const [id, row] of state.rows) row.hidden = !matchesFilter(state.apps.get(id));
  });
  $("#back").addEventListener("click", () => { location.hash = "#/"; });
  $("#problems-only").addEventListener("change", renderEventList);
  initLogs(() => { for (const row of state.rows.values()) row.classList.remove("selected"); });
  initDetail();
  initHosts();
  store.listeners.add(historyChanged);
  window.addEventListener("hashchange", route);
  document.addEventListener("keydown", onKey);
  route();
  connectEvents();
}

init();

// pm dashboard: the process table and a log tail, kept live by server-sent events.
// Plain JS, no build step, no external code. Auth rides on the HttpOnly cookie set at /login.
"use strict";

const $ = (selector) => document.querySelector(selector);
const MAX_LOG_LINES = 2000;

const state = {
  rows: new Map(),      // pm_id -> <tr>
  apps: new Map(),      // pm_id -> last row data
  logId: null,          // pm_id whose logs are shown
  logSource: null,      // EventSource of the log stream
  filter: "",
  rendered: false,      // new rows flash only after the first render
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

function formatBytes(bytes) {
  if (!bytes) return "0b";
  const units = ["b", "kb", "mb", "gb"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return (unit ? value.toFixed(1) : String(value)) + units[unit];
}

// ------------------------------------------------------------------ talking to the server

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await response.json(); } catch (_) { /* not JSON */ }
  if (response.status === 401) { location.href = "/login"; }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : response.status + " " + response.statusText;
    throw new Error(message);
  }
  return data;
}

const ACTIONS = {
  start: (app) => post("/api/start", { targets: [String(app.id)] }),
  stop: (app) => post("/api/stop", { targets: [String(app.id)] }),
  restart: (app) => post("/api/restart", { targets: [String(app.id)] }),
  delete: (app) => post("/api/delete", { targets: [String(app.id)] }),
  "scale-up": (app) => post("/api/scale", { name: app.name, delta: 1 }),
  "scale-down": (app) => post("/api/scale", { name: app.name, delta: -1 }),
};

const DONE = { start: "started", stop: "stopped", restart: "restarted", delete: "deleted" };

function doneMessage(action, app, entries) {
  const ids = (entries || []).map((entry) => entry.pm_id).join(", ");
  if (action === "scale-up") return `${app.name}: instance ${ids} added`;
  if (action === "scale-down") return `${app.name}: instance ${ids} removed`;
  return `${app.name} (${app.id}) ${DONE[action]}`;
}

async function runAction(button, action, app) {
  if (action === "delete" && !button.classList.contains("armed")) {
    button.classList.add("armed");
    button.textContent = "Sure?";
    setTimeout(() => { button.classList.remove("armed"); button.textContent = "Delete"; }, 3000);
    return;
  }
  button.disabled = true;
  button.classList.add("busy");
  try {
    toast(doneMessage(action, app, await ACTIONS[action](app)));
  } catch (error) {
    toast(error.message, `${action.replace("-", " ")} ${app.name} (${app.id}) failed`);
  } finally {
    button.disabled = false;
    button.classList.remove("busy");
  }
}

function toast(message, errorTitle) {
  const node = document.createElement("div");
  node.className = "toast" + (errorTitle ? " error" : "");
  node.setAttribute("role", errorTitle ? "alert" : "status");
  if (errorTitle) {
    const title = document.createElement("b");
    title.textContent = errorTitle;
    node.appendChild(title);
  }
  node.appendChild(document.createTextNode(message));
  $("#toasts").appendChild(node);
  setTimeout(() => node.remove(), errorTitle ? 9000 : 3000);
}

// ------------------------------------------------------------------ the process table

function makeRow(app) {
  const row = $("#row-template").content.firstElementChild.cloneNode(true);
  row.dataset.id = app.id;
  row.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const current = state.apps.get(Number(row.dataset.id));
    if (button.dataset.action === "logs") openLogs(current);
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
    if (isNew) { row = makeRow(app); state.rows.set(app.id, row); }
    updateRow(row, app, state.apps.get(app.id));
    state.apps.set(app.id, app);
    if (row !== before) tbody.insertBefore(row, before);
    else before = before.nextElementSibling;
    if (isNew && state.rendered) row.classList.add("flash");
    row.classList.toggle("selected", app.id === state.logId);
  }
  for (const [id, row] of state.rows) {
    if (!seen.has(id)) { row.remove(); state.rows.delete(id); state.apps.delete(id); }
  }
  $("#empty").hidden = apps.length > 0;
  renderCounts(apps);
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

function setLive(stateName, text) {
  $("#live").dataset.state = stateName;
  $("#live-text").textContent = text;
}

function connectEvents() {
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => setLive("live", "live"));
  source.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse(event.data);
    renderDaemon(snapshot.daemon);
    renderApps(snapshot.apps);
    setLive("live", "live");
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

// ------------------------------------------------------------------ logs

function openLogs(app) {
  if (state.logSource) state.logSource.close();
  state.logId = app.id;
  for (const [id, row] of state.rows) row.classList.toggle("selected", id === app.id);
  $("#logs").hidden = false;
  $("#log-app").textContent = `${app.name} (${app.id})`;
  const view = $("#log-view");
  view.textContent = "";
  const source = new EventSource(`/api/logs/stream?target=${encodeURIComponent(app.id)}&lines=100`);
  source.addEventListener("lines", (event) => appendLines(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && state.logSource === source) {
      addNote("log stream closed (app deleted?)");
    }
  });
  state.logSource = source;
  $("#logs").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

function closeLogs() {
  if (state.logSource) state.logSource.close();
  state.logSource = null;
  state.logId = null;
  $("#logs").hidden = true;
  for (const row of state.rows.values()) row.classList.remove("selected");
}

function lineNode(stream, text, note) {
  const node = document.createElement("div");
  node.className = "line " + stream + (note ? " note" : "");
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = stream;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  node.append(tag, body);
  return node;
}

function noteNode(text) {
  const node = lineNode("", text, true);
  node.className = "line note";
  return node;
}

function addNote(text) {
  $("#log-view").appendChild(noteNode(text));
}

function appendLines(payload) {
  const view = $("#log-view");
  const stick = view.scrollTop + view.clientHeight >= view.scrollHeight - 30;
  const fragment = document.createDocumentFragment();
  let block = null;
  for (const line of payload.lines) {
    // The backlog comes file by file (no time order between out and err): head each file's
    // lines, as `pm2 logs` does, and mark where live lines begin.
    const key = `${line.id}/${line.stream}`;
    if (payload.backlog && key !== block) {
      block = key;
      fragment.appendChild(noteNode(`${line.name} (${line.id}) · last lines of ${line.stream}`));
    }
    fragment.appendChild(lineNode(line.stream, line.text, line.skipped));
  }
  if (payload.backlog && payload.lines.length) fragment.appendChild(noteNode("live from here"));
  view.appendChild(fragment);
  if (payload.backlog && !payload.lines.length) {
    const empty = document.createElement("div");
    empty.className = "log-empty";
    empty.textContent = "No output yet: new lines appear here as they are written.";
    view.appendChild(empty);
  } else if (payload.lines.length) {
    view.querySelectorAll(".log-empty").forEach((node) => node.remove());
  }
  while (view.childElementCount > MAX_LOG_LINES) view.firstElementChild.remove();
  if ($("#follow").checked && (stick || payload.backlog)) view.scrollTop = view.scrollHeight;
}

// ------------------------------------------------------------------ wiring

function init() {
  $("#filter").addEventListener("input", (event) => {
    state.filter = event.target.value.trim().toLowerCase();
    for (const [id, row] of state.rows) row.hidden = !matchesFilter(state.apps.get(id));
  });
  $("#show-out").addEventListener("change", (e) => $("#log-view").classList.toggle("hide-out", !e.target.checked));
  $("#show-err").addEventListener("change", (e) => $("#log-view").classList.toggle("hide-err", !e.target.checked));
  $("#log-clear").addEventListener("click", () => { $("#log-view").textContent = ""; });
  $("#log-close").addEventListener("click", closeLogs);
  connectEvents();
}

init();

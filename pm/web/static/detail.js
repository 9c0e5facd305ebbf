// The detail view of one app: cpu and memory charts with restart/exit/health marks, its
// instances' states, its settings (what `pm describe` prints); the logs and events panels
// below follow the same app.

import { runAction } from "./actions.js";
import { timeChart } from "./chart.js";
import { formatBytes } from "./events.js";
import { loadDetail, marksOf, store } from "./store.js";

const $ = (selector) => document.querySelector(selector);

const view = { name: null, range: 3600e3, instance: "all", settings: [], settingsTimer: null };

export function detailName() { return view.name; }

export async function openDetail(name) {
  view.name = name;
  view.instance = "all";
  $("#overview").hidden = true;
  $("#detail").hidden = false;
  $("#settings").hidden = false;
  $("#detail-name").textContent = name;
  $("#detail-name").focus();
  store.detail = { name, app: { t: [], cpu: [], memory: [] }, instances: new Map() };
  refreshSettings();
  try {
    await loadDetail(name);
  } catch (error) {
    $("#detail-span").textContent = `history unavailable: ${error.message}`;
  }
}

export function closeDetail() {
  view.name = null;
  store.detail = null;
  $("#detail").hidden = true;
  $("#settings").hidden = true;
  $("#overview").hidden = false;
}

function chosenSeries() {
  const detail = store.detail;
  if (!detail) return null;
  if (view.instance === "all") return detail.app;
  return detail.instances.get(Number(view.instance)) || { t: [], cpu: [], memory: [] };
}

function window_(series, marks) {
  const lastSample = series.t.length ? series.t[series.t.length - 1] : 0;
  const lastMark = marks.length ? marks[marks.length - 1].at : 0;
  const to = Math.max(lastSample, lastMark) || Date.now();
  const first = series.t.length ? series.t[0] : to;
  // the range, but no longer than what is known (a fresh `pm web` has little to show)
  const from = Math.max(to - view.range, Math.min(first, to - 60e3));
  return { from, to };
}

export function renderCharts() {
  const series = chosenSeries();
  if (!series || $("#detail").hidden) return;
  const scope = view.instance === "all" ? { name: view.name } : { id: Number(view.instance) };
  const marks = marksOf(scope);
  const { from, to } = window_(series, marks);
  const gapMs = store.intervalMs * 3;
  timeChart($("#chart-cpu"), { t: series.t, values: series.cpu, from, to, marks, gapMs,
    format: (v) => (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + "%", label: "cpu" });
  timeChart($("#chart-memory"), { t: series.t, values: series.memory, from, to, marks, gapMs,
    format: formatBytes, label: "memory", byteScale: true });
  const minutes = Math.round((to - from) / 60e3);
  $("#detail-span").textContent = `last ${minutes < 1 ? "minute" : minutes + " min"}, a point every ${store.intervalMs / 1000} s`;
}

function instanceOptions(ids) {
  const select = $("#instance");
  const wanted = ["all", ...ids.map(String)];
  const have = [...select.options].map((o) => o.value);
  if (wanted.join() === have.join()) return;
  select.textContent = "";
  for (const value of wanted) {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = value === "all" ? `all (sum of ${ids.length})` : `id ${value}`;
    select.appendChild(option);
  }
  if (!wanted.includes(view.instance)) view.instance = "all";
  select.value = view.instance;
}

// The header: each instance's status and health in words, and app-wide actions.
export function renderStates(apps) {
  if (!view.name) return;
  const mine = apps.filter((app) => app.name === view.name);
  const ids = [...new Set([...mine.map((a) => a.id), ...(store.detail ? store.detail.instances.keys() : [])])].sort((a, b) => a - b);
  instanceOptions(ids);
  const box = $("#detail-states");
  box.textContent = "";
  if (!mine.length) box.textContent = "not in the process list (deleted?)";
  for (const app of mine) {
    const chip = document.createElement("span");
    chip.className = "state-chip";
    chip.dataset.status = app.status;
    chip.textContent = `id ${app.id} · ${app.status}` + (app.health ? ` · ${app.health}` : "") +
      ` · ↺ ${app.restarts}`;
    box.appendChild(chip);
  }
  if (mine.length) {
    for (const action of ["restart", "stop", "start"]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = action[0].toUpperCase() + action.slice(1) + " all";
      button.dataset.action = action;
      button.addEventListener("click", () => runAction(button, action, { id: view.name, name: view.name }));
      box.appendChild(button);
    }
  }
}

async function refreshSettings() {
  const name = view.name;
  try {
    const response = await fetch(`/api/settings?target=${encodeURIComponent(name)}`, { credentials: "same-origin" });
    view.settings = response.ok ? await response.json() : [];
  } catch (_) {
    view.settings = [];
  }
  if (name !== view.name) return;
  const select = $("#settings-instance");
  const current = select.value;
  select.textContent = "";
  for (const entry of view.settings) {
    const option = document.createElement("option");
    option.value = entry.pm_id;
    option.textContent = `id ${entry.pm_id}`;
    select.appendChild(option);
  }
  if (current && [...select.options].some((o) => o.value === current)) select.value = current;
  renderSettings();
}

function renderSettings() {
  const body = $("#settings-table tbody");
  body.textContent = "";
  const entry = view.settings.find((e) => String(e.pm_id) === $("#settings-instance").value) || view.settings[0];
  if (!entry) {
    const row = body.insertRow();
    row.insertCell().textContent = "No such app in the daemon's list now.";
    return;
  }
  for (const [key, value] of entry.settings) {
    const row = body.insertRow();
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = key;
    row.appendChild(th);
    row.insertCell().textContent = value;
  }
}

// Settings hold counters and the status: read them again after the app's events (at most
// once a second).
export function settingsMayHaveChanged(event) {
  if (!view.name || event.name !== view.name || view.settingsTimer) return;
  view.settingsTimer = setTimeout(() => { view.settingsTimer = null; if (view.name) refreshSettings(); }, 1000);
}

export function initDetail() {
  for (const button of document.querySelectorAll("#ranges button")) {
    button.addEventListener("click", () => {
      view.range = Number(button.dataset.range);
      for (const other of document.querySelectorAll("#ranges button")) {
        other.setAttribute("aria-pressed", String(other === button));
      }
      renderCharts();
    });
  }
  $("#instance").addEventListener("change", (event) => { view.instance = event.target.value; renderCharts(); });
  $("#settings-instance").addEventListener("change", renderSettings);
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(renderCharts, 150);
  });
}

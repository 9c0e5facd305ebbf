// Other hosts (pm web --remote / --all-hosts): one card per host, polled over ssh by the
// server. A host that does not answer says so in its card, with ssh's reason and since when;
// the apps it showed last stay, marked stale. Hidden when the dashboard shows one host.
import { post } from "./actions.js";
import { formatBytes } from "./events.js";

const $ = (selector) => document.querySelector(selector);
const REFRESH_MS = 2000;

function ago(ms) {
  if (!ms) return "never";
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? s + " s ago" : Math.round(s / 60) + " min ago";
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function appRow(host, app, stale) {
  const tr = document.createElement("tr");
  if (stale) tr.className = "stale";
  const pill = document.createElement("span");
  pill.className = "pill";
  pill.dataset.status = app.status || "";
  pill.textContent = app.status || "";
  const status = cell("");
  status.appendChild(pill);
  tr.append(cell(String(app.pm_id), "num"), cell(app.name), status, cell(String(app.pid || ""), "num"),
    cell(String(app.restarts), "num"), cell(app.cpu + "%", "num"), cell(formatBytes(app.memory), "num"));
  const actions = cell("", "actions");
  const restart = document.createElement("button");
  restart.type = "button";
  restart.textContent = "↻ Restart";
  restart.dataset.action = "restart";
  restart.addEventListener("click", async () => {
    restart.disabled = true;
    try {
      await post("/api/hosts/action", { host: host.name, cmd: "restart", target: String(app.pm_id) });
    } catch (error) {
      restart.title = error.message;
    }
    restart.disabled = false;
    refresh();
  });
  actions.appendChild(restart);
  tr.appendChild(actions);
  return tr;
}

function hostCard(host) {
  const card = document.createElement("article");
  card.className = "host";
  card.dataset.state = host.state;
  card.dataset.host = host.name;
  const head = document.createElement("h3");
  const dot = document.createElement("span");
  dot.className = "dot";
  const name = document.createElement("span");
  name.textContent = host.name;
  const state = document.createElement("span");
  state.className = "host-state";
  state.textContent = host.state === "ok"
    ? `${host.apps.length} app${host.apps.length === 1 ? "" : "s"} · answered ${ago(host.answered_ms)}`
    : host.state === "unreachable"
      ? `unreachable since ${host.answered_ms ? ago(host.answered_ms) : "the start"}`
      : "connecting…";
  head.append(dot, name, state);
  card.appendChild(head);
  if (host.problem) {
    const why = document.createElement("p");
    why.className = "host-problem";
    why.textContent = host.problem;
    card.appendChild(why);
  }
  if (host.apps.length) {
    const table = document.createElement("table");
    const body = document.createElement("tbody");
    for (const app of host.apps) body.appendChild(appRow(host, app, host.state !== "ok"));
    table.appendChild(body);
    card.appendChild(table);
  }
  return card;
}

async function refresh() {
  let data;
  try {
    const response = await fetch("/api/hosts", { credentials: "same-origin" });
    if (!response.ok) return;
    data = await response.json();
  } catch (_) {
    return;
  }
  const section = $("#hosts");
  section.hidden = data.hosts.length === 0;
  const list = $("#host-list");
  list.replaceChildren(...data.hosts.map(hostCard));
  const down = data.hosts.filter((host) => host.state === "unreachable").length;
  $("#hosts-summary").textContent = `${data.hosts.length} host${data.hosts.length === 1 ? "" : "s"}` +
    (down ? ` · ${down} unreachable` : "") + ` · polled every ${data.poll_s} s over ssh`;
}

export function initHosts() {
  refresh();
  setInterval(refresh, REFRESH_MS);
}

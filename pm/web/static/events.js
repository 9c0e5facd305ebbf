// The event list beside the logs: what the daemon did and why, newest first, in words.

import { clock, describeMark, markKind, MARK_GLYPH } from "./chart.js";
import { logLine } from "./logs.js";
import { eventsOf } from "./store.js";

const SHOWN = 300;
const GLYPH = { ...MARK_GLYPH, online: "▶", stop: "■", stopping: "■", "waiting restart": "…",
  delete: "⌫", reset: "0", cron: "⏲", watch: "👁" };
const toggled = new Map();  // seq -> open, for the "last lines" boxes a person opened or closed
const PROBLEMS = new Set(["exit", "errored", "restart overlimit", "memory", "unhealthy"]);

function detailText(event) {
  switch (event.kind) {
    case "exit":
      return (event.signal ? `killed by ${event.signal}` : `exit code ${event.code}`) +
        (event.manually ? " (stopped by pm)" : "");
    case "memory":
      return `memory ${formatBytes(event.memory)} over the limit ${formatBytes(event.limit)}`;
    case "waiting restart": return `restart in ${event.delay_ms} ms`;
    case "online": return event.pid ? `pid ${event.pid}` : "";
    case "cron": return event.cron || "";
    case "watch": return event.path || "";
    case "health": return [event.detail, event.failures ? `${event.failures} failures` : ""].filter(Boolean).join(" · ");
    default: return event.reason || "";
  }
}

export function formatBytes(bytes) {
  if (!bytes) return "0b";
  const units = ["b", "kb", "mb", "gb"];
  let value = bytes, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return (unit ? value.toFixed(1) : String(Math.round(value))) + units[unit];
}

function tailNode(tail) {
  const box = document.createElement("details");
  box.className = "ev-tail";
  const summary = document.createElement("summary");
  summary.textContent = "last lines around the exit";
  box.appendChild(summary);
  for (const [stream, lines] of Object.entries(tail)) {
    for (const line of lines) box.appendChild(logLine(stream, line));
  }
  return box;
}

function eventNode(event, showName) {
  const kind = markKind(event);
  const item = document.createElement("li");
  item.className = "ev" + (PROBLEMS.has(kind) && !event.manually ? " problem" : "");
  item.dataset.kind = kind;
  item.dataset.seq = event.seq;
  const time = document.createElement("time");
  time.dateTime = new Date(event.at).toISOString();
  time.textContent = clock(event.at);
  const glyph = document.createElement("span");
  glyph.className = "ev-glyph";
  glyph.setAttribute("aria-hidden", "true");
  glyph.textContent = GLYPH[kind] || "•";
  const word = document.createElement("b");
  word.className = "ev-kind";
  word.textContent = event.kind === "health" ? `health: ${event.health}` : event.kind;
  item.append(time, glyph, word);
  if (showName) {
    const who = document.createElement("span");
    who.className = "ev-app";
    who.textContent = `${event.name} (${event.id})`;
    item.appendChild(who);
  }
  const text = detailText(event);
  if (text) {
    const detail = document.createElement("span");
    detail.className = "ev-detail";
    detail.textContent = text;
    item.appendChild(detail);
  }
  item.title = `${clock(event.at)} ${describeMark(event)}`;
  if (event.tail) {
    const box = tailNode(event.tail);
    box.addEventListener("toggle", () => toggled.set(event.seq, box.open));
    item.appendChild(box);
  }
  return item;
}

// Redraw the list for a scope: {name} for one app, {} for all; `problemsOnly` hides the rest.
export function renderEvents(list, scope, problemsOnly) {
  let events = eventsOf(scope).reverse();
  if (problemsOnly) events = events.filter((e) => PROBLEMS.has(markKind(e)) && !e.manually);
  const fragment = document.createDocumentFragment();
  // one app's newest exit shows its last lines at once: usually the first thing wanted
  const newestExit = scope.name ? events.find((e) => e.tail) : null;
  for (const event of events.slice(0, SHOWN)) {
    const item = eventNode(event, !scope.name);
    const open = toggled.has(event.seq) ? toggled.get(event.seq) : event === newestExit;
    if (open) item.querySelector("details")?.setAttribute("open", "");
    fragment.appendChild(item);
  }
  const scroll = list.scrollTop;
  list.textContent = "";
  list.appendChild(fragment);
  list.scrollTop = scroll;
  return events.length;
}

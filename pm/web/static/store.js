// What the page knows of the past: cpu/memory series and daemon events, loaded from the web
// process (so a reload loses nothing) and kept current by the live `sample` and `event` items.

const HOUR = 3600 * 1000;
const SPARK_POINTS = 240;
const MAX_EVENTS = 5000;

export const store = {
  intervalMs: 2000,
  retentionMs: HOUR,
  instances: new Map(),  // pm_id -> {name, t, cpu, memory}: the table's sparklines
  detail: null,          // {name, app: {t, cpu, memory}, instances: Map id -> series}
  events: new Map(),     // seq -> event
  loading: false,
  pending: [],           // live samples that came while a load was under way
  listeners: new Set(),
};

function series() { return { t: [], cpu: [], memory: [] }; }

function push(target, t, cpu, memory) {
  const last = target.t.length ? target.t[target.t.length - 1] : 0;
  if (t <= last) return;
  target.t.push(t); target.cpu.push(cpu); target.memory.push(memory);
  const oldest = t - store.retentionMs;
  let cut = 0;
  while (cut < target.t.length && target.t[cut] < oldest) cut += 1;
  if (cut) { target.t.splice(0, cut); target.cpu.splice(0, cut); target.memory.splice(0, cut); }
}

function changed(what) { for (const listener of store.listeners) listener(what); }

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (response.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Everything at once: the table's sparklines (downsampled) and every kept event.
export async function loadAll() {
  store.loading = true;
  try {
    const [history, kept] = await Promise.all([
      getJSON(`/api/history?instances=1&points=${SPARK_POINTS}`),
      getJSON(`/api/history/events?limit=${MAX_EVENTS}`),
    ]);
    store.intervalMs = history.interval_ms;
    store.retentionMs = history.retention_ms;
    store.instances.clear();
    for (const app of history.apps) {
      for (const instance of app.instances || []) {
        store.instances.set(instance.id, { name: app.name, t: instance.t, cpu: instance.cpu, memory: instance.memory });
      }
    }
    for (const event of kept.events) store.events.set(event.seq, event);
    if (store.detail) await loadDetail(store.detail.name);
  } finally {
    store.loading = false;
  }
  for (const sample of store.pending.splice(0)) addSample(sample);
  changed("all");
}

// One app at full resolution, for the detail view.
export async function loadDetail(name) {
  const [history, kept] = await Promise.all([
    getJSON(`/api/history?name=${encodeURIComponent(name)}`),
    getJSON(`/api/history/events?name=${encodeURIComponent(name)}&limit=${MAX_EVENTS}`),
  ]);
  const app = history.apps[0] || { ...series(), instances: [] };
  store.detail = {
    name,
    app: { t: app.t, cpu: app.cpu, memory: app.memory },
    instances: new Map((app.instances || []).map((s) => [s.id, { t: s.t, cpu: s.cpu, memory: s.memory }])),
  };
  for (const event of kept.events) store.events.set(event.seq, event);
  changed("detail");
}

export function addSample(sample) {
  if (store.loading) { store.pending.push(sample); return; }
  for (const [id, [name, cpu, memory]] of Object.entries(sample.instances)) {
    let known = store.instances.get(Number(id));
    if (!known || known.name !== name) { known = { name, ...series() }; store.instances.set(Number(id), known); }
    push(known, sample.t, cpu, memory);
  }
  const detail = store.detail;
  if (detail && sample.apps[detail.name]) {
    const [cpu, memory] = sample.apps[detail.name];
    push(detail.app, sample.t, cpu, memory);
    for (const [id, [name, icpu, imemory]] of Object.entries(sample.instances)) {
      if (name !== detail.name) continue;
      if (!detail.instances.has(Number(id))) detail.instances.set(Number(id), series());
      push(detail.instances.get(Number(id)), sample.t, icpu, imemory);
    }
  }
  changed("sample");
}

export function addEvent(event) {
  store.events.set(event.seq, event);  // an exit comes again with its last lines: replace
  if (store.events.size > MAX_EVENTS) {
    const oldest = Math.min(...store.events.keys());
    store.events.delete(oldest);
  }
  changed("event");
}

// Kept events oldest first, of one app (by name), of one instance (id), or all.
export function eventsOf({ name = null, id = null } = {}) {
  const found = [];
  for (const event of store.events.values()) {
    if (name !== null && event.name !== name) continue;
    if (id !== null && event.id !== id) continue;
    found.push(event);
  }
  return found.sort((a, b) => a.seq - b.seq);
}

// The events drawn on charts: restarts, crashes (not exits pm asked for), limits, health.
export function marksOf(options) {
  return eventsOf(options).filter((event) =>
    ["restart", "errored", "restart overlimit", "memory", "health"].includes(event.kind) ||
    (event.kind === "exit" && !event.manually));
}

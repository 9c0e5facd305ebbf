// SVG time charts for the dashboard: a sparkline for the table and a larger chart with axes,
// both with event marks on the time axis. Written for pm; no charting library, no network.

const NS = "http://www.w3.org/2000/svg";

// Marks: a glyph for each kind, so a mark reads without colour.
export const MARK_GLYPH = {
  exit: "✕", restart: "↻", errored: "!", "restart overlimit": "!", memory: "M",
  healthy: "♥", unhealthy: "⚠",
};

export function markKind(event) {
  if (event.kind === "health") return event.health === "healthy" ? "healthy" : "unhealthy";
  return event.kind;
}

function node(name, attrs, parent) {
  const el = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  if (parent) parent.appendChild(el);
  return el;
}

function clear(svg) { while (svg.firstChild) svg.firstChild.remove(); }

// The path of one series: a break wherever samples are missing (daemon or web down, or the
// instance did not exist), so a gap is not drawn as a straight line.
function linePath(t, values, x, y, gapMs) {
  let d = "", previous = null;
  for (let i = 0; i < t.length; i += 1) {
    const px = x(t[i]).toFixed(1), py = y(values[i]).toFixed(1);
    d += (previous === null || t[i] - previous > gapMs ? "M" : "L") + px + " " + py;
    previous = t[i];
  }
  return d;
}

function maxOf(values, floor) {
  let max = floor;
  for (const v of values) if (v > max) max = v;
  return max;
}

// A round upper bound for the y axis: 1, 2 or 5 times a power of the base's step.
export function niceMax(value, byteScale) {
  if (value <= 0) return 1;
  const base = byteScale ? 1024 ** Math.floor(Math.log(value) / Math.log(1024)) : 1;
  const scaled = value / base;
  const power = 10 ** Math.floor(Math.log10(scaled));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= scaled) return step * power * base;
  return 10 * power * base;
}

const TIME_STEPS = [5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5];

export function clock(ms, seconds = true) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return pad(d.getHours()) + ":" + pad(d.getMinutes()) + (seconds ? ":" + pad(d.getSeconds()) : "");
}

// The sparkline: memory (or any series) over the window, marks as ticks along the bottom.
export function sparkline(svg, series, from, to, marks, gapMs) {
  const width = 120, height = 28;
  clear(svg);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const max = maxOf(series.values, 1);
  const x = (t) => ((t - from) / Math.max(1, to - from)) * width;
  const y = (v) => height - 6 - (v / max) * (height - 9);
  if (series.t.length) {
    node("path", { d: linePath(series.t, series.values, x, y, gapMs), class: "spark-line" }, svg);
  }
  svg.dataset.points = series.t.length;
  svg.dataset.peak = max;
  for (const event of marks) {
    if (event.at < from) continue;
    const kind = markKind(event);
    const g = node("g", { class: "mark", "data-kind": kind }, svg);
    node("line", { x1: x(event.at), x2: x(event.at), y1: height - 5, y2: height, class: "tick" }, g);
    node("title", {}, g).textContent = `${clock(event.at)} ${describeMark(event)}`;
  }
}

export function describeMark(event) {
  if (event.kind === "exit") {
    const how = event.signal ? `signal ${event.signal}` : `code ${event.code}`;
    return `exit (${how})`;
  }
  if (event.kind === "memory") return "memory limit reached: restart";
  if (event.kind === "health") return `health: ${event.health}${event.detail ? " (" + event.detail + ")" : ""}`;
  if (event.kind === "restart overlimit") return "errored: too many unstable restarts";
  return event.kind + (event.reason ? ` (${event.reason})` : "");
}

// A larger chart with a y axis, a time axis and marks; `format` writes a y value.
// Returns a summary sentence for screen readers and tests.
export function timeChart(svg, { t, values, from, to, marks, format, label, gapMs, byteScale }) {
  const width = Math.max(260, svg.parentElement.clientWidth || 600), height = 170;
  const left = 62, right = 12, top = 22, bottom = 22;
  clear(svg);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  const max = niceMax(maxOf(values, 0) * 1.05, byteScale);
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (time) => left + ((time - from) / Math.max(1, to - from)) * plotW;
  const y = (v) => top + plotH - (v / max) * plotH;
  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    node("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }, svg);
    node("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, svg)
      .textContent = format(value);
  }
  const step = TIME_STEPS.find((s) => (to - from) / s <= Math.max(2, Math.floor(plotW / 90))) || 36e5;
  for (let tick = Math.ceil(from / step) * step; tick <= to; tick += step) {
    node("line", { x1: x(tick), x2: x(tick), y1: top, y2: top + plotH, class: "grid vgrid" }, svg);
    node("text", { x: x(tick), y: height - 6, class: "axis", "text-anchor": "middle" }, svg)
      .textContent = clock(tick, step < 6e4);
  }
  if (t.length) {
    const d = linePath(t, values, x, y, gapMs);
    node("path", { d, class: "line" }, svg);
  }
  const shown = marks.filter((e) => e.at >= from && e.at <= to);
  drawMarks(svg, shown, x, top, plotH);
  const last = values.length ? values[values.length - 1] : 0;
  // the figures drawn, for tests and anyone reading the DOM
  svg.dataset.points = t.length;
  svg.dataset.first = values.length ? values[0] : 0;
  svg.dataset.last = last;
  svg.dataset.marks = shown.length;
  const summary = `${label}: now ${format(last)}, highest ${format(maxOf(values, 0))} ` +
    `from ${clock(from)} to ${clock(to)}; ${shown.length} mark${shown.length === 1 ? "" : "s"}`;
  svg.setAttribute("aria-label", summary);
  addCursor(svg, { t, values, x, y, format, top, plotH, left, width: plotW });
  return summary;
}

function drawMarks(svg, marks, x, top, plotH) {
  let lastX = -100, row = 0;
  for (const event of marks) {
    const kind = markKind(event);
    const px = x(event.at);
    row = px - lastX < 12 ? (row + 1) % 3 : 0;  // marks close together stagger downwards
    lastX = px;
    const g = node("g", { class: "mark", "data-kind": kind }, svg);
    node("line", { x1: px, x2: px, y1: top, y2: top + plotH, class: "mark-line" }, g);
    node("text", { x: px, y: top - 6 + row * 12, "text-anchor": "middle", class: "glyph" }, g)
      .textContent = MARK_GLYPH[kind] || "•";
    node("title", {}, g).textContent = `${clock(event.at)} · ${event.name} (${event.id}) · ${describeMark(event)}`;
  }
}

// A readout under the pointer, or moved with the arrow keys when the chart has focus.
function addCursor(svg, geometry) {
  const { t, values, x, y, format, top, plotH } = geometry;
  if (!t.length) return;
  const g = node("g", { class: "cursor", visibility: "hidden" }, svg);
  const line = node("line", { y1: top, y2: top + plotH }, g);
  const dot = node("circle", { r: 3 }, g);
  const text = node("text", { y: top + 12, class: "readout" }, g);
  let index = t.length - 1;
  const show = (i) => {
    index = Math.max(0, Math.min(t.length - 1, i));
    const px = x(t[index]);
    line.setAttribute("x1", px); line.setAttribute("x2", px);
    dot.setAttribute("cx", px); dot.setAttribute("cy", y(values[index]));
    text.textContent = `${clock(t[index])}  ${format(values[index])}`;
    const flip = px > geometry.left + geometry.width * 0.7;
    text.setAttribute("x", flip ? px - 6 : px + 6);
    text.setAttribute("text-anchor", flip ? "end" : "start");
    g.setAttribute("visibility", "visible");
  };
  const nearest = (px) => {
    let best = 0;
    for (let i = 0; i < t.length; i += 1) if (Math.abs(x(t[i]) - px) < Math.abs(x(t[best]) - px)) best = i;
    return best;
  };
  svg.onpointermove = (event) => {
    const box = svg.getBoundingClientRect();
    const scale = svg.viewBox.baseVal.width / box.width;
    show(nearest((event.clientX - box.left) * scale));
  };
  svg.onpointerleave = () => g.setAttribute("visibility", "hidden");
  svg.onblur = svg.onpointerleave;
  svg.onfocus = () => show(index);
  svg.onkeydown = (event) => {
    const moves = { ArrowLeft: -1, ArrowRight: 1, PageUp: -10, PageDown: 10 };
    if (event.key in moves) { show(index + moves[event.key]); event.preventDefault(); }
    if (event.key === "Home") { show(0); event.preventDefault(); }
    if (event.key === "End") { show(t.length - 1); event.preventDefault(); }
  };
}

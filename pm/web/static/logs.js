// The log panel: the last lines of an app's files, then every new line as it is written
// (the web process follows the files by offset), with out/err switches and a text filter.

const $ = (selector) => document.querySelector(selector);
const MAX_LOG_LINES = 2000;

const logs = { target: null, source: null, filter: "" };

export function logTarget() { return logs.target; }

// Follow the logs of `target` (an id or a name); `label` is what the panel's title says.
export function openLogs(target, label, scroll = true) {
  if (logs.source && logs.target === String(target)) return;
  if (logs.source) logs.source.close();
  logs.target = String(target);
  $("#logs").hidden = false;
  $("#log-app").textContent = label;
  const view = $("#log-view");
  view.textContent = "";
  const source = new EventSource(`/api/logs/stream?target=${encodeURIComponent(target)}&lines=100`);
  source.addEventListener("lines", (event) => appendLines(JSON.parse(event.data)));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED && logs.source === source) {
      addNote("log stream closed (app deleted?)");
    }
  });
  logs.source = source;
  if (scroll) $("#logs").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

export function closeLogs() {
  if (logs.source) logs.source.close();
  logs.source = null;
  logs.target = null;
  $("#logs").hidden = true;
}

// One log line as the panel and the events' "last lines" show it: its stream, then its text.
export function logLine(stream, text) {
  const node = document.createElement("div");
  node.className = "line " + stream;
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = stream;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  node.append(tag, body);
  return node;
}

function lineNode(stream, text, note) {
  const node = logLine(stream, text);
  if (note) node.classList.add("note");
  if (logs.filter && !note && !text.toLowerCase().includes(logs.filter)) node.classList.add("filtered");
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

function applyFilter(text) {
  logs.filter = text.trim().toLowerCase();
  for (const node of $("#log-view").querySelectorAll(".line:not(.note)")) {
    const body = node.querySelector(".text").textContent.toLowerCase();
    node.classList.toggle("filtered", Boolean(logs.filter) && !body.includes(logs.filter));
  }
}

export function initLogs(onClose) {
  $("#show-out").addEventListener("change", (e) => $("#log-view").classList.toggle("hide-out", !e.target.checked));
  $("#show-err").addEventListener("change", (e) => $("#log-view").classList.toggle("hide-err", !e.target.checked));
  $("#log-filter").addEventListener("input", (e) => applyFilter(e.target.value));
  $("#log-clear").addEventListener("click", () => { $("#log-view").textContent = ""; });
  $("#log-close").addEventListener("click", () => { closeLogs(); onClose(); });
}

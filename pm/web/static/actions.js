// Actions on apps (start, stop, restart, delete, scale) through the JSON API, and the toasts
// that say how they went.

const $ = (selector) => document.querySelector(selector);

export async function post(path, body) {
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

export const ACTIONS = {
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
  const who = String(app.id) === app.name ? app.name : `${app.name} (${app.id})`;
  return `${who} ${DONE[action]}`;
}

export async function runAction(button, action, app) {
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

export function toast(message, errorTitle) {
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

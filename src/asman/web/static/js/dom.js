// Tiny DOM and formatting helpers: no framework, no build step.

/** h("a.btn", {href, onclick}, "text", child, [more]) — tag may carry .classes and a #id. */
export function h(spec, attrs, ...children) {
  const [tagAndId, ...classes] = spec.split(".");
  const [tag, id] = tagAndId.split("#");
  const el = document.createElement(tag || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  if (attrs && (typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = [el.className, value].filter(Boolean).join(" ");
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "value" || key === "checked" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

export const shortId = (id) => (id ? id.slice(0, 12) : "");

export function fmtDate(ms) {
  if (!ms) return "";
  return new Date(ms).toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
  });
}

export function fmtClock(ms) {
  const d = new Date(ms);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}:${String(d.getSeconds()).padStart(2, "0")}`;
}

export function fmtDuration(ms) {
  if (ms === undefined || ms === null || Number.isNaN(ms)) return "";
  ms = Math.max(0, ms);
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}

export function relTime(ms, now = Date.now()) {
  if (!ms) return "";
  const diff = now - ms;
  if (diff < 5000) return "just now";
  if (diff < 60000) return `${Math.floor(diff / 1000)} s ago`;
  if (diff < 3600000) return `${Math.floor(diff / 60000)} min ago`;
  if (diff < 86400000) return `${Math.floor(diff / 3600000)} h ago`;
  return `${Math.floor(diff / 86400000)} d ago`;
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

const FAILED = new Set(["Error", "TimedOut", "WorkerLost"]);
const STOPPED = new Set(["Cancelled", "Deleted", "JobReplacedByClient"]);

/** The colour family of a job state: queued, running, success, failed, stopped. */
export function stateKind(state, reason, statusCode) {
  if (state === "Queued") return "queued";
  if (state === "Running") return "running";
  if (state === "Finished") {
    if (reason === "Success") return statusCode ? "failed" : "success";
    if (FAILED.has(reason)) return "failed";
    if (STOPPED.has(reason)) return "stopped";
  }
  return "stopped";
}

const REASON_LABELS = { JobReplacedByClient: "Replaced", TimedOut: "Timed out", WorkerLost: "Worker lost" };

export function stateLabel(state, reason, statusCode) {
  if (state !== "Finished") return state || "Unknown";
  if (reason === "Success" && statusCode) return `Exit ${statusCode}`;
  return REASON_LABELS[reason] || reason || "Finished";
}

export function stateBadge(state, reason, statusCode) {
  const kind = stateKind(state, reason, statusCode);
  const label = stateLabel(state, reason, statusCode);
  const title = state === "Finished" ? `Finished: ${reason || "unknown"}${statusCode ? `, exit code ${statusCode}` : ""}` : state;
  return h(`span.badge.badge--${kind}`, { title, dataset: { state: state || "", reason: reason || "" } },
    h("span.badge__dot", { "aria-hidden": "true" }), label);
}

/** Copy text to the clipboard; falls back to a hidden textarea where the Clipboard API is blocked (iframes). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { style: { position: "fixed", opacity: "0" }, "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

/** A button that copies text and says so for a moment. */
export function copyButton(getText, label = "Copy", extra = {}) {
  const button = h("button.btn.btn--small", { type: "button", ...extra }, label);
  button.addEventListener("click", async () => {
    const ok = await copyText(typeof getText === "function" ? getText() : getText);
    button.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = label; }, 1500);
  });
  return button;
}

/** Remember recently used queues (localStorage may be blocked inside iframes: ignore then). */
export function recentQueues() {
  try {
    const list = JSON.parse(localStorage.getItem("asman.queues") || "[]");
    return Array.isArray(list) ? list.filter((q) => typeof q === "string").slice(0, 12) : [];
  } catch {
    return [];
  }
}

export function rememberQueue(queue) {
  if (!queue) return;
  try {
    const list = [queue, ...recentQueues().filter((q) => q !== queue)].slice(0, 12);
    localStorage.setItem("asman.queues", JSON.stringify(list));
  } catch {
    /* storage unavailable */
  }
}

export const QUEUE_PATTERN = "[A-Za-z0-9._~\\-]{1,128}";
export const isQueueName = (name) => /^[A-Za-z0-9._~-]{1,128}$/.test(name) && name !== "." && name !== "..";

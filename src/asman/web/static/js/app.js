// Asman web client: a small single-page app routed by location.pathname (and the hash for shared jobs).
import { net, ping } from "./api.js";
import { dashboardPage } from "./dashboard.js";
import { clear, h, isQueueName } from "./dom.js";
import { homePage } from "./home.js";
import { jobPage } from "./job.js";
import { decodeJob, parseHash } from "./share.js";

const main = document.getElementById("main");

// Embedded in an iframe: never break out of it (no frame-busting), just draw a lighter frame.
try {
  if (window.self !== window.top) document.documentElement.classList.add("embedded");
} catch {
  document.documentElement.classList.add("embedded");
}
let cleanup = null;

export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", url);
  else history.pushState({}, "", url);
  render({ focus: true });
  window.scrollTo(0, 0);
}

function sharedJob() {
  const { params } = parseHash(location.hash);
  if (!params.job) return { params, definition: null, error: null };
  try {
    return { params, definition: decodeJob(params.job), error: null };
  } catch (error) {
    return { params, definition: null, error: `This link's job could not be read (${error.message}).` };
  }
}

function notFoundPage(root) {
  document.title = "Not found · Asman";
  clear(root).append(h("div.page",
    h("h1", "Page not found"),
    h("p", "There is nothing at ", h("code", location.pathname), ". Queues live at ", h("code", "/q/<name>"), "."),
    h("p", h("a.btn", { href: "/" }, "Go home"))));
}

function decode(segment) {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

function render({ focus = false } = {}) {
  if (cleanup) cleanup();
  cleanup = null;
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const { params, definition, error } = sharedJob();
  const edit = params.edit !== undefined && params.edit !== "0" && params.edit !== "false";
  let match;
  if (path === "/" || path === "/index.html") {
    const queue = params.queue && isQueueName(params.queue) ? params.queue : "";
    if (definition && queue && !edit) {
      cleanup = jobPage(main, { queue, definition, navigate });
    } else {
      let notice = error;
      if (definition && !queue && !edit) notice = "This link carries a job but no queue: choose a queue and press Run.";
      cleanup = homePage(main, { navigate, prefill: definition, prefillQueue: queue, notice }) || null;
    }
  } else if ((match = path.match(/^\/q\/([^/]+)$/))) {
    const queue = decode(match[1]);
    if (!queue || !isQueueName(queue)) notFoundPage(main);
    else cleanup = dashboardPage(main, { queue, navigate, prefill: edit ? definition : null });
  } else if ((match = path.match(/^\/q\/([^/]+)\/j\/([0-9a-f]{64})$/))) {
    const queue = decode(match[1]);
    if (!queue || !isQueueName(queue)) notFoundPage(main);
    else cleanup = jobPage(main, { queue, jobId: match[2], navigate });
  } else if ((match = path.match(/^\/j\/([0-9a-f]{64})$/))) {
    cleanup = jobPage(main, { jobId: match[1], navigate });
  } else {
    notFoundPage(main);
  }
  if (focus) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
}

// Follow in-app links without reloading; leave downloads, API files and new-tab clicks to the browser.
document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin) return;
  const appPath = url.pathname === "/" || /^\/q\/[^/]+(\/j\/[0-9a-f]{64})?\/?$/.test(url.pathname) || /^\/j\/[0-9a-f]{64}\/?$/.test(url.pathname);
  if (!appPath) return;
  event.preventDefault();
  if (url.href === location.href) return;
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => render({ focus: true }));
window.addEventListener("hashchange", () => {
  if (parseHash(location.hash).params.job) render({ focus: true });
});

// The "server unreachable" banner: shown while calls fail, checks every few seconds, hides when it answers.
const banner = document.getElementById("net-banner");
let pinger = null;
net.subscribe((online) => {
  banner.hidden = online;
  clearInterval(pinger);
  pinger = online ? null : setInterval(ping, 3000);
});

// Header: jump to a queue.
const jump = document.getElementById("queue-jump");
if (jump) {
  jump.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = jump.querySelector("input");
    const name = input.value.trim();
    if (!isQueueName(name)) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    input.value = "";
    navigate(`/q/${encodeURIComponent(name)}`);
  });
}

render();

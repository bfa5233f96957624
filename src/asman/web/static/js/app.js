// Asman web client: a small single-page app routed by location.pathname (and the hash for shared jobs).
import { api, net, ping, setApiOrigin } from "./api.js";
import { dashboardPage } from "./dashboard.js";
import { clear, h, isQueueName } from "./dom.js";
import { homePage } from "./home.js";
import { jobPage } from "./job.js";
import { envParams, linkOptions, linkedDefinition } from "./linked.js";
import { connectMetaframe, embedded, sendOutputs } from "./metaframe.js";
import { decodeJob, parseHash } from "./share.js";

const main = document.getElementById("main");

// Embedded in an iframe: never break out of it (no frame-busting), just draw a lighter frame.
if (embedded) document.documentElement.classList.add("embedded");
let cleanup = null;
let renders = 0; // a render that finishes after a newer one started draws nothing

// Inside a metapage: its inputs, and the connection that takes the outputs back.
let metaInputs = {};
let metaframe = null;
const metaReady = embedded
  ? Promise.race([
    connectMetaframe((inputs) => {
      const changed = JSON.stringify(inputs) !== JSON.stringify(metaInputs);
      metaInputs = inputs;
      // A render waiting for the connection reads them itself; later changes draw the new job.
      if (changed) metaReady.then(() => render());
    }).then((connected) => { metaframe = connected; }).catch(() => null),
    new Promise((resolve) => setTimeout(resolve, 3000)), // a plain iframe has no metapage to answer
  ])
  : Promise.resolve();

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

/** A job made from a link's hash params and the metapage's inputs (linked.js), shown live on its queue. */
async function linkedPage(base, { params, raw, options }, token) {
  clear(main).append(h("div.page", h("p.help", { role: "status" }, "Preparing the job…")));
  const { definition, id } = await linkedDefinition(base, raw, params, metaInputs, { allowsetjob: options.allowsetjob });
  if (token !== renders) return;
  const submitExtras = { control: options.control, ...(options.debug ? { debug: true } : {}) };
  cleanup = jobPage(main, {
    queue: options.queue, definition, jobId: id, navigate, autostart: options.autostart, submitExtras,
    onFinished: (view) => sendOutputs(metaframe, view, options).catch((error) => console.warn("metaframe outputs", error)),
  });
}

function showError(error) {
  clear(main).append(h("div.page", h("div.notice.notice--error", { role: "alert" }, error.message || String(error))));
}

function render({ focus = false } = {}) {
  if (cleanup) cleanup();
  cleanup = null;
  const token = ++renders;
  const path = location.pathname.replace(/\/+$/, "") || "/";
  const { params, definition, error } = sharedJob();
  const { raw } = parseHash(location.hash);
  const options = linkOptions(params);
  setApiOrigin(options.origin);
  const link = { params, raw, options };
  const edit = params.edit !== undefined && params.edit !== "0" && params.edit !== "false";
  let match;
  if (path === "/" || path === "/index.html") {
    const queue = options.queue;
    const fromInput = options.allowsetjob && metaInputs.job && typeof metaInputs.job === "object";
    if ((definition || fromInput) && queue && !edit) {
      metaReady.then(() => token === renders && linkedPage(definition, link, token)).catch(showError);
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
    const jobId = match[1];
    if (!options.queue) cleanup = jobPage(main, { jobId, navigate });
    else if (!embedded && !envParams(raw).length && !params.inputs) cleanup = jobPage(main, { queue: options.queue, jobId, navigate });
    else {
      // Upstream's short link with more to it: the job's own definition, then the params and inputs on top.
      metaReady
        .then(() => api(`/j/${jobId}/definition.json`))
        .then((answer) => token === renders && linkedPage(answer.data, link, token))
        .catch(showError);
    }
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
  // A link to a log line only moves the hash: the log panel answers it, the page stays.
  if (url.pathname === location.pathname && /^#[LB]\d+$/.test(url.hash)) return;
  const appPath = url.pathname === "/" || /^\/q\/[^/]+(\/j\/[0-9a-f]{64})?\/?$/.test(url.pathname) || /^\/j\/[0-9a-f]{64}\/?$/.test(url.pathname);
  if (!appPath) return;
  event.preventDefault();
  if (url.href === location.href) return;
  navigate(url.pathname + url.search + url.hash);
});

window.addEventListener("popstate", () => render({ focus: true }));
window.addEventListener("hashchange", () => {
  const { params } = parseHash(location.hash);
  if (params.job || params.queue) render({ focus: true });
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

// The queue dashboard: counts, workers, jobs (live, paginated) and a composer for this queue.
import { api, jobPath, listen, queuePath } from "./api.js";
import { createComposer } from "./composer.js";
import { clear, copyButton, fmtDate, h, nextId, relTime, rememberQueue, shortId, stateBadge } from "./dom.js";
import { workerBanner, workersTable } from "./workers.js";

const PAGE_SIZE = 25;
const STATES = ["Queued", "Running", "Finished"];

export function dashboardPage(root, { queue, navigate, prefill = null }) {
  let disposed = false;
  let jobs = new Map(); // jobId -> summary, in display order (newest first)
  let nextCursor = null;
  let stateFilter = "";
  let status = null;
  let statusTimer = null;
  let statusSoon = null;
  let firstOpen = true;
  const definitions = new Map(); // jobId -> definition (immutable, so cached across reloads)
  const pendingDefinitions = [];
  let fetchingDefinitions = 0;

  rememberQueue(queue);
  document.title = `Queue ${queue} · Asman`;

  // -- skeleton ---------------------------------------------------------------------------------------------
  const live = h("span.live", { role: "status" }, h("span.live__dot", { "aria-hidden": "true" }), "Connecting…");
  const bannerSlot = h("div.notices");
  const stats = h("div.stats", { "aria-label": "Jobs by state" });
  const workersBody = h("div", h("p.empty", "Loading…"));
  const jobsBody = h("tbody");
  const jobsEmpty = h("p.empty", { hidden: true });
  const loadMore = h("button.btn", { type: "button", hidden: true }, "Load more");
  const jobsError = h("div");

  const composer = createComposer({
    queue, definition: prefill, title: prefill ? "Edit and run" : "New job in this queue",
    onSubmitted: ({ queue: target, jobId }) => navigate(jobPath(target, jobId)),
  });
  const composerPanel = h("div.composer-panel", { id: nextId("composer"), hidden: !prefill }, composer.element);
  const toggle = h(prefill ? "button.btn" : "button.btn.btn--primary", {
    type: "button", "aria-expanded": String(!!prefill), "aria-controls": composerPanel.id,
  }, prefill ? "Hide composer" : "New job");
  toggle.addEventListener("click", () => {
    const open = composerPanel.hidden;
    composerPanel.hidden = !open;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide composer" : "New job";
    toggle.classList.toggle("btn--primary", !open);
    if (open) composer.focus();
  });

  const filterName = nextId("state");
  const filterOption = (value, label) => h("label.segmented__option.segmented__option--small",
    h("input", { type: "radio", name: filterName, value, checked: value === "" }), h("span", label));
  const filter = h("div.segmented.segmented--small", { role: "radiogroup", "aria-label": "Filter jobs by state" },
    filterOption("", "All"), STATES.map((s) => filterOption(s, s)));
  filter.addEventListener("change", (event) => {
    stateFilter = event.target.value;
    loadJobs(true);
  });

  const queueUrl = `${location.origin}${queuePath(queue)}`;
  clear(root).append(h("div.page.dashboard",
    h("nav.breadcrumbs", { "aria-label": "Breadcrumb" },
      h("a", { href: "/" }, "Home"), h("span.sep", { "aria-hidden": "true" }, "/"),
      h("span", { "aria-current": "page" }, `Queue ${queue}`)),
    h("header.page-header",
      h("div.page-header__text",
        h("h1", "Queue ", h("span.mono.break", queue)),
        h("p.page-subtitle", live, h("span.subtle", " · "), h("code.mono.subtle", queueUrl))),
      h("div.page-header__actions", copyButton(queueUrl, "Copy URL", { "aria-label": "Copy the queue URL" }), toggle)),
    bannerSlot,
    stats,
    composerPanel,
    h("section.card", { "aria-labelledby": `${filterName}-w` },
      h("div.card__header", h("h2.card__title", { id: `${filterName}-w` }, "Workers")), workersBody),
    h("section.card", { "aria-labelledby": `${filterName}-j` },
      h("div.card__header", h("h2.card__title", { id: `${filterName}-j` }, "Jobs"), h("div.toolbar", filter)),
      jobsError,
      h("div.table-wrap",
        h("table.table.table--jobs",
          h("caption.visually-hidden", `Jobs in queue ${queue}, newest first`),
          h("thead", h("tr",
            h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Job"), h("th", { scope: "col" }, "Command"),
            h("th", { scope: "col" }, "Worker"), h("th", { scope: "col" }, "Submitted"), h("th", { scope: "col" }, "Updated"))),
          jobsBody)),
      jobsEmpty,
      h("div.load-more", loadMore))));

  // -- status and workers -------------------------------------------------------------------------------------
  function renderStatus() {
    const counts = status.counts || {};
    const workers = status.workers || [];
    const stat = (label, value, kind) => h(`div.stat${kind ? `.stat--${kind}` : ""}`,
      h("span.stat__value", String(value)), h("span.stat__label", label));
    clear(stats).append(
      stat("Queued", counts.Queued || 0, "queued"),
      stat("Running", counts.Running || 0, "running"),
      stat("Finished", counts.Finished || 0, "finished"),
      stat(workers.length === 1 ? "Worker" : "Workers", workers.length, workers.length ? "workers" : "none"),
      stat(status.clients === 1 ? "Watcher" : "Watchers", status.clients || 0));
    clear(bannerSlot);
    if (!workers.length) bannerSlot.append(workerBanner(queue));
    renderWorkers();
  }

  /** Workers report their running jobs on heartbeats; job events are quicker, so merge both. */
  function renderWorkers() {
    if (!status) return;
    const workers = (status.workers || []).map((worker) => {
      const running = new Set(worker.running || []);
      for (const summary of jobs.values()) {
        if (summary.worker !== worker.id) continue;
        if (summary.state === "Running") running.add(summary.jobId);
        else running.delete(summary.jobId);
      }
      return { ...worker, running: [...running] };
    });
    clear(workersBody).append(workersTable(workers, queue, (id) => jobPath(queue, id)));
  }

  async function refreshStatus() {
    try {
      status = await api(`${queuePath(queue)}/status`);
      if (!disposed) renderStatus();
    } catch (error) {
      if (!disposed && !status) clear(workersBody).append(h("p.notice.notice--error", error.message));
    }
  }

  // At most one refresh in flight per 200 ms: a busy queue's steady stream of events must not keep postponing it.
  const refreshStatusSoon = () => {
    if (statusSoon) return;
    statusSoon = setTimeout(() => {
      statusSoon = null;
      refreshStatus();
    }, 200);
  };

  // -- jobs -------------------------------------------------------------------------------------------------
  function describe(jobId) {
    const d = definitions.get(jobId);
    if (!d) return h("span.subtle", "…");
    const what = d.image || (d.build ? (d.build.context ? "build: " + d.build.context : "build: inline Dockerfile") : "");
    const full = [what, d.command].filter(Boolean).join("  ");
    return h("span.job-desc", { title: full },
      h("span.job-desc__image.mono", what), d.command ? h("span.job-desc__cmd.mono", d.command) : null);
  }

  function renderRow(summary) {
    const href = jobPath(queue, summary.jobId);
    return h("tr", { dataset: { job: summary.jobId, state: summary.state } },
      h("td", { "data-label": "State" }, stateBadge(summary.state, summary.finishedReason, summary.exitCode)),
      h("td", { "data-label": "Job" }, h("a.mono.job-link", { href }, shortId(summary.jobId))),
      h("td.cell-desc", { "data-label": "Command" }, describe(summary.jobId)),
      h("td", { "data-label": "Worker" }, summary.worker ? h("code.mono.truncate", { title: summary.worker }, summary.worker) : h("span.subtle", "—")),
      h("td", { "data-label": "Submitted" }, h("time", {
        datetime: new Date(summary.queuedTime).toISOString(), title: fmtDate(summary.queuedTime), dataset: { rel: summary.queuedTime },
      }, relTime(summary.queuedTime))),
      h("td", { "data-label": "Updated" }, h("time", {
        datetime: new Date(summary.time).toISOString(), title: fmtDate(summary.time), dataset: { rel: summary.time },
      }, relTime(summary.time))));
  }

  function syncEmpty() {
    jobsEmpty.hidden = jobs.size > 0;
    root.querySelector(".table--jobs").parentElement.hidden = jobs.size === 0;
  }

  function renderJobs() {
    clear(jobsBody).append(...[...jobs.values()].map(renderRow));
    syncEmpty();
    jobsEmpty.textContent = stateFilter
      ? `No ${stateFilter.toLowerCase()} jobs.`
      : "No jobs in this queue yet. Press “New job” to submit one, or POST a definition to this URL.";
    loadMore.hidden = !nextCursor;
  }

  function replaceRow(jobId) {
    const row = jobsBody.querySelector(`tr[data-job="${jobId}"]`);
    const summary = jobs.get(jobId);
    if (row && summary) row.replaceWith(renderRow(summary));
  }

  // Definitions (for the command column), fetched a few at a time. Exit codes come with the summaries.
  async function pumpDetails() {
    while (fetchingDefinitions < 4 && pendingDefinitions.length && !disposed) {
      const jobId = pendingDefinitions.shift();
      if (definitions.has(jobId)) continue;
      fetchingDefinitions++;
      api(`/j/${jobId}/definition.json`)
        .then((answer) => {
          definitions.set(jobId, (answer && answer.data) || {});
          replaceRow(jobId);
        })
        .catch(() => definitions.set(jobId, {}))
        .finally(() => {
          fetchingDefinitions--;
          pumpDetails();
        });
    }
  }

  const wantDetails = (ids) => {
    const queued = new Set(pendingDefinitions);
    for (const id of ids) {
      if (!definitions.has(id) && !queued.has(id)) pendingDefinitions.push(id);
    }
    pumpDetails();
  };

  async function loadJobs(reset) {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (!reset && nextCursor) params.set("cursor", String(nextCursor));
    if (stateFilter) params.set("state", stateFilter);
    loadMore.disabled = true;
    try {
      const answer = await api(`${queuePath(queue)}?${params}`);
      if (disposed) return;
      clear(jobsError);
      if (reset) jobs = new Map();
      for (const [jobId, summary] of Object.entries(answer.data || {})) jobs.set(jobId, { jobId, ...summary });
      nextCursor = answer.nextCursor;
      renderJobs();
      wantDetails([...jobs.keys()]);
    } catch (error) {
      clear(jobsError).append(h("p.notice.notice--error", { role: "alert" }, `Could not load the jobs: ${error.message}`));
    } finally {
      loadMore.disabled = false;
    }
  }
  loadMore.addEventListener("click", () => loadJobs(false));

  async function onJobEvent(event) {
    refreshStatusSoon();
    const known = jobs.get(event.jobId);
    if (event.state === "Removed") {
      jobs.delete(event.jobId);
      jobsBody.querySelector(`tr[data-job="${event.jobId}"]`)?.remove();
      syncEmpty();
      return;
    }
    // An event from before the attempt already shown (a submit's late Queued, say) changes nothing.
    if (known && typeof event.attempt === "number" && event.attempt < (known.attempt || 0)) return;
    if (known) {
      const updated = { ...known, state: event.state, worker: event.worker ?? known.worker, attempt: event.attempt ?? known.attempt, time: event.time || known.time };
      if (event.state === "Finished") {
        updated.finishedReason = event.finishedReason;
        updated.exitCode = event.exitCode;
      } else {
        delete updated.finishedReason;
        delete updated.exitCode;
      }
      if (stateFilter && updated.state !== stateFilter) {
        jobs.delete(event.jobId);
        jobsBody.querySelector(`tr[data-job="${event.jobId}"]`)?.remove();
        renderJobs();
        return;
      }
      jobs.set(event.jobId, updated);
      replaceRow(event.jobId);
      renderWorkers();
      wantDetails([event.jobId]);
      return;
    }
    if (stateFilter && event.state !== stateFilter) return;
    // A job we have not seen: fetch it and put it on top.
    try {
      const { data } = await api(jobPath(queue, event.jobId));
      if (disposed || jobs.has(event.jobId)) return;
      if (data.definition) definitions.set(event.jobId, data.definition);
      const { definition: _definition, results: _results, ...summary } = data;
      jobs = new Map([[event.jobId, summary], ...jobs]);
      jsRowInsert(summary);
      renderWorkers();
    } catch {
      /* it may be gone already */
    }
  }

  function jsRowInsert(summary) {
    jobsBody.prepend(renderRow(summary));
    syncEmpty();
  }

  // -- live ----------------------------------------------------------------------------------------------
  const setLive = (ok) => {
    live.classList.toggle("live--down", !ok);
    live.lastChild.textContent = ok ? "Live" : "Reconnecting…";
  };
  const closeEvents = listen(`${queuePath(queue)}/events`, {
    job: onJobEvent,
    workers: refreshStatusSoon,
    // The server may have missed events (it lost its database connection a while): start from what is now.
    resync: () => {
      loadJobs(true);
      refreshStatusSoon();
    },
  }, {
    onOpen: () => {
      setLive(true);
      if (!firstOpen) loadJobs(true);
      refreshStatusSoon();
      firstOpen = false;
    },
    onTrouble: (bad) => setLive(!bad),
  });

  const ticker = setInterval(() => {
    for (const el of root.querySelectorAll("time[data-rel]")) el.textContent = relTime(Number(el.dataset.rel));
  }, 5000);
  statusTimer = setInterval(refreshStatus, 10000);

  refreshStatus();
  loadJobs(true);

  return () => {
    disposed = true;
    closeEvents();
    clearInterval(ticker);
    clearInterval(statusTimer);
    clearTimeout(statusSoon);
  };
}

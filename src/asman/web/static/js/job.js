// The job page: state, live logs, outputs, definition; cancel, rerun, edit, copy to another queue, share.
import { api, apiUrl, jobPath, listen, outputPath, queuePath } from "./api.js";
import {
  QUEUE_PATTERN, append, clear, copyButton, fmtDate, fmtDuration, h, isQueueName, nextId, recentQueues, rememberQueue,
  shortId, stateBadge,
} from "./dom.js";
import { jobId as computeJobId } from "./jobid.js";
import { createLogView } from "./logs.js";
import { renderOutputs } from "./outputs.js";
import { shareHash, shareUrl } from "./share.js";
import { workerBanner } from "./workers.js";

const encodePath = (name) => name.split("/").map(encodeURIComponent).join("/");

function describeCommand(definition) {
  if (!definition) return "";
  const what = definition.image || (definition.build ? (definition.build.context || "inline Dockerfile") : "");
  return [what, definition.command].filter(Boolean).join(" · ");
}

function definitionDetails(definition, inputUrl) {
  const d = definition || {};
  const rows = [];
  const row = (label, value) => {
    if (value === undefined || value === null || value === "") return;
    rows.push(h("dt", label), h("dd", value));
  };
  const mono = (text) => h("code.mono", text);
  row("Image", d.image ? mono(d.image) : null);
  if (d.build) {
    row("Build context", d.build.context ? mono(d.build.context) : null);
    row("Dockerfile", d.build.dockerfile ? h("pre.code-block.code-block--inline", d.build.dockerfile) : null);
    row("Build arguments", (d.build.buildArgs || []).length ? mono(d.build.buildArgs.join(" ")) : null);
  }
  row("Command", d.command ? mono(d.command) : h("span.subtle", "image default"));
  row("Entrypoint", d.entrypoint ? mono(d.entrypoint) : null);
  row("Working directory", d.workdir ? mono(d.workdir) : null);
  const env = Object.entries(d.env || {});
  row("Environment", env.length ? h("ul.kv-list", env.map(([k, v]) => h("li", mono(`${k}=${v}`)))) : null);
  const inputs = Object.keys(d.inputs || {});
  row("Input files", inputs.length
    ? h("ul.kv-list", inputs.map((name) => h("li", inputUrl ? h("a.mono", { href: inputUrl(name), download: name.split("/").pop() }, name) : mono(name))))
    : null);
  const req = d.requirements || {};
  const reqText = [
    req.cpus ? `${req.cpus} CPU${req.cpus === 1 ? "" : "s"}` : "", req.memory ? `${req.memory} memory` : "",
    req.gpus ? `${req.gpus} GPU${req.gpus === 1 ? "" : "s"}` : "", req.maxDuration ? `at most ${req.maxDuration}` : "",
  ].filter(Boolean).join(", ");
  row("Requirements", reqText || null);
  row("Max duration", d.maxDuration || null);
  row("Tags", (d.tags || []).length ? d.tags.join(", ") : null);
  return h("dl.def-list", rows);
}

/**
 * Render a job into `root`. Exactly one of: {queue, jobId}, {queue, definition} (a shared link), {jobId} (global).
 * A shared job that is not in the queue yet is submitted only with `autostart`; otherwise the page offers Run.
 * `submitExtras` ({control, debug}) go with that submit; `onFinished(view)` runs once the result is there.
 * Returns a cleanup function.
 */
export function jobPage(root, {
  queue = null, jobId = null, definition: shared = null, navigate, autostart = false, submitExtras = {}, onFinished = null,
}) {
  let view = null; // {jobId, queue, state, finishedReason, queuedTime, time, worker, attempt, definition, results}
  let closeStream = null;
  let statusTimer = null;
  let disposed = false;
  const ticker = setInterval(() => updateTimes(), 1000);

  const titleId = nextId("job");
  const idText = h("span.mono", shortId(jobId) || "…");
  const stateSlot = h("div.job-state", { "aria-live": "polite", "aria-atomic": "true" });
  const subtitle = h("p.page-subtitle.mono");
  const breadcrumb = h("nav.breadcrumbs", { "aria-label": "Breadcrumb" });
  const notices = h("div.notices");
  const actions = h("div.job-actions");
  const summary = h("dl.summary-grid");
  const errorSlot = h("div");
  const buildLogs = createLogView({ title: "Build logs", anchor: "B", emptyText: "No build output yet." });
  buildLogs.element.hidden = true;
  const logs = createLogView({ title: "Logs", emptyText: "No output yet." });
  const outputsBody = h("div", h("p.empty", "Outputs appear here when the job finishes."));
  const outputsCard = h("section.card", h("div.card__header", h("h2.card__title", "Outputs")), outputsBody);
  const definitionBody = h("div");
  const definitionCard = h("section.card", h("div.card__header", h("h2.card__title", "Definition")), definitionBody);
  const shareBody = h("div.share");
  const summaryCard = h("section.card.summary-card", { "aria-label": "Summary" }, summary, errorSlot);
  const lowerRow = h("div.two-col", outputsCard, h("section.card", h("div.card__header", h("h2.card__title", "Share")), shareBody));

  clear(root).append(h("div.page.job-page",
    breadcrumb,
    h("header.page-header",
      h("div.page-header__text",
        h("h1", { id: titleId }, "Job ", idText),
        subtitle),
      stateSlot),
    notices,
    actions,
    summaryCard,
    buildLogs.element,
    logs.element,
    lowerRow,
    definitionCard));

  /** A job that is not in this queue: only the notice and (when known) the definition make sense. */
  const setMissing = (missing) => {
    for (const el of [summaryCard, logs.element, lowerRow]) el.hidden = missing;
  };

  const showNotice = (kind, ...content) => {
    const el = h(`div.notice.notice--${kind}`, { role: kind === "error" ? "alert" : "status" }, ...content);
    notices.append(el);
    return el;
  };

  // -- rendering ----------------------------------------------------------------------------------------------
  function renderBreadcrumb() {
    append(clear(breadcrumb), [
      h("a", { href: "/" }, "Home"), h("span.sep", { "aria-hidden": "true" }, "/"),
      view && view.queue ? [h("a", { href: queuePath(view.queue) }, `Queue ${view.queue}`), h("span.sep", { "aria-hidden": "true" }, "/")] : null,
      h("span", { "aria-current": "page" }, `Job ${shortId(view ? view.jobId : jobId)}`)]);
  }

  // What the container did: the `result` of the finished job (`view.results`, upstream's FinishedJob).
  const runOf = (v) => (v && v.results && v.results.finished && v.results.finished.result) || null;

  function renderState() {
    const results = runOf(view);
    const code = results && view.state === "Finished" ? results.StatusCode : 0;
    clear(stateSlot).append(stateBadge(view.state, view.finishedReason, code));
    document.title = `${view.state === "Finished" ? view.finishedReason || "Finished" : view.state} · Job ${shortId(view.jobId)} · Asman`;
  }

  const summaryTimes = {};
  function renderSummary() {
    const r = runOf(view) || {};
    const items = [];
    const item = (label, value, key) => {
      const dd = h("dd", value ?? "—");
      if (key) summaryTimes[key] = dd;
      items.push(h("div.summary-item", h("dt", label), dd));
    };
    item("Queue", view.queue ? h("a.mono", { href: queuePath(view.queue) }, view.queue) : "—");
    item("Job id", h("span.id-with-copy", h("code.mono.break", view.jobId), copyButton(view.jobId, "Copy", { "aria-label": "Copy job id" })));
    item("Worker", view.worker ? h("code.mono", view.worker) : view.state === "Queued" ? "waiting for a worker" : "—");
    item("Attempt", view.attempt ? String(view.attempt) : "—");
    item("Submitted", view.queuedTime ? h("time", { datetime: new Date(view.queuedTime).toISOString() }, fmtDate(view.queuedTime)) : "—");
    item(view.state === "Running" ? "Running for" : "Duration", "", "duration");
    if (view.state === "Finished") {
      item("Exit code", r.StatusCode === undefined || r.StatusCode === null ? "—" : h("code.mono", String(r.StatusCode)));
    }
    clear(summary).append(...items);
    clear(errorSlot);
    if (view.state === "Finished" && r.error) {
      errorSlot.append(h("div.notice.notice--error", h("strong", view.finishedReason === "TimedOut" ? "Timed out. " : "Error. "), h("span.pre-wrap", r.error)));
    } else if (view.state === "Finished" && view.finishedReason === "Success" && r.StatusCode) {
      errorSlot.append(h("div.notice.notice--warn", `The command exited with code ${r.StatusCode}. See the logs (stderr is shown in red).`));
    }
    updateTimes();
  }

  function updateTimes() {
    if (!view || !summaryTimes.duration) return;
    const r = runOf(view) || {};
    let text = "—";
    if (view.state === "Running" && view.time) text = fmtDuration(Date.now() - view.time);
    else if (view.state === "Finished" && typeof r.duration === "number") text = fmtDuration(r.duration);
    else if (view.state === "Queued" && view.queuedTime) text = `queued ${fmtDuration(Date.now() - view.queuedTime)}`;
    if (summaryTimes.duration.textContent !== text) summaryTimes.duration.textContent = text;
  }

  function renderActions() {
    clear(actions);
    const definition = view.definition;
    if (view.queue && (view.state === "Queued" || view.state === "Running")) {
      const cancel = h("button.btn.btn--danger", { type: "button" }, "Cancel job");
      cancel.addEventListener("click", async () => {
        cancel.disabled = true;
        cancel.textContent = "Cancelling…";
        try {
          const answer = await api(`${jobPath(view.queue, view.jobId)}/cancel`, { method: "POST" });
          if (answer && answer.state) update({ state: answer.state, finishedReason: answer.finishedReason || undefined });
        } catch (error) {
          showNotice("error", `Could not cancel: ${error.message}`);
          cancel.disabled = false;
          cancel.textContent = "Cancel job";
        }
      });
      actions.append(cancel);
    }
    if (view.queue && definition && (view.state === "Finished" || view.state === "Removed")) {
      const rerun = h("button.btn.btn--primary", { type: "button" }, "Rerun");
      rerun.addEventListener("click", async () => {
        rerun.disabled = true;
        rerun.textContent = "Restarting…";
        try {
          await api(jobPath(view.queue, view.jobId), { method: "DELETE" });
          await api(queuePath(view.queue), { method: "POST", body: { definition } });
          await reload();
        } catch (error) {
          showNotice("error", `Could not rerun: ${error.message}`);
          rerun.disabled = false;
          rerun.textContent = "Rerun";
        }
      });
      actions.append(rerun);
    }
    if (definition) {
      const target = view.queue || recentQueues()[0] || "";
      actions.append(h("a.btn", { href: `${target ? queuePath(target) : "/"}${shareHash(definition, target)}&edit=1` }, "Edit as new job"));
      // Copy to another queue.
      const input = h("input.mono", {
        id: nextId("copy"), pattern: QUEUE_PATTERN, placeholder: "other-queue", autocomplete: "off", spellcheck: "false",
        list: nextId("copyq"), "aria-label": "Target queue", required: true,
      });
      const options = h("datalist", { id: input.getAttribute("list") },
        recentQueues().filter((q) => q !== view.queue).map((q) => h("option", { value: q })));
      const go = h("button.btn", { type: "submit" }, "Copy to queue");
      const form = h("form.copy-form", { novalidate: true, "aria-label": "Copy this job to another queue" }, input, options, go);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = input.value.trim();
        if (!isQueueName(name)) {
          input.setAttribute("aria-invalid", "true");
          input.focus();
          showNotice("error", "Type a queue name (A-Z a-z 0-9 . _ ~ -) to copy the job to.");
          return;
        }
        go.disabled = true;
        try {
          const answer = await api(`/j/${view.jobId}/copy`, { method: "POST", body: { queue: name } });
          rememberQueue(name);
          navigate(jobPath(answer.queue || name, answer.jobId || view.jobId));
        } catch (error) {
          showNotice("error", `Could not copy: ${error.message}`);
          go.disabled = false;
        }
      });
      actions.append(form);
    }
  }

  function renderShare() {
    clear(shareBody);
    if (!view.definition) {
      shareBody.append(h("p.empty", "The definition is not available."));
      return;
    }
    const link = shareUrl(view.definition, view.queue || "");
    const linkId = nextId("share");
    shareBody.append(
      h("label", { for: linkId }, "Shareable link"),
      h("div.input-row",
        h("input.mono.share-link", { id: linkId, readonly: true, value: link, onfocus: (e) => e.target.select() }),
        copyButton(link, "Copy link", { "aria-label": "Copy shareable link" })),
      h("p.help", "The link carries the whole job definition: opening it shows this job and its result, or offers to run it if it never ran on this queue. Add &autostart=true to run it at once."));
    if (view.queue) {
      const pageUrl = `${location.origin}${jobPath(view.queue, view.jobId)}`;
      const apiId = nextId("api");
      shareBody.append(
        h("label", { for: apiId }, "Job page and API"),
        h("div.input-row",
          h("input.mono.share-link", { id: apiId, readonly: true, value: pageUrl, onfocus: (e) => e.target.select() }),
          copyButton(pageUrl, "Copy", { "aria-label": "Copy job page URL" })),
        h("p.help", "Scripts get JSON from the same URL (", h("code", "Accept: application/json"), ")."));
    }
  }

  function renderOutputsSection() {
    const r = runOf(view);
    clear(outputsBody);
    if (view.state !== "Finished" || !r) {
      const text = view.state !== "Finished" ? "Outputs appear here when the job finishes."
        : closeStream ? "Loading the result…" : "No result is stored for this job.";
      outputsBody.append(h("p.empty", text));
      return;
    }
    const urlFor = (name) => apiUrl(view.queue ? outputPath(view.queue, view.jobId, name) : `/j/${view.jobId}/outputs/${encodePath(name)}`);
    outputsBody.append(renderOutputs(r.outputs || {}, urlFor));
  }

  function renderDefinition() {
    clear(definitionBody);
    if (!view.definition) {
      definitionBody.append(h("p.empty", "The definition is not available (it may have expired)."));
      return;
    }
    const inputUrl = (name) => apiUrl(`${view.queue ? jobPath(view.queue, view.jobId) : `/j/${view.jobId}`}/inputs/${encodePath(name)}`);
    definitionBody.append(
      definitionDetails(view.definition, inputUrl),
      h("details.more", h("summary", "Raw JSON"), h("pre.code-block", { tabindex: "0" }, JSON.stringify(view.definition, null, 2))));
  }

  function renderAll() {
    if (view.state === "Finished" && runOf(view) && onFinished) onFinished(view);
    idText.textContent = shortId(view.jobId);
    subtitle.textContent = describeCommand(view.definition);
    subtitle.title = subtitle.textContent;
    renderBreadcrumb();
    renderState();
    renderSummary();
    renderActions();
    renderShare();
    renderOutputsSection();
    renderDefinition();
  }

  /** Merge a state change (from the stream or an action) into the view and re-render what depends on it. */
  function update(patch) {
    const before = view.state;
    const beforeReason = view.finishedReason;
    view = { ...view, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) };
    if (patch.state && patch.state !== "Finished") delete view.finishedReason;
    renderState();
    renderSummary();
    if (before !== view.state || beforeReason !== view.finishedReason) {
      renderActions();
      renderOutputsSection();
      watchWorkers();
    }
  }

  // -- live ----------------------------------------------------------------------------------------------
  function stream() {
    if (closeStream) closeStream();
    closeStream = null;
    if (!view.queue || disposed) return;
    let trouble = null;
    const close = listen(`${jobPath(view.queue, view.jobId)}/stream`, {
      state: (data) => update({
        state: data.state, finishedReason: data.finishedReason, worker: data.worker, attempt: data.attempt,
        time: data.time, queuedTime: data.queuedTime,
      }),
      // `{lines, cursor}`: the new lines, and how many the stream has sent so far.
      "run-log": (data) => logs.append(data.lines || []),
      "build-log": (data) => {
        buildLogs.element.hidden = false;
        buildLogs.append(data.lines || []);
      },
      final: (data) => {
        close();
        closeStream = null;
        if (trouble) trouble.remove();
        view = { ...view, ...data };
        const run = runOf(data);
        if (!logs.count && run && Array.isArray(run.logs)) logs.append(run.logs);
        if (!logs.count) logs.setEmptyText("The job printed nothing.");
        renderAll();
        watchWorkers();
      },
    }, {
      onOpen: ({ resumed }) => {
        // A fresh connection replays the logs so far; a resumed one sends only the lines missed.
        if (resumed) return;
        logs.reset();
        buildLogs.reset();
      },
      onTrouble: (bad) => {
        if (bad && !trouble) trouble = showNotice("warn", "Live updates were interrupted. Reconnecting…");
        if (!bad && trouble) {
          trouble.remove();
          trouble = null;
        }
      },
    });
    closeStream = close;
  }

  let workerNotice = null;
  async function checkWorkers() {
    if (!view || !view.queue || view.state !== "Queued" || disposed) return;
    try {
      const status = await api(`${queuePath(view.queue)}/status`);
      if (disposed) return;
      const none = !(status.workers || []).length;
      if (none && !workerNotice) {
        workerNotice = workerBanner(view.queue);
        notices.prepend(workerNotice);
      } else if (!none && workerNotice) {
        workerNotice.remove();
        workerNotice = null;
      }
    } catch {
      /* the reachability banner speaks for itself */
    }
  }

  function watchWorkers() {
    clearInterval(statusTimer);
    statusTimer = null;
    if (view && view.state === "Queued" && view.queue) {
      checkWorkers();
      statusTimer = setInterval(checkWorkers, 5000);
    } else if (workerNotice) {
      workerNotice.remove();
      workerNotice = null;
    }
  }

  // -- loading ------------------------------------------------------------------------------------------
  async function reload() {
    const answer = await api(`${jobPath(view.queue, view.jobId)}`);
    view = answer.data;
    logs.reset();
    buildLogs.reset();
    buildLogs.element.hidden = true;
    renderAll();
    watchWorkers();
    stream();
  }

  async function submitShared() {
    const answer = await api(queuePath(queue), { method: "POST", body: { definition: shared, ...submitExtras } });
    jobId = answer.jobId;
    view = (await api(jobPath(queue, jobId))).data;
  }

  /** A linked job this queue has never seen: show it, and run it when asked. */
  function notRunYet() {
    view = { jobId, queue, state: "Unknown", definition: shared, results: null };
    renderAll();
    setMissing(true);
    clear(stateSlot).append(h("span.badge.badge--stopped", h("span.badge__dot", { "aria-hidden": "true" }), "Not run yet"));
    const run = h("button.btn.btn--primary.btn--large", { type: "button" }, "Run");
    const box = showNotice("info", h("p", `This job has not run on queue ${queue} yet. Run it there?`), h("div.notice__actions", run));
    run.addEventListener("click", async () => {
      run.disabled = true;
      run.textContent = "Submitting…";
      try {
        await submitShared();
        box.remove();
        setMissing(false);
        renderAll();
        watchWorkers();
        stream();
      } catch (error) {
        showNotice("error", `Could not submit: ${error.message}`);
        run.disabled = false;
        run.textContent = "Run";
      }
    });
  }

  async function load() {
    if (shared) {
      jobId = jobId || (await computeJobId(shared));
      idText.textContent = shortId(jobId);
      try {
        view = (await api(jobPath(queue, jobId))).data;
      } catch (error) {
        if (error.status !== 404) throw error;
        rememberQueue(queue);
        if (!autostart) return notRunYet();
        // The link is the job and asks to run: a finished success comes back from the cache.
        await submitShared();
        // Inside a metapage the page asked for the run itself: no need to say so.
        if (window.self === window.top) showNotice("info", `This job was submitted to queue ${queue} from the link.`);
      }
      rememberQueue(queue);
    } else if (queue) {
      try {
        view = (await api(jobPath(queue, jobId))).data;
      } catch (error) {
        if (error.status !== 404) throw error;
        return notFound();
      }
    } else {
      const global = (await api(`/j/${jobId}`)).data;
      view = { jobId, queue: null, state: global.results ? "Finished" : "Unknown", finishedReason: global.results ? global.results.finishedReason : undefined, ...global };
      showNotice("info", "This job is shown without its queue, so it is not updated live. Copy it to a queue to run it there.");
    }
    if (disposed) return;
    if (view.queue) rememberQueue(view.queue);
    renderAll();
    if (!view.queue && runOf(view) && Array.isArray(runOf(view).logs)) logs.append(runOf(view).logs);
    watchWorkers();
    stream();
  }

  async function notFound() {
    clear(notices);
    let global = null;
    try {
      global = (await api(`/j/${jobId}`)).data;
    } catch {
      global = null;
    }
    setMissing(true);
    const buttons = h("div.notice__actions");
    const box = showNotice("warn",
      h("p", h("strong", `No job ${shortId(jobId)} in queue ${queue}. `),
        global ? "It exists on this server, in another queue: you can run it on this queue too." : "It was never submitted here, or it has expired."),
      buttons);
    if (global) {
      const run = h("button.btn.btn--primary", { type: "button" }, `Run it on ${queue}`);
      run.addEventListener("click", async () => {
        run.disabled = true;
        try {
          await api(`/j/${jobId}/copy`, { method: "POST", body: { queue } });
          box.remove();
          setMissing(false);
          view = (await api(jobPath(queue, jobId))).data;
          renderAll();
          watchWorkers();
          stream();
        } catch (error) {
          showNotice("error", error.message);
          run.disabled = false;
        }
      });
      buttons.append(run);
      view = { jobId, queue, state: "Unknown", definition: global.definition, results: null };
      idText.textContent = shortId(jobId);
      subtitle.textContent = describeCommand(view.definition);
      renderBreadcrumb();
      renderDefinition();
    } else {
      view = { jobId, queue, state: "Unknown" };
      definitionCard.hidden = true;
      renderBreadcrumb();
    }
    clear(stateSlot);
    buttons.append(h("a.btn", { href: queuePath(queue) }, `Open queue ${queue}`));
  }

  load().catch((error) => {
    if (!disposed) showNotice("error", error.message || String(error));
  });

  return () => {
    disposed = true;
    clearInterval(ticker);
    clearInterval(statusTimer);
    if (closeStream) closeStream();
    logs.dispose();
    buildLogs.dispose();
  };
}

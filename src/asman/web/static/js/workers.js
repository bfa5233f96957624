// Workers: the "no worker connected" banner and the table of connected workers.
import { copyButton, h, relTime, shortId } from "./dom.js";

const DEFAULT_API = new Set(["http://127.0.0.1:8000", "http://localhost:8000"]);

/** The command that starts a worker for `queue` against this server. */
export function workerCommand(queue) {
  return DEFAULT_API.has(location.origin) ? `asman worker ${queue}` : `asman worker ${queue} --api-address ${location.origin}`;
}

export function workerBanner(queue) {
  const command = workerCommand(queue);
  return h("div.notice.notice--warn.worker-banner", { role: "status" },
    h("div",
      h("strong", "No worker is connected to this queue"),
      h("span", ": start one with "), h("code", command),
      h("span", ", or for local use run "), h("code.nowrap", "make run"), h("span", ". Jobs wait in the queue until then.")),
    copyButton(command, "Copy command", { "aria-label": `Copy the command ${command}` }));
}

export function workersTable(workers, queue, jobHref) {
  if (!workers.length) return h("p.empty", "No workers connected.");
  return h("div.table-wrap",
    h("table.table.table--workers",
      h("caption.visually-hidden", `Workers connected to ${queue}`),
      h("thead", h("tr", h("th", { scope: "col" }, "Worker"), h("th", { scope: "col" }, "Slots"),
        h("th", { scope: "col" }, "GPUs"), h("th", { scope: "col" }, "Running"), h("th", { scope: "col" }, "Seen"))),
      h("tbody", workers.map((worker) => {
        const running = worker.running || [];
        return h("tr",
          h("td", { "data-label": "Worker" }, h("code.mono", worker.id), worker.version ? h("span.subtle", ` v${worker.version}`) : null),
          h("td", { "data-label": "Slots" }, `${running.length} / ${worker.slots ?? 1} busy`),
          h("td", { "data-label": "GPUs" }, String(worker.gpus ?? 0)),
          h("td", { "data-label": "Running" }, running.length
            ? running.map((id, i) => [i ? ", " : "", h("a.mono", { href: jobHref(id) }, shortId(id))])
            : h("span.subtle", "idle")),
          h("td", { "data-label": "Seen" }, worker.lastSeen ? relTime(worker.lastSeen) : ""));
      }))));
}

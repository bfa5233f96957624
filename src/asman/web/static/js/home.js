// The home page: the composer, a queue picker, and how to start a worker.
import { api, jobPath, queuePath } from "./api.js";
import { createComposer } from "./composer.js";
import { QUEUE_PATTERN, clear, h, isQueueName, nextId, recentQueues, rememberQueue } from "./dom.js";

export function homePage(root, { navigate, prefill = null, prefillQueue = "", notice = null }) {
  document.title = "Asman · public compute queues";
  const composer = createComposer({
    queue: prefillQueue, definition: prefill, title: prefill ? "Edit and run" : "New job",
    onSubmitted: ({ queue, jobId }) => navigate(jobPath(queue, jobId)),
  });

  const openId = nextId("open");
  const openInput = h("input.mono", {
    id: openId, pattern: QUEUE_PATTERN, required: true, autocomplete: "off", spellcheck: "false", placeholder: "queue name",
  });
  const openError = h("p.help.help--error", { role: "alert" });
  const openForm = h("form.open-form", { novalidate: true },
    h("label", { for: openId }, "Queue name"),
    h("div.input-row", openInput, h("button.btn", { type: "submit" }, "Open")), openError);
  openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = openInput.value.trim();
    if (!isQueueName(name)) {
      openInput.setAttribute("aria-invalid", "true");
      openError.textContent = "Use 1 to 128 of the characters A-Z a-z 0-9 . _ ~ -";
      openInput.focus();
      return;
    }
    navigate(queuePath(name));
  });
  const newQueue = h("button.btn", { type: "button" }, "New private queue");
  newQueue.addEventListener("click", async () => {
    newQueue.disabled = true;
    try {
      const { queue } = await api("/q", { method: "POST" });
      rememberQueue(queue);
      navigate(queuePath(queue));
    } catch (error) {
      openError.textContent = error.message;
      newQueue.disabled = false;
    }
  });
  const recent = recentQueues();

  clear(root).append(h("div.page.home",
    h("header.hero",
      h("h1", "Run a container on a queue"),
      h("p.hero__lead",
        "A queue is just a name. Say what to run and press Run: a worker connected to the queue runs it in a container, and you watch the logs live. ",
        "Identical jobs run once, and finished results come back at once.")),
    notice ? h("div.notice.notice--info", { role: "status" }, notice) : null,
    h("div.home-grid",
      composer.element,
      h("aside.home-aside",
        h("section.card", h("h2.card__title", "Open a queue"), openForm,
          h("div.or-row", h("span.subtle", "or"), newQueue),
          recent.length ? h("div.recent", h("h3.small-title", "Recent queues"),
            h("ul.chip-list", recent.map((q) => h("li", h("a.chip.mono", { href: queuePath(q) }, q))))) : null),
        h("section.card", h("h2.card__title", "Start a worker"),
          h("p", "Run jobs on any computer with Docker. It connects out, so no open port is needed:"),
          h("pre.code-block", `asman worker <queue> --api-address ${location.origin}`),
          h("p", "Or everything on this computer (server and worker, queue ", h("code", "local"), "):"),
          h("pre.code-block", "make run")),
        h("section.card", h("h2.card__title", "From a script"),
          h("pre.code-block", `curl -X POST ${location.origin}/q/<queue> \\\n  -H 'Content-Type: application/json' \\\n  -d '{"definition":{"image":"alpine","command":"echo hi"}}'`),
          h("p.help", "Browse the API at ", h("a", { href: "/docs" }, "/docs"), "."))))));
}

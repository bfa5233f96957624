// A live log panel: stdout and stderr apart, timestamps, filter, follow-the-tail unless the user scrolled up.
import { clear, fmtClock, h, nextId } from "./dom.js";

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
const MAX_LINES = 20000;

function cleanText(text) {
  let value = String(text ?? "").replace(ANSI, "").replace(/\r\n/g, "\n");
  if (value.endsWith("\n")) value = value.slice(0, -1);
  // Progress bars redraw with \r: keep what the terminal would finally show on each line.
  if (value.includes("\r")) value = value.split("\n").map((line) => line.split("\r").filter(Boolean).pop() || "").join("\n");
  return value;
}

export function createLogView({ title = "Logs", emptyText = "No output yet." } = {}) {
  let lines = []; // [text, ms, isStdErr]
  let follow = true;
  let hidden = 0;
  const headingId = nextId("logs");
  const panel = h("div.log-panel", {
    role: "log", "aria-live": "off", "aria-labelledby": headingId, tabindex: "0",
  });
  const empty = h("p.log-empty", emptyText);
  panel.append(empty);
  const jump = h("button.btn.btn--small.log-jump", { type: "button", hidden: true }, "↓ Jump to latest");
  const counter = h("span.log-count", { "aria-live": "off" });

  const filterName = nextId("filter");
  const filterOption = (value, label, checked = false) =>
    h("label.segmented__option.segmented__option--small",
      h("input", { type: "radio", name: filterName, value, checked }), h("span", label));
  const filter = h("div.segmented.segmented--small", { role: "radiogroup", "aria-label": "Show streams" },
    filterOption("all", "All", true), filterOption("out", "stdout"), filterOption("err", "stderr"));
  filter.addEventListener("change", (event) => {
    panel.classList.toggle("log-panel--only-out", event.target.value === "out");
    panel.classList.toggle("log-panel--only-err", event.target.value === "err");
    scrollToEnd();
  });
  const timestamps = h("input", { type: "checkbox", checked: true });
  timestamps.addEventListener("change", () => panel.classList.toggle("log-panel--no-time", !timestamps.checked));
  const download = h("button.btn.btn--small", { type: "button" }, "Download");
  download.addEventListener("click", () => {
    const text = lines.map(([t, ms, err]) => `${new Date(ms).toISOString()} ${err ? "stderr" : "stdout"} ${cleanText(t)}`).join("\n");
    const url = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain" }));
    const link = h("a", { href: url, download: "logs.txt" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });

  const atBottom = () => panel.scrollTop + panel.clientHeight >= panel.scrollHeight - 24;
  const scrollToEnd = () => {
    panel.scrollTop = panel.scrollHeight;
    follow = true;
    jump.hidden = true;
  };
  panel.addEventListener("scroll", () => {
    follow = atBottom();
    if (follow) jump.hidden = true;
  });
  jump.addEventListener("click", () => {
    scrollToEnd();
    panel.focus();
  });

  const renderLine = ([text, ms, isErr]) =>
    h(`div.log-line${isErr ? ".log-line--err" : ""}`, isErr ? { title: "stderr" } : null,
      h("span.log-time", { "aria-hidden": "true" }, ms ? fmtClock(ms) : ""),
      h("span.log-stream", isErr ? "err" : "out"),
      h("span.log-text", cleanText(text)));

  const updateCount = () => {
    const errors = lines.filter((line) => line[2]).length;
    counter.textContent = lines.length
      ? `${lines.length} line${lines.length === 1 ? "" : "s"}${errors ? `, ${errors} on stderr` : ""}${hidden ? ` (first ${hidden} not shown)` : ""}`
      : "";
  };

  function append(newLines) {
    if (!Array.isArray(newLines) || !newLines.length) return;
    const stick = follow;
    empty.remove();
    const fragment = document.createDocumentFragment();
    for (const line of newLines) {
      if (!Array.isArray(line)) continue;
      const ms = Number(line[1]) || 0;
      const last = lines.length ? Number(lines[lines.length - 1][1]) || 0 : 0;
      if (ms >= last) {
        lines.push(line);
        fragment.append(renderLine(line));
        continue;
      }
      // stdout and stderr arrive on two streams: put a late line where its timestamp says it belongs.
      panel.append(fragment);
      let index = lines.length - 1;
      while (index > 0 && (Number(lines[index - 1][1]) || 0) > ms) index--;
      lines.splice(index, 0, line);
      const before = panel.querySelectorAll(".log-line")[index - hidden];
      if (before) before.before(renderLine(line));
      else fragment.append(renderLine(line));
    }
    panel.append(fragment);
    while (panel.childElementCount > MAX_LINES) {
      panel.firstElementChild.remove();
      hidden++;
    }
    updateCount();
    if (stick) scrollToEnd();
    else jump.hidden = false;
  }

  function reset() {
    lines = [];
    hidden = 0;
    clear(panel).append(empty);
    follow = true;
    jump.hidden = true;
    updateCount();
  }

  const element = h("section.card.logs-card",
    h("div.card__header",
      h("h2.card__title", { id: headingId }, title),
      counter,
      h("div.toolbar", filter,
        h("label.checkbox", timestamps, h("span", "Times")),
        download)),
    h("div.log-wrap", panel, jump));

  return {
    element,
    append,
    reset,
    get count() {
      return lines.length;
    },
    setEmptyText(text) {
      empty.textContent = text;
    },
  };
}

// A live log panel: ANSI colours (the vendored ansi_up), stdout and stderr apart, timestamps, line numbers that
// link to their line, search, follow-the-tail or pause, download.
import { AnsiUp } from "../vendor/ansi_up-6.0.6.js";
import { clear, fmtClock, h, nextId } from "./dom.js";

const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g;
// Escapes other than colours (cursor moves, OSC titles) mean nothing in a page: ansi_up gets only SGR ones.
const NOT_SGR = /\x1b\[[0-9;?]*[ -/]*[@-ln-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)?/g;
const MAX_LINES = 20000;

function lineText(text) {
  let value = String(text ?? "").replace(NOT_SGR, "").replace(/\r\n/g, "\n");
  if (value.endsWith("\n")) value = value.slice(0, -1);
  // Progress bars redraw with \r: keep what the terminal would finally show on each line.
  if (value.includes("\r")) value = value.split("\n").map((line) => line.split("\r").filter(Boolean).pop() || "").join("\n");
  return value;
}

const cleanText = (text) => lineText(text).replace(ANSI, "");

/** `anchor` names line links (`#L12`, `#B3`): one letter per log panel on a page. */
export function createLogView({ title = "Logs", emptyText = "No output yet.", anchor = "L" } = {}) {
  let lines = []; // [text, ms, isStdErr]
  let follow = true;
  let paused = false;
  let query = "";
  const colours = new AnsiUp();
  colours.use_classes = true; // colours from app.css, readable on the dark panel in both themes
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

  const searchInput = h("input.log-search", { type: "search", placeholder: "Search", "aria-label": `Search ${title.toLowerCase()}`, autocomplete: "off", spellcheck: "false" });
  const matches = h("span.log-matches", { "aria-live": "polite" });
  const applySearch = (scroll = false) => {
    query = searchInput.value.trim().toLowerCase();
    let found = 0;
    panel.classList.toggle("log-panel--searching", !!query);
    for (const row of panel.querySelectorAll(".log-line")) {
      const hit = !!query && row.querySelector(".log-text").textContent.toLowerCase().includes(query);
      row.classList.toggle("log-line--hit", hit);
      if (hit) found++;
    }
    matches.textContent = query ? `${found} match${found === 1 ? "" : "es"}` : "";
    const first = panel.querySelector(".log-line--hit");
    if (first && scroll) {
      setPaused(true);
      panel.scrollTop = first.offsetTop - panel.clientHeight / 3;
    }
  };
  searchInput.addEventListener("input", () => applySearch(true));
  const followButton = h("button.btn.btn--small", { type: "button", "aria-pressed": "true", title: "Keep the newest line in view" }, "Following");
  const setPaused = (value) => {
    paused = value;
    followButton.setAttribute("aria-pressed", String(!paused));
    followButton.textContent = paused ? "Resume following" : "Following";
    if (!paused) scrollToEnd();
  };
  followButton.addEventListener("click", () => setPaused(!paused));

  const atBottom = () => panel.scrollTop + panel.clientHeight >= panel.scrollHeight - 24;
  const scrollToEnd = () => {
    panel.scrollTop = panel.scrollHeight;
    follow = true;
    jump.hidden = true;
  };
  panel.addEventListener("scroll", () => {
    follow = !paused && atBottom();
    if (follow) jump.hidden = true;
  });
  jump.addEventListener("click", () => {
    scrollToEnd();
    panel.focus();
  });

  const renderLine = ([text, ms, isErr], number) => {
    const body = h("span.log-text");
    body.innerHTML = colours.ansi_to_html(lineText(text)); // ansi_up escapes the text itself
    const row = h(`div.log-line${isErr ? ".log-line--err" : ""}`, { id: `${anchor}${number}`, title: isErr ? "stderr" : null },
      h("a.log-num", { href: `#${anchor}${number}`, "aria-label": `Line ${number}` }, String(number)),
      h("span.log-time", { "aria-hidden": "true" }, ms ? fmtClock(ms) : ""),
      h("span.log-stream", isErr ? "err" : "out"),
      body);
    if (query && body.textContent.toLowerCase().includes(query)) row.classList.add("log-line--hit");
    return row;
  };
  const renumber = () => {
    panel.querySelectorAll(".log-line").forEach((row, index) => {
      const number = index + 1 + hidden;
      row.id = `${anchor}${number}`;
      const link = row.querySelector(".log-num");
      link.textContent = String(number);
      link.href = `#${anchor}${number}`;
      link.setAttribute("aria-label", `Line ${number}`);
    });
  };
  /** The line a `#L12` link names, highlighted and in view. */
  const showLinked = () => {
    const match = location.hash.match(new RegExp(`^#${anchor}(\\d+)$`));
    for (const row of panel.querySelectorAll(".log-line--linked")) row.classList.remove("log-line--linked");
    if (!match) return false;
    const row = document.getElementById(`${anchor}${match[1]}`);
    if (!row) return false;
    row.classList.add("log-line--linked");
    setPaused(true);
    panel.scrollTop = row.offsetTop - panel.clientHeight / 3;
    return true;
  };
  window.addEventListener("hashchange", showLinked);

  const updateCount = () => {
    const errors = lines.filter((line) => line[2]).length;
    counter.textContent = lines.length
      ? `${lines.length} line${lines.length === 1 ? "" : "s"}${errors ? `, ${errors} on stderr` : ""}${hidden ? ` (first ${hidden} not shown)` : ""}`
      : "";
  };

  function append(newLines) {
    if (!Array.isArray(newLines) || !newLines.length) return;
    const stick = follow && !paused;
    let moved = false;
    empty.remove();
    const fragment = document.createDocumentFragment();
    for (const line of newLines) {
      if (!Array.isArray(line)) continue;
      const ms = Number(line[1]) || 0;
      const last = lines.length ? Number(lines[lines.length - 1][1]) || 0 : 0;
      if (ms >= last) {
        lines.push(line);
        fragment.append(renderLine(line, lines.length));
        continue;
      }
      // stdout and stderr arrive on two streams: put a late line where its timestamp says it belongs.
      panel.append(fragment);
      let index = lines.length - 1;
      while (index > 0 && (Number(lines[index - 1][1]) || 0) > ms) index--;
      lines.splice(index, 0, line);
      moved = true;
      const before = panel.querySelectorAll(".log-line")[index - hidden];
      if (before) before.before(renderLine(line, index + 1));
      else fragment.append(renderLine(line, index + 1));
    }
    panel.append(fragment);
    while (panel.childElementCount > MAX_LINES) {
      panel.firstElementChild.remove();
      hidden++;
    }
    if (moved || hidden) renumber();
    updateCount();
    if (query) applySearch();
    if (location.hash.startsWith(`#${anchor}`) && showLinked()) return;
    if (stick) scrollToEnd();
    else jump.hidden = false;
  }

  function reset() {
    lines = [];
    hidden = 0;
    clear(panel).append(empty);
    colours.bold = colours.faint = colours.italic = colours.underline = false;
    colours.fg = colours.bg = null;
    follow = true;
    jump.hidden = true;
    updateCount();
  }

  const element = h("section.card.logs-card",
    h("div.card__header",
      h("h2.card__title", { id: headingId }, title),
      counter,
      h("div.toolbar", h("span.log-search-wrap", searchInput, matches), filter, followButton,
        h("label.checkbox", timestamps, h("span", "Times")),
        download)),
    h("div.log-wrap", panel, jump));

  return {
    element,
    append,
    reset,
    dispose() {
      window.removeEventListener("hashchange", showLinked);
    },
    get count() {
      return lines.length;
    },
    setEmptyText(text) {
      empty.textContent = text;
    },
  };
}

// A job's output files: download links and inline previews of text and images.
import { clear, fmtBytes, h } from "./dom.js";

const IMAGE_TYPES = {
  png: "image/png", jpg: "image/jpeg", jpeg: "image/jpeg", gif: "image/gif", webp: "image/webp",
  svg: "image/svg+xml", bmp: "image/bmp", ico: "image/x-icon", avif: "image/avif",
};
const TEXT_EXTENSIONS = new Set([
  "txt", "log", "md", "csv", "tsv", "json", "jsonl", "yaml", "yml", "toml", "xml", "html", "htm", "css", "js",
  "ts", "py", "r", "sh", "ini", "cfg", "conf", "tex", "out", "err", "ipynb", "sql", "c", "h", "cpp", "rs", "go",
]);
const PREVIEW_TEXT_BYTES = 200 * 1024;
const PREVIEW_IMAGE_BYTES = 20 * 1024 * 1024;

const extension = (name) => {
  const base = name.split("/").pop();
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
};

function inlineBytes(ref) {
  if (ref.type === "base64" && typeof ref.value === "string") {
    try {
      return Uint8Array.from(atob(ref.value), (c) => c.charCodeAt(0));
    } catch {
      return null;
    }
  }
  if (ref.type === "utf8" || ref.type === undefined || ref.type === null) {
    return new TextEncoder().encode(typeof ref.value === "string" ? ref.value : JSON.stringify(ref.value));
  }
  if (ref.type === "json") return new TextEncoder().encode(JSON.stringify(ref.value, null, 2));
  return null;
}

function asText(bytes) {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    // Binary that happens to decode: too many control characters.
    const controls = (text.slice(0, 4096).match(/[\x00-\x08\x0e-\x1f]/g) || []).length;
    return controls > 8 ? null : text;
  } catch {
    return null;
  }
}

async function loadBytes(ref, url) {
  const local = inlineBytes(ref);
  if (local) return local;
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function renderPreview(target, name, ref, url) {
  const ext = extension(name);
  clear(target).append(h("p.help", "Loading preview…"));
  try {
    const bytes = await loadBytes(ref, url);
    clear(target);
    if (IMAGE_TYPES[ext]) {
      if (bytes.length > PREVIEW_IMAGE_BYTES) {
        target.append(h("p.help", "This image is too large to preview here: download it."));
        return;
      }
      const objectUrl = URL.createObjectURL(new Blob([bytes], { type: IMAGE_TYPES[ext] }));
      target.append(h("img.output-image", { src: objectUrl, alt: `Preview of ${name}` }));
      return;
    }
    const text = asText(bytes.subarray(0, PREVIEW_TEXT_BYTES));
    if (text === null) {
      target.append(h("p.help", "Binary file: no preview. Download it to open it."));
      return;
    }
    let shown = text;
    if (ext === "json" && bytes.length <= PREVIEW_TEXT_BYTES) {
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        shown = text;
      }
    }
    target.append(h("pre.code-block.output-text", { tabindex: "0", "aria-label": `Contents of ${name}` }, shown));
    if (bytes.length > PREVIEW_TEXT_BYTES) {
      target.append(h("p.help", `Showing the first ${fmtBytes(PREVIEW_TEXT_BYTES)} of ${fmtBytes(bytes.length)}.`));
    }
  } catch (error) {
    clear(target).append(h("p.help", `No preview (${error.message}). The download link still works.`));
  }
}

function describe(ref) {
  const bytes = inlineBytes(ref);
  if (bytes) return fmtBytes(bytes.length);
  if (ref.type === "url") return "stored file";
  return ref.type || "";
}

/** Render outputs `{path: DataRef}`; `urlFor(path)` gives the download URL. */
export function renderOutputs(outputs, urlFor) {
  const names = Object.keys(outputs || {}).sort();
  if (!names.length) return h("p.empty", "This job wrote no files to /outputs.");
  const list = h("ul.output-list");
  names.forEach((name, index) => {
    const ref = outputs[name] || {};
    const url = urlFor(name);
    const ext = extension(name);
    const previewable = IMAGE_TYPES[ext] || TEXT_EXTENSIONS.has(ext) || ref.type !== "url";
    const body = h("div.output-preview");
    const details = h("details.output-details", h("summary", "Preview"), body);
    let loaded = false;
    details.addEventListener("toggle", () => {
      if (details.open && !loaded) {
        loaded = true;
        renderPreview(body, name, ref, url);
      }
    });
    list.append(h("li.output-item",
      h("div.output-item__head",
        h("span.output-item__name.mono", name),
        h("span.output-item__meta", describe(ref)),
        h("a.btn.btn--small", { href: url, download: name.split("/").pop(), "aria-label": `Download ${name}` }, "Download")),
      previewable ? details : null));
    if (previewable && index < 6) {
      loaded = true;
      details.open = true;
      renderPreview(body, name, ref, url);
    }
  });
  return list;
}

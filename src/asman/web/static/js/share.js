// Shareable links, compatible with upstream's hash params: `#?job=<base64(encodeURIComponent(JSON))>&queue=<q>`.
// `#job=...&queue=...` (no `?`) is accepted too.

/** Split a location hash into its leading part and its `key=value` parameters: `params` percent-decoded, `raw`
 * as written (upstream's hash-query reads values raw, and env values from a link must hash the same). */
export function parseHash(hash) {
  let text = hash || "";
  while (text.startsWith("#")) text = text.slice(1);
  let pre = "";
  const mark = text.indexOf("?");
  if (mark !== -1) {
    pre = text.slice(0, mark);
    text = text.slice(mark + 1);
  } else if (!text.includes("=")) {
    return { pre: text, params: {}, raw: {} };
  }
  const params = {};
  const raw = {};
  for (const part of text.split("&")) {
    if (!part) continue;
    const divider = part.indexOf("=");
    const key = divider === -1 ? part : part.slice(0, divider);
    const written = divider === -1 ? "" : part.slice(divider + 1);
    let value = written;
    try {
      value = decodeURIComponent(written);
    } catch {
      value = written;
    }
    params[key] = value;
    raw[key] = written;
  }
  return { pre, params, raw };
}

export function encodeJob(definition) {
  return btoa(encodeURIComponent(JSON.stringify(definition)));
}

/** Decode a `job` hash param; accepts upstream's old plain-base64 links and URL-safe base64. Throws if invalid. */
export function decodeJob(value) {
  let text = String(value).trim().replace(/ /g, "+").replace(/-/g, "+").replace(/_/g, "/");
  text = text.replace(/=+$/, "");
  while (text.length % 4) text += "=";
  const decoded = atob(text);
  let json = decoded;
  if (decoded.includes("%")) {
    try {
      json = decodeURIComponent(decoded);
    } catch {
      json = decoded;
    }
  } else {
    // Old links: base64 of the raw UTF-8 JSON.
    try {
      json = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(decoded, (c) => c.charCodeAt(0)));
    } catch {
      json = decoded;
    }
  }
  const definition = JSON.parse(json);
  if (!definition || typeof definition !== "object" || Array.isArray(definition)) {
    throw new Error("the link's job is not a JSON object");
  }
  return definition;
}

export function shareHash(definition, queue) {
  const parts = [`job=${encodeJob(definition)}`];
  if (queue) parts.push(`queue=${encodeURIComponent(queue)}`);
  return `#?${parts.join("&")}`;
}

export function shareUrl(definition, queue) {
  return `${location.origin}/${shareHash(definition, queue)}`;
}

// A job carried by a link or a metapage: upstream's hash parameters (UPSTREAM-WIRE.md §9) and metaframe inputs
// turned into the definition to run. The rules follow upstream exactly, because the job id must come out the same
// for a link made by upstream's browser client.
import { blobExists, serverOrigin, uploadBlob } from "./api.js";
import { isQueueName } from "./dom.js";
import { jobId } from "./jobid.js";
import { sha256Hex } from "./sha256.js";
import { decodeJob } from "./share.js";

export const INLINE_LIMIT = 200; // upstream uploads a value *longer* than this

export const SYSTEM_PARAMS = new Set([
  "allowsetjob", "autostart", "config", "control", "debug", "definition", "ignoreQueueOverride", "inputs", "job",
  "maxJobDuration", "queue", "queueOverride", "resolverefs", "terminal",
]);
// Put in the hash by a metapage host, not by the job's author; Asman's own `edit` too.
const PARENT_PARAMS = new Set(["channel", "CHANNEL", "readonly", "edit", "parent-metapage-id", "fs-path"]);
const PARENT_PREFIX = /^mp[-_]/;

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const flag = (params, name) => params[name] === "true"; // upstream: exactly `true`, nothing else

function jsonParam(params, name) {
  if (!params[name]) return undefined;
  try {
    return decodeJob(params[name]);
  } catch {
    return undefined;
  }
}

/** Where the job goes: `local` is the local-mode server, a URL names another server, any other name is a queue
 * on this page's server. `queueOverride` wins unless `ignoreQueueOverride=true`. */
export function resolveQueue(params) {
  let value = params.queue || "";
  if (params.queueOverride && !flag(params, "ignoreQueueOverride")) value = params.queueOverride;
  if (value === "local") return { queue: "local", origin: location.port === "8000" ? location.origin : "http://localhost:8000" };
  if (/^https?:\/\//.test(value)) {
    try {
      const url = new URL(value);
      const queue = decodeURIComponent(url.pathname.replace(/^\/+|\/+$/g, "").split("/").pop() || "");
      return { queue: isQueueName(queue) ? queue : "", origin: url.origin };
    } catch {
      return { queue: "", origin: location.origin };
    }
  }
  return { queue: isQueueName(value) ? value : "", origin: location.origin };
}

/** The page's options from its hash: everything but the definition. */
export function linkOptions(params) {
  const control = jsonParam(params, "control");
  return {
    ...resolveQueue(params),
    autostart: flag(params, "autostart"),
    debug: flag(params, "debug"),
    allowsetjob: flag(params, "allowsetjob"),
    resolverefs: flag(params, "resolverefs"),
    terminal: flag(params, "terminal"),
    control: { ...(isObject(control) ? control : {}), namespace: (isObject(control) && control.namespace) || "_" },
  };
}

/** Params that are not upstream's system params nor put there by a metapage host: they become env. */
export function envParams(raw) {
  return Object.entries(raw).filter(([key]) => key && !SYSTEM_PARAMS.has(key) && !PARENT_PARAMS.has(key) && !PARENT_PREFIX.test(key));
}

const bytesToBase64 = (bytes) => {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
};
const base64ToBytes = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/** A metapage input value as a DataRef (null when upstream drops it). */
export async function inputRef(value) {
  if (value === null || value === undefined || typeof value === "boolean") return null;
  if (typeof Blob !== "undefined" && value instanceof Blob) return { type: "base64", value: bytesToBase64(new Uint8Array(await value.arrayBuffer())) };
  if (value instanceof ArrayBuffer) return { type: "base64", value: bytesToBase64(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) return { type: "base64", value: bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  if (typeof value === "number") return { type: "utf8", value: String(value) };
  if (typeof value === "string") {
    const data = value.match(/^data:([^,]*?),(.*)$/s);
    if (!data) return { type: "utf8", value };
    const [, meta, payload] = data;
    if (meta.startsWith("text/x-uri")) return { type: "url", value: decodeURIComponent(payload) };
    if (meta.endsWith(";base64")) return { type: "base64", value: payload };
    const text = decodeURIComponent(payload);
    if (meta.startsWith("application/json")) {
      try {
        return { type: "json", value: JSON.parse(text) };
      } catch {
        return { type: "utf8", value: text };
      }
    }
    return { type: "utf8", value: text };
  }
  if (isObject(value) && value._s === true) return { type: "base64", value: String(value.value ?? "") };
  if (isObject(value) && ["utf8", "base64", "json", "url", "key"].includes(value.type) && value.value) return value;
  return { type: "json", value };
}

/** Upload a value longer than the threshold to /f/<sha256> and refer to it by URL, as upstream does. */
async function uploaded(ref) {
  let length = 0;
  let bytes = null;
  if (ref.type === "utf8" || ref.type === undefined) {
    length = String(ref.value).length; // UTF-16 length, as upstream measures
    bytes = new TextEncoder().encode(String(ref.value));
  } else if (ref.type === "base64") {
    length = String(ref.value).length;
    bytes = base64ToBytes(String(ref.value));
  } else if (ref.type === "json") {
    const text = JSON.stringify(ref.value);
    length = text.length;
    bytes = new TextEncoder().encode(text);
  }
  if (!bytes || length <= INLINE_LIMIT) return ref;
  const hash = await sha256Hex(bytes);
  if (!(await blobExists(hash))) await uploadBlob(hash, new Blob([bytes]));
  return { type: "url", value: `${serverOrigin()}/f/${hash}`, hash };
}

/**
 * The definition to run: `base` (the `job` param, or the job a `/j/<id>` page shows), with the `inputs` param as
 * configFiles, the other params as env (each also filling the first `${key}` of command and build context), and
 * the metapage's inputs as job inputs; long values uploaded. With `allowsetjob`, an input `job` replaces `base`.
 */
export async function linkedDefinition(base, raw, params, metaInputs = {}, { allowsetjob = false, upload = true } = {}) {
  let definition = { ...(base || {}) };
  if (allowsetjob && isObject(metaInputs.job)) definition = { ...metaInputs.job };
  const files = jsonParam(params, "inputs");
  if (isObject(files)) {
    definition.configFiles = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, { type: "utf8", value: String(text) }]));
  }
  const extra = envParams(raw);
  if (extra.length) {
    definition.env = { ...(definition.env || {}) };
    for (const [key, value] of extra) {
      definition.env[key] = value;
      const mark = "${" + key + "}";
      // A function replacer: a `$&` in the value must stay as written.
      if (typeof definition.command === "string") definition.command = definition.command.replace(mark, () => value);
      if (definition.build && typeof definition.build.context === "string") {
        definition.build = { ...definition.build, context: definition.build.context.replace(mark, () => value) };
      }
    }
  }
  const refs = {};
  for (const [name, value] of Object.entries(metaInputs)) {
    if (name === "job" && allowsetjob) continue;
    const ref = await inputRef(value);
    if (ref) refs[name.replace(/^\/+/, "")] = ref;
  }
  if (Object.keys(refs).length) definition.inputs = { ...(definition.inputs || {}), ...refs };
  if (upload) {
    for (const field of ["inputs", "configFiles"]) {
      if (!isObject(definition[field])) continue;
      const out = {};
      for (const [name, ref] of Object.entries(definition[field])) out[name] = isObject(ref) ? await uploaded(ref) : ref;
      definition[field] = out;
    }
  }
  return { definition, id: await jobId(definition) };
}

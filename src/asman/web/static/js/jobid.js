// The job id, computed in the browser exactly as the server does (src/asman/core/definition.py): sha256 of the
// canonical JSON of the definition's known fields. Used to look a shared job up without submitting it.
import { sha256Hex } from "./sha256.js";

const SCALAR_FIELDS = ["v", "image", "command", "entrypoint", "workdir", "shmSize", "maxDuration", "tags"];
const BUILD_FIELDS = ["context", "buildContext", "filename", "target", "dockerfile", "buildArgs", "platform"];
const REQUIREMENT_FIELDS = ["cpus", "gpus", "memory", "maxDuration"];
const PARENT_ENV_KEYS = new Set(["channel", "CHANNEL", "readonly", "edit", "parent-metapage-id", "fs-path"]);
const PARENT_ENV_PREFIX = /^mp[-_]/;
const PRESIGNED_MARK = "/presignedurl/";
const UPSTREAM_BUCKET = "https://metaframe-asman-test.s3.us-west-1.amazonaws.com";

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const present = (value) => value !== undefined && value !== null;

function knownSubfields(source, fields) {
  if (!isObject(source)) return null;
  const picked = {};
  for (const name of fields) if (present(source[name])) picked[name] = source[name];
  return Object.keys(picked).length ? picked : null;
}

// A presigned link's signature and upstream's test bucket's query string change on every upload: they must not
// change the job id.
function hashedUrl(url) {
  if (url.includes(PRESIGNED_MARK)) return url.split(PRESIGNED_MARK)[0];
  if (url.startsWith(UPSTREAM_BUCKET)) {
    try {
      const parsed = new URL(url);
      parsed.search = "";
      parsed.hash = "";
      return parsed.href;
    } catch {
      return url; // upstream throws here; the server keeps such a URL as it is, and so does this
    }
  }
  return url;
}

function reduceRefs(refs) {
  if (!isObject(refs)) return null;
  const reduced = {};
  for (const [name, ref] of Object.entries(refs)) {
    if (!isObject(ref)) continue;
    const entry = {};
    if (ref.value !== undefined) {
      entry.value = ref.type === "url" && typeof ref.value === "string" ? hashedUrl(ref.value) : ref.value;
    }
    if (present(ref.type)) entry.type = ref.type;
    reduced[name] = entry;
  }
  return Object.keys(reduced).length ? reduced : null;
}

/** The part of a definition that identifies the job. */
export function hashBlob(definition) {
  const blob = {};
  for (const name of SCALAR_FIELDS) if (present(definition[name])) blob[name] = definition[name];
  for (const [name, fields] of [["build", BUILD_FIELDS], ["requirements", REQUIREMENT_FIELDS]]) {
    const picked = knownSubfields(definition[name], fields);
    if (picked) blob[name] = picked;
  }
  if (isObject(definition.env)) {
    const kept = {};
    for (const [key, value] of Object.entries(definition.env)) {
      if (!PARENT_ENV_KEYS.has(key) && !PARENT_ENV_PREFIX.test(key)) kept[key] = value;
    }
    if (Object.keys(kept).length) blob.env = kept;
  }
  for (const name of ["inputs", "configFiles"]) {
    const reduced = reduceRefs(definition[name]);
    if (reduced) blob[name] = reduced;
  }
  return blob;
}

/** Sorted keys (UTF-16 order: Array.prototype.sort's default), no whitespace, non-ASCII kept: what
 * safe-stable-stringify produces. */
export function canonicalJson(value) {
  if (Array.isArray(value)) return "[" + value.map((item) => canonicalJson(present(item) ? item : null)).join(",") + "]";
  if (isObject(value)) {
    const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
    return "{" + keys.map((key) => JSON.stringify(key) + ":" + canonicalJson(value[key])).join(",") + "}";
  }
  if (value === undefined) return "null";
  return JSON.stringify(value);
}

export async function jobId(definition) {
  return sha256Hex(canonicalJson(hashBlob(definition || {})));
}

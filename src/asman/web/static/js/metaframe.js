// The web client as a metaframe: a metapage that embeds it sends inputs (they become the job's inputs) and gets
// the finished job's outputs back (UPSTREAM-WIRE.md §9, hooks/useSendJobOutputs.ts). The postMessage protocol
// is the real @metapages/metapage library, vendored (static/vendor/vendor.json), loaded only inside an iframe.
import { apiUrl, jobPath, serverOrigin } from "./api.js";

const LIBRARY = "../vendor/metapage-1.10.10.js";

export const embedded = (() => {
  try {
    return window.self !== window.top;
  } catch {
    return true;
  }
})();

let connection = null;

/** Connect to the parent metapage once; `onInputs(all)` runs with every input set, now and on each change. */
export async function connectMetaframe(onInputs) {
  if (!embedded) return null;
  if (!connection) {
    connection = import(LIBRARY).then(({ Metaframe }) => {
      const metaframe = new Metaframe();
      // Blobs arrive serialized ({_s, value}); they become base64 job inputs as they are.
      metaframe.isInputOutputBlobSerialization = false;
      return metaframe;
    });
  }
  const metaframe = await connection;
  metaframe.onInputs(() => onInputs({ ...metaframe.getInputs() }));
  await metaframe.connected();
  const now = metaframe.getInputs();
  if (now && Object.keys(now).length) onInputs({ ...now });
  return metaframe;
}

const blob = (value, size) => ({ _s: true, _c: "Blob", value, size });

async function download(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return blob(btoa(binary), bytes.length);
}

/** What the metapage gets for one output DataRef. */
async function outputValue(ref, resolverefs) {
  if (ref.type === "key") ref = { type: "url", value: `${serverOrigin()}/f/${ref.value}` };
  if (!resolverefs) return ref;
  if (ref.type === "base64") return blob(ref.value, 0);
  if (ref.type === "url") return download(apiUrl(ref.value));
  if (ref.type === "json") return ref.value;
  return ref.value;
}

const trimmed = (line) => [String(line[0] ?? "").trimEnd(), ...line.slice(1)];

/** The outputs of a finished job (upstream's FinishedJob `view.results`) as the metapage receives them. */
export async function jobOutputs(view, { resolverefs = false, allowsetjob = false } = {}) {
  const run = (view.results && view.results.finished && view.results.finished.result) || {};
  const outputs = {};
  for (const [name, ref] of Object.entries(run.outputs || {})) outputs[name] = await outputValue(ref, resolverefs);
  if (allowsetjob) {
    const logs = Array.isArray(run.logs) ? run.logs : [];
    outputs["job/result.json"] = {
      stdout: logs.filter((line) => !line[2]).map(trimmed),
      stderr: logs.filter((line) => line[2]).map(trimmed),
      statusCode: run.StatusCode,
      error: run.error,
      duration: run.duration,
      isTimedOut: run.isTimedOut,
      url: `${serverOrigin()}${jobPath(view.queue, view.jobId)}`,
    };
  }
  return outputs;
}

const sent = new Set();

/** Send a finished job's outputs to the metapage, once per job id. */
export async function sendOutputs(metaframe, view, options) {
  if (!metaframe || sent.has(view.jobId)) return;
  sent.add(view.jobId);
  await metaframe.setOutputs(await jobOutputs(view, options));
}

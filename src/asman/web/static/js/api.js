// Talking to the Asman server: JSON over fetch, blobs over XHR (for upload progress), live updates over SSE.
// Every call reports reachability to `net`, which drives the "server unreachable" banner.

export class ApiError extends Error {
  constructor(message, status = 0, code = "error") {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Reachability of the server, shared by every call. */
export const net = {
  online: true,
  listeners: new Set(),
  set(online) {
    if (online === this.online) return;
    this.online = online;
    for (const listener of this.listeners) listener(online);
  },
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  },
};

// The server this page talks to: its own origin, unless a link's `queue=http(s)://host/<q>` points elsewhere
// (upstream's rule). Every request goes through apiUrl().
let apiOrigin = "";
export function setApiOrigin(origin) {
  apiOrigin = !origin || origin === location.origin ? "" : origin.replace(/\/+$/, "");
}
/** The server's origin as workers must see it in url refs. */
export const serverOrigin = () => apiOrigin || location.origin;
export const apiUrl = (path) => (/^https?:/.test(path) ? path : apiOrigin + path);

export const queuePath = (queue) => `/q/${encodeURIComponent(queue)}`;
export const jobPath = (queue, jobId) => `${queuePath(queue)}/j/${jobId}`;
export const outputPath = (queue, jobId, name) =>
  `${jobPath(queue, jobId)}/outputs/${name.split("/").map(encodeURIComponent).join("/")}`;

export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    net.set(false);
    throw new ApiError("Cannot reach the Asman server. Check that it is running, then try again.", 0, "unreachable");
  }
  net.set(true);
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && data.message) || `${method} ${path} failed: HTTP ${response.status}`;
    throw new ApiError(message, response.status, (data && data.error) || "http_error");
  }
  return data;
}

/** Is the server up? (used while the banner is shown) */
export async function ping() {
  try {
    const response = await fetch(apiUrl("/healthz"), { cache: "no-store" });
    net.set(response.ok);
    return response.ok;
  } catch {
    net.set(false);
    return false;
  }
}

export async function blobExists(hash) {
  try {
    await api(`/f/${hash}/exists`);
    return true;
  } catch (error) {
    if (error.status === 404) return false;
    throw error;
  }
}

/** PUT a blob to /f/<hash>, reporting progress (0..1). */
export function uploadBlob(hash, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", apiUrl(`/f/${hash}`));
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      net.set(true);
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        let message = `upload of ${file.name || hash} failed: HTTP ${xhr.status}`;
        try {
          message = JSON.parse(xhr.responseText).message || message;
        } catch {
          /* not JSON */
        }
        reject(new ApiError(message, xhr.status));
      }
    };
    xhr.onerror = () => {
      net.set(false);
      reject(new ApiError("Cannot reach the Asman server to upload a file.", 0, "unreachable"));
    };
    xhr.send(file);
  });
}

/**
 * Listen to a Server-Sent Events stream. `handlers` maps event names to callbacks receiving parsed JSON.
 * `onOpen({resumed})` runs on every (re)connection. A stream whose events carry ids resumes where it stopped
 * (the browser sends Last-Event-ID when it retries; our own retries pass `lastEventId`), so only a fresh
 * connection (`resumed` false) replays the snapshot and makes callers reset their view.
 * Returns a function that closes the stream.
 */
export function listen(path, handlers, { onOpen, onTrouble } = {}) {
  let source = null;
  let closed = false;
  let retry = null;
  let failures = 0;
  let lastId = "";

  const connect = () => {
    const resume = lastId ? `${path.includes("?") ? "&" : "?"}lastEventId=${encodeURIComponent(lastId)}` : "";
    source = new EventSource(apiUrl(path + resume));
    source.addEventListener("open", () => {
      failures = 0;
      net.set(true);
      if (onTrouble) onTrouble(false);
      if (onOpen) onOpen({ resumed: lastId !== "" });
    });
    for (const [name, handler] of Object.entries(handlers)) {
      source.addEventListener(name, (event) => {
        if (event.lastEventId) lastId = event.lastEventId;
        let data = null;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        handler(data);
      });
    }
    source.addEventListener("error", () => {
      if (closed) return;
      // The browser retries by itself while readyState is CONNECTING; when CLOSED (e.g. an HTTP error) we do.
      failures++;
      if (onTrouble) onTrouble(true);
      if (failures > 1) ping();
      if (source.readyState === EventSource.CLOSED) {
        clearTimeout(retry);
        retry = setTimeout(() => { if (!closed) connect(); }, Math.min(10000, 1000 * failures));
      }
    });
  };
  connect();
  return () => {
    closed = true;
    clearTimeout(retry);
    if (source) source.close();
  };
}

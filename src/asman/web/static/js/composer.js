// The job composer: what to run (image or build), command, env, files, resources, queue. Run submits it.
import { api, blobExists, queuePath, serverOrigin, uploadBlob } from "./api.js";
import { QUEUE_PATTERN, append, clear, fmtBytes, h, isQueueName, nextId, recentQueues, rememberQueue } from "./dom.js";
import { sha256Hex } from "./sha256.js";

export const INLINE_LIMIT = 200; // bytes; larger files are uploaded to /f/<sha256> (as upstream)

const SIZE_PATTERN = "\\s*[0-9]+(\\.[0-9]+)?\\s*([kKmMgGtT][iI]?[bB]?|[bB])?\\s*";
const DURATION_PATTERN = "\\s*([0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d|w)?\\s*)+";

function field(label, control, help) {
  const id = control.id || (control.id = nextId("field"));
  const helpId = help ? `${id}-help` : null;
  if (helpId) control.setAttribute("aria-describedby", helpId);
  return h("div.field", h("label", { for: id }, label), control, help ? h("p.help", { id: helpId }, help) : null);
}

function utf8OrBase64(bytes) {
  try {
    return { type: "utf8", value: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return { type: "base64", value: btoa(binary) };
  }
}

/**
 * Build a composer. `queue` preselects the queue (the dashboard's own), `definition` prefills the form,
 * `onSubmitted({queue, jobId, definition})` runs after a successful submit.
 */
export function createComposer({ queue = "", definition = null, onSubmitted, title = "New job" } = {}) {
  let base = {}; // fields of a prefilled definition that the form does not edit (tags, configFiles, ...)
  let files = []; // {name, file?} for new files, {name, ref} for inputs kept from a prefilled definition
  const status = h("div.composer__status", { role: "status", "aria-live": "polite" });

  // -- queue --------------------------------------------------------------------------------------------
  const queueList = h("datalist", { id: nextId("queues") }, recentQueues().map((q) => h("option", { value: q })));
  const queueInput = h("input.mono", {
    name: "queue", required: true, pattern: QUEUE_PATTERN, autocomplete: "off", spellcheck: "false",
    list: queueList.id, placeholder: "e.g. my-lab", value: queue || recentQueues()[0] || "",
  });
  const queueNote = h("p.help", { id: nextId("help") },
    "Any name is a queue. Workers started with ", h("code", "asman worker <queue>"), " run its jobs.");
  queueInput.setAttribute("aria-describedby", queueNote.id);
  const newQueueButton = h("button.btn", { type: "button" }, "New private queue");
  newQueueButton.addEventListener("click", async () => {
    newQueueButton.disabled = true;
    try {
      const created = await api("/q", { method: "POST" });
      queueInput.value = created.queue;
      rememberQueue(created.queue);
      clear(queueNote).append("Private queue created. Its name is its only key: share it only with people you trust.");
      queueInput.focus();
      refreshPreview();
    } catch (error) {
      showError(error.message);
    } finally {
      newQueueButton.disabled = false;
    }
  });
  const queueId = nextId("field");
  queueInput.id = queueId;
  const servedList = h("div.served-queues", { hidden: true });
  const queueField = h("div.field",
    h("label", { for: queueId }, "Queue"),
    h("div.input-row.input-row--wrap", queueInput, newQueueButton), queueList, servedList, queueNote);

  // Queues that have a worker right now, so a first job goes where something runs it.
  api("/queues").then(({ queues }) => {
    const served = (queues || []).map((entry) => entry.queue);
    if (!served.length) {
      clear(queueNote).append("No worker is connected to any queue yet. Start one with ", h("code", "asman worker <queue>"),
        ", or run everything here with ", h("code", "make run"), " (queue ", h("code", "local"), ").");
      return;
    }
    const known = new Set([...queueList.children].map((option) => option.value));
    for (const name of served) if (!known.has(name)) queueList.append(h("option", { value: name }));
    // Nothing chosen yet, or a remembered queue nobody serves: offer one that runs jobs (`local` in local mode).
    if (!queue && !served.includes(queueInput.value.trim())) {
      queueInput.value = served.includes("local") ? "local" : served[0];
      refreshPreview();
    }
    const pick = (name) => {
      const chip = h("button.chip.mono", { type: "button", "aria-label": `Use queue ${name}` }, name);
      chip.addEventListener("click", () => {
        queueInput.value = name;
        refreshPreview();
      });
      return chip;
    };
    append(clear(servedList), [h("span.subtle", "With a worker now: "), (queues || []).map((entry) =>
      h("span.served-queue", pick(entry.queue), h("span.subtle", ` ${entry.workers} worker${entry.workers === 1 ? "" : "s"}`)))]);
    servedList.hidden = false;
  }).catch(() => { /* the reachability banner speaks for itself */ });

  // -- image or build -------------------------------------------------------------------------------------
  const sourceName = nextId("source");
  const imageRadio = h("input", { type: "radio", name: sourceName, value: "image", checked: true });
  const buildRadio = h("input", { type: "radio", name: sourceName, value: "build" });
  const imageInput = h("input.mono", {
    name: "image", autocomplete: "off", spellcheck: "false", placeholder: "e.g. python:3.12-slim",
  });
  const dockerfileInput = h("textarea.mono", {
    name: "dockerfile", rows: 5, spellcheck: "false", placeholder: "FROM python:3.12-slim\nRUN pip install numpy",
  });
  const contextInput = h("input.mono", {
    name: "context", type: "url", autocomplete: "off", spellcheck: "false",
    placeholder: "https://github.com/owner/repo (optional)",
  });
  const buildArgsInput = h("textarea.mono", { name: "buildArgs", rows: 2, spellcheck: "false", placeholder: "KEY=value" });
  const imagePanel = h("div.source-panel", field("Image", imageInput, "A Docker image the worker can pull or already has."));
  const buildPanel = h("div.source-panel", { hidden: true },
    field("Dockerfile", dockerfileInput, "Inline Dockerfile contents. Leave empty to use the repository's own Dockerfile."),
    field("Git repository or archive URL", contextInput,
      "Build context: a git URL (…/tree/<ref> and …/commit/<sha> work) or a .tar.gz/.zip URL."),
    field("Build arguments", buildArgsInput, "One KEY=value per line."));
  const syncSource = () => {
    imagePanel.hidden = !imageRadio.checked;
    buildPanel.hidden = !buildRadio.checked;
    refreshPreview();
  };
  imageRadio.addEventListener("change", syncSource);
  buildRadio.addEventListener("change", syncSource);
  const sourceField = h("fieldset.field.segmented-field",
    h("legend", "Container"),
    h("div.segmented", { role: "radiogroup" },
      h("label.segmented__option", imageRadio, h("span", "Use an image")),
      h("label.segmented__option", buildRadio, h("span", "Build one"))),
    imagePanel, buildPanel);

  // -- command -----------------------------------------------------------------------------------------------
  const commandInput = h("input.mono", {
    name: "command", autocomplete: "off", spellcheck: "false", placeholder: `e.g. python -c "print('hello')"`,
  });
  const entrypointInput = h("input.mono", { name: "entrypoint", autocomplete: "off", spellcheck: "false", placeholder: "image default" });
  const workdirInput = h("input.mono", { name: "workdir", autocomplete: "off", spellcheck: "false", placeholder: "image default" });

  // -- env -----------------------------------------------------------------------------------------------------
  const envRows = h("div.env-rows");
  const addEnvRow = (key = "", value = "") => {
    const keyInput = h("input.mono", { "aria-label": "Variable name", placeholder: "NAME", value: key, spellcheck: "false", autocomplete: "off" });
    const valueInput = h("input.mono", { "aria-label": "Value", placeholder: "value", value, spellcheck: "false", autocomplete: "off" });
    const row = h("div.env-row", keyInput, h("span.env-eq", { "aria-hidden": "true" }, "="), valueInput);
    const remove = h("button.btn.btn--icon", { type: "button", "aria-label": "Remove variable", title: "Remove" }, "✕");
    remove.addEventListener("click", () => {
      row.remove();
      refreshPreview();
    });
    row.append(remove);
    envRows.append(row);
    return keyInput;
  };
  const addEnvButton = h("button.btn.btn--small", { type: "button" }, "+ Add variable");
  addEnvButton.addEventListener("click", () => addEnvRow().focus());
  const envField = h("fieldset.field", h("legend", "Environment variables"), envRows, addEnvButton);

  // -- files ---------------------------------------------------------------------------------------------------
  const fileInput = h("input.visually-hidden", { type: "file", multiple: true, id: nextId("files") });
  const fileList = h("ul.file-list", { "aria-label": "Input files" });
  const dropzone = h("div.dropzone",
    h("p", h("strong", "Drop files here"), " or ",
      h("label.link-like", { for: fileInput.id }, "choose files"), fileInput),
    h("p.help", `They appear in the container under /inputs. Files up to ${INLINE_LIMIT} bytes travel inside the job; larger ones are uploaded once, by their hash.`));
  const renderFiles = () => {
    clear(fileList);
    files.forEach((entry, index) => {
      const meta = entry.file
        ? `${fmtBytes(entry.file.size)} · ${entry.file.size <= INLINE_LIMIT ? "inline" : "uploaded on Run"}`
        : "kept from the original job";
      const remove = h("button.btn.btn--icon", { type: "button", "aria-label": `Remove ${entry.name}`, title: "Remove" }, "✕");
      remove.addEventListener("click", () => {
        files.splice(index, 1);
        renderFiles();
        refreshPreview();
      });
      fileList.append(h("li.file-item",
        h("span.file-item__name.mono", entry.name),
        h("span.file-item__meta", meta),
        remove));
    });
  };
  const addFiles = (list) => {
    for (const file of list) {
      files = files.filter((entry) => entry.name !== file.name);
      files.push({ name: file.name, file });
    }
    renderFiles();
    refreshPreview();
  };
  fileInput.addEventListener("change", () => {
    addFiles(fileInput.files);
    fileInput.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    dropzone.addEventListener(type, (event) => {
      event.preventDefault();
      dropzone.classList.add("dropzone--over");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    dropzone.addEventListener(type, () => dropzone.classList.remove("dropzone--over"));
  }
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
  });
  const filesField = h("fieldset.field", h("legend", "Files"), dropzone, fileList);

  // -- requirements ------------------------------------------------------------------------------------------
  const cpusInput = h("input", { name: "cpus", type: "number", min: "0", step: "0.5", inputmode: "decimal", placeholder: "any" });
  const memoryInput = h("input.mono", { name: "memory", pattern: SIZE_PATTERN, placeholder: "e.g. 4g", autocomplete: "off" });
  const gpusInput = h("input", { name: "gpus", type: "number", min: "0", step: "1", inputmode: "numeric", placeholder: "0" });
  const durationInput = h("input.mono", { name: "maxDuration", pattern: DURATION_PATTERN, placeholder: "e.g. 20m", autocomplete: "off" });
  const resourcesField = h("fieldset.field",
    h("legend", "Resources"),
    h("div.grid-4",
      field("CPUs", cpusInput),
      field("Memory", memoryInput),
      field("GPUs", gpusInput),
      field("Max duration", durationInput)));

  const moreOptions = h("details.more",
    h("summary", "Entrypoint and working directory"),
    h("div.grid-2", field("Entrypoint", entrypointInput), field("Working directory", workdirInput)));

  // -- preview -------------------------------------------------------------------------------------------------
  const previewCode = h("pre.code-block", { tabindex: "0" });
  const curlCode = h("pre.code-block", { tabindex: "0" });
  const preview = h("details.more",
    h("summary", "JSON definition and API call"),
    h("p.help", "What Run sends. Scripts can do the same:"), previewCode, curlCode);

  // -- building the definition ------------------------------------------------------------------------------
  const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);
  const trimmed = (input) => input.value.trim();

  function formDefinition(fileRefs) {
    const definition = { ...base };
    for (const key of ["image", "build", "command", "entrypoint", "workdir", "env", "inputs", "maxDuration", "requirements"]) {
      delete definition[key];
    }
    if (imageRadio.checked) {
      if (trimmed(imageInput)) definition.image = trimmed(imageInput);
    } else {
      const build = { ...(base.build || {}) };
      for (const key of ["dockerfile", "context", "buildArgs"]) delete build[key];
      if (dockerfileInput.value.trim()) build.dockerfile = dockerfileInput.value;
      if (trimmed(contextInput)) build.context = trimmed(contextInput);
      const args = lines(buildArgsInput.value);
      if (args.length) build.buildArgs = args;
      if (Object.keys(build).length) definition.build = build;
    }
    if (trimmed(commandInput)) definition.command = trimmed(commandInput);
    if (trimmed(entrypointInput)) definition.entrypoint = trimmed(entrypointInput);
    if (trimmed(workdirInput)) definition.workdir = trimmed(workdirInput);
    const env = {};
    for (const row of envRows.children) {
      const [keyInput, valueInput] = row.querySelectorAll("input");
      const key = keyInput.value.trim();
      if (key) env[key] = valueInput.value;
    }
    if (Object.keys(env).length) definition.env = env;
    if (Object.keys(fileRefs).length) definition.inputs = fileRefs;
    const requirements = { ...(base.requirements || {}) };
    for (const key of ["cpus", "gpus", "memory"]) delete requirements[key];
    if (cpusInput.value !== "" && Number(cpusInput.value) > 0) requirements.cpus = Number(cpusInput.value);
    if (gpusInput.value !== "" && Number(gpusInput.value) > 0) requirements.gpus = Math.round(Number(gpusInput.value));
    if (trimmed(memoryInput)) requirements.memory = trimmed(memoryInput).replace(/\s+/g, "");
    if (Object.keys(requirements).length) definition.requirements = requirements;
    if (trimmed(durationInput)) definition.maxDuration = trimmed(durationInput).replace(/\s+/g, "");
    return definition;
  }

  function placeholderRefs() {
    const refs = {};
    for (const entry of files) {
      if (entry.ref) refs[entry.name] = entry.ref;
      else if (entry.file.size <= INLINE_LIMIT) refs[entry.name] = { type: "utf8", value: `(${entry.file.size} bytes, read on Run)` };
      else refs[entry.name] = { type: "url", value: `${location.origin}/f/<sha256 of ${entry.name}>`, hash: "<sha256>" };
    }
    return refs;
  }

  function refreshPreview() {
    const definition = formDefinition(placeholderRefs());
    previewCode.textContent = JSON.stringify({ definition }, null, 2);
    const target = isQueueName(queueInput.value.trim()) ? queueInput.value.trim() : "<queue>";
    const body = JSON.stringify({ definition }).replace(/'/g, "'\\''");
    curlCode.textContent = `curl -X POST ${location.origin}${queuePath(target)} \\\n  -H 'Content-Type: application/json' \\\n  -d '${body}'`;
  }

  async function fileRefs(report) {
    const refs = {};
    for (const entry of files) {
      if (entry.ref) {
        refs[entry.name] = entry.ref;
        continue;
      }
      const bytes = new Uint8Array(await entry.file.arrayBuffer());
      if (bytes.length <= INLINE_LIMIT) {
        refs[entry.name] = utf8OrBase64(bytes);
        continue;
      }
      report(`Hashing ${entry.name}…`);
      const hash = await sha256Hex(bytes);
      if (!(await blobExists(hash))) {
        await uploadBlob(hash, entry.file, (fraction) => report(`Uploading ${entry.name}: ${Math.round(fraction * 100)}%`));
      }
      // The worker downloads from the server the browser talks to: its own origin.
      refs[entry.name] = { type: "url", value: `${serverOrigin()}/f/${hash}`, hash };
    }
    return refs;
  }

  // -- submit ------------------------------------------------------------------------------------------------
  const runButton = h("button.btn.btn--primary.btn--large", { type: "submit" }, "Run job");
  const form = h("form.composer", { novalidate: true, "aria-label": title },
    queueField, sourceField,
    field("Command", commandInput, "Split like a shell would. Leave empty to run the image's default command."),
    moreOptions, envField, filesField, resourcesField, preview,
    h("div.composer__actions", runButton, status));

  function showError(message, focus) {
    clear(status).append(h("p.notice.notice--error", { role: "alert" }, message));
    if (focus) focus.focus();
  }

  function validate() {
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const invalid = (input, message) => {
      input.setAttribute("aria-invalid", "true");
      showError(message, input);
      return false;
    };
    const queueName = queueInput.value.trim();
    if (!queueName) return invalid(queueInput, "Choose a queue: type any name, or make a new private one.");
    if (!isQueueName(queueName)) return invalid(queueInput, "A queue name uses 1 to 128 of the characters A-Z a-z 0-9 . _ ~ -");
    if (imageRadio.checked && !trimmed(imageInput)) return invalid(imageInput, "Say which image to run, e.g. alpine:3.20.");
    if (buildRadio.checked && !dockerfileInput.value.trim() && !trimmed(contextInput)) {
      return invalid(dockerfileInput, "A build needs an inline Dockerfile or a repository/archive URL.");
    }
    for (const input of [memoryInput, durationInput, cpusInput, gpusInput]) {
      if (!input.checkValidity()) {
        const name = input.closest(".field").querySelector("label").textContent;
        return invalid(input, `${name}: ${input === memoryInput ? "use a size like 512m or 4g" : input === durationInput ? "use a duration like 90s, 20m or 1h" : "use a positive number"}.`);
      }
    }
    return true;
  }

  form.addEventListener("input", (event) => {
    // Typing in the field an error pointed at clears that error.
    if (event.target.getAttribute && event.target.getAttribute("aria-invalid")) {
      event.target.removeAttribute("aria-invalid");
      clear(status);
    }
    refreshPreview();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!validate()) return;
    runButton.disabled = true;
    runButton.textContent = "Submitting…";
    const report = (text) => clear(status).append(h("p.notice", text));
    try {
      const refs = await fileRefs(report);
      const definition = formDefinition(refs);
      const target = queueInput.value.trim();
      report("Submitting…");
      const answer = await api(queuePath(target), { method: "POST", body: { definition } });
      rememberQueue(target);
      clear(status);
      if (onSubmitted) onSubmitted({ queue: target, jobId: answer.jobId, definition, answer });
    } catch (error) {
      showError(error.message || String(error));
    } finally {
      runButton.disabled = false;
      runButton.textContent = "Run job";
    }
  });

  // -- prefill ---------------------------------------------------------------------------------------------
  function setDefinition(definition) {
    base = { ...(definition || {}) };
    const d = definition || {};
    const build = d.build || null;
    buildRadio.checked = !d.image && !!build;
    imageRadio.checked = !buildRadio.checked;
    imageInput.value = d.image || "";
    dockerfileInput.value = (build && build.dockerfile) || "";
    contextInput.value = (build && build.context) || "";
    buildArgsInput.value = ((build && build.buildArgs) || []).join("\n");
    commandInput.value = d.command || "";
    entrypointInput.value = d.entrypoint || "";
    workdirInput.value = d.workdir || "";
    moreOptions.open = !!(d.entrypoint || d.workdir);
    clear(envRows);
    for (const [key, value] of Object.entries(d.env || {})) addEnvRow(key, value);
    files = Object.entries(d.inputs || {}).map(([name, ref]) => ({ name, ref }));
    renderFiles();
    const req = d.requirements || {};
    cpusInput.value = req.cpus ?? "";
    gpusInput.value = req.gpus ?? "";
    memoryInput.value = req.memory || "";
    durationInput.value = d.maxDuration || "";
    syncSource();
  }

  if (definition) setDefinition(definition);
  else refreshPreview();

  return {
    element: h("section.card.composer-card", { "aria-labelledby": `${queueId}-title` },
      h("h2.card__title", { id: `${queueId}-title` }, title), form),
    form,
    setQueue(name) {
      queueInput.value = name;
      refreshPreview();
    },
    setDefinition,
    focus() {
      (imageRadio.checked ? imageInput : dockerfileInput).focus();
    },
  };
}
